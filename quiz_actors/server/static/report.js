// Game reports: the host's report of a game (ranking, each question, each
// player's answers, CSV and XLSX downloads) and a player's own results.
//
// Everything comes from the server's report endpoints (docs/protocol.md,
// "Game reports"), which want the page's session token (the one connection.js
// keeps) or the admin key as `Authorization: Bearer …`; never in a URL. The
// downloads are fetched with that header and handed to the browser as a file.
// Every text from players or the quiz goes in through textContent (ui.js's el).

import { hostReveal } from "./questions.js";
import { formatDateTime, has, lang, t, tn, ordinal } from "./i18n.js";
import { el } from "./ui.js";

const RESULT_MARK = { right: "✔", wrong: "✘", unjudged: "•", no_answer: "–" };

// "50%", "50 %": the page's language's way of writing a percentage, and of "2.5" seconds ("2,5").
const percents = new Intl.NumberFormat(lang, { style: "percent", maximumFractionDigits: 0 });
const tenths = new Intl.NumberFormat(lang, { minimumFractionDigits: 1, maximumFractionDigits: 1 });

function percent(fraction) {
  return percents.format(fraction);
}

function seconds(ms) {
  return ms === null || ms === undefined ? "" : t("report.seconds", { n: tenths.format(ms / 1000) });
}

function when(ms) {
  return ms ? formatDateTime(ms) : "";
}

// An answer as the server words it, in the page's language: true_false's "True" and
// "False" become the page's words; an order's items (joined by " > ") each get a span,
// the separators drawn by report.css, so a long order wraps between items.
function answerWords(type, words) {
  if (words === null || words === undefined) return "";
  if (type === "true_false" && (words === "True" || words === "False")) {
    return t(words === "True" ? "answer.true" : "answer.false");
  }
  if (type === "order" && words.includes(" > ")) {
    return el("span", { class: "sequence" }, words.split(" > ").map((item) => el("span", {}, item)));
  }
  return words;
}

// What the server said for a refused request: its error code and its (English) words.
async function refusal(response) {
  try {
    const body = await response.json();
    if (body.error && body.error.message) return { code: body.error.code, message: body.error.message };
  } catch {
    // not JSON: say the status below
  }
  return { code: null, message: t("report.server_answered", { status: response.status }) };
}

export async function getJson(path, credential) {
  let response;
  try {
    response = await fetch(path, { headers: { Authorization: `Bearer ${credential}` }, cache: "no-store" });
  } catch {
    return { ok: false, status: 0, code: null, message: t("report.unreachable") };
  }
  if (!response.ok) return { ok: false, status: response.status, ...(await refusal(response)) };
  return { ok: true, status: response.status, body: await response.json() };
}

// A refusal in the page's language (report.error.<code>, or its player's variant for a
// player's own results); a code the catalog does not know keeps the server's words.
export function refusalWords(result, asPlayer = false) {
  const code = result.code;
  if (asPlayer && has(`report.error.${code}_player`)) return t(`report.error.${code}_player`);
  return code && has(`report.error.${code}`) ? t(`report.error.${code}`) : result.message;
}

// Fetches a file with the credential and lets the browser save it under the server's name.
async function download(path, credential, button, status) {
  button.disabled = true;
  status.textContent = "";
  try {
    const response = await fetch(path, { headers: { Authorization: `Bearer ${credential}` }, cache: "no-store" });
    if (!response.ok) {
      status.textContent = t("report.download_failed", { reason: refusalWords(await refusal(response)) });
      return;
    }
    const named = /filename="([^"]+)"/.exec(response.headers.get("Content-Disposition") || "");
    const url = URL.createObjectURL(await response.blob());
    const link = el("a", { href: url, download: named ? named[1] : path.split("/").pop(), hidden: true });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60000);
  } catch {
    status.textContent = t("report.download_unreachable");
  } finally {
    button.disabled = false;
  }
}

// A table that scrolls sideways on a phone: its box can take the focus, so the keyboard scrolls it too.
function table(className, label, headers, rows) {
  return el("div", { class: "table-scroll", tabindex: "0", role: "region", "aria-label": label },
    el("table", { class: className },
      el("thead", {}, el("tr", {}, headers.map((h) => el("th", { scope: "col" }, h)))),
      el("tbody", {}, rows)));
}

function rankingTable(report) {
  if (!report.ranking.length) return el("p", {}, t("report.nobody_played"));
  return table("report-ranking", t("report.ranking"), [t("report.col.rank"), t("report.col.player"), t("report.col.score"), t("report.col.right")],
    report.ranking.map((r) =>
      el("tr", { dataset: { userId: r.user_id } },
        el("td", {}, ordinal(r.rank)),
        el("td", { class: "name" }, r.name),
        el("td", { class: "number" }, String(r.score)),
        el("td", { class: "number" }, t("report.right_of", { right: r.right, count: report.questions_played })))));
}

function accuracyWords(q) {
  if (q.open) return t("report.still_open");
  if (q.accuracy === null) return q.judged ? t("report.nobody_asked") : tn("report.poll", q.answered);
  return tn("report.accuracy", q.players, { right: q.right, percent: percent(q.accuracy) });
}

function questionCard(q) {
  return el("article", { class: "report-question", dataset: { index: String(q.index) } },
    el("h4", {}, `${t("report.question", { n: q.number })} `, el("span", { class: "q-text" }, q.text)),
    el("p", { class: "accuracy" }, accuracyWords(q),
      q.average_ms !== null ? ` ${t("report.average", { seconds: seconds(q.average_ms) })}` : ""),
    q.open ? null : el("div", { class: "reveal-choices", dataset: { questionType: q.question_type } }, hostReveal(q.reveal)),
    q.answers.length
      ? el("ul", { class: "given" },
        q.answers.map((a) => el("li", { class: a.result },
          el("span", { "aria-hidden": "true" }, RESULT_MARK[a.result] || ""),
          el("span", { class: "answer" }, answerWords(q.question_type, a.answer)),
          el("span", { class: "count" }, `× ${a.count}`))))
      : null);
}

function playerAnswers(report, player) {
  const summary = player.rank
    ? t("report.player_summary", { rank: ordinal(player.rank), name: player.name, points: tn("points", player.score) })
    : t(player.status === "removed" ? "report.player_removed" : "report.player_left", { name: player.name });
  return el("details", { class: "report-player", dataset: { userId: player.user_id } },
    el("summary", {}, summary),
    table("report-answers", summary, ["q", "answer", "result", "points", "time"].map((h) => t(`report.col.${h}`)),
      player.answers.map((a) =>
        el("tr", { class: a.result },
          el("td", {}, String(a.number)),
          el("td", { class: "answer" }, a.answer === null ? "—" : answerWords(a.question_type, a.answer)),
          el("td", {}, `${RESULT_MARK[a.result] || ""} ${t(`report.result.${a.result}`)}`),
          el("td", { class: "number" }, String(a.points)),
          el("td", { class: "number" }, seconds(a.elapsed_ms))))));
}

// The whole report into `container`; `credential` fetches the downloads.
export function renderReport(container, report, credential) {
  const base = `/api/games/${encodeURIComponent(report.room_id)}/report`;
  const status = el("p", { class: "download-status", role: "status" });
  const button = (label, extension) => {
    const b = el("button", { type: "button", class: "secondary", dataset: { download: extension } }, label);
    b.addEventListener("click", () => download(`${base}.${extension}`, credential, b, status));
    return b;
  };
  const played = report.questions.filter((q) => !q.open).length;
  container.replaceChildren(
    el("div", { class: "report", dataset: { roomId: report.room_id } },
      el("h2", {}, t("report.heading", { title: report.title })),
      el("p", { class: "report-meta" }, t("report.meta", {
        code: report.code,
        when: when(report.started_at_ms || report.created_at_ms),
        players: tn("players", report.ranking.length),
        played,
        questions: tn("report.questions_count", report.question_count),
      })),
      el("div", { class: "toolbar downloads" }, button(t("report.download_csv"), "csv"), button(t("report.download_xlsx"), "xlsx")),
      status,
      el("section", { class: "report-part" }, el("h3", {}, t("report.ranking")), rankingTable(report)),
      report.hardest.length
        ? el("section", { class: "report-part" }, el("h3", {}, t("report.hardest")),
          el("ol", { class: "hardest" },
            report.hardest.map((h) => el("li", {},
              el("span", { class: "q-text" }, t("report.hardest_item", { n: h.number, text: h.text })),
              el("span", { class: "count" }, t("report.percent_right", { percent: percent(h.accuracy) }))))))
        : null,
      el("section", { class: "report-part" }, el("h3", {}, t("report.questions")), report.questions.map(questionCard)),
      el("section", { class: "report-part" }, el("h3", {}, t("report.each_player")),
        report.players.length ? report.players.map((p) => playerAnswers(report, p)) : el("p", {}, t("report.nobody_played")))));
}

// Fetches and shows a game's report; a refusal or failure is said in words, with a retry.
export async function showReport(container, roomId, credential) {
  container.replaceChildren(el("p", { class: "report-loading" }, t("report.loading")));
  const result = await getJson(`/api/games/${encodeURIComponent(roomId)}/report`, credential);
  if (result.ok) return renderReport(container, result.body, credential);
  container.replaceChildren(
    el("p", { class: "report-error", role: "alert" }, t("report.load_failed", { reason: refusalWords(result) })),
    el("button", { type: "button", class: "secondary", onclick: () => showReport(container, roomId, credential) },
      t("report.try_again")));
}

// ---------------------------------------------------------------- a player's own results

export function renderMyResults(container, mine) {
  container.replaceChildren(
    el("h2", {}, t("my.heading")),
    el("ol", { class: "my-answers" },
      mine.answers.map((a) =>
        el("li", { class: a.result, dataset: { question: String(a.question) } },
          el("p", { class: "my-q" }, `${a.number}. `, el("span", {}, a.text)),
          el("p", { class: "my-a" },
            el("span", { class: "mark", "aria-hidden": "true" }, RESULT_MARK[a.result] || ""),
            el("span", { class: "words" }, a.answer === null ? t("my.no_answer") : answerWords(a.question_type, a.answer)),
            el("span", { class: "points" }, `+${a.points}`)),
          a.result === "wrong" || a.result === "no_answer"
            ? el("p", { class: "my-right" }, t("my.right_answer", { answer: a.question_type === "order" ? a.right_answer : answerWords(a.question_type, a.right_answer) }))
            : null))));
}

export async function showMyResults(container, roomId, credential) {
  container.replaceChildren(el("p", { class: "muted" }, t("my.loading")));
  const result = await getJson(`/api/games/${encodeURIComponent(roomId)}/results/me`, credential);
  if (result.ok) return renderMyResults(container, result.body);
  container.replaceChildren(
    el("p", { class: "error" }, t("my.load_failed", { reason: refusalWords(result, true) })),
    el("button", { type: "button", class: "link", onclick: () => showMyResults(container, roomId, credential) },
      t("report.try_again")));
}
