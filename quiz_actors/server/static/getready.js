// The "get ready / read the question" phase: a question is shown a few seconds
// before its answers open (`opens_ms` in question_shown and in state's
// room.question; docs/protocol.md, "Get ready"). Both pages show the question
// during it and keep the answers shut; a server older than the phase sends no
// `opens_ms`, and its answers are open at once.

export function opensAt(question) {
  return typeof question.opens_ms === "number" ? question.opens_ms : 0;
}

// Milliseconds until the answers open (0: open).
export function leftToOpen(question, now) {
  return Math.max(0, opensAt(question) - now);
}

// Calls `onOpen` once when the shown question's answers open, and `onTick` every
// second before that (to redraw the "answers open in N s" line).
export class GetReady {
  constructor(now) {
    this.now = now;
    this.timer = null;
    this.opened = null; // the question (by deadline) whose opening was last noticed
  }
  watch(question, onTick, onOpen) {
    this.stop();
    if (leftToOpen(question, this.now()) <= 0) return false;
    this.timer = setInterval(() => {
      if (leftToOpen(question, this.now()) > 0) return onTick();
      this.stop();
      onOpen();
    }, 250);
    return true;
  }
  stop() {
    clearInterval(this.timer);
    this.timer = null;
  }
  // True once for a question whose answers have just opened (a typed answer's box takes the focus then).
  justOpened(question) {
    if (this.opened === question.deadline_ms || leftToOpen(question, this.now()) > 0) return false;
    this.opened = question.deadline_ms;
    return opensAt(question) > 0;
  }
}

export function secondsToOpen(question, now) {
  return Math.ceil(leftToOpen(question, now) / 1000);
}
