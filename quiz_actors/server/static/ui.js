// Small helpers shared by the pages (player, host, quiz library, editor).
//
// Every text that came from someone else (names, quiz text) goes into the page
// through textContent, never innerHTML: a player called "<img onerror=…>" is
// just a strange name.

export const $ = (selector) => document.querySelector(selector);

// Rejoining a room fails for good with these errors: the page forgets the room and asks again.
export const GONE_FOR_GOOD = new Set(["room_not_found", "room_closed", "kicked", "not_member", "unauthorized"]);

// el("li", {class: "x", dataset: {id: "1"}}, "text", child…)
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (value === true) node.setAttribute(key, "");
    else node.setAttribute(key, value);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined && child !== false) node.append(child);
  }
  return node;
}

// One screen (a <section class="screen">) visible at a time.
export function showScreen(id) {
  for (const screen of document.querySelectorAll(".screen")) screen.hidden = screen.id !== id;
  document.body.dataset.screen = id;
}

export function setText(selector, text) {
  $(selector).textContent = text;
}

export function ordinal(n) {
  const tens = n % 100;
  const suffix = tens >= 11 && tens <= 13 ? "th" : { 1: "st", 2: "nd", 3: "rd" }[n % 10] || "th";
  return `${n}${suffix}`;
}

// "483920" → "483 920": easier to read off a projector and to type.
export function formatCode(code) {
  return `${code.slice(0, 3)} ${code.slice(3)}`;
}

export function plural(n, one, many) {
  return `${n} ${n === 1 ? one : many}`;
}

// Kahoot's convention: colour plus shape, so colour-blind players can tell them apart.
export const CHOICE_MARKS = ["▲", "◆", "●", "■", "★", "⬟"];

// Server error codes in words a player or host understands. The server's own
// message is added where it carries a detail worth reading (how long to wait,
// what is wrong with a name).
const ERROR_WORDS = {
  bad_message: "The page sent something the server did not understand. Reloading the page should help.",
  unknown_type: "The page and the server do not agree. Reloading the page should help.",
  not_authenticated: "Still connecting… try again in a moment.",
  unauthorized: "The server did not accept this session.",
  replaced: "This game was opened in another tab or on another device.",
  rate_limited: "Slow down a little: too many actions at once.",
  room_not_found: "No game has that code. Check the number on the big screen.",
  room_locked: "The host has locked this game: no new players can join.",
  room_full: "This game is full.",
  room_closed: "This game has closed.",
  kicked: "The host removed you from this game.",
  name_invalid: "That name cannot be used.",
  name_taken: "Someone in this game already has that name. Pick another one.",
  not_member: "You are not in this game any more.",
  not_host: "Only the host can do that.",
  not_player: "The host does not answer questions.",
  wrong_phase: "That cannot be done at this point of the game.",
  already_answered: "You have already answered this question.",
  too_late: "Too late: time was up for this question.",
  bad_choice: "That answer is not one of the choices.",
  bad_answer: "That answer does not fit this question.",
  quiz_not_found: "That quiz does not exist (any more). Pick another one.",
  busy: "The server is busy and nothing changed. Please try again.",
  internal: "Something went wrong on the server. Please try again.",
};
const WITH_DETAIL = new Set(["rate_limited", "name_invalid", "unauthorized", "bad_answer"]);

export function explain(error) {
  const words = ERROR_WORDS[error.code] || "Something went wrong.";
  if (WITH_DETAIL.has(error.code) && error.message) return `${words} (${error.message})`;
  return words;
}

// Something that cannot be undone (ending a quiz, deleting one): the first click
// only asks, by changing the button's words; a second click within 4 s does it.
export function confirmTwice(button, askLabel, action) {
  const label = button.textContent;
  let armed = null;
  button.addEventListener("click", () => {
    if (armed) {
      clearTimeout(armed);
      armed = null;
      button.textContent = label;
      action();
      return;
    }
    button.textContent = askLabel;
    armed = setTimeout(() => {
      armed = null;
      button.textContent = label;
    }, 4000);
  });
}

// A short-lived message at the top of the page for errors outside any form.
let noticeTimer = null;
export function notify(text) {
  const notice = $("#notice");
  notice.textContent = text;
  notice.hidden = false;
  clearTimeout(noticeTimer);
  noticeTimer = setTimeout(() => (notice.hidden = true), 6000);
}

// The connection banner: visible whenever we are not connected, so nobody
// wonders why their taps do nothing. Not while the server restarts: that takes
// a moment and is no reason for alarm.
export function showConnection(kind, detail) {
  const banner = $("#status");
  document.body.dataset.connection = kind;
  // "stopped" (kicked, or playing in another tab): the page's screen says why.
  if (kind === "connected" || kind === "stopped" || kind === "restarting") {
    banner.hidden = true;
    return;
  }
  banner.hidden = false;
  if (kind === "connecting") banner.textContent = "Connecting…";
  else if (kind === "reconnecting") {
    banner.textContent = detail.attempt > 1 ? `Reconnecting… (attempt ${detail.attempt})` : "Reconnecting…";
  }
}

// Counts down to a deadline in the server's clock; `now` gives the server's time.
export class Countdown {
  constructor(textNode, barNode, now) {
    this.textNode = textNode;
    this.barNode = barNode;
    this.now = now;
    this.timer = null;
  }
  start(deadlineMs, totalMs, onZero) {
    this.stop();
    // Returns whether time is left, so a deadline already past never starts the timer.
    const tick = () => {
      // Clamped: our estimate of the server's clock may be a few ms behind.
      const left = Math.min(totalMs, Math.max(0, deadlineMs - this.now()));
      this.textNode.textContent = String(Math.ceil(left / 1000));
      if (this.barNode) this.barNode.style.width = `${Math.min(100, (100 * left) / totalMs)}%`;
      if (left > 0) return true;
      this.stop();
      if (onZero) onZero();
      return false;
    };
    if (tick()) this.timer = setInterval(tick, 200);
  }
  stop() {
    clearInterval(this.timer);
    this.timer = null;
  }
}

// Members of the room as the page knows them: a `state`, then its deltas.
export class Members {
  constructor() {
    this.byId = new Map();
    this.hostId = null;
  }
  reset(room) {
    this.hostId = room.host_id;
    this.byId = new Map(room.members.map((m) => [m.user_id, { ...m }]));
  }
  apply(message) {
    switch (message.type) {
      case "member_joined":
        this.byId.set(message.member.user_id, { ...message.member });
        return true;
      case "member_left":
      case "member_kicked":
        this.byId.delete(message.user_id);
        return true;
      case "member_online":
      case "member_offline": {
        const member = this.byId.get(message.user_id);
        if (member) member.online = message.type === "member_online";
        return true;
      }
    }
    return false;
  }
  players() {
    return [...this.byId.values()].filter((m) => m.user_id !== this.hostId);
  }
  // Standings from the scores we hold, for a page that came back after the
  // leaderboard was sent. Equal scores share a rank: the server's tie-break
  // (who got there first) is not in the state.
  standings() {
    const players = this.players().sort((a, b) => b.score - a.score);
    return players.map((m) => ({
      user_id: m.user_id,
      name: m.name,
      score: m.score,
      rank: 1 + players.filter((other) => other.score > m.score).length,
    }));
  }
}
