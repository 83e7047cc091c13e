// The page's one WebSocket to the quiz server (wire protocol v1, docs/protocol.md).
//
// It says `hello` with the token kept in localStorage, so a refreshed page is
// the same user and can rejoin its room; it answers pings; it unpacks frames
// that batch several messages; it applies the seq rule (a gap means we missed a
// room change, so ask for a fresh `state` and apply nothing until it comes);
// and it reconnects by itself with backoff. Pages only ever see whole messages,
// in order, through `onMessage`.
//
// It also notices a stalled connection within a few seconds (OFFLINE_AFTER_MS):
// a phone on Wi-Fi that stopped carrying packets keeps its socket "open" for a
// minute or more, and an answer sent into it is lost. So while the socket is
// quiet the page pings the server (the protocol lets a client `ping` and get
// `pong`); hearing nothing at all for OFFLINE_AFTER_MS, it drops the socket and
// reconnects. The page hears `offline` when the connection is lost and `online`
// when a new socket is welcomed (events on the Connection, an EventTarget).

// Waits before reconnect attempts 1, 2, 3…; the last one repeats. Jitter keeps
// a classroom whose Wi-Fi dropped from reconnecting in one stampede.
const BACKOFF_MS = [500, 1000, 2000, 4000, 8000, 10000];

// After PING_AFTER_MS without a message from the server, ping it; after
// OFFLINE_AFTER_MS without any (pong or other), the socket is taken for dead even
// if the browser has not noticed (a stalled Wi-Fi, a phone that changed
// networks): drop it and reconnect rather than wait a minute for TCP. Two pings
// go unanswered before that, so one lost packet is not an outage. Pings go only
// while nothing else arrives, and count towards the socket's rate limit (5 a
// second): one every 1.5 s is well inside it.
const PING_AFTER_MS = 1500;
const OFFLINE_AFTER_MS = 3500;
// A socket that has not been welcomed within this time is not going to be.
const CONNECT_TIMEOUT_MS = 10000;

// Close codes after which reconnecting would only repeat the same outcome.
const CLOSE_REPLACED = 4000;
const CLOSE_KICKED = 4003;

// Cluster mode (docs/cluster.md): the room is served by another node. The server
// sent `redirect` first; reconnect at once to its url. A few redirects in a row at
// most (nodes handing a room over may disagree for a moment), then the backoff.
const CLOSE_REDIRECT = 4009;
const MAX_REDIRECTS_IN_A_ROW = 3;

// 1012: the server is restarting (a rolling restart drains it first). Reconnect
// at once, each page after its own random wait below RESTART_JITTER_MS so a
// whole room does not arrive in the same millisecond, and retry briskly. For
// RESTART_QUIET_MS the page says nothing: a restart is not a lost connection.
const CLOSE_SERVICE_RESTART = 1012;
const RESTART_JITTER_MS = 1000;
const RESTART_RETRY_MS = 1000;
const RESTART_QUIET_MS = 20000;

// Remembered per page role ("player" or "host"), so one browser can host and
// play in two tabs as two different users.
export class Store {
  constructor(role) {
    this.prefix = `quiz.${role}.`;
    this.memory = new Map(); // when localStorage is refused (some private modes)
  }
  get(key) {
    try {
      return localStorage.getItem(this.prefix + key);
    } catch {
      return this.memory.get(key) ?? null;
    }
  }
  set(key, value) {
    try {
      localStorage.setItem(this.prefix + key, value);
    } catch {
      this.memory.set(key, value);
    }
  }
  remove(key) {
    try {
      localStorage.removeItem(this.prefix + key);
    } catch {
      this.memory.delete(key);
    }
  }
}

export class Connection extends EventTarget {
  // handlers: ready(welcome) after each successful hello; message(msg) for every
  // other message; status(kind, detail) with kind "connecting", "connected",
  // "reconnecting", "restarting" (the server is restarting: nothing to show) or
  // "stopped" (detail.reason "kicked" or "replaced");
  // identityLost() when the server refused our token and we start as a new user.
  // Events: "offline" (detail.reason "stalled": nothing heard for OFFLINE_AFTER_MS,
  // or "closed": the socket closed) once when a welcomed connection is lost, not
  // for a server restart; "online" when a socket is welcomed again after it.
  constructor(store, handlers) {
    super();
    this.store = store;
    this.handlers = handlers;
    this.ws = null;
    this.ready = false; // welcome received on the current socket
    this.attempt = 0; // failed connections in a row
    this.retryTimer = null;
    this.silenceTimer = null;
    this.pingTimer = null;
    this.offline = false; // lost a welcomed connection and not welcomed since
    this.everWelcomed = false;
    this.lastHeardAt = 0; // Date.now() of the last frame received
    this.heartbeatMs = 30000;
    this.clockOffsetMs = 0; // server clock minus ours, from welcome.server_time
    this.lastSeq = null; // seq of the room state we hold; null: no room state
    this.resyncRef = null; // set while a resync is on its way
    this.refCount = 0;
    this.stopped = true;
    this.listening = false; // online/visibility listeners added (once)
    this.tokenRefused = false;
    this.restartQuietUntil = 0; // Date.now() before which a reconnect is a server restart
    // Cluster mode: the room code goes in the socket's URL (?room=CODE) so that the
    // load balancer sends every socket of a room to the node that serves it, with
    // the node hint of the last redirect (?node=NAME). A single server ignores both.
    this.roomCode = store.get("code"); // both pages keep the room they are in under "code"
    this.nodeHint = null;
    this.redirectUrl = null; // set by a redirect: the next socket opens there
    this.redirects = 0; // redirects followed since the last join that succeeded
  }

  // The socket's URL: the redirect's, or /ws with the room (and node hint) we know.
  socketUrl() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const url = new URL(`${scheme}//${location.host}/ws`);
    if (this.redirectUrl !== null) return this.redirectUrl;
    if (this.roomCode !== null) url.searchParams.set("room", this.roomCode);
    if (this.roomCode !== null && this.nodeHint !== null) url.searchParams.set("node", this.nodeHint);
    return url.href;
  }

  // A redirect's url, resolved against this socket's and kept to the same server entry point.
  followRedirect(message) {
    let target;
    try {
      target = new URL(message.url, this.ws ? this.ws.url : location.href);
    } catch {
      return; // not a URL: the close that follows is handled like any other
    }
    this.redirects += 1;
    this.roomCode = target.searchParams.get("room") || this.roomCode;
    this.nodeHint = target.searchParams.get("node") || message.node || null;
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    this.redirectUrl = `${scheme}//${location.host}${target.pathname}${target.search}`;
  }

  start() {
    if (!this.stopped) return;
    this.stopped = false;
    this.attempt = 0;
    if (!this.listening) {
      this.listening = true;
      // Coming back online or to the foreground: retry now instead of waiting out the backoff.
      const retryNow = () => {
        if (!this.stopped && this.ws === null) this.open();
      };
      window.addEventListener("online", retryNow);
      document.addEventListener("visibilitychange", () => {
        if (document.visibilityState !== "visible") return;
        // Timers of a hidden page run late or not at all: give the socket a fresh
        // OFFLINE_AFTER_MS to answer a ping before calling it stalled.
        if (this.ready) {
          this.raw({ type: "ping", t: Date.now() });
          this.watchSilence();
        }
        retryNow();
      });
    }
    this.open();
  }

  open() {
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.setStatus(this.awayStatus(), { attempt: this.attempt });
    const ws = new WebSocket(this.socketUrl());
    this.redirectUrl = null; // once: a later reconnect builds its URL from the room and hint
    this.ws = ws;
    this.ready = false;
    // Events of a socket we already gave up on are ignored: `this.ws` has moved on.
    ws.onopen = () => {
      if (ws === this.ws) this.raw({ type: "hello", token: this.store.get("token") });
    };
    ws.onmessage = (event) => {
      if (ws === this.ws) this.receive(event.data);
    };
    ws.onclose = (event) => {
      if (ws === this.ws) this.lost(event.code);
    };
    this.watchSilence();
  }

  // Sends a message once the server has welcomed us; returns its ref, or null
  // if we are not connected (the page keeps its buttons disabled meanwhile).
  // The ref names the message type, so an error can be traced to what caused it.
  send(message) {
    if (!this.ready) return null;
    const ref = `${message.type}:${++this.refCount}`;
    // A join carries the seat this user was given in that room, if any: a member
    // coming back is let in even while its network is refused newcomers.
    const seat = message.type === "join" ? this.seatFor(message.code) : null;
    this.raw(seat === null ? { ...message, ref } : { ...message, seat, ref });
    return ref;
  }

  // The seat kept from the last `state` of the room with this code (one room at a time).
  seatFor(code) {
    const kept = this.store.get("seat");
    if (kept === null) return null;
    const [seatCode, seat] = kept.split(" ");
    return seatCode === code && seat ? seat : null;
  }

  // Welcomed and holding the state of the room this socket is in: what a page needs
  // before it sends a room command (an answer, the host's next). A new socket is in
  // no room until the join the page sends on welcome brings a state back, and in a
  // cluster the node taking a room over holds that join until the old node's lease
  // has run out (a few seconds after a crash): a command sent meanwhile would be
  // refused as not_member.
  get inRoom() {
    return this.ready && this.lastSeq !== null;
  }

  // The page left its room (left, kicked, closed): seq numbers restart with the next room.
  forgetRoom() {
    this.lastSeq = null;
    this.resyncRef = null;
  }

  serverNow() {
    return Date.now() + this.clockOffsetMs;
  }

  stop(reason) {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearTimeout(this.silenceTimer);
    clearInterval(this.pingTimer);
    const ws = this.ws;
    this.ws = null;
    this.ready = false;
    if (ws) ws.close();
    this.setStatus("stopped", { reason });
  }

  // ---------------------------------------------------------------- internals

  raw(message) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(message));
  }

  receive(text) {
    this.watchSilence();
    this.lastHeardAt = Date.now();
    let data;
    try {
      data = JSON.parse(text);
    } catch {
      return; // the server only sends JSON; anything else is not for us
    }
    // One frame may batch several messages: handle them in order.
    for (const message of Array.isArray(data) ? data : [data]) {
      if (message && typeof message.type === "string") this.handle(message);
    }
  }

  handle(message) {
    switch (message.type) {
      case "ping":
        this.raw({ type: "pong", t: message.t });
        if (typeof message.t === "number") this.clockOffsetMs = Math.max(this.clockOffsetMs, message.t - Date.now());
        return;
      case "pong":
        return;
      case "welcome":
        this.store.set("token", message.token);
        // Stamped before it travelled, so this errs early by the trip; later pings
        // (same kind of stamp) can only tighten it, hence the max in "ping".
        this.clockOffsetMs = message.server_time - Date.now();
        this.heartbeatMs = message.heartbeat_ms || this.heartbeatMs;
        this.ready = true;
        this.everWelcomed = true;
        this.attempt = 0;
        this.restartQuietUntil = 0;
        this.forgetRoom(); // a new socket is attached to no room until it joins again
        this.setStatus("connected", {});
        this.watchSilence();
        this.startPinging();
        if (this.offline) {
          this.offline = false;
          this.dispatchEvent(new CustomEvent("online"));
        }
        this.handlers.ready(message);
        return;
      case "state":
        this.lastSeq = message.seq;
        this.resyncRef = null;
        this.redirects = 0;
        if (message.room && typeof message.room.code === "string") this.roomCode = message.room.code;
        if (this.roomCode !== null && message.you && typeof message.you.seat === "string") {
          this.store.set("seat", `${this.roomCode} ${message.you.seat}`);
        }
        break;
      case "redirect":
        this.followRedirect(message);
        return; // the server closes the socket next (4009); the join is sent again on welcome
      case "error":
        if (message.code === "unauthorized" && !this.ready) this.tokenRefused = true;
        if (this.resyncRef !== null && message.ref === this.resyncRef) this.resyncFailed(message.code);
        break;
    }
    if (message.type === "members_changed") {
      if (!this.summedUpTo(message.seq)) return;
    } else if (typeof message.seq === "number" && message.type !== "state" && !this.inSequence(message.seq)) return;
    this.handlers.message(message);
  }

  // A membership summary (docs/protocol.md) stands for every membership change up
  // to its seq: it may jump ahead of the next seq, never back; the next change is seq + 1.
  summedUpTo(seq) {
    if (this.lastSeq === null || this.resyncRef !== null) return false; // a state that covers it is coming
    if (seq <= this.lastSeq) return false; // already part of the state we hold
    this.lastSeq = seq;
    return true;
  }

  // The seq rule: apply a room change only if it is exactly the next one.
  inSequence(seq) {
    if (this.lastSeq === null || this.resyncRef !== null) return false; // a state that covers it is coming
    if (seq <= this.lastSeq) return false; // already part of the state we hold
    if (seq !== this.lastSeq + 1) {
      this.resyncRef = this.send({ type: "resync" });
      return false;
    }
    this.lastSeq = seq;
    return true;
  }

  resyncFailed(code) {
    if (code === "not_member" || code === "room_closed") {
      this.forgetRoom(); // no room to be in step with; the page hears the error
      return;
    }
    // busy, rate_limited…: we are still out of step, so ask again shortly.
    const ws = this.ws;
    setTimeout(() => {
      if (ws === this.ws && this.resyncRef !== null) this.resyncRef = this.send({ type: "resync" });
    }, 1000);
  }

  lost(code, reason = "closed") {
    clearTimeout(this.silenceTimer);
    clearInterval(this.pingTimer);
    this.ws = null;
    this.ready = false;
    if (this.stopped) return;
    if (code === CLOSE_KICKED) return this.stop("kicked");
    if (code === CLOSE_REPLACED) return this.stop("replaced");
    if (this.tokenRefused) {
      // An expired or foreign token: come back as a new user rather than fail forever.
      this.tokenRefused = false;
      this.store.remove("token");
      this.handlers.identityLost();
    }
    if (code === CLOSE_SERVICE_RESTART) this.restartQuietUntil = Date.now() + RESTART_QUIET_MS;
    if (code === CLOSE_REDIRECT && this.redirectUrl !== null && this.redirects <= MAX_REDIRECTS_IN_A_ROW) {
      this.setStatus(this.awayStatus(), { attempt: this.attempt });
      this.retryTimer = setTimeout(() => this.open(), 0); // not a failure: straight to the owner
      return;
    }
    this.redirectUrl = null; // too many in a row: back off, then try the room's usual way in
    this.attempt += 1;
    let wait;
    if (this.restarting()) {
      wait = Math.round(Math.random() * (this.attempt === 1 ? RESTART_JITTER_MS : RESTART_RETRY_MS));
    } else {
      const base = BACKOFF_MS[Math.min(this.attempt, BACKOFF_MS.length) - 1];
      wait = Math.round(base * (0.75 + Math.random() * 0.5));
    }
    if (!this.restarting() && this.everWelcomed && !this.offline) {
      this.offline = true;
      this.dispatchEvent(new CustomEvent("offline", { detail: { reason } }));
    }
    this.setStatus(this.awayStatus(), { attempt: this.attempt, waitMs: wait });
    this.retryTimer = setTimeout(() => this.open(), wait);
  }

  restarting() {
    return Date.now() < this.restartQuietUntil;
  }

  // What to tell the page while we have no welcomed socket.
  awayStatus() {
    if (this.restarting()) return "restarting";
    return this.attempt === 0 ? "connecting" : "reconnecting";
  }

  // Rearmed by every message received: silence for the limit means the socket is dead.
  watchSilence() {
    clearTimeout(this.silenceTimer);
    const limit = this.ready ? OFFLINE_AFTER_MS : CONNECT_TIMEOUT_MS;
    this.silenceTimer = setTimeout(() => {
      const ws = this.ws;
      if (!ws) return;
      this.ws = null; // from now on its events are ignored
      ws.close();
      this.lost(1006, "stalled");
    }, limit);
  }

  // While the server says nothing, ask it something: a pong proves the way back works too.
  startPinging() {
    clearInterval(this.pingTimer);
    this.lastHeardAt = Date.now();
    const ws = this.ws;
    let pingedAt = 0;
    this.pingTimer = setInterval(() => {
      if (ws !== this.ws || !this.ready) return clearInterval(this.pingTimer);
      const now = Date.now();
      if (now - this.lastHeardAt >= PING_AFTER_MS && now - pingedAt >= PING_AFTER_MS) {
        pingedAt = now;
        this.raw({ type: "ping", t: now });
      }
    }, PING_AFTER_MS / 3);
  }

  setStatus(kind, detail) {
    this.handlers.status(kind, detail);
  }
}
