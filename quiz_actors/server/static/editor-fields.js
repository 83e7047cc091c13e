// The form for one question in the editor: its type, text, the type's own
// fields (docs/protocol.md, "Question types"), time limit, points and image.
//
// The form edits the question's document object in place and tells the page
// through `on.changed(redraw)`: redraw is true when the form's shape changed (a
// choice added, the type switched) and the list must be drawn again. Every
// field sits in a `.field` with `data-path` (its place in the quiz document,
// as the server's problems name it) and a `.problem` slot next to it.

import { t } from "./i18n.js";
import { say } from "./quiz-api.js";
import { el } from "./ui.js";

// Each type and kind of points, with the catalog key of its name (i18n.js).
export const TYPES = {
  choice: "editor.type.choice",
  multi: "editor.type.multi",
  true_false: "editor.type.true_false",
  type_answer: "editor.type.type_answer",
  slider: "editor.type.slider",
  order: "editor.type.order",
  poll: "editor.type.poll",
};
export const POINTS = { standard: "editor.points.standard", double: "editor.points.double", none: "editor.points.none" };
export const MAX_ITEMS = 6; // choices and order items (domain/questions/base.py)
const MIN_ITEMS = 2;
const MAX_ACCEPTED = 10; // domain/questions/typed.py
const DEFAULT_TIME_LIMIT_S = 20;

// Fields the editor writes for each type; any other field a question holds
// (from a newer server, or a script) is kept as it was.
const COMMON = ["type", "text", "time_limit_s", "points", "image", "image_on_phones"];
const OWN_FIELDS = {
  choice: ["choices", "correct"],
  multi: ["choices", "correct"],
  true_false: ["correct"],
  type_answer: ["accepted", "ignore_accents"],
  slider: ["min", "max", "step", "value", "tolerance"],
  order: ["items"],
  poll: ["choices"],
};
const EDITED = new Set([...COMMON, ...Object.values(OWN_FIELDS).flat()]);

export function typeOfQuestion(q) {
  return TYPES[q.type] ? q.type : "choice";
}

export function newQuestion(type = "choice") {
  return switchType({ text: "", time_limit_s: DEFAULT_TIME_LIMIT_S }, type);
}

// A question changed to another type keeps what still fits: its text, time,
// image, and its choices as the items of an order question (and back).
export function switchType(q, type) {
  const texts = q.choices && q.choices.length ? q.choices : q.items && q.items.length ? q.items : ["", "", "", ""];
  const was = typeOfQuestion(q);
  q.type = type;
  if (type === "choice" || type === "multi" || type === "poll") q.choices = [...texts];
  if (type === "choice" || type === "multi") {
    const keep = (was === "choice" || was === "multi") && Array.isArray(q.correct) ? q.correct : [];
    q.correct = keep.filter((i) => i < q.choices.length);
    if (type === "choice" && q.correct.length > 1) q.correct = q.correct.slice(0, 1);
  }
  if (type === "true_false") q.correct = typeof q.correct === "boolean" ? q.correct : true;
  if (type === "type_answer" && !Array.isArray(q.accepted)) q.accepted = [""];
  if (type === "slider") {
    for (const [name, value] of Object.entries({ min: 0, max: 100, step: 1, value: 50, tolerance: 0 })) {
      if (q[name] === undefined) q[name] = value;
    }
  }
  if (type === "order") q.items = [...texts];
  if (type === "poll") delete q.points;
  else if (q.points === undefined) q.points = "standard";
  return q;
}

// The question as the quiz document holds it: only its type's fields (plus any
// the editor does not know), so switching type leaves nothing stale behind.
export function questionDocument(q) {
  const type = typeOfQuestion(q);
  const out = {};
  for (const [name, value] of Object.entries(q)) if (!EDITED.has(name)) out[name] = value;
  out.type = type;
  out.text = q.text;
  for (const name of OWN_FIELDS[type]) if (q[name] !== undefined) out[name] = q[name];
  out.time_limit_s = q.time_limit_s;
  if (type !== "poll") out.points = q.points || "standard";
  if (q.image) {
    out.image = q.image;
    out.image_on_phones = Boolean(q.image_on_phones);
  }
  return out;
}

// ---------------------------------------------------------------- building blocks

// A labelled control with its problem slot: `<div class="field" data-path>`.
function field(id, path, labelText, control, hint) {
  control.id = id;
  control.setAttribute("aria-describedby", `${id}-problem${hint ? ` ${id}-hint` : ""}`);
  return el("div", { class: "field", dataset: { path } },
    el("label", { for: id }, labelText),
    hint ? el("p", { class: "hint", id: `${id}-hint` }, hint) : null,
    control,
    el("p", { class: "problem", id: `${id}-problem`, role: "status" }));
}

// A group of controls with one legend and one problem slot.
function group(id, path, legend, ...children) {
  return el("fieldset", { class: "field group", id, dataset: { path }, "aria-describedby": `${id}-problem` },
    el("legend", {}, legend),
    ...children,
    el("p", { class: "problem", id: `${id}-problem`, role: "status" }));
}

function textInput(value, attributes, onInput) {
  const input = el("input", { type: "text", autocomplete: "off", ...attributes });
  input.value = value ?? "";
  input.addEventListener("input", () => onInput(input.value));
  return input;
}

// A number as typed: a number when it is one, else the text, so the server can say what is wrong.
function numberInput(value, attributes, onInput) {
  const input = el("input", { type: "number", inputmode: "decimal", ...attributes });
  input.value = value ?? "";
  input.addEventListener("input", () => {
    const n = input.valueAsNumber;
    onInput(Number.isNaN(n) ? input.value : n);
  });
  return input;
}

function smallButton(label, ariaLabel, onclick, attributes = {}) {
  return el("button", { type: "button", class: "plain small", "aria-label": ariaLabel, onclick, ...attributes }, label);
}

// ---------------------------------------------------------------- each type's fields

// Choices (choice, multi, poll): a text each, a "right" tick each (not for a poll), add and remove.
function choiceFields(q, ids, path, on) {
  const type = typeOfQuestion(q);
  const judged = type !== "poll";
  const rows = q.choices.map((text, j) => {
    const id = `${ids}-choice-${j}`;
    const input = textInput(text, { id, maxlength: "120", "aria-describedby": `${id}-problem` }, (value) => {
      q.choices[j] = value;
      on.changed(false);
    });
    const right = judged
      ? el("input", {
        type: "checkbox", id: `${id}-right`, class: "right-tick", checked: (q.correct || []).includes(j),
        onchange: (event) => {
          const ticked = new Set(q.correct || []);
          if (event.target.checked) {
            // One right answer: ticking another moves the mark (several may be right: use "Multiple").
            if (type === "choice") ticked.clear();
            ticked.add(j);
          } else ticked.delete(j);
          q.correct = [...ticked].sort((a, b) => a - b);
          on.changed(type === "choice");
        },
      })
      : null;
    return el("div", { class: `field choice-row c${j}`, dataset: { path: `${path}.choices[${j}]` } },
      el("label", { for: id, class: "choice-label" }, t("editor.choice.label", { n: j + 1 })),
      input,
      right ? el("label", { class: "tick", for: `${id}-right` }, right, t("editor.choice.right")) : null,
      smallButton(t("editor.remove"), t("editor.choice.remove", { n: j + 1 }), () => {
        q.choices.splice(j, 1);
        if (judged) q.correct = (q.correct || []).filter((i) => i !== j).map((i) => (i > j ? i - 1 : i));
        on.changed(true, `${ids}-add-choice`);
      }, { disabled: q.choices.length <= MIN_ITEMS }),
      el("p", { class: "problem", id: `${id}-problem`, role: "status" }),
    );
  });
  const add = smallButton(t("editor.choice.add"), t("editor.choice.add"), () => {
    q.choices.push("");
    on.changed(true, `${ids}-choice-${q.choices.length - 1}`);
  }, { id: `${ids}-add-choice`, disabled: q.choices.length >= MAX_ITEMS });
  const legend = t(judged ? (type === "multi" ? "editor.choices.multi" : "editor.choices.single") : "editor.choices.poll");
  const choices = group(`${ids}-choices`, `${path}.choices`, legend, ...rows, add);
  return judged ? [group(`${ids}-correct`, `${path}.correct`, t("editor.choices.right"), choices)] : [choices];
}

function trueFalseFields(q, ids, path, on) {
  const option = (value, words) => {
    const id = `${ids}-tf-${value}`;
    return el("label", { class: "tick", for: id },
      el("input", {
        type: "radio", id, name: `${ids}-tf`, checked: q.correct === value,
        onchange: () => {
          q.correct = value;
          on.changed(false);
        },
      }),
      words);
  };
  return [group(`${ids}-correct`, `${path}.correct`, t("editor.true_false.legend"), option(true, t("answer.true")), option(false, t("answer.false")))];
}

function listOfTexts(q, name, ids, path, on, words) {
  const list = q[name];
  const rows = list.map((text, j) => {
    const id = `${ids}-${name}-${j}`;
    const maxlength = name === "accepted" ? "40" : "120";
    const input = textInput(text, { id, maxlength, "aria-describedby": `${id}-problem` }, (value) => {
      list[j] = value;
      on.changed(false);
    });
    const moves = name === "items"
      ? [
        smallButton("▲", t("editor.item.up", { n: j + 1 }), () => {
          [list[j - 1], list[j]] = [list[j], list[j - 1]];
          on.changed(true, `${ids}-${name}-${j - 1}-up`);
        }, { id: `${id}-up`, disabled: j === 0 }),
        smallButton("▼", t("editor.item.down", { n: j + 1 }), () => {
          [list[j + 1], list[j]] = [list[j], list[j + 1]];
          on.changed(true, `${ids}-${name}-${j + 1}-down`);
        }, { id: `${id}-down`, disabled: j === list.length - 1 }),
      ]
      : [];
    return el("div", { class: `field choice-row${name === "items" ? ` c${j}` : ""}`, dataset: { path: `${path}.${name}[${j}]` } },
      el("label", { for: id, class: "choice-label" }, words.one(j)),
      input,
      ...moves,
      smallButton(t("editor.remove"), words.remove(j), () => {
        list.splice(j, 1);
        on.changed(true, `${ids}-add-${name}`);
      }, { disabled: list.length <= words.min }),
      el("p", { class: "problem", id: `${id}-problem`, role: "status" }));
  });
  const add = smallButton(words.add, words.add, () => {
    list.push("");
    on.changed(true, `${ids}-${name}-${list.length - 1}`);
  }, { id: `${ids}-add-${name}`, disabled: list.length >= words.max });
  return group(`${ids}-${name}`, `${path}.${name}`, words.legend, ...rows, add);
}

function typedFields(q, ids, path, on) {
  const accents = el("input", {
    type: "checkbox", id: `${ids}-accents`, checked: Boolean(q.ignore_accents),
    onchange: (event) => {
      q.ignore_accents = event.target.checked;
      on.changed(false);
    },
  });
  return [
    listOfTexts(q, "accepted", ids, path, on, {
      legend: t("editor.accepted.legend"),
      one: (j) => t("editor.accepted.label", { n: j + 1 }),
      remove: (j) => t("editor.accepted.remove", { n: j + 1 }),
      add: t("editor.accepted.add"), min: 1, max: MAX_ACCEPTED,
    }),
    el("div", { class: "field", dataset: { path: `${path}.ignore_accents` } },
      el("label", { class: "tick", for: `${ids}-accents` }, accents, t("editor.accepted.accents"))),
  ];
}

function sliderFields(q, ids, path, on) {
  const number = (name, words) =>
    field(`${ids}-${name}`, `${path}.${name}`, words,
      numberInput(q[name], { step: "any" }, (value) => {
        q[name] = value;
        on.changed(false);
      }));
  return [
    el("div", { class: "field-grid" },
      number("min", t("editor.slider.min")),
      number("max", t("editor.slider.max")),
      number("step", t("editor.slider.step")),
      number("value", t("editor.slider.value")),
      number("tolerance", t("editor.slider.tolerance"))),
    el("p", { class: "hint" }, t("editor.slider.hint")),
  ];
}

function orderFields(q, ids, path, on) {
  return [listOfTexts(q, "items", ids, path, on, {
    legend: t("editor.items.legend"),
    one: (j) => t("editor.items.label", { n: j + 1 }),
    remove: (j) => t("editor.items.remove", { n: j + 1 }),
    add: t("editor.items.add"), min: MIN_ITEMS, max: MAX_ITEMS,
  })];
}

const TYPE_FIELDS = {
  choice: choiceFields,
  multi: choiceFields,
  poll: choiceFields,
  true_false: trueFalseFields,
  type_answer: typedFields,
  slider: sliderFields,
  order: orderFields,
};

// ---------------------------------------------------------------- the image

function imageFields(q, ids, path, on) {
  const upload = el("input", { type: "file", accept: "image/png,image/jpeg,image/webp,image/gif" });
  upload.addEventListener("change", async () => {
    const file = upload.files[0];
    upload.value = "";
    if (!file) return;
    const problem = document.getElementById(`${ids}-image-problem`);
    problem.textContent = t("editor.image.uploading", { file: file.name });
    try {
      const media = await on.uploadImage(file);
      q.image = media.media_id;
      problem.textContent = "";
      on.changed(true, `${ids}-image`);
    } catch (error) {
      problem.textContent = t("editor.image.refused", { file: file.name, reason: say(error) });
      problem.classList.add("shown");
    }
  });
  const parts = [field(`${ids}-image`, `${path}.image`, t(q.image ? "editor.image.replace" : "editor.image.label"), upload,
    t("editor.image.hint"))];
  // The browser draws a file input's own button in its own language ("Choose File"), not the
  // page's: the input is hidden (still focusable; Enter opens it) and this label is its button.
  upload.classList.add("file-input");
  upload.after(el("label", { class: "file-button", for: `${ids}-image` }, t("editor.image.choose")));
  if (q.image) {
    parts.push(
      el("div", { class: "image-row" },
        el("img", { class: "thumb", src: `/media/${encodeURIComponent(q.image)}`, alt: t("editor.image.alt") }),
        el("div", { class: "image-options" },
          el("label", { class: "tick", for: `${ids}-on-phones` },
            el("input", {
              type: "checkbox", id: `${ids}-on-phones`, checked: Boolean(q.image_on_phones),
              onchange: (event) => {
                q.image_on_phones = event.target.checked;
                on.changed(false);
              },
            }),
            t("editor.image.on_phones")),
          smallButton(t("editor.image.remove"), t("editor.image.remove"), () => {
            delete q.image;
            delete q.image_on_phones;
            on.changed(true, `${ids}-image`);
          }))));
  }
  return parts;
}

// ---------------------------------------------------------------- one question

// `key` names the question's controls (stable while it moves); `index` is its place now.
export function questionForm(q, key, index, on) {
  const ids = `q${key}`;
  const path = `questions[${index}]`;
  const type = typeOfQuestion(q);
  const typeSelect = el("select", {},
    Object.entries(TYPES).map(([value, key]) => el("option", { value, selected: value === type }, t(key))));
  typeSelect.addEventListener("change", () => {
    switchType(q, typeSelect.value);
    on.changed(true, `${ids}-type`);
  });
  const text = el("textarea", { rows: "2", maxlength: "500" });
  text.value = q.text ?? "";
  text.addEventListener("input", () => {
    q.text = text.value;
    on.changed(false);
  });
  const time = numberInput(q.time_limit_s, { min: "5", max: "240", step: "1", inputmode: "numeric" }, (value) => {
    q.time_limit_s = value;
    on.changed(false);
  });
  const settings = [field(`${ids}-time`, `${path}.time_limit_s`, t("editor.time_limit"), time)];
  if (type !== "poll") {
    const points = el("select", {},
      Object.entries(POINTS).map(([value, key]) => el("option", { value, selected: value === q.points }, t(key))));
    points.addEventListener("change", () => {
      q.points = points.value;
      on.changed(false);
    });
    settings.push(field(`${ids}-points`, `${path}.points`, t("editor.points"), points));
  }
  return [
    field(`${ids}-type`, `${path}.type`, t("editor.question.type"), typeSelect),
    field(`${ids}-text`, `${path}.text`, t("editor.question.text"), text),
    ...TYPE_FIELDS[type](q, ids, path, on),
    el("div", { class: "field-grid" }, ...settings),
    ...imageFields(q, ids, path, on),
  ];
}
