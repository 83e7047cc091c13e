// The quiz editor: a quiz's title, description and questions, with the
// problems the server finds shown next to their fields as the teacher types.
//
// The page holds the quiz document being edited; the form (editor-fields.js)
// changes it in place. Nothing is stored until the teacher saves (button or
// Ctrl+S). A save names the revision the page opened (If-Match): if the quiz
// changed since, the server refuses and nothing is overwritten.

import { drawPreview } from "./editor-preview.js";
import { TYPES, newQuestion, questionDocument, questionForm, typeOfQuestion } from "./editor-fields.js";
import { has, languageSwitch, t, tn, translatePage } from "./i18n.js";
import { api, say } from "./quiz-api.js";
import { $, el, notify, setText } from "./ui.js";

const VALIDATE_AFTER_MS = 400; // typing pauses this long before the server checks the quiz
const page = {
  quizId: new URLSearchParams(location.search).get("id"),
  revision: null,
  archived: false,
  extra: {}, // quiz-level fields the editor does not show, kept as they were
  questions: [], // {key, q}: key names the question's controls while it moves
  nextKey: 1,
  current: null, // key of the question in the preview
  saved: null, // the document as last saved or opened (JSON), to know about unsaved changes
  touched: new Set(), // paths the teacher has edited: their problems show at once
  showAll: false, // after a save attempt every problem shows
  problems: [],
  checking: 0, // the latest validation request; older answers are ignored
  saving: false,
};

// ---------------------------------------------------------------- the document

function quizDocument() {
  const out = { ...page.extra, title: $("#quiz-title").value };
  const description = $("#quiz-description").value;
  if (description.trim()) out.description = description;
  else delete out.description;
  out.questions = page.questions.map(({ q }) => questionDocument(q));
  return out;
}

function unsaved() {
  return page.saved !== null && JSON.stringify(quizDocument()) !== page.saved;
}

function adopt(doc) {
  const { title, description, questions, ...extra } = doc;
  page.extra = extra;
  $("#quiz-title").value = title || "";
  $("#quiz-description").value = description || "";
  page.questions = (questions || []).map((q) => ({ key: page.nextKey++, q: structuredClone(q) }));
  for (const { q } of page.questions) q.type = typeOfQuestion(q);
  page.current = page.questions.length ? page.questions[0].key : null;
  page.saved = JSON.stringify(quizDocument());
}

// ---------------------------------------------------------------- drawing

function draw(focusId) {
  const count = page.questions.length;
  $("#questions").replaceChildren(...page.questions.map((entry, index) => questionCard(entry, index, count)));
  if (focusId) document.getElementById(focusId)?.focus();
  showProblems();
  drawCurrent();
}

function questionCard({ key, q }, index, count) {
  const ids = `q${key}`;
  const number = index + 1;
  const handle = el("span", {
    class: "drag-handle", draggable: "true", title: t("editor.drag"), "aria-hidden": "true",
  }, "⠿");
  const card = el("li", { class: "card question-card", id: `${ids}-card`, dataset: { key, path: `questions[${index}]` } },
    el("div", { class: "question-top" },
      handle,
      el("h2", { id: `${ids}-heading` }, t("editor.question.heading", { n: number })),
      el("div", { class: "question-actions" },
        button("▲", t("editor.question.up", { n: number }), () => move(index, index - 1, `${ids}-up`),
          { id: `${ids}-up`, disabled: index === 0 }),
        button("▼", t("editor.question.down", { n: number }), () => move(index, index + 1, `${ids}-down`),
          { id: `${ids}-down`, disabled: index === count - 1 }),
        button(t("editor.duplicate"), t("editor.question.duplicate", { n: number }), () => duplicate(index), { id: `${ids}-duplicate` }),
        button(t("editor.remove"), t("editor.question.remove", { n: number }), () => remove(index), { id: `${ids}-remove`, class: "danger small" }))),
    el("p", { class: "problem question-problem", id: `${ids}-problem`, role: "status" }),
    ...questionForm(q, key, index, {
      changed: (redraw, focusId) => changed(key, redraw, focusId),
      uploadImage: (file) => api.uploadImage(file),
    }));
  card.setAttribute("aria-labelledby", `${ids}-heading`);
  card.addEventListener("focusin", () => preview(key));
  card.addEventListener("input", (event) => touch(event.target));
  card.addEventListener("change", (event) => touch(event.target));
  card.addEventListener("keydown", (event) => {
    // Alt+↑ / Alt+↓ move the question the focus is in, and the focus goes with it.
    if (!event.altKey || (event.key !== "ArrowUp" && event.key !== "ArrowDown")) return;
    event.preventDefault();
    const to = index + (event.key === "ArrowUp" ? -1 : 1);
    if (to >= 0 && to < page.questions.length) move(index, to, document.activeElement?.id || `${ids}-heading`);
  });
  dragAndDrop(card, handle, index);
  return card;
}

function button(label, ariaLabel, onclick, attributes = {}) {
  return el("button", { type: "button", class: "plain small", "aria-label": ariaLabel, onclick, ...attributes }, label);
}

function dragAndDrop(card, handle, index) {
  handle.addEventListener("dragstart", (event) => {
    event.dataTransfer.setData("text/plain", String(index));
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setDragImage(card, 20, 20);
    card.classList.add("dragging");
  });
  handle.addEventListener("dragend", () => card.classList.remove("dragging"));
  card.addEventListener("dragover", (event) => {
    event.preventDefault();
    card.classList.add("drop-here");
  });
  card.addEventListener("dragleave", () => card.classList.remove("drop-here"));
  card.addEventListener("drop", (event) => {
    event.preventDefault();
    card.classList.remove("drop-here");
    const from = Number(event.dataTransfer.getData("text/plain"));
    if (Number.isInteger(from) && from !== index) move(from, index);
  });
}

function preview(key) {
  if (page.current === key) return;
  page.current = key;
  drawCurrent();
}

function drawCurrent() {
  const index = page.questions.findIndex((entry) => entry.key === page.current);
  const entry = page.questions[index];
  setText("#preview-which", entry ? t("editor.preview_which", { n: index + 1, count: page.questions.length }) : "");
  drawPreview($("#preview"), entry && entry.q, index + 1);
}

// ---------------------------------------------------------------- changes

function changed(key, redraw, focusId) {
  page.current = key;
  if (redraw) draw(focusId);
  else drawCurrent();
  somethingChanged();
}

function somethingChanged() {
  showSaveState();
  scheduleCheck();
}

function move(from, to, focusId) {
  const [entry] = page.questions.splice(from, 1);
  page.questions.splice(to, 0, entry);
  page.current = entry.key;
  draw(focusId);
  setText("#save-state", t("editor.moved", { from: from + 1, to: to + 1 }));
  scheduleCheck();
}

function add() {
  const entry = { key: page.nextKey++, q: newQuestion($("#new-type").value) };
  page.questions.push(entry);
  page.current = entry.key;
  draw(`q${entry.key}-text`);
  document.getElementById(`q${entry.key}-card`).scrollIntoView({ block: "nearest" });
  somethingChanged();
}

function duplicate(index) {
  const entry = { key: page.nextKey++, q: structuredClone(page.questions[index].q) };
  page.questions.splice(index + 1, 0, entry);
  page.current = entry.key;
  draw(`q${entry.key}-text`);
  somethingChanged();
}

function remove(index) {
  page.questions.splice(index, 1);
  const next = page.questions[Math.min(index, page.questions.length - 1)];
  page.current = next ? next.key : null;
  draw(next ? `q${next.key}-remove` : "add-question");
  somethingChanged();
}

// The teacher has been in this field: its problems show from now on.
function touch(target) {
  const holder = target.closest("[data-path]");
  if (holder) page.touched.add(holder.dataset.path);
}

// ---------------------------------------------------------------- problems, as the teacher types

let checkTimer = null;

function scheduleCheck() {
  clearTimeout(checkTimer);
  checkTimer = setTimeout(check, VALIDATE_AFTER_MS);
}

async function check() {
  const asked = ++page.checking;
  let problems;
  try {
    problems = (await api.validate(quizDocument())).problems || [];
  } catch (error) {
    // A quiz too broken to be read at all still gets its problems.
    if (error.code !== "quiz_invalid" || asked !== page.checking) return;
    problems = error.problems;
  }
  if (asked !== page.checking) return; // a newer check is on its way
  page.problems = problems;
  showProblems();
  showSaveState();
}

// The field a problem is about: its own path, else the nearest enclosing one
// ("questions[2].choices[1]" → "questions[2].choices" → "questions[2]").
function holderOf(path) {
  let at = path || "";
  while (at) {
    const holder = document.querySelector(`[data-path="${CSS.escape(at)}"]`);
    if (holder) return holder;
    const cut = Math.max(at.lastIndexOf("."), at.lastIndexOf("["));
    at = cut > 0 ? at.slice(0, cut) : "";
  }
  return document.querySelector('[data-path="questions"]');
}

function visible(path, holder) {
  if (page.showAll) return true;
  const at = holder.dataset.path;
  for (const touched of page.touched) {
    const inside = (inner, outer) => inner === outer || inner.startsWith(`${outer}.`) || inner.startsWith(`${outer}[`);
    if (inside(touched, at) || inside(at, touched)) {
      return true;
    }
  }
  return path === "title" && page.touched.has("title");
}

function showProblems() {
  for (const slot of document.querySelectorAll(".problem.shown")) {
    slot.textContent = "";
    slot.classList.remove("shown");
  }
  for (const control of document.querySelectorAll("[aria-invalid]")) control.removeAttribute("aria-invalid");
  for (const problem of page.problems) {
    const holder = holderOf(problem.path);
    if (!holder || !visible(problem.path, holder)) continue;
    const slot = holder.matches(".question-card")
      ? holder.querySelector(".question-problem")
      : holder.querySelector(":scope > .problem");
    if (!slot) continue;
    const words = problemWords(problem);
    slot.textContent = slot.textContent ? `${slot.textContent} ${words}` : words;
    slot.classList.add("shown");
    holder.querySelector(":scope > input, :scope > textarea, :scope > select")?.setAttribute("aria-invalid", "true");
  }
}

// A problem in the page's language: the catalog's words for its code (with the
// server's params), else the server's own (English) message where it gives no code.
function problemWords(problem) {
  const key = `editor.problem.${problem.code}`;
  if (problem.code && has(key)) return t(key, problem.params || {});
  return sentence(problem.message);
}

function sentence(message) {
  const text = String(message || "").trim();
  if (!text) return "";
  const capital = text[0].toUpperCase() + text.slice(1);
  return /[.!?]$/.test(capital) ? capital : `${capital}.`;
}

function showSaveState() {
  const waiting = page.problems.length;
  if (page.saving) setText("#save-state", t("editor.state.saving"));
  else if (unsaved()) {
    setText("#save-state", waiting ? tn("editor.state.unsaved_problems", waiting) : t("editor.state.unsaved"));
  } else {
    setText("#save-state", page.quizId ? t("editor.state.saved", { revision: page.revision }) : t("editor.state.new"));
  }
  document.body.classList.toggle("dirty", unsaved());
}

// ---------------------------------------------------------------- saving

async function save() {
  if (page.saving) return;
  const doc = quizDocument();
  page.saving = true;
  showSaveState();
  try {
    const summary = page.quizId
      ? await api.update(page.quizId, page.revision, doc)
      : await api.create(doc);
    saved(summary, doc);
  } catch (error) {
    refused(error);
  } finally {
    page.saving = false;
    showSaveState();
  }
}

function saved(summary, document) {
  page.quizId = summary.quiz_id;
  page.revision = summary.revision;
  page.saved = JSON.stringify(document);
  page.problems = [];
  page.showAll = false;
  history.replaceState(null, "", `/quizzes/edit?id=${encodeURIComponent(summary.quiz_id)}`);
  $("#conflict").hidden = true;
  showProblems();
  showSaveState();
  notify(t("editor.saved", { title: summary.title }));
}

function refused(error) {
  if (error.code === "quiz_changed" || error.status === 412) {
    setText("#conflict-text", error.revision !== null
      ? t("editor.conflict.changed_at", { revision: error.revision })
      : t("editor.conflict.changed"));
    $("#conflict").hidden = false;
    $("#conflict-copy").focus();
    return;
  }
  if (error.code === "quiz_invalid" || error.problems.length) {
    page.problems = error.problems;
    page.showAll = true;
    showProblems();
    const first = document.querySelector(".problem.shown");
    first?.closest("[data-path]")?.querySelector("input, textarea, select")?.focus();
    notify(tn("editor.not_saved.problems", error.problems.length));
    return;
  }
  if (error.code === "quiz_archived") {
    notify(t("editor.not_saved.archived", { button: t("editor.conflict.copy") }));
    $("#conflict").hidden = false;
    setText("#conflict-text", t("editor.conflict.archived"));
    return;
  }
  notify(t("editor.not_saved.because", { reason: say(error) }));
}

async function saveAsNew() {
  const doc = quizDocument();
  try {
    const summary = await api.create(doc);
    saved(summary, doc);
  } catch (error) {
    refused(error);
  }
}

// ---------------------------------------------------------------- leaving

function guardLeaving() {
  window.addEventListener("beforeunload", (event) => {
    if (!unsaved()) return;
    event.preventDefault();
    event.returnValue = ""; // older browsers ask only when this is set
  });
  for (const link of document.querySelectorAll("a[data-guard]")) {
    link.addEventListener("click", (event) => {
      if (unsaved() && !window.confirm(t("editor.leave"))) {
        event.preventDefault();
      }
    });
  }
}

// ---------------------------------------------------------------- start

async function open() {
  if (!page.quizId) {
    adopt({ title: "", questions: [newQuestion("choice")] });
    draw();
    showSaveState();
    $("#quiz-title").focus();
    return;
  }
  $("#loading").hidden = false;
  try {
    const quiz = await api.get(page.quizId);
    page.revision = quiz.revision;
    page.archived = Boolean(quiz.archived);
    adopt(quiz.document);
    document.title = t("editor.editing", { title: quiz.document.title });
    if (page.archived) {
      $("#conflict").hidden = false;
      setText("#conflict-text", t("editor.conflict.deleted"));
    }
  } catch (error) {
    setText("#loading", error.code === "quiz_not_found"
      ? t("editor.not_found")
      : t("editor.open_failed", { reason: say(error) }));
    $("#save").disabled = true;
    return;
  }
  $("#loading").hidden = true;
  draw();
  showSaveState();
}

function init() {
  translatePage();
  $(".bar").append(languageSwitch());
  $("#new-type").replaceChildren(...Object.entries(TYPES).map(([value, key]) => el("option", { value }, t(key))));
  $("#add-question").addEventListener("click", add);
  $("#save").addEventListener("click", save);
  $("#conflict-copy").addEventListener("click", saveAsNew);
  $("#conflict-reload").addEventListener("click", () => {
    page.saved = JSON.stringify(quizDocument()); // the teacher chose to drop the changes
    location.reload();
  });
  for (const id of ["#quiz-title", "#quiz-description"]) {
    $(id).addEventListener("input", (event) => {
      touch(event.target);
      somethingChanged();
    });
  }
  document.addEventListener("keydown", (event) => {
    if ((event.ctrlKey || event.metaKey) && !event.altKey && event.key.toLowerCase() === "s") {
      event.preventDefault();
      save();
    }
  });
  guardLeaving();
  open();
}

init();
