// The host page: pick or upload a quiz, open a room, run the game on a big screen.
//
// Like the player page it keeps the game as the server last described it and
// redraws the screen for its phase after every message. The room code is kept
// in localStorage: after a refresh the page joins the room again with the same
// token (connection.js), and the server recognises its host.

import { announce, sentences } from "./announce.js";
import { Connection, Store } from "./connection.js";
import { GetReady, leftToOpen, secondsToOpen } from "./getready.js";
import { languageSwitch, ordinal, t, tn, translatePage } from "./i18n.js";
import { forgetJoinPanel, showJoinPanel } from "./join.js";
import { hostQuestion, hostReveal, revealOf, rightAnswerInWords, typeOf } from "./questions.js";
import { showReport } from "./report.js";
import { Sound } from "./sound.js";
import {
  $, Countdown, GONE_FOR_GOOD, Members, confirmTwice, el, explain, formatCode, notify,
  setText, showConnection, showPicture, showScreen,
} from "./ui.js";

const store = new Store("host");
const members = new Members();
const game = {
  code: store.get("code"),
  roomId: null, // the room's id, which names its report
  reportShown: null, // the room id whose report the podium screen shows
  name: store.get("name") || "",
  title: "",
  phase: null,
  question: null,
  progress: null, // {answered, total} from answers_progress; answered null when unknown
  leaderboard: null, // top rows of the latest leaderboard
  board: null, // the leaderboard step ({index, top}) once the host moved the reveal on to it
  podium: null,
  locked: false,
  lockReason: null,
  nameRules: { word_filter: true, friendly_names: false }, // as the room last said

  selectedQuiz: null,
  autoJoin: false,
  rejoining: false, // the join sent on (re)connect is on its way: not back in the room yet
  status: "connecting", // the connection's last status (onStatus)
  lostBeforeWelcome: false, // the banner said the connection was lost when this socket was welcomed
  creating: false, // a create_room is on its way
};

const conn = new Connection(store, {
  ready: onWelcome,
  message: onMessage,
  status: onStatus,
  identityLost: () => forgetRoom(),
});
const countdown = new Countdown($("#q-timer"), $("#q-timebar"), () => conn.serverNow(), (s) =>
  announce(tn("announce.seconds_left", s), { urgent: true }));
const getReady = new GetReady(() => conn.serverNow());
const sound = new Sound(store, $("#sound"));
// What the screen reader last heard about, so a redraw does not say it again.
let announced = "";

function announceOnce(key, text) {
  if (key === announced) return;
  announced = key;
  announce(text);
}

// ---------------------------------------------------------------- start

function init() {
  translatePage();
  $(".bar").append(languageSwitch());
  $("#host-name").value = game.name || t("host.default_name");
  $("#create-form").addEventListener("submit", onCreate);
  $("#upload").addEventListener("change", onUpload);
  $("#lock").addEventListener("click", () => conn.send({ type: game.locked ? "unlock" : "lock" }));
  $("#start").addEventListener("click", () => conn.send({ type: "start" }));
  // The name rules can change in the lobby; the boxes show what the room says, not what was clicked.
  for (const [box, rule] of [["#lobby-word-filter", "word_filter"], ["#lobby-friendly-names", "friendly_names"]]) {
    $(box).addEventListener("change", (event) => {
      if (!conn.send({ type: "set_name_rules", [rule]: event.target.checked })) render();
    });
  }
  $("#close-question").addEventListener("click", () => conn.send({ type: "next" }));
  $("#next").addEventListener("click", () => conn.send({ type: "next" }));
  $("#show-leaderboard").addEventListener("click", () => conn.send({ type: "show_leaderboard" }));
  for (const id of ["#end-quiz", "#end-quiz-2", "#end-quiz-3"]) confirmTwice($(id), t("question.end_confirm"), () => conn.send({ type: "end" }));
  $("#new-game").addEventListener("click", newGame);
  $("#kick-cancel").addEventListener("click", () => $("#kick-dialog").close());
  if (game.code) {
    setText("#wait-text", t("wait.room", { code: formatCode(game.code) }));
    showScreen("screen-wait");
  } else {
    showSetup("");
  }
  loadQuizzes(null);
  conn.start();
}

function onWelcome() {
  if (game.code) {
    // Back in the room only once its state is: until then the banner says so and the
    // buttons wait (a command sent meanwhile would be refused, conn.inRoom).
    game.autoJoin = true;
    game.rejoining = true;
    if (game.lostBeforeWelcome) showConnection("reconnecting", { attempt: 0 }); // a restart stays quiet
    conn.send({ type: "join", code: game.code, name: game.name || t("host.default_name") });
  }
  renderControls();
}

function backInRoom() {
  if (!game.rejoining) return;
  game.rejoining = false;
  showConnection("connected", {});
}

function onStatus(kind, detail) {
  if (kind === "connected") game.lostBeforeWelcome = game.status === "reconnecting";
  game.status = kind;
  showConnection(kind, detail);
  if (kind === "stopped" && detail.reason === "replaced") {
    showGone(t("gone.host_replaced"), t("gone.host_replaced_text"), t("gone.host_here"), () => conn.start());
  }
  renderControls();
}

// Removing a player cannot be undone (they cannot come back): a dialog names them first.
function confirmKick(player) {
  const dialog = $("#kick-dialog");
  setText("#kick-title", t("kick.title", { name: player.name }));
  const confirm = $("#kick-confirm");
  confirm.textContent = t("lobby.remove_name", { name: player.name });
  confirm.onclick = () => {
    dialog.close();
    conn.send({ type: "kick", user_id: player.user_id });
  };
  dialog.showModal();
}

// ---------------------------------------------------------------- choosing a quiz

async function loadQuizzes(select) {
  const list = $("#quiz-list");
  let quizzes;
  try {
    const response = await fetch("/api/quizzes");
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    quizzes = (await response.json()).quizzes;
  } catch {
    setText("#quiz-list-note", t("setup.list_failed"));
    return;
  }
  // The library's "Host" link names the quiz to pick (/host?quiz=…).
  const asked = new URLSearchParams(location.search).get("quiz");
  const known = (id) => (quizzes.some((quiz) => quiz.quiz_id === id) ? id : null);
  game.selectedQuiz = select || game.selectedQuiz || known(asked) || (quizzes[0] && quizzes[0].quiz_id);
  setText("#quiz-list-note", quizzes.length ? "" : t("setup.no_quizzes"));
  list.replaceChildren(
    ...quizzes.map((quiz) =>
      el("li", {},
        el("label", {},
          el("input", {
            type: "radio", name: "quiz", value: quiz.quiz_id, checked: quiz.quiz_id === game.selectedQuiz,
            onchange: () => (game.selectedQuiz = quiz.quiz_id),
          }),
          el("span", {}, quiz.title),
          el("span", { class: "count" }, tn("questions", quiz.question_count))))),
  );
}

async function onUpload(event) {
  const file = event.target.files[0];
  event.target.value = ""; // choosing the same file again uploads it again
  if (!file) return;
  $("#upload-details").replaceChildren();
  setText("#upload-result", t("upload.uploading", { file: file.name }));
  const headers = { "Content-Type": "application/json" };
  const key = $("#admin-key").value;
  if (key) headers.Authorization = `Bearer ${key}`;
  let response, body;
  try {
    response = await fetch("/api/quizzes", { method: "POST", headers, body: await file.text() });
    body = await response.json();
  } catch {
    setText("#upload-result", t("upload.failed"));
    return;
  }
  if (response.status === 201) {
    setText("#upload-result", t("upload.done", { title: body.title, questions: tn("questions", body.question_count) }));
    await loadQuizzes(body.quiz_id);
    return;
  }
  const error = body.error || {};
  if (response.status === 401) {
    setText("#upload-result", t("upload.admin_key"));
  } else {
    setText("#upload-result", t("upload.refused", { file: file.name, reason: error.message || `HTTP ${response.status}` }));
  }
  $("#upload-details").replaceChildren(...(error.details || []).map((d) => el("li", {}, String(d))));
}

function onCreate(event) {
  event.preventDefault();
  const name = $("#host-name").value.trim();
  if (!game.selectedQuiz) return showSetup(t("setup.choose_first"));
  if (!name) return showSetup(t("join.name_needed"));
  const message = {
    type: "create_room", quiz_id: game.selectedQuiz, name,
    word_filter: $("#word-filter").checked, friendly_names: $("#friendly-names").checked,
  };
  const key = $("#admin-key").value;
  if (key) message.admin_key = key;
  game.name = name;
  if (!conn.send(message)) return showSetup(t("join.still_connecting"));
  game.creating = true;
  renderControls();
}

function showSetup(error) {
  setText("#create-error", error);
  setText("#bar-room", "");
  setText("#bar-title", t("host.heading"));
  countdown.stop();
  showScreen("screen-setup");
  renderControls();
}

function forgetRoom() {
  store.remove("code");
  game.code = null;
  game.roomId = null;
  game.reportShown = null;
  $("#e-report").replaceChildren();
  game.phase = null;
  game.question = null;
  game.progress = null;
  game.leaderboard = null;
  game.board = null;
  game.podium = null;
  game.locked = false;
  game.lockReason = null;
  conn.forgetRoom();
  countdown.stop();
  getReady.stop();
  sound.lobbyLoop(false);
  sound.stopAll();
  forgetJoinPanel();
}

function showGone(title, text, action, onAction) {
  countdown.stop();
  setText("#g-title", title);
  setText("#g-text", text);
  const button = $("#g-action");
  button.textContent = action;
  button.onclick = onAction;
  showScreen("screen-gone");
}

function newGame() {
  forgetRoom();
  if (conn.stopped) conn.start();
  showSetup("");
  loadQuizzes(null);
}

// ---------------------------------------------------------------- messages

function onMessage(m) {
  switch (m.type) {
    case "room_created":
      game.code = m.code;
      game.roomId = m.room_id;
      store.set("code", m.code);
      store.set("name", game.name);
      return;
    case "state":
      return applyState(m);
    case "member_joined":
    case "member_left":
    case "member_kicked":
    case "member_online":
    case "member_offline":
      members.apply(m);
      if (game.phase === "question" && game.progress) {
        // Until the next answers_progress: players online or who already answered. A player
        // coming back does not lower it: after a restart the total already counts the
        // players on their way back, who are offline until they are.
        const back = m.type === "member_online" || m.type === "member_joined";
        const floor = back ? game.progress.total : 0;
        game.progress.total = Math.max(floor, game.progress.answered || 0, onlinePlayers());
      }
      return render();
    case "room_locked":
    case "room_unlocked":
      game.locked = m.type === "room_locked";
      game.lockReason = m.reason || null;
      return render();
    case "name_rules_changed":
      game.nameRules = { word_filter: m.word_filter, friendly_names: m.friendly_names };
      return render();
    case "question_shown":
      game.phase = "question";
      game.question = m;
      game.progress = { answered: 0, total: onlinePlayers() };
      game.leaderboard = null;
      game.board = null;
      return render();
    case "answers_progress":
      game.progress = { answered: m.answered, total: m.total };
      return render();
    case "question_closed":
      game.phase = "reveal";
      game.question = { ...game.question, ...revealOf(m) };
      sound.reveal();
      return render();
    case "leaderboard_shown":
      game.board = { index: m.index, top: m.top };
      return render();
    case "leaderboard":
      game.leaderboard = m.top;
      for (const row of m.top) {
        const member = members.byId.get(row.user_id);
        if (member) member.score = row.score;
      }
      return render();
    case "quiz_ended":
      game.phase = "ended";
      game.podium = m.podium;
      return render();
    case "room_closed":
      forgetRoom();
      return showGone(t("gone.room_closed"),
        m.reason === "inactive" ? t("gone.closed_after_end") : t("gone.closed_empty"),
        t("action.host_another"), newGame);
    case "error":
      return onError(m);
  }
}

function applyState(m) {
  const room = m.room;
  backInRoom();
  if (!m.you.is_host) {
    // The room remembered here is not ours to run (a code shared by mistake).
    forgetRoom();
    return showSetup(t("setup.not_your_room"));
  }
  game.code = room.code;
  game.roomId = room.room_id;
  store.set("code", room.code);
  game.title = room.title || "";
  game.locked = room.locked;
  game.nameRules = { word_filter: Boolean(room.word_filter), friendly_names: Boolean(room.friendly_names) };
  members.reset(room);
  const changed = !game.question || !room.question || game.question.index !== room.question.index;
  game.question = room.question;
  if (room.phase === "question" && m.answers_progress) {
    // The server's count, the players on their way back after a restart included.
    game.progress = { answered: m.answers_progress.answered, total: m.answers_progress.total };
  } else if (room.phase === "question" && (changed || !game.progress)) {
    // A server that sends no count in the state: the next answers_progress brings it.
    game.progress = { answered: null, total: onlinePlayers() };
  }
  if (changed) game.leaderboard = null;
  game.board = room.leaderboard || null; // a server without the leaderboard step sends none
  game.phase = room.phase;
  game.creating = false;
  if (room.phase === "closed") {
    forgetRoom();
    return showGone(t("gone.room_closed"), "", t("action.host_another"), newGame);
  }
  render();
}

function onError(m) {
  const kind = typeof m.ref === "string" ? m.ref.split(":")[0] : "";
  if (kind === "join" && game.autoJoin) {
    game.autoJoin = false;
    backInRoom(); // not back after all: the setup screen says why
    if (GONE_FOR_GOOD.has(m.code)) {
      forgetRoom();
      return showSetup(t("setup.room_gone", { reason: explain(m) }));
    }
    return showSetup(explain(m));
  }
  if (kind === "create_room") {
    game.creating = false;
    if (m.code === "unauthorized") return showSetup(t("setup.admin_key_needed"));
    return showSetup(explain(m));
  }
  notify(explain(m));
}

// ---------------------------------------------------------------- drawing

function onlinePlayers() {
  return members.players().filter((p) => p.online).length;
}

function render() {
  setText("#bar-title", game.title || t("host.heading"));
  setText("#bar-room", game.code ? t("wait.room", { code: formatCode(game.code) }) : "");
  switch (game.phase) {
    case "lobby":
      renderLobby();
      break;
    case "question":
      renderQuestion();
      break;
    case "reveal":
      if (game.board && game.question && game.board.index === game.question.index) renderLeaderboard();
      else renderReveal();
      break;
    case "ended":
      renderEnded();
      break;
  }
  sound.lobbyLoop(game.phase === "lobby");
  if (game.phase !== "question") sound.stopCountdown();
  renderControls();
}

// Buttons that send something only work while connected, and in a room only once back in it.
function renderControls() {
  const offline = !conn.ready || game.rejoining;
  for (const id of ["#lock", "#close-question", "#next", "#show-leaderboard", "#end-quiz", "#end-quiz-2", "#end-quiz-3"]) {
    $(id).disabled = offline;
  }
  $("#start").disabled = offline || members.players().length === 0;
  for (const button of document.querySelectorAll("#players button")) button.disabled = offline;
  $("#lobby-word-filter").disabled = offline;
  $("#lobby-friendly-names").disabled = offline;
  const create = $("#create-button");
  create.disabled = offline || game.creating;
  create.textContent = offline ? t("status.connecting") : game.creating ? t("setup.creating") : t("setup.create");
}

function renderLobby() {
  countdown.stop();
  setText("#room-code", formatCode(game.code));
  $("#room-code").dataset.code = game.code;
  showJoinPanel(game.code);
  const players = members.players();
  setText("#player-count", players.length ? tn("players", players.length) : t("lobby.waiting_players"));
  $("#players").replaceChildren(
    ...players.map((p) =>
      el("li", { class: p.online ? "" : "offline", dataset: { userId: p.user_id } },
        el("span", { class: "dot", title: p.online ? t("lobby.online") : t("lobby.offline") }),
        el("span", { class: "name" }, p.name),
        el("button", {
          type: "button", title: t("lobby.remove_name", { name: p.name }), "aria-label": t("lobby.remove_name", { name: p.name }),
          onclick: () => confirmKick(p),
        }, t("lobby.remove")))),
  );
  $("#lock").textContent = game.locked ? t("lobby.unlock") : t("lobby.lock");
  const note = $("#locked-note");
  note.hidden = !game.locked;
  note.textContent = game.lockReason === "join_flood" ? t("lobby.flood_locked") : t("lobby.locked");
  $("#lobby-word-filter").checked = game.nameRules.word_filter;
  $("#lobby-friendly-names").checked = game.nameRules.friendly_names;
  showScreen("screen-lobby");
}

function renderQuestion() {
  const q = game.question;
  setText("#q-number", t("question.number", { n: q.index + 1, count: q.count }));
  setText("#q-text", q.text);
  showPicture($("#q-image"), q.image);
  const box = $("#q-choices");
  if (box.dataset.deadline !== String(q.deadline_ms)) {
    box.dataset.deadline = String(q.deadline_ms);
    box.dataset.questionType = typeOf(q);
    box.replaceChildren(...hostQuestion(q));
    countdown.start(q.deadline_ms, q.time_limit_ms, null);
    sound.countdown(q.deadline_ms, () => conn.serverNow());
    getReady.watch(q, render, render); // render, not renderQuestion: the question may have closed since
  }
  // Get ready: the question alone, read out in the room, before its answers open.
  const waiting = leftToOpen(q, conn.serverNow()) > 0;
  box.hidden = waiting;
  $("#q-progress").hidden = waiting;
  $("#q-getready").hidden = !waiting;
  setText("#q-getready", waiting ? t("question.get_ready_host", { s: secondsToOpen(q, conn.serverNow()) }) : "");
  announceOnce(`q${q.deadline_ms}`, t("announce.question", { n: q.index + 1, count: q.count, text: q.text }));
  const p = game.progress || { answered: null, total: onlinePlayers() };
  setText("#q-progress", t("question.progress", { answered: p.answered === null ? "–" : p.answered, total: p.total }));
  showScreen("screen-question");
}

function renderReveal() {
  countdown.stop();
  const q = game.question;
  setText("#r-number", t("question.number", { n: q.index + 1, count: q.count }));
  setText("#r-text", q.text);
  $("#r-choices").dataset.questionType = typeOf(q);
  $("#r-choices").replaceChildren(...hostReveal(q));
  showScreen("screen-reveal");
  announceOnce(`r${q.deadline_ms}`, sentences([t("announce.closed", { n: q.index + 1 }), rightAnswerInWords(q)]));
}

// The second step after a question: the best five who have scored, and who moved up.
function renderLeaderboard() {
  countdown.stop();
  const q = game.question;
  setText("#l-number", t("leaderboard.after", { n: q.index + 1, count: q.count }));
  const rows = game.board.top;
  $("#leaderboard").replaceChildren(
    ...rows.map((row) =>
      el("li", { class: row.moved > 0 ? "moved-up" : "" },
        el("span", { class: "rank" }, ordinal(row.rank)),
        el("span", { class: "name" }, row.name),
        el("span", { class: "movement" }, movement(row)),
        el("span", { class: "points" }, String(row.score)))),
  );
  $("#l-empty").hidden = rows.length > 0;
  setText("#next", q.index + 1 < q.count ? t("reveal.next") : t("reveal.podium"));
  showScreen("screen-leaderboard");
  const leader = rows[0] ? t("announce.leader", { name: rows[0].name, points: tn("points", rows[0].score) }) : "";
  announceOnce(`l${q.deadline_ms}${leader}`, leader || t("leaderboard.empty"));
}

function movement(row) {
  if (row.rank_before === null || row.rank_before === undefined) return t("leaderboard.new");
  if (row.moved > 0) return `▲ ${row.moved}`;
  if (row.moved < 0) return `▼ ${-row.moved}`;
  return "";
}

function renderEnded() {
  countdown.stop();
  setText("#e-title", game.title);
  const podium = game.podium || members.standings().slice(0, 3);
  $("#podium").replaceChildren(
    ...podium.map((row) =>
      el("li", { class: `p${Math.min(row.rank, 3)}` },
        el("span", { class: "name" }, row.name),
        el("span", { class: "points" }, tn("points", row.score)),
        el("span", { class: "step" }, ordinal(row.rank)))),
  );
  if (!podium.length) $("#podium").append(el("li", {}, t("ended.nobody")));
  showScreen("screen-ended");
  const places = podium.map((row) => t("announce.place", { rank: ordinal(row.rank), name: row.name, points: tn("points", row.score) }));
  announceOnce(`e${places.join()}`, sentences([t("announce.over"), ...(places.length ? places : [t("ended.nobody")])]));
  // The report below the podium, fetched once per game with this page's host session.
  if (game.roomId && game.reportShown !== game.roomId) {
    game.reportShown = game.roomId;
    showReport($("#e-report"), game.roomId, store.get("token"));
  }
}

init();
