// The player page: join with a code and a name, then answer on the phone.
//
// The name is asked for only where the room wants one. With a whole code typed
// (or given by a join link), the page sends a join without a name: a room that
// gives out friendly names lets the player in and the lobby says the name it
// gave; any other room answers name_invalid, and the page shows the name box
// (docs/protocol.md, "Names").
//
// The page keeps the game as the server last described it (`game`) and
// redraws the screen for its phase after every message. Everything needed to
// come back after a refresh is in localStorage: the token (connection.js), the
// room code and the name; on every (re)connect the page joins again, and the
// server answers a returning member with the full `state` of where the game is.
//
// Every join asks for membership summaries: in a big room the page hears of
// players coming and going as one `members_changed` (the count) a quarter of a
// second, not one message per player; the lobby shows the count either way.
//
// An answer is shown as sent only once the server says so (`answer_accepted`).
// Until then it is "sending"; if the connection is lost first it is "unsent",
// and the page says so. When the page is back, the server's `state` says
// whether the answer got there (`you.answer`); if not, and the question is still
// open, the page sends it again.

import { announce, sentences } from "./announce.js";
import { Connection, Store } from "./connection.js";
import { GetReady, leftToOpen, secondsToOpen } from "./getready.js";
import { languageSwitch, ordinal, t, tn, translatePage } from "./i18n.js";
import { answerControls, answerInWords, revealOf, rightAnswerInWords, typeOf } from "./questions.js";
import { showMyResults } from "./report.js";
import {
  $, Countdown, GONE_FOR_GOOD, Members, el, explain, formatCode, notify,
  setText, showConnection, showPicture, showScreen,
} from "./ui.js";

const store = new Store("player");
// How this page wants to hear of members in a big room (docs/protocol.md): the count is all it shows.
const MEMBERSHIP = "summary";
const members = new Members();
const game = {
  code: store.get("code"), // the room we are in, or are getting back into
  roomId: null, // its id, which names our results at the end
  resultsShown: null, // the room id whose results the end screen shows
  name: store.get("name") || "",
  userId: null,
  title: "",
  phase: null,
  question: null, // the open or last closed question, as the server described it
  answer: null, // {index, payload, status: "sending" | "accepted" | "unsent"}: our answer to `question`
  controls: null, // the open question's answer controls (questions.js)
  timeUp: false,
  result: null, // our question_closed for the current question
  rank: null, // from the latest leaderboard
  ahead: undefined, // the player ranked just above us ({name, score}), null when we lead, undefined: not known
  score: 0,
  podium: null,
  finalRank: null,
  autoJoin: false, // the pending join was sent by the page on (re)connect, not typed
  rejoining: false, // that join is on its way: the page is not back in its room yet
  status: "connecting", // the connection's last status (onStatus)
  lostBeforeWelcome: false, // the banner said the connection was lost when this socket was welcomed
  friendlyNames: false, // the room gives out names: the lobby says which one we got
  probed: null, // the code last asked whether it wants a name (a join without one)
  probeRef: null, // that join's ref while it is on its way
  focusName: false, // the name box takes the focus when it shows (the code was not typed)
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
// What the screen reader last heard about, so a redraw does not say it again.
let announced = "";

function announceOnce(key, text) {
  if (key === announced) return;
  announced = key;
  announce(text);
}

// The connection is lost: an answer still on its way was not received, whatever
// happens to the socket it went into (the server ignores what a dropped socket sent late).
conn.addEventListener("offline", () => {
  if (game.answer && game.answer.status === "sending") game.answer.status = "unsent";
  renderBanner();
  if (game.phase) render();
});

// ---------------------------------------------------------------- start

function init() {
  translatePage();
  $(".bar").append(languageSwitch());
  const fromLink = new URLSearchParams(location.search).get("code");
  $("#code").value = fromLink || game.code || "";
  $("#name").value = game.name;
  $("#join-form").addEventListener("submit", onJoinSubmit);
  $("#code").addEventListener("input", () => askForName(false));
  $("#leave").addEventListener("click", () => conn.send({ type: "leave" }));
  $("#again").addEventListener("click", () => {
    forgetRoom();
    showJoin("");
  });
  if (game.code) {
    setText("#wait-text", t("wait.game", { code: formatCode(game.code) }));
    showScreen("screen-wait");
  } else {
    showJoin("");
  }
  conn.start();
}

function onWelcome(welcome) {
  game.userId = welcome.user_id;
  // A probe sent on the last socket whose answer never came (a redirect to the node
  // serving the room closed it): ask again on this one.
  if (game.probeRef !== null) {
    game.probeRef = null;
    game.probed = null;
  }
  if (game.code) {
    // A refresh or a reconnect: take our place in the room again. Until the room's
    // state is back the answer buttons wait, and after a lost connection the banner
    // still says so (a refresh, or a server restart the server announced, stay quiet).
    game.autoJoin = true;
    game.rejoining = true;
    if (game.lostBeforeWelcome) showConnection("reconnecting", { attempt: 0 });
    conn.send({ type: "join", code: game.code, name: game.name || "Player", membership: MEMBERSHIP });
  } else {
    // A code from a join link (the lobby's QR code), or typed before we were connected.
    askForName(true);
  }
  renderJoinButton();
}

function onStatus(kind, detail) {
  if (kind === "connected") game.lostBeforeWelcome = game.status === "reconnecting";
  game.status = kind;
  showConnection(kind, detail);
  renderBanner();
  if (kind === "stopped" && detail.reason === "replaced") {
    showGone(t("gone.replaced"), t("error.replaced"), t("gone.play_here"), () => conn.start());
  } else if (kind === "stopped" && detail.reason === "kicked") {
    forgetRoom();
    showGone(t("gone.kicked"), explain({ code: "kicked" }), t("action.join_another"), rejoinable);
  }
  renderJoinButton();
  if (game.phase === "question") renderQuestion(); // answer buttons need a connection
}

// ---------------------------------------------------------------- joining

// Ask the room behind a whole code whether it wants a name, by joining without one.
// ``fromLink``: the code was not typed, so the name box may take the focus at once.
function askForName(fromLink) {
  const code = $("#code").value.replace(/\D/g, "");
  if (code.length !== 6 || code === game.probed || game.phase || !conn.ready) return;
  game.probed = code;
  game.autoJoin = false;
  game.probeRef = conn.send({ type: "join", code, membership: MEMBERSHIP });
  game.focusName = fromLink;
}

function showNameField(focus) {
  const field = $("#name-field");
  const wasHidden = field.hidden;
  field.hidden = false;
  // Typing the code was the last thing done: the name comes next.
  if (focus || (wasHidden && document.activeElement === $("#code"))) $("#name").focus();
}

function onJoinSubmit(event) {
  event.preventDefault();
  const code = $("#code").value.replace(/\D/g, "");
  const name = $("#name").value.trim();
  if (code.length !== 6) return showJoin(t("join.code_digits"));
  if (!name && $("#name-field").hidden) {
    // Not asked yet (or the code changed): the room says whether it wants a name.
    game.probed = null;
    askForName(true);
    return;
  }
  if (!name) return showJoin(t("join.name_needed"));
  game.code = code;
  game.name = name;
  game.autoJoin = false;
  if (!conn.send({ type: "join", code, name, membership: MEMBERSHIP })) return showJoin(t("join.still_connecting"));
  $("#join-button").disabled = true;
  $("#join-button").textContent = t("join.joining");
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
  button.textContent = conn.ready ? t("join.button") : t("status.connecting");
}

function forgetRoom() {
  store.remove("code");
  game.probed = null;
  game.probeRef = null;
  game.friendlyNames = false;
  game.code = null;
  game.roomId = null;
  game.resultsShown = null;
  $("#e-mine").replaceChildren();
  game.phase = null;
  game.question = null;
  game.answer = null;
  game.result = null;
  game.rank = null;
  game.ahead = undefined;
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
    case "members_changed":
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
      renderBanner();
      return render();
    case "question_closed":
      game.phase = "reveal";
      game.question = { ...game.question, ...revealOf(m) };
      game.result = m;
      game.rank = null; // the leaderboard that follows brings the new one
      game.ahead = undefined;
      if (m.you) game.score = m.you.score;
      return render();
    case "leaderboard":
      if (m.you) {
        game.rank = m.you.rank;
        game.ahead = m.you.ahead; // absent from an older server: undefined, not shown
      }
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
      return showGone(t("gone.closed"), explain({ code: "room_closed" }), t("action.join_another"), () => showJoin(""));
    case "kicked":
      forgetRoom();
      return showGone(t("gone.kicked"), explain({ code: "kicked" }), t("action.join_another"), rejoinable);
    case "left":
      forgetRoom();
      return showJoin(t("join.you_left"));
    case "name_rules_changed":
      game.friendlyNames = m.friendly_names;
      return render();
    case "error":
      return onError(m);
  }
}

function applyState(m) {
  const room = m.room;
  if (game.rejoining) {
    game.rejoining = false;
    showConnection("connected", {});
  }
  game.code = room.code;
  game.roomId = room.room_id;
  game.title = room.title || "";
  game.friendlyNames = Boolean(room.friendly_names);
  game.probeRef = null;
  store.set("code", room.code);
  store.set("name", game.name);
  members.reset(room);
  const me = members.byId.get(m.you.user_id);
  if (me) game.name = me.name; // the server's spelling (trimmed, normalised)
  store.set("name", game.name);
  game.score = m.you.score;
  const q = room.question;
  const sameQuestion = q && game.question && game.question.index === q.index;
  // Our own answer to this question as this page last knew it (a reload knows none).
  const ours = sameQuestion && game.answer && game.answer.index === q.index ? game.answer : null;
  if (!sameQuestion) {
    game.result = null;
    game.rank = null;
    game.ahead = undefined;
    game.timeUp = false;
  }
  game.question = q;
  game.phase = room.phase;
  if (room.phase === "question" || room.phase === "reveal") game.answer = answerAfterState(q, m.you, ours, room.phase);
  if (room.phase === "reveal" && m.you.last_result) {
    // The question closed while we were away (or before a reload): its verdict, as question_closed gave it.
    game.result = { index: q.index, you: m.you.last_result };
  }
  if ("rank" in m.you) game.rank = m.you.rank;
  if ("ahead" in m.you) game.ahead = m.you.ahead;
  if (room.phase === "closed") {
    forgetRoom();
    return showGone(t("gone.closed"), explain({ code: "room_closed" }), t("action.join_another"), () => showJoin(""));
  }
  render();
}

// What the server's `state` says of our answer, reconciled with what this page sent.
function answerAfterState(q, you, ours, phase) {
  // The server has our answer: shown as it stored it (a page from before `you.answer` keeps its own).
  if (you.answer) return { index: q.index, payload: you.answer, status: "accepted" };
  if (you.answered) return { index: q.index, payload: ours ? ours.payload : null, status: "accepted" };
  if (!ours) return null;
  if (ours.status === "accepted") return ours; // acknowledged before: it stands (a server without `you.answer`)
  // Sent but never acknowledged, and the server does not have it.
  if (phase === "question" && conn.serverNow() < q.deadline_ms) {
    conn.send({ type: "answer", question: q.index, ...ours.payload });
    return { ...ours, status: "sending" };
  }
  return { ...ours, status: "unsent" }; // too late: the result says it never arrived
}

function onError(m) {
  const kind = typeof m.ref === "string" ? m.ref.split(":")[0] : "";
  if (kind === "join" && m.ref === game.probeRef) {
    game.probeRef = null;
    // The room wants a name (we sent none): ask for it. Any other refusal is said at once.
    if (m.code === "name_invalid") return showNameField(game.focusName);
    game.probed = null; // locked, full, no such room: the same code may be asked again later
    return showJoin(explain(m));
  }
  if (kind === "join") {
    const wasAuto = game.autoJoin;
    game.autoJoin = false;
    if (game.rejoining) {
      game.rejoining = false;
      showConnection("connected", {}); // the join screen says why
    }
    if (wasAuto && GONE_FOR_GOOD.has(m.code)) forgetRoom();
    return showJoin(explain(m));
  }
  if (kind === "answer") {
    // A resent answer the server had after all: it counts once, as first received.
    if (m.code === "already_answered" && game.answer) game.answer.status = "accepted";
    else if ((m.code === "too_late" || m.code === "wrong_phase") && game.answer) {
      // The question closed while the answer travelled: the result screen says it was not sent.
      game.answer.status = "unsent";
      game.timeUp = true;
    } else {
      game.answer = null; // refused and nothing changed: the player may answer again
      notify(explain(m));
    }
    renderBanner();
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

// While the connection is down, the banner says plainly whether an answer was lost with it.
function renderBanner() {
  if (conn.ready || !conn.offline) return; // showConnection's words stand
  const unsent = game.answer && game.answer.status === "unsent" && game.phase === "question";
  if (unsent) setText("#status", t("question.unsent_offline"));
}

function renderHeader() {
  const inGame = Boolean(game.phase);
  setText("#me", inGame ? game.name : t("header.quiz"));
  setText("#my-score", inGame && game.phase !== "lobby" ? tn("points", game.score) : "");
}

function renderLobby() {
  countdown.stop();
  setText("#lobby-title", game.title);
  setText("#lobby-count", tn("lobby.count", members.playerCount()));
  // In a room that gives out names the player never typed one: say it, and say it aloud.
  const given = $("#lobby-name");
  given.hidden = !game.friendlyNames;
  given.textContent = game.friendlyNames ? t("names.given", { name: game.name }) : "";
  showScreen("screen-lobby");
  if (game.friendlyNames) announceOnce(`given${game.name}`, sentences([t("lobby.in"), given.textContent]));
}

function renderQuestion() {
  const q = game.question;
  setText("#q-number", t("question.number", { n: q.index + 1, count: q.count }));
  setText("#q-text", q.text);
  showPicture($("#q-image"), q.image_on_phones ? q.image : null);
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
    getReady.watch(q, render, render); // render, not renderQuestion: the question may have closed since
  }
  const answered = game.answer !== null;
  const waiting = leftToOpen(q, conn.serverNow()) > 0; // get ready: read the question first
  game.controls.update(game.answer, waiting || game.timeUp || !conn.inRoom);
  box.classList.toggle("shut", waiting); // drawn as not open yet (app.css), not merely disabled
  let feedback = "";
  const status = answered ? game.answer.status : null;
  if (status === "unsent" && !conn.ready) feedback = t("question.unsent_offline");
  // Back online: the room's state, on its way, says whether it arrived; if not, it goes again.
  else if (status === "unsent") feedback = game.timeUp ? t("question.unsent") : t("question.checking");
  else if (status === "sending") feedback = conn.ready ? t("question.sending") : t("question.unsent_offline");
  else if (answered && game.answer.payload === null) feedback = t("question.answered");
  else if (answered) feedback = t("question.locked_in");
  else if (game.timeUp) feedback = t("question.time_up");
  else if (waiting) feedback = t("question.get_ready_phone", { s: secondsToOpen(q, conn.serverNow()) });
  // Not back in the room: said after a lost connection, quiet after an announced restart.
  else if (!conn.inRoom && (conn.offline || game.lostBeforeWelcome)) feedback = t("status.reconnecting");
  setText("#q-feedback", feedback);
  showScreen("screen-question");
  announceOnce(`q${q.deadline_ms}`, t("announce.question", { n: q.index + 1, count: q.count, text: q.text }));
  // Only a visible control takes the focus: a text box is ready for typing at once.
  if (fresh && game.controls.focus && !answered && !waiting) game.controls.focus();
  else if (game.controls.focus && !answered && !waiting && getReady.justOpened(q)) game.controls.focus();
}

function answer(payload) {
  const q = game.question;
  if (game.answer || game.timeUp || game.phase !== "question") return;
  if (leftToOpen(q, conn.serverNow()) > 0) return; // the controls are shut until the answers open
  if (!conn.inRoom || !conn.send({ type: "answer", question: q.index, ...payload })) {
    return notify(t("question.not_connected"));
  }
  game.answer = { index: q.index, payload, status: "sending" };
  renderQuestion();
}

function renderResult() {
  countdown.stop();
  const q = game.question;
  const mine = game.result && game.result.index === q.index ? game.result.you : null;
  const ours = game.answer && game.answer.index === q.index ? game.answer : null;
  const answeredThis = ours !== null && ours.status !== "unsent";
  setText("#r-number", t("question.number", { n: q.index + 1, count: q.count }));
  const poll = typeOf(q) === "poll"; // nothing is right or wrong: only a vote to thank for
  let verdict = t("result.time_up");
  if (mine && poll) verdict = answeredThis ? t("result.thanks_vote") : t("result.no_vote");
  else if (mine && mine.correct) verdict = t("result.correct");
  else if (mine && answeredThis) verdict = t("result.wrong");
  else if (mine) verdict = t("result.no_answer");
  else if (!game.result) verdict = t("result.closed"); // refreshed during the reveal: our result was sent before
  const verdictNode = $("#r-verdict");
  verdictNode.textContent = verdict;
  verdictNode.className = `verdict ${mine && !poll ? (mine.correct ? "right" : "wrong") : ""}`;
  setText("#r-points", mine && !poll ? `+${tn("points", mine.points)}` : "");
  setText("#r-answer", rightAnswerInWords(q));
  // What we sent (the server's copy after a reload), or that it never arrived.
  const sent = answeredThis && ours.payload ? answerInWords(q, ours.payload) : "";
  let mineText = sent ? t(poll ? "result.your_vote" : "result.your_answer", { answer: sent }) : "";
  if (ours && ours.status === "unsent") mineText = t(poll ? "result.unsent_vote" : "result.unsent_answer");
  setText("#r-mine", mineText);
  setText("#r-streak", mine && mine.streak > 1 ? t("result.streak", { n: mine.streak }) : "");
  const rank = { rank: ordinal(game.rank), count: members.playerCount() };
  setText("#r-rank", game.rank ? t("result.rank", rank) : "");
  setText("#r-behind", game.rank ? behindText() : "");
  showScreen("screen-result");
  const said = [verdict, $("#r-points").textContent, $("#r-answer").textContent, $("#r-rank").textContent];
  announceOnce(`r${q.deadline_ms}${said.join()}`, sentences(said));
}

// "120 points behind Ann", or that we lead: known from the leaderboard (or a state).
function behindText() {
  if (game.ahead === undefined) return "";
  if (game.ahead === null) return t("result.lead");
  const gap = game.ahead.score - game.score;
  if (gap <= 0) return t("result.level", { name: game.ahead.name });
  return t("result.behind", { points: tn("points", gap), name: game.ahead.name });
}

function renderEnded() {
  countdown.stop();
  setText("#e-title", game.title);
  // After a refresh at the end the podium message is gone: rank from the scores we hold.
  const standings = game.podium || members.standings().slice(0, 3);
  const mine = members.standings().find((s) => s.user_id === game.userId);
  const rank = game.finalRank || (mine ? mine.rank : null);
  setText("#e-rank", rank ? t("ended.rank", { rank: ordinal(rank) }) : "");
  setText("#e-score", tn("points", game.score));
  const said = [t("ended.heading"), $("#e-rank").textContent, $("#e-score").textContent].filter(Boolean);
  announceOnce(`e${said.join()}`, sentences(said));
  $("#e-podium").replaceChildren(
    ...standings.map((s) =>
      el("li", { class: s.user_id === game.userId ? "me" : "" },
        el("span", { class: "rank" }, ordinal(s.rank)),
        el("span", { class: "name" }, s.name),
        el("span", { class: "points" }, String(s.score)))),
  );
  showScreen("screen-ended");
  // Our own answers under the podium, fetched once per game with this phone's session.
  if (game.roomId && game.resultsShown !== game.roomId) {
    game.resultsShown = game.roomId;
    showMyResults($("#e-mine"), game.roomId, store.get("token"));
  }
}

init();
