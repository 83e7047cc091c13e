// The quiz HTTP API as the library page and the editor use it (docs/api.md):
// the same endpoints a script would call, nothing private to the pages.
//
// With `--admin-key` set, the server answers 401 to changes and to reads of a
// full quiz (it holds the answers). The page then asks for the key once, keeps
// it in sessionStorage (gone when the tab closes) and repeats the request.

import { has, t } from "./i18n.js";
import { el } from "./ui.js";

const KEY_STORAGE = "quiz-admin-key";

export class ApiError extends Error {
  constructor(status, error, etag = null) {
    super(error.message || `HTTP ${status}`);
    this.status = status;
    // A 412 names the revision that is stored now as its ETag ("4").
    const revision = /^(?:W\/)?"?(\d+)"?$/.exec(etag || "");
    this.revision = revision ? Number(revision[1]) : null;
    this.code = error.code || "http_error";
    this.details = error.details || [];
    this.problems = error.problems || problemsFromDetails(this.details);
  }
}

// Servers before `problems` only sent `details` ("questions[0].correct: …"):
// split those into a path and a message so they still show next to their field.
export function problemsFromDetails(details) {
  return details.map((text) => {
    const match = /^((?:title|description|questions)(?:\[\d+\])?(?:\.[a-z_]+(?:\[\d+\])?)*)(?: \([a-z_]+\))?: (.*)$/s
      .exec(text);
    return match ? { path: match[1], message: match[2] } : { path: "", message: text };
  });
}

function savedKey() {
  try {
    return sessionStorage.getItem(KEY_STORAGE) || "";
  } catch {
    return "";
  }
}

function keepKey(key) {
  try {
    if (key) sessionStorage.setItem(KEY_STORAGE, key);
    else sessionStorage.removeItem(KEY_STORAGE);
  } catch {
    // Storage switched off: the key is asked for again next time.
  }
}

// One key dialog at a time, however many requests were refused together.
let asking = null;

function askForKey(wrongBefore) {
  if (asking) return asking;
  asking = new Promise((resolve) => {
    const input = el("input", { id: "admin-key-input", type: "password", autocomplete: "off", required: true });
    const dialog = el("dialog", { class: "key-dialog", "aria-labelledby": "admin-key-title" },
      el("form", { method: "dialog", class: "card" },
        el("h2", { id: "admin-key-title" }, t("quizapi.key.title")),
        el("p", {}, t(wrongBefore ? "quizapi.key.wrong" : "quizapi.key.why")),
        el("label", { for: "admin-key-input" }, t("quizapi.key.label")),
        input,
        el("div", { class: "row-buttons" },
          el("button", { type: "submit", class: "primary", value: "ok" }, t("quizapi.key.use")),
          el("button", { type: "submit", class: "plain", value: "cancel", formnovalidate: true }, t("quizapi.key.cancel")))));
    document.body.append(dialog);
    dialog.addEventListener("close", () => {
      const key = dialog.returnValue === "ok" ? input.value.trim() : "";
      dialog.remove();
      asking = null;
      resolve(key);
    });
    dialog.showModal();
    input.focus();
  });
  return asking;
}

// fetch() with the admin key when we have one; on a 401, ask for it and try again.
async function send(path, options = {}, refusedBefore = false) {
  const headers = { ...(options.headers || {}) };
  const key = savedKey();
  if (key) headers.Authorization = `Bearer ${key}`;
  let response;
  try {
    response = await fetch(path, { ...options, headers });
  } catch {
    throw new ApiError(0, { code: "offline", message: "The server could not be reached. Is it running?" });
  }
  if (response.status === 401) {
    const entered = await askForKey(refusedBefore || Boolean(key));
    if (!entered) throw await errorOf(response);
    keepKey(entered);
    return send(path, options, true);
  }
  if (!response.ok) throw await errorOf(response);
  return response;
}

async function errorOf(response) {
  let body = {};
  try {
    body = await response.json();
  } catch {
    // Not JSON (a proxy's error page): the status says enough.
  }
  const error = body.error || { code: "http_error", message: `The server answered ${response.status}.` };
  return new ApiError(response.status, error, response.headers.get("ETag"));
}

async function json(path, options) {
  return (await send(path, options)).json();
}

const JSON_BODY = { "Content-Type": "application/json" };
const quizPath = (id) => `/api/quizzes/${encodeURIComponent(id)}`;

export const api = {
  list: (query) => json(`/api/quizzes${query ? `?q=${encodeURIComponent(query)}` : ""}`),
  get: (id) => json(quizPath(id)),
  create: (document) => json("/api/quizzes", { method: "POST", headers: JSON_BODY, body: JSON.stringify(document) }),
  update: (id, revision, document) =>
    json(quizPath(id), {
      method: "PUT", headers: { ...JSON_BODY, "If-Match": `"${revision}"` }, body: JSON.stringify(document),
    }),
  archive: (id) => json(quizPath(id), { method: "DELETE" }),
  duplicate: (id, title) =>
    json(`${quizPath(id)}/duplicate`, { method: "POST", headers: JSON_BODY, body: JSON.stringify({ title }) }),
  validate: (document) =>
    json("/api/quizzes/validate", { method: "POST", headers: JSON_BODY, body: JSON.stringify(document) }),
  uploadImage: (file) =>
    json("/api/media", { method: "POST", headers: { "Content-Type": file.type || "application/octet-stream" }, body: file }),
  importFile: (file, format) =>
    json(`/api/quizzes/import?format=${encodeURIComponent(format)}`, {
      method: "POST", headers: { "Content-Type": file.type || "application/octet-stream" }, body: file,
    }),
  // A download that may need the key, so it cannot be a plain link.
  async download(path, fallbackName) {
    const response = await send(path);
    const disposition = response.headers.get("Content-Disposition") || "";
    const named = /filename\*?=(?:UTF-8'')?"?([^";]+)"?/i.exec(disposition);
    const url = URL.createObjectURL(await response.blob());
    const link = el("a", { href: url, download: named ? decodeURIComponent(named[1]) : fallbackName, hidden: true });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  },
};

// An error in words for a teacher, in the page's language: the catalog's words
// for its code ("quizapi.error.<code>"); the server's own (English) message only
// for a code the catalog does not know (a newer server's).
export function say(error) {
  const key = `quizapi.error.${error.code}`;
  if (has(key)) return t(key, { status: error.status });
  return error.message || t("quizapi.error.unknown");
}
