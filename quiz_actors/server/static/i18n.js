// Every string a person reads, in their language (docs/i18n.md).
//
// The catalogs are static/i18n-<language>.json: flat objects of key → text,
// with {placeholders}. A plural has one key per CLDR category ("x.one",
// "x.other", …), chosen with Intl.PluralRules. The language is the one the
// person chose with the switch (kept in localStorage), else the first of the
// browser's languages that we have, else English; a key missing from a
// catalog falls back to English, never to nothing.
//
// Texts in the HTML carry data-i18n="key" (their text) and
// data-i18n-attr="attribute:key …" (attributes such as aria-label); the
// scripts call t() for everything they write.

export const LANGUAGES = { en: "English", de: "Deutsch", es: "Español" };
const CHOSEN = "quiz-actors.language";

export const lang = chooseLanguage();
const english = await load("en");
const catalog = lang === "en" ? english : { ...english, ...(await load(lang)) };
document.documentElement.lang = lang;

function chooseLanguage() {
  const chosen = safeStorage(() => localStorage.getItem(CHOSEN));
  if (chosen && chosen in LANGUAGES) return chosen;
  for (const tag of navigator.languages || [navigator.language || "en"]) {
    const base = String(tag).toLowerCase().split("-")[0];
    if (base in LANGUAGES) return base;
  }
  return "en";
}

function safeStorage(read) {
  try {
    return read();
  } catch {
    return null; // storage disabled: the browser's language it is
  }
}

async function load(language) {
  try {
    const response = await fetch(`/static/i18n-${language}.json`);
    if (response.ok) return await response.json();
  } catch {
    // offline at load: English from the cache, or the keys themselves
  }
  return {};
}

// t("question.number", {n: 2, count: 8}) → the text with its placeholders filled in.
export function t(key, params = {}) {
  const text = catalog[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in params ? String(params[name]) : whole));
}

const plurals = new Intl.PluralRules(lang);
const ordinals = new Intl.PluralRules(lang, { type: "ordinal" });
// Counts and points without grouping ("1863 points"), as scores are shown everywhere else.
const numbers = new Intl.NumberFormat(lang, { useGrouping: false });

// tn("points", 3) → "3 points": the key's plural form for n, with {n} filled in.
export function tn(key, n, params = {}) {
  const form = `${key}.${plurals.select(n)}`;
  return t(form in catalog ? form : `${key}.other`, { n: numbers.format(n), ...params });
}

// ordinal(2) → "2nd", "2.", "2.º".
export function ordinal(n) {
  const form = `ordinal.${ordinals.select(n)}`;
  return t(form in catalog ? form : "ordinal.other", { n });
}

// list(["a", "b"], "or") → "a or b"; "and" → "a and b".
export function list(items, kind = "and") {
  const type = kind === "or" ? "disjunction" : "conjunction";
  return new Intl.ListFormat(lang, { style: "long", type }).format(items.map(String));
}

export function formatNumber(n) {
  return Number(n).toLocaleString(lang, { maximumFractionDigits: 10 });
}

// A moment ("1 Dec 2026, 09:30", "1. Dez. 2026, 09:30") in the page's language, not the browser's.
export function formatDateTime(ms) {
  return new Intl.DateTimeFormat(lang, { dateStyle: "medium", timeStyle: "short" }).format(new Date(ms));
}

export function has(key) {
  return key in catalog;
}

// Fill in every data-i18n text and data-i18n-attr attribute under `root`.
export function translatePage(root = document) {
  for (const node of root.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  for (const node of root.querySelectorAll("[data-i18n-attr]")) {
    for (const pair of node.dataset.i18nAttr.split(/\s+/).filter(Boolean)) {
      const [attribute, key] = pair.split(":");
      node.setAttribute(attribute, t(key));
    }
  }
}

// The language switch: a labelled <select>; a choice is remembered and the page reloads in it
// (the token and the room are kept, so the page comes back where it was).
export function languageSwitch() {
  const select = document.createElement("select");
  select.id = "language";
  select.className = "language";
  select.setAttribute("aria-label", t("language.label"));
  for (const [code, name] of Object.entries(LANGUAGES)) {
    const option = new Option(name, code, code === lang, code === lang);
    option.lang = code;
    select.append(option);
  }
  select.addEventListener("change", () => {
    safeStorage(() => localStorage.setItem(CHOSEN, select.value));
    location.reload();
  });
  return select;
}
