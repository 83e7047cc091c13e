// The quiz library: every quiz with its title, question count and last change;
// make, open, copy, export, import and delete (archive) quizzes.
//
// Everything goes through the documented quiz API (quiz-api.js); a deleted quiz
// is archived by the server, so games already played keep their quiz and reports.

import { api, say } from "./quiz-api.js";
import { $, confirmTwice, el, notify, plural, setText } from "./ui.js";

const FORMATS = { xlsx: "xlsx", csv: "csv", json: "json" };
let searchTimer = null;

function init() {
  $("#search").addEventListener("input", () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(load, 250);
  });
  $("#import-file").addEventListener("change", onImport);
  load();
}

export function changedAt(ms) {
  if (!ms) return "";
  return new Date(ms).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

async function load() {
  const query = $("#search").value.trim();
  let quizzes;
  try {
    quizzes = (await api.list(query)).quizzes;
  } catch (error) {
    setText("#list-note", `Could not load the quizzes: ${say(error)}`);
    return;
  }
  if (query && quizzes.length === 0) setText("#list-note", `No quiz has “${query}” in its title.`);
  else if (quizzes.length === 0) setText("#list-note", "No quizzes yet: make one with “New quiz”, or import a file.");
  else setText("#list-note", query ? `${plural(quizzes.length, "quiz", "quizzes")} found` : "");
  $("#quizzes").replaceChildren(...quizzes.map(row));
}

function row(quiz) {
  const edit = `/quizzes/edit?id=${encodeURIComponent(quiz.quiz_id)}`;
  const remove = el("button", { type: "button", class: "danger small", "aria-label": `Delete “${quiz.title}”` }, "Delete");
  confirmTwice(remove, "Click again to delete", () => archive(quiz));
  const exportAs = (format, words) =>
    el("button", {
      type: "button", class: "plain small", "aria-label": `Export “${quiz.title}” as ${words}`,
      onclick: () => exportQuiz(quiz, format),
    }, `Export ${words}`);
  return el("li", { class: "library-row", dataset: { quizId: quiz.quiz_id } },
    el("div", { class: "library-what" },
      el("a", { class: "library-title", href: edit }, quiz.title),
      el("span", { class: "library-meta" },
        plural(quiz.question_count, "question", "questions"),
        quiz.updated_at ? ` · changed ${changedAt(quiz.updated_at)}` : "")),
    el("div", { class: "library-actions" },
      el("a", { class: "button plain small", href: edit, "aria-label": `Open “${quiz.title}”` }, "Open"),
      el("a", {
        class: "button plain small", href: `/host?quiz=${encodeURIComponent(quiz.quiz_id)}`,
        "aria-label": `Host a game of “${quiz.title}”`,
      }, "Host"),
      el("button", {
        type: "button", class: "plain small", "aria-label": `Duplicate “${quiz.title}”`, onclick: () => duplicate(quiz),
      }, "Duplicate"),
      exportAs("json", "JSON"),
      exportAs("xlsx", "spreadsheet"),
      remove));
}

async function duplicate(quiz) {
  try {
    const copy = await api.duplicate(quiz.quiz_id);
    notify(`Made “${copy.title}”.`);
  } catch (error) {
    notify(`Could not duplicate “${quiz.title}”: ${say(error)}`);
  }
  await load();
}

async function archive(quiz) {
  try {
    await api.archive(quiz.quiz_id);
    notify(`Deleted “${quiz.title}”. Games already played with it keep their reports.`);
  } catch (error) {
    notify(`Could not delete “${quiz.title}”: ${say(error)}`);
  }
  await load();
}

async function exportQuiz(quiz, format) {
  const path = `/api/quizzes/${encodeURIComponent(quiz.quiz_id)}/export?format=${format}`;
  try {
    await api.download(path, `${quiz.title}.${format}`);
  } catch (error) {
    notify(`Could not export “${quiz.title}”: ${say(error)}`);
  }
}

// "Row 4, column C: the right answer must be 1 to 4" (spreadsheets); the field otherwise.
export function whereInFile(problem) {
  const where = [];
  if (problem.row) where.push(`Row ${problem.row}`);
  if (problem.column) where.push(`column ${problem.column}`);
  if (!where.length && problem.path) where.push(problem.path);
  return where.length ? `${where.join(", ")}: ${problem.message}` : problem.message;
}

async function onImport(event) {
  const file = event.target.files[0];
  event.target.value = ""; // choosing the same file again imports it again
  if (!file) return;
  const extension = file.name.split(".").pop().toLowerCase();
  const format = FORMATS[extension];
  $("#import-problems").replaceChildren();
  if (!format) {
    setText("#import-result", `“${file.name}” is not a file this page can import: use .xlsx, .csv or .json.`);
    return;
  }
  setText("#import-result", `Importing ${file.name}…`);
  try {
    const quiz = await api.importFile(file, format);
    setText("#import-result",
      `Imported “${quiz.title}” (${plural(quiz.question_count, "question", "questions")}).`);
    $("#search").value = "";
    await load();
  } catch (error) {
    setText("#import-result", error.problems.length
      ? `Nothing was imported from ${file.name}: fix ${error.problems.length === 1 ? "this problem" : "these problems"} and try again.`
      : `Nothing was imported from ${file.name}: ${say(error)}`);
    $("#import-problems").replaceChildren(...error.problems.map((p) => el("li", {}, whereInFile(p))));
  }
}

init();
