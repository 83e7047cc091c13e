// Small helpers shared by the pages (player, host, quiz library, editor).
//
// Every text that came from someone else (names, quiz text) goes into the page
// through textContent, never innerHTML: a player called "<img onerror=…>" is
// just a strange name.

import { t } from "./i18n.js";

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

// Server error codes in words a player or host understands, from the catalog
// ("error.<code>"; the server's own messages stay English, for API clients).
// The server's message is added where it carries a detail worth reading (how
// long to wait); a refused name says what it clashes with.
const WITH_DETAIL = new Set(["rate_limited", "unauthorized", "bad_answer"]);

// What is wrong with a refused name, from the server's (English) message: the code alone
// does not say, and the message is not shown as it is (the page may be in another language).
function nameProblem(message) {
  const hidden = /U\+[0-9A-F]{4,6}/.exec(message);
  if (hidden) return ["error.name_hidden", { character: hidden[0] }];
  if (message.includes("at most")) return ["error.name_too_long", { max: 24 }];
  if (message.includes("visible")) return ["error.name_empty", {}];
  return ["error.name_invalid", {}];
}

// A join refused for the whole network (a school shares one address): why, and for how
// long, in the page's language. Players already in a game still get back in, unless
// this one came back too often in a minute (too_many_rejoins: a flapping connection).
const JOIN_REFUSALS = {
  wrong_codes: "error.join_wrong_codes",
  too_many_joins: "error.join_too_many",
  too_many_rejoins: "error.join_too_many_rejoins",
};

export function explain(error) {
  if (error.code === "name_taken" && error.clash) return t("error.name_clash", { clash: error.clash });
  if (error.code === "rate_limited" && Object.hasOwn(JOIN_REFUSALS, error.reason ?? "") && Number.isFinite(error.retry_after_s)) {
    return t(JOIN_REFUSALS[error.reason], { minutes: Math.max(1, Math.ceil(error.retry_after_s / 60)) });
  }
  if (error.code === "name_invalid") return t(...nameProblem(error.message || ""));
  const key = `error.${error.code}`;
  const words = t(key) === key ? t("error.unknown") : t(key);
  if (WITH_DETAIL.has(error.code) && error.message) return `${words} (${error.message})`;
  return words;
}

// Something that cannot be undone (ending a quiz, deleting one): the first click
// only asks, by changing the button's words; a second click within 4 s does it.
// A button with an aria-label is given `askName` meanwhile, so that its name still
// holds the words it shows (WCAG 2.5.3).
export function confirmTwice(button, askLabel, action, askName = null) {
  const label = button.textContent;
  const name = button.getAttribute("aria-label");
  const show = (words, spoken) => {
    button.textContent = words;
    if (name !== null) button.setAttribute("aria-label", spoken ?? words);
  };
  let armed = null;
  button.addEventListener("click", () => {
    if (armed) {
      clearTimeout(armed);
      armed = null;
      show(label, name);
      action();
      return;
    }
    show(askLabel, askName);
    armed = setTimeout(() => {
      armed = null;
      show(label, name);
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
  if (kind === "connecting") banner.textContent = t("status.connecting");
  else if (kind === "reconnecting") {
    banner.textContent =
      detail.attempt > 1 ? t("status.reconnecting_attempt", { attempt: detail.attempt }) : t("status.reconnecting");
  }
}

// Seconds left when a screen reader hears that time is running out.
export const LOW_TIME_S = 5;

// Counts down to a deadline in the server's clock; `now` gives the server's time.
// `onLow` (optional) is called once when LOW_TIME_S seconds are left, if the
// question had more than that when the countdown started.
export class Countdown {
  constructor(textNode, barNode, now, onLow = null) {
    this.textNode = textNode;
    this.barNode = barNode;
    this.now = now;
    this.onLow = onLow;
    this.timer = null;
  }
  start(deadlineMs, totalMs, onZero) {
    this.stop();
    let warned = deadlineMs - this.now() <= LOW_TIME_S * 1000;
    // Returns whether time is left, so a deadline already past never starts the timer.
    const tick = () => {
      // Clamped: our estimate of the server's clock may be a few ms behind.
      const left = Math.min(totalMs, Math.max(0, deadlineMs - this.now()));
      this.textNode.textContent = String(Math.ceil(left / 1000));
      if (!warned && left > 0 && left <= LOW_TIME_S * 1000) {
        warned = true;
        if (this.onLow) this.onLow(Math.ceil(left / 1000));
      }
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

// Members of the room as the page knows them: a `state`, then its deltas. A
// page that asked for membership summaries gets `members_changed` in a big room
// instead of each change, and a `state` listing only the host and itself with
// `member_count`: it knows the count then, not who.
export class Members {
  constructor() {
    this.byId = new Map();
    this.hostId = null;
    this.count = 0; // members, host included, as the room last said
  }
  reset(room) {
    this.hostId = room.host_id;
    this.byId = new Map(room.members.map((m) => [m.user_id, { ...m }]));
    // A state for a page that asked for summaries, in a big room, lists the host and us only.
    this.count = typeof room.member_count === "number" ? room.member_count : room.members.length;
  }
  apply(message) {
    switch (message.type) {
      case "member_joined":
        this.byId.set(message.member.user_id, { ...message.member });
        this.count = message.count;
        return true;
      case "member_left":
      case "member_kicked":
        this.byId.delete(message.user_id);
        this.count = message.count;
        return true;
      case "members_changed":
        this.count = message.count;
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
  // Players in the room (the host is a member, not a player), summaries included.
  playerCount() {
    return Math.max(0, this.count - (this.byId.has(this.hostId) ? 1 : 0));
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

// A question's picture (/media/…), or none: the <img> is hidden rather than left
// showing the last question's picture.
export function showPicture(img, url) {
  img.hidden = !url;
  if (url && img.getAttribute("src") !== url) img.src = url;
  if (!url) img.removeAttribute("src");
}
