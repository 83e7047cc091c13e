// The quiz library: every quiz with its title, question count and last change;
// make, open, copy, export, import and delete (archive) quizzes.
//
// Everything goes through the documented quiz API (quiz-api.js); a deleted quiz
// is archived by the server, so games already played keep their quiz and reports.
// Every text is the page's language's (docs/i18n.md); quiz titles are the teacher's.

import { formatDateTime, languageSwitch, t, tn, translatePage } from "./i18n.js";
import { api, say } from "./quiz-api.js";
import { $, confirmTwice, el, notify, setText } from "./ui.js";

const FORMATS = { xlsx: "xlsx", csv: "csv", json: "json" };
let searchTimer = null;

function init() {
  translatePage();
  $(".bar-end").append(languageSwitch());
  $("#search").addEventListener("input", () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(load, 250);
  });
  $("#import-file").addEventListener("change", onImport);
  load();
}

export function changedAt(ms) {
  if (!ms) return "";
  return formatDateTime(ms);
}

async function load() {
  const query = $("#search").value.trim();
  let quizzes;
  try {
    quizzes = (await api.list(query)).quizzes;
  } catch (error) {
    setText("#list-note", t("library.load_failed", { reason: say(error) }));
    return;
  }
  if (query && quizzes.length === 0) setText("#list-note", t("library.no_match", { query }));
  else if (quizzes.length === 0) setText("#list-note", t("library.empty"));
  else setText("#list-note", query ? tn("library.found", quizzes.length) : "");
  $("#quizzes").replaceChildren(...quizzes.map(row));
}

function row(quiz) {
  const edit = `/quizzes/edit?id=${encodeURIComponent(quiz.quiz_id)}`;
  const title = { title: quiz.title };
  const remove = el("button", { type: "button", class: "danger small", "aria-label": t("library.delete_named", title) },
    t("library.delete"));
  confirmTwice(remove, t("library.delete_confirm"), () => archive(quiz), t("library.delete_confirm_named", title));
  const exportAs = (format) =>
    el("button", {
      type: "button", class: "plain small", "aria-label": t(`library.export_${format}_named`, title),
      onclick: () => exportQuiz(quiz, format),
    }, t(`library.export_${format}`));
  const questions = tn("questions", quiz.question_count);
  return el("li", { class: "library-row", dataset: { quizId: quiz.quiz_id } },
    el("div", { class: "library-what" },
      el("a", { class: "library-title", href: edit }, quiz.title),
      el("span", { class: "library-meta" },
        quiz.updated_at ? t("library.meta", { questions, when: changedAt(quiz.updated_at) }) : questions)),
    el("div", { class: "library-actions" },
      el("a", { class: "button plain small", href: edit, "aria-label": t("library.open_named", title) }, t("library.open")),
      el("a", {
        class: "button plain small", href: `/host?quiz=${encodeURIComponent(quiz.quiz_id)}`,
        "aria-label": t("library.host_named", title),
      }, t("library.host")),
      el("button", {
        type: "button", class: "plain small", "aria-label": t("library.duplicate_named", title), onclick: () => duplicate(quiz),
      }, t("library.duplicate")),
      exportAs("json"),
      exportAs("xlsx"),
      remove));
}

async function duplicate(quiz) {
  try {
    const copy = await api.duplicate(quiz.quiz_id);
    notify(t("library.duplicated", { title: copy.title }));
  } catch (error) {
    notify(t("library.duplicate_failed", { title: quiz.title, reason: say(error) }));
  }
  await load();
}

async function archive(quiz) {
  try {
    await api.archive(quiz.quiz_id);
    notify(t("library.deleted", { title: quiz.title }));
  } catch (error) {
    notify(t("library.delete_failed", { title: quiz.title, reason: say(error) }));
  }
  await load();
}

async function exportQuiz(quiz, format) {
  const path = `/api/quizzes/${encodeURIComponent(quiz.quiz_id)}/export?format=${format}`;
  try {
    await api.download(path, `${quiz.title}.${format}`);
  } catch (error) {
    notify(t("library.export_failed", { title: quiz.title, reason: say(error) }));
  }
}

// "Row 4, column C: the right answer must be 1 to 4" (spreadsheets); the field otherwise.
// Where is in the page's language; what is the server's words (English, docs/i18n.md).
export function whereInFile(problem) {
  const { row, column, path, message } = problem;
  if (row && column) return t("library.problem_row_column", { row, column, message });
  if (row) return t("library.problem_row", { row, message });
  if (column) return t("library.problem_column", { column, message });
  return path ? t("library.problem_field", { path, message }) : message;
}

async function onImport(event) {
  const file = event.target.files[0];
  event.target.value = ""; // choosing the same file again imports it again
  if (!file) return;
  const extension = file.name.split(".").pop().toLowerCase();
  const format = FORMATS[extension];
  $("#import-problems").replaceChildren();
  if (!format) {
    setText("#import-result", t("library.wrong_file", { file: file.name }));
    return;
  }
  setText("#import-result", t("library.importing", { file: file.name }));
  try {
    const quiz = await api.importFile(file, format);
    setText("#import-result", t("library.imported", { title: quiz.title, questions: tn("questions", quiz.question_count) }));
    $("#search").value = "";
    await load();
  } catch (error) {
    setText("#import-result", error.problems.length
      ? tn("library.import_fix", error.problems.length, { file: file.name })
      : t("library.import_failed", { file: file.name, reason: say(error) }));
    $("#import-problems").replaceChildren(...error.problems.map((p) => el("li", {}, whereInFile(p))));
  }
}

init();
