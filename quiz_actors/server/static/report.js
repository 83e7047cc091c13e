// Game reports: the host's report of a game (ranking, each question, each
// player's answers, CSV and XLSX downloads) and a player's own results.
//
// Everything comes from the server's report endpoints (docs/protocol.md,
// "Game reports"), which want the page's session token (the one connection.js
// keeps) or the admin key as `Authorization: Bearer …`; never in a URL. The
// downloads are fetched with that header and handed to the browser as a file.
// Every text from players or the quiz goes in through textContent (ui.js's el).

import { hostReveal } from "./questions.js";
import { el, ordinal, plural } from "./ui.js";

const RESULT_MARK = { right: "✔", wrong: "✘", unjudged: "•", no_answer: "–" };

function percent(fraction) {
  return `${Math.round(100 * fraction)}%`;
}

function seconds(ms) {
  return ms === null || ms === undefined ? "" : `${(ms / 1000).toFixed(1)} s`;
}

function when(ms) {
  return ms ? new Date(ms).toLocaleString([], { dateStyle: "medium", timeStyle: "short" }) : "";
}

// What the server said, in words, for a refused request.
async function refusal(response) {
  try {
    const body = await response.json();
    if (body.error && body.error.message) return body.error.message;
  } catch {
    // not JSON: say the status below
  }
  return `The server answered ${response.status}`;
}

export async function getJson(path, credential) {
  let response;
  try {
    response = await fetch(path, { headers: { Authorization: `Bearer ${credential}` }, cache: "no-store" });
  } catch {
    return { ok: false, status: 0, message: "The server could not be reached." };
  }
  if (!response.ok) return { ok: false, status: response.status, message: await refusal(response) };
  return { ok: true, status: response.status, body: await response.json() };
}

// Fetches a file with the credential and lets the browser save it under the server's name.
async function download(path, credential, button, status) {
  button.disabled = true;
  status.textContent = "";
  try {
    const response = await fetch(path, { headers: { Authorization: `Bearer ${credential}` }, cache: "no-store" });
    if (!response.ok) {
      status.textContent = `The download failed: ${await refusal(response)}`;
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
    status.textContent = "The download failed: the server could not be reached.";
  } finally {
    button.disabled = false;
  }
}

function table(className, headers, rows) {
  return el("div", { class: "table-scroll" },
    el("table", { class: className },
      el("thead", {}, el("tr", {}, headers.map((h) => el("th", { scope: "col" }, h)))),
      el("tbody", {}, rows)));
}

function rankingTable(report) {
  if (!report.ranking.length) return el("p", {}, "Nobody played.");
  return table("report-ranking", ["Rank", "Player", "Score", "Right"],
    report.ranking.map((r) =>
      el("tr", { dataset: { userId: r.user_id } },
        el("td", {}, ordinal(r.rank)),
        el("td", { class: "name" }, r.name),
        el("td", { class: "number" }, String(r.score)),
        el("td", { class: "number" }, `${r.right} of ${report.questions_played}`))));
}

function accuracyWords(q) {
  if (q.open) return "Still open";
  if (q.accuracy === null) return q.judged ? "Nobody was asked" : `Poll: ${plural(q.answered, "vote", "votes")}`;
  return `${q.right} of ${plural(q.players, "player", "players")} right (${percent(q.accuracy)})`;
}

function questionCard(q) {
  return el("article", { class: "report-question", dataset: { index: String(q.index) } },
    el("h4", {}, `Question ${q.number}: `, el("span", { class: "q-text" }, q.text)),
    el("p", { class: "accuracy" }, accuracyWords(q),
      q.average_ms !== null ? ` · answered in ${seconds(q.average_ms)} on average` : ""),
    q.open ? null : el("div", { class: "reveal-choices", dataset: { questionType: q.question_type } }, hostReveal(q.reveal)),
    q.answers.length
      ? el("ul", { class: "given" },
        q.answers.map((a) => el("li", { class: a.result },
          el("span", { "aria-hidden": "true" }, RESULT_MARK[a.result] || ""),
          el("span", { class: "answer" }, a.answer),
          el("span", { class: "count" }, `× ${a.count}`))))
      : null);
}

function playerAnswers(report, player) {
  const summary = player.rank
    ? `${ordinal(player.rank)} ${player.name}: ${plural(player.score, "point", "points")}`
    : `${player.name} (${player.status === "removed" ? "removed" : "left the game"})`;
  return el("details", { class: "report-player", dataset: { userId: player.user_id } },
    el("summary", {}, summary),
    table("report-answers", ["Q", "Answer", "Result", "Points", "Time"],
      player.answers.map((a) =>
        el("tr", { class: a.result },
          el("td", {}, String(a.number)),
          el("td", { class: "answer" }, a.answer === null ? "—" : a.answer),
          el("td", {}, `${RESULT_MARK[a.result] || ""} ${a.result_words}`),
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
      el("h2", {}, `Report: ${report.title}`),
      el("p", { class: "report-meta" },
        `Room ${report.code} · ${when(report.started_at_ms || report.created_at_ms)} · `,
        `${plural(report.ranking.length, "player", "players")} · ${played} of ${plural(report.question_count, "question", "questions")} played`),
      el("div", { class: "toolbar downloads" }, button("Download CSV", "csv"), button("Download Excel (XLSX)", "xlsx")),
      status,
      el("section", { class: "report-part" }, el("h3", {}, "Ranking"), rankingTable(report)),
      report.hardest.length
        ? el("section", { class: "report-part" }, el("h3", {}, "Hardest questions"),
          el("ol", { class: "hardest" },
            report.hardest.map((h) => el("li", {},
              el("span", { class: "q-text" }, `Question ${h.number}: ${h.text}`),
              el("span", { class: "count" }, `${percent(h.accuracy)} right`)))))
        : null,
      el("section", { class: "report-part" }, el("h3", {}, "Questions"), report.questions.map(questionCard)),
      el("section", { class: "report-part" }, el("h3", {}, "Each player's answers"),
        report.players.length ? report.players.map((p) => playerAnswers(report, p)) : el("p", {}, "Nobody played."))));
}

// Fetches and shows a game's report; a refusal or failure is said in words, with a retry.
export async function showReport(container, roomId, credential) {
  container.replaceChildren(el("p", { class: "report-loading" }, "Loading the report…"));
  const result = await getJson(`/api/games/${encodeURIComponent(roomId)}/report`, credential);
  if (result.ok) return renderReport(container, result.body, credential);
  container.replaceChildren(
    el("p", { class: "report-error", role: "alert" }, `The report could not be loaded: ${result.message}`),
    el("button", { type: "button", class: "secondary", onclick: () => showReport(container, roomId, credential) },
      "Try again"));
}

// ---------------------------------------------------------------- a player's own results

export function renderMyResults(container, mine) {
  container.replaceChildren(
    el("h2", {}, "Your answers"),
    el("ol", { class: "my-answers" },
      mine.answers.map((a) =>
        el("li", { class: a.result, dataset: { question: String(a.question) } },
          el("p", { class: "my-q" }, `${a.number}. `, el("span", {}, a.text)),
          el("p", { class: "my-a" },
            el("span", { class: "mark", "aria-hidden": "true" }, RESULT_MARK[a.result] || ""),
            el("span", { class: "words" }, a.answer === null ? "No answer" : a.answer),
            el("span", { class: "points" }, `+${a.points}`)),
          a.result === "wrong" || a.result === "no_answer"
            ? el("p", { class: "my-right" }, `Right answer: ${a.right_answer}`)
            : null))));
}

export async function showMyResults(container, roomId, credential) {
  container.replaceChildren(el("p", { class: "muted" }, "Loading your answers…"));
  const result = await getJson(`/api/games/${encodeURIComponent(roomId)}/results/me`, credential);
  if (result.ok) return renderMyResults(container, result.body);
  container.replaceChildren(
    el("p", { class: "error" }, `Your answers could not be loaded: ${result.message}`),
    el("button", { type: "button", class: "link", onclick: () => showMyResults(container, roomId, credential) },
      "Try again"));
}
