// The host screen's sound, made in the page with Web Audio (no sound files):
// a quiet loop in the lobby, a tick in each of a question's last seconds, a
// chord at the reveal. Off with the mute button, which is remembered in
// localStorage. Browsers only let a page play sound after someone clicked it:
// the audio starts with the first click anywhere on the page.

import { t } from "./i18n.js";

const LAST_SECONDS = 5; // ticks count down these
const LOOP_NOTES = [392, 494, 587, 494, 440, 523, 659, 523]; // G B D B A C E C: a gentle arpeggio
const LOOP_STEP_S = 0.3;

export class Sound {
  constructor(store, button) {
    this.store = store;
    this.button = button;
    this.muted = store.get("muted") === "1";
    this.audio = null;
    this.loop = null; // the lobby loop's interval
    this.ticks = null; // the countdown's interval
    this.lastTick = null;
    button.addEventListener("click", () => this.setMuted(!this.muted));
    // Any first click lets the page make sound from then on.
    document.addEventListener("click", () => this.unlock(), { capture: true });
    this.render();
  }

  setMuted(muted) {
    this.muted = muted;
    this.store.set("muted", muted ? "1" : "0");
    if (muted) this.stopAll();
    else if (this.wantLoop) this.lobbyLoop(true);
    this.render();
  }

  render() {
    this.button.setAttribute("aria-pressed", String(this.muted));
    this.button.textContent = this.muted ? t("sound.off") : t("sound.on");
    this.button.title = this.muted ? t("sound.turn_on") : t("sound.mute");
  }

  unlock() {
    if (this.audio || typeof AudioContext === "undefined") return;
    this.audio = new AudioContext();
    if (this.wantLoop && !this.muted) this.lobbyLoop(true);
  }

  playing() {
    return this.audio !== null && !this.muted;
  }

  // One short note: frequency in Hz, start offset and length in seconds.
  note(frequency, at = 0, length = 0.2, volume = 0.08, type = "sine") {
    if (!this.playing()) return;
    const start = this.audio.currentTime + at;
    const oscillator = this.audio.createOscillator();
    const gain = this.audio.createGain();
    oscillator.type = type;
    oscillator.frequency.value = frequency;
    gain.gain.setValueAtTime(0, start);
    gain.gain.linearRampToValueAtTime(volume, start + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, start + length);
    oscillator.connect(gain).connect(this.audio.destination);
    oscillator.start(start);
    oscillator.stop(start + length + 0.05);
  }

  lobbyLoop(on) {
    this.wantLoop = on;
    clearInterval(this.loop);
    this.loop = null;
    if (!on || !this.playing()) return;
    const bar = () => LOOP_NOTES.forEach((f, i) => this.note(f, i * LOOP_STEP_S, 0.35, 0.04, "triangle"));
    bar();
    this.loop = setInterval(bar, LOOP_NOTES.length * LOOP_STEP_S * 1000);
  }

  // Ticks in the last seconds before `deadlineMs` (server time, read with `now`).
  countdown(deadlineMs, now) {
    this.stopCountdown();
    this.ticks = setInterval(() => {
      const left = Math.ceil((deadlineMs - now()) / 1000);
      if (left < 1 || left > LAST_SECONDS || left === this.lastTick) return;
      this.lastTick = left;
      this.note(left === 1 ? 1047 : 880, 0, 0.09, 0.1, "square");
    }, 100);
  }

  stopCountdown() {
    clearInterval(this.ticks);
    this.ticks = null;
    this.lastTick = null;
  }

  reveal() {
    this.stopCountdown();
    for (const f of [523, 659, 784, 1047]) this.note(f, 0, 0.9, 0.06, "triangle");
  }

  stopAll() {
    clearInterval(this.loop);
    this.loop = null;
    this.stopCountdown();
  }
}
