// The editor's preview: one question as a phone and as the host's screen will
// show it, drawn by the game's own code (questions.js) from what the phone would
// be sent (docs/protocol.md, "What the phone gets"). The preview is `inert`:
// its buttons are pictures of buttons, not something to tab into.

import { answerControls, hostQuestion } from "./questions.js";
import { typeOfQuestion } from "./editor-fields.js";
import { t } from "./i18n.js";
import { el } from "./ui.js";

// What `question_shown` would carry for this question (order items as written:
// the game shuffles them, but the teacher checks their text here).
export function shownQuestion(q) {
  const type = typeOfQuestion(q);
  const texts = (list) => (Array.isArray(list) ? list.map((text) => (String(text ?? "").trim() || "…")) : []);
  const shown = { question_type: type, points: q.points || "none", text: q.text, choices: [] };
  if (type === "choice" || type === "multi" || type === "poll") shown.choices = texts(q.choices);
  if (type === "true_false") shown.choices = [t("answer.true"), t("answer.false")];
  if (type === "type_answer") shown.max_length = 40;
  if (type === "order") shown.items = texts(q.items);
  if (type === "slider") {
    const number = (value, fallback) => (typeof value === "number" && Number.isFinite(value) ? value : fallback);
    shown.min = number(q.min, 0);
    shown.max = Math.max(shown.min + 1, number(q.max, shown.min + 100));
    shown.step = number(q.step, 1) > 0 ? number(q.step, 1) : 1;
  }
  return shown;
}

function image(q, where) {
  if (!q.image) return null;
  return el("img", { class: `question-image ${where}`, src: `/media/${encodeURIComponent(q.image)}`, alt: "" });
}

function questionText(q) {
  return el("h3", { class: "question-text" }, (q.text || "").trim() || t("editor.preview.placeholder"));
}

function seconds(q) {
  return el("span", { class: "timer" }, String(Number.isInteger(q.time_limit_s) ? q.time_limit_s : "?"));
}

export function drawPreview(container, q, number) {
  if (!q) {
    container.replaceChildren(el("p", { class: "muted" }, t("editor.preview.empty")));
    return;
  }
  const shown = shownQuestion(q);
  const phone = el("div", { class: "preview-phone", inert: true, "aria-label": t("editor.preview.phone") },
    el("div", { class: "question-head" }, el("span", {}, t("editor.question.heading", { n: number })), seconds(q)),
    questionText(q),
    q.image_on_phones ? image(q, "on-phone") : null,
    el("div", { class: "answer-area" }, ...answerControls(shown, () => {}).nodes));
  const host = el("div", { class: "preview-host", inert: true, "aria-label": t("editor.preview.host") },
    el("div", { class: "question-head" }, el("span", {}, t("editor.question.heading", { n: number })), seconds(q)),
    questionText(q),
    image(q, "on-host"),
    el("div", { class: "answer-area" }, ...hostQuestion(shown)));
  container.replaceChildren(
    el("figure", { class: "preview-frame" }, el("figcaption", {}, t("editor.preview.phone")), phone),
    el("figure", { class: "preview-frame" }, el("figcaption", {}, t("editor.preview.host")), host));
}
