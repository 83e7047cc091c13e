// The player page: join with a code and a name, then answer on the phone.
//
// The page keeps the game as the server last described it (`game`) and
// redraws the screen for its phase after every message. Everything needed to
// come back after a refresh is in localStorage: the token (connection.js), the
// room code and the name; on every (re)connect the page joins again, and the
// server answers a returning member with the full `state` of where the game is.

import { Connection, Store } from "./connection.js";
import { GetReady, leftToOpen, secondsToOpen } from "./getready.js";
import { answerControls, answerInWords, revealOf, rightAnswerInWords, typeOf } from "./questions.js";
import {
  $, Countdown, GONE_FOR_GOOD, Members, el, explain, formatCode, notify, ordinal, plural,
  setText, showConnection, showScreen,
} from "./ui.js";

const store = new Store("player");
const members = new Members();
const game = {
  code: store.get("code"), // the room we are in, or are getting back into
  name: store.get("name") || "",
  userId: null,
  title: "",
  phase: null,
  question: null, // the open or last closed question, as the server described it
  answer: null, // {index, payload, status: "sending" | "accepted"} for this page's answer
  controls: null, // the open question's answer controls (questions.js)
  timeUp: false,
  result: null, // our question_closed for the current question
  rank: null, // from the latest leaderboard
  score: 0,
  podium: null,
  finalRank: null,
  autoJoin: false, // the pending join was sent by the page on (re)connect, not typed
};

const conn = new Connection(store, {
  ready: onWelcome,
  message: onMessage,
  status: onStatus,
  identityLost: () => forgetRoom(),
});
const countdown = new Countdown($("#q-timer"), $("#q-timebar"), () => conn.serverNow());
const getReady = new GetReady(() => conn.serverNow());

// ---------------------------------------------------------------- start

function init() {
  const fromLink = new URLSearchParams(location.search).get("code");
  $("#code").value = fromLink || game.code || "";
  $("#name").value = game.name;
  $("#join-form").addEventListener("submit", onJoinSubmit);
  $("#leave").addEventListener("click", () => conn.send({ type: "leave" }));
  $("#again").addEventListener("click", () => {
    forgetRoom();
    showJoin("");
  });
  if (game.code) {
    setText("#wait-text", `Game ${formatCode(game.code)}`);
    showScreen("screen-wait");
  } else {
    showJoin("");
    // A join link (the lobby's QR code) fills in the code: the name is all that is left to type.
    if (fromLink) $("#name").focus();
  }
  conn.start();
}

function onWelcome(welcome) {
  game.userId = welcome.user_id;
  if (game.code) {
    // A refresh or a reconnect: take our place in the room again.
    game.autoJoin = true;
    conn.send({ type: "join", code: game.code, name: game.name || "Player" });
  }
  renderJoinButton();
}

function onStatus(kind, detail) {
  showConnection(kind, detail);
  if (kind === "stopped" && detail.reason === "replaced") {
    showGone("Playing somewhere else", "This game was opened in another tab or on another device.", "Play here instead",
      () => conn.start());
  } else if (kind === "stopped" && detail.reason === "kicked") {
    forgetRoom();
    showGone("Removed from the game", explain({ code: "kicked" }), "Join another game", rejoinable);
  }
  renderJoinButton();
  if (game.phase === "question") renderQuestion(); // answer buttons need a connection
}

// ---------------------------------------------------------------- joining

function onJoinSubmit(event) {
  event.preventDefault();
  const code = $("#code").value.replace(/\D/g, "");
  const name = $("#name").value.trim();
  if (code.length !== 6) return showJoin("The game code has 6 digits.");
  if (!name) return showJoin("Please enter a name.");
  game.code = code;
  game.name = name;
  game.autoJoin = false;
  if (!conn.send({ type: "join", code, name })) return showJoin("Still connecting… try again in a moment.");
  $("#join-button").disabled = true;
  $("#join-button").textContent = "Joining…";
}

function showJoin(error) {
  setText("#join-error", error);
  showScreen("screen-join");
  renderJoinButton();
  renderHeader();
}

function renderJoinButton() {
  const button = $("#join-button");
  button.disabled = !conn.ready;
  button.textContent = conn.ready ? "Join" : "Connecting…";
}

function forgetRoom() {
  store.remove("code");
  game.code = null;
  game.phase = null;
  game.question = null;
  game.answer = null;
  game.result = null;
  game.rank = null;
  game.podium = null;
  game.finalRank = null;
  conn.forgetRoom();
  countdown.stop();
  getReady.stop();
}

// After a kick the server closed our socket: open a new one for the next game.
function rejoinable() {
  conn.start();
  showJoin("");
}

function showGone(title, text, action, onAction) {
  setText("#g-title", title);
  setText("#g-text", text);
  const button = $("#g-action");
  button.textContent = action;
  button.onclick = onAction;
  countdown.stop();
  showScreen("screen-gone");
}

// ---------------------------------------------------------------- messages

function onMessage(m) {
  switch (m.type) {
    case "state":
      return applyState(m);
    case "member_joined":
    case "member_left":
    case "member_kicked":
    case "member_online":
    case "member_offline":
      members.apply(m);
      return render();
    case "question_shown":
      game.phase = "question";
      game.question = m;
      game.answer = null;
      game.result = null;
      game.timeUp = false;
      return render();
    case "answer_accepted":
      if (game.answer && game.answer.index === m.question) game.answer.status = "accepted";
      return render();
    case "question_closed":
      game.phase = "reveal";
      game.question = { ...game.question, ...revealOf(m) };
      game.result = m;
      game.rank = null; // the leaderboard that follows brings the new one
      if (m.you) game.score = m.you.score;
      return render();
    case "leaderboard":
      if (m.you) game.rank = m.you.rank;
      return render();
    case "quiz_ended":
      game.phase = "ended";
      game.podium = m.podium;
      game.finalRank = m.you ? m.you.rank : null;
      if (m.you) game.score = m.you.score;
      return render();
    case "room_closed":
      if (game.phase === "ended") {
        store.remove("code"); // keep showing the results; there is nothing to rejoin
        return;
      }
      forgetRoom();
      return showGone("Game closed", explain({ code: "room_closed" }), "Join another game", () => showJoin(""));
    case "kicked":
      forgetRoom();
      return showGone("Removed from the game", explain({ code: "kicked" }), "Join another game", rejoinable);
    case "left":
      forgetRoom();
      return showJoin("You left the game.");
    case "error":
      return onError(m);
  }
}

function applyState(m) {
  const room = m.room;
  game.code = room.code;
  game.title = room.title || "";
  store.set("code", room.code);
  store.set("name", game.name);
  members.reset(room);
  const me = members.byId.get(m.you.user_id);
  if (me) game.name = me.name; // the server's spelling (trimmed, normalised)
  store.set("name", game.name);
  game.score = m.you.score;
  const q = room.question;
  const sameQuestion = q && game.question && game.question.index === q.index;
  if (room.phase === "question") {
    if (!sameQuestion) game.timeUp = false;
    if (m.you.answered) {
      // We answered before the refresh: the server has it, we may not know what.
      const payload = sameQuestion && game.answer ? game.answer.payload : null;
      game.answer = { index: q.index, payload, status: "accepted" };
    } else {
      game.answer = null; // an answer lost with the connection: allowed again
    }
  }
  if (!sameQuestion) {
    game.result = null;
    game.rank = null;
  }
  game.question = q;
  game.phase = room.phase;
  if (room.phase === "closed") {
    forgetRoom();
    return showGone("Game closed", explain({ code: "room_closed" }), "Join another game", () => showJoin(""));
  }
  render();
}

function onError(m) {
  const kind = typeof m.ref === "string" ? m.ref.split(":")[0] : "";
  if (kind === "join") {
    const wasAuto = game.autoJoin;
    game.autoJoin = false;
    if (wasAuto && GONE_FOR_GOOD.has(m.code)) forgetRoom();
    return showJoin(explain(m));
  }
  if (kind === "answer") {
    if (m.code === "already_answered" && game.answer) game.answer.status = "accepted";
    else {
      game.answer = null;
      // The question closed while the answer travelled: the result screen says the rest.
      if (m.code === "too_late" || m.code === "wrong_phase") game.timeUp = true;
      else notify(explain(m));
    }
    return render();
  }
  if ((kind === "resync" || kind === "leave") && m.code === "not_member") {
    forgetRoom();
    return showJoin(explain(m));
  }
  notify(explain(m));
}

// ---------------------------------------------------------------- drawing

function render() {
  renderHeader();
  switch (game.phase) {
    case "lobby":
      return renderLobby();
    case "question":
      return renderQuestion();
    case "reveal":
      return renderResult();
    case "ended":
      return renderEnded();
  }
}

function renderHeader() {
  const inGame = Boolean(game.phase);
  setText("#me", inGame ? game.name : "Quiz");
  setText("#my-score", inGame && game.phase !== "lobby" ? plural(game.score, "point", "points") : "");
}

function renderLobby() {
  countdown.stop();
  setText("#lobby-title", game.title);
  setText("#lobby-count", `${plural(members.players().length, "player", "players")} in the game`);
  showScreen("screen-lobby");
}

function renderQuestion() {
  const q = game.question;
  setText("#q-number", `Question ${q.index + 1} of ${q.count}`);
  setText("#q-text", q.text);
  const box = $("#q-choices");
  let fresh = false;
  if (box.dataset.deadline !== String(q.deadline_ms)) {
    // A new question: new controls and a new countdown.
    box.dataset.deadline = String(q.deadline_ms);
    box.dataset.questionType = typeOf(q);
    game.controls = answerControls(q, answer);
    box.replaceChildren(...game.controls.nodes);
    fresh = true;
    countdown.start(q.deadline_ms, q.time_limit_ms, () => {
      game.timeUp = true;
      renderQuestion();
    });
    getReady.watch(q, renderQuestion, renderQuestion);
  }
  const answered = game.answer !== null;
  const waiting = leftToOpen(q, conn.serverNow()) > 0; // get ready: read the question first
  game.controls.update(game.answer, waiting || game.timeUp || !conn.ready);
  let feedback = "";
  if (answered && game.answer.status === "sending") feedback = "Sending your answer…";
  else if (answered && game.answer.payload === null) feedback = "You have answered. Waiting for the others…";
  else if (answered) feedback = "Answer locked in! Waiting for the others…";
  else if (game.timeUp) feedback = "Time's up!";
  else if (waiting) feedback = `Read the question: answers open in ${secondsToOpen(q, conn.serverNow())} s`;
  setText("#q-feedback", feedback);
  showScreen("screen-question");
  // Only a visible control takes the focus: a text box is ready for typing at once.
  if (fresh && game.controls.focus && !answered && !waiting) game.controls.focus();
  else if (game.controls.focus && !answered && !waiting && getReady.justOpened(q)) game.controls.focus();
}

function answer(payload) {
  const q = game.question;
  if (game.answer || game.timeUp || game.phase !== "question") return;
  if (leftToOpen(q, conn.serverNow()) > 0) return; // the controls are shut until the answers open
  if (!conn.send({ type: "answer", question: q.index, ...payload })) return notify("Not connected: wait a moment.");
  game.answer = { index: q.index, payload, status: "sending" };
  renderQuestion();
}

function renderResult() {
  countdown.stop();
  const q = game.question;
  const mine = game.result && game.result.index === q.index ? game.result.you : null;
  const answeredThis = game.answer && game.answer.index === q.index;
  setText("#r-number", `Question ${q.index + 1} of ${q.count}`);
  const poll = typeOf(q) === "poll"; // nothing is right or wrong: only a vote to thank for
  let verdict = "Time's up";
  if (mine && poll) verdict = answeredThis ? "Thanks for voting!" : "No vote";
  else if (mine && mine.correct) verdict = "Correct!";
  else if (mine && answeredThis) verdict = "Wrong answer";
  else if (mine) verdict = "No answer";
  else if (!game.result) verdict = "Question closed"; // refreshed during the reveal: our result was sent before
  const verdictNode = $("#r-verdict");
  verdictNode.textContent = verdict;
  verdictNode.className = `verdict ${mine && !poll ? (mine.correct ? "right" : "wrong") : ""}`;
  setText("#r-points", mine && !poll ? `+${plural(mine.points, "point", "points")}` : "");
  setText("#r-answer", rightAnswerInWords(q));
  // What we sent, when this page knows it (not after a reload mid-question).
  const sent = answeredThis && game.answer.payload ? answerInWords(q, game.answer.payload) : "";
  setText("#r-mine", sent ? `${poll ? "Your vote" : "Your answer"}: ${sent}` : "");
  setText("#r-streak", mine && mine.streak > 1 ? `${mine.streak} right in a row` : "");
  setText("#r-rank", game.rank ? `You are ${ordinal(game.rank)} of ${members.players().length}` : "");
  showScreen("screen-result");
}

function renderEnded() {
  countdown.stop();
  setText("#e-title", game.title);
  // After a refresh at the end the podium message is gone: rank from the scores we hold.
  const standings = game.podium || members.standings().slice(0, 3);
  const mine = members.standings().find((s) => s.user_id === game.userId);
  const rank = game.finalRank || (mine ? mine.rank : null);
  setText("#e-rank", rank ? `You finished ${ordinal(rank)}` : "");
  setText("#e-score", plural(game.score, "point", "points"));
  $("#e-podium").replaceChildren(
    ...standings.map((s) =>
      el("li", { class: s.user_id === game.userId ? "me" : "" },
        el("span", { class: "rank" }, ordinal(s.rank)),
        el("span", { class: "name" }, s.name),
        el("span", { class: "points" }, String(s.score)))),
  );
  showScreen("screen-ended");
}

init();
