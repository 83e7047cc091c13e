// How each question type looks: on the phone while answering, on the host's
// screen while asking, and in the reveal once the question has closed.
//
// One table per place, keyed by the question's `question_type` (docs/protocol.md,
// "Question types"); a question from a server that predates question types has
// none and is a `choice` question. Everything the player or host reads is put in
// with textContent (ui.js's `el`), never as HTML.

import { formatNumber, list, t, tn } from "./i18n.js";
import { CHOICE_MARKS, el } from "./ui.js";

export { formatNumber };

export function typeOf(q) {
  return q.question_type || "choice";
}

// The fields of question_closed that describe the reveal (not the message itself or "you").
export function revealOf(closed) {
  const { type, seq, you, ref, ...reveal } = closed;
  return reveal;
}

// ---------------------------------------------------------------- the phone

// Each phone view builds the controls for one open question. `submit(payload)`
// sends the answer; `update(answer, disabled)` redraws them for an answer
// (`{payload, status}` or null) and whether answering is possible now.

// A choice as the player reads it: true_false's two are the page's words, in its language
// (the server always sends them as "True", "False").
export function choiceText(q, i) {
  if (typeOf(q) === "true_false") return t(i === 0 ? "answer.true" : "answer.false");
  return q.choices[i];
}

function choiceTile(q, i, attributes = {}) {
  return el("button", { type: "button", class: `choice c${i}`, ...attributes },
    el("span", { class: "mark", "aria-hidden": "true" }, CHOICE_MARKS[i]),
    el("span", { class: "choice-text" }, choiceText(q, i)));
}

// Choices too long for two tiles side by side on a 320 px phone go one per row:
// a word of more than 9 letters would otherwise have to break, a long text fill the tile.
const WIDE_TEXT = 22;
const WIDE_WORD = 9;

function isLong(text) {
  return text.length > WIDE_TEXT || text.split(/\s+/).some((word) => word.length > WIDE_WORD);
}

function tiles(buttons, texts = []) {
  const many = buttons.length > 4 ? " many" : "";
  const wide = texts.some(isLong) ? " wide" : "";
  return el("div", { class: `choices${many}${wide}` }, buttons);
}

function tapOne(q, submit) {
  const buttons = q.choices.map((_, i) => choiceTile(q, i, { onclick: () => submit({ choice: i }) }));
  return {
    nodes: [tiles(buttons, q.choices)],
    update(answer, disabled) {
      // After a refresh the server says we answered, but not what: nothing is marked then.
      const chosen = answer && answer.payload ? answer.payload.choice : null;
      buttons.forEach((button, i) => {
        button.disabled = disabled || answer !== null;
        button.classList.toggle("chosen", chosen === i);
        button.classList.toggle("pending", chosen === i && answer.status !== "accepted");
        button.classList.toggle("faded", chosen !== null && chosen !== i);
      });
    },
  };
}

function tickMany(q, submit) {
  const ticked = new Set();
  const send = el("button", { type: "button", class: "primary submit", disabled: true }, t("answer.submit"));
  const buttons = q.choices.map((_, i) =>
    choiceTile(q, i, {
      "aria-pressed": "false",
      onclick: () => {
        if (ticked.has(i)) ticked.delete(i);
        else ticked.add(i);
        buttons[i].setAttribute("aria-pressed", String(ticked.has(i)));
        buttons[i].classList.toggle("ticked", ticked.has(i));
        send.disabled = ticked.size === 0;
      },
    }));
  send.addEventListener("click", () => submit({ choices: [...ticked].sort((a, b) => a - b) }));
  return {
    nodes: [el("p", { class: "answer-hint" }, t("answer.multi_hint")), tiles(buttons, q.choices), send],
    update(answer, disabled) {
      const sent = answer && answer.payload ? new Set(answer.payload.choices) : null;
      buttons.forEach((button, i) => {
        button.disabled = disabled || answer !== null;
        if (sent) button.classList.toggle("ticked", sent.has(i));
      });
      send.disabled = disabled || answer !== null || ticked.size === 0;
    },
  };
}

function typeText(q, submit) {
  const input = el("input", {
    type: "text", maxlength: String(q.max_length || 40), autocomplete: "off", autocapitalize: "off",
    spellcheck: "false", enterkeyhint: "send", "aria-label": t("answer.yours"), placeholder: t("answer.type_here"),
  });
  const send = el("button", { type: "submit", class: "primary submit" }, t("answer.send"));
  const form = el("form", {
    class: "typed", novalidate: true,
    onsubmit: (event) => {
      event.preventDefault();
      if (input.value.trim()) submit({ text: input.value });
    },
  }, input, send);
  return {
    nodes: [form],
    focus: () => input.focus(),
    update(answer, disabled) {
      if (answer && answer.payload) input.value = answer.payload.text;
      input.disabled = disabled || answer !== null;
      send.disabled = input.disabled;
    },
  };
}

// Decimal places a number is written with, so 0.1 steps add up to 0.3, not 0.30000000000000004.
function decimals(n) {
  const text = String(n);
  return text.includes(".") ? text.split(".")[1].length : 0;
}


function pickNumber(q, submit) {
  const places = Math.max(decimals(q.min), decimals(q.step));
  const steps = Math.round((q.max - q.min) / q.step);
  const at = (k) => Number((q.min + Math.max(0, Math.min(steps, k)) * q.step).toFixed(places));
  let position = Math.round(steps / 2);
  const range = el("input", {
    type: "range", min: String(q.min), max: String(q.max), step: String(q.step), value: String(at(position)),
    "aria-label": t("answer.yours"),
  });
  const readout = el("output", { class: "slider-value", "aria-live": "polite" }, formatNumber(at(position)));
  const show = () => {
    range.value = String(at(position));
    readout.textContent = formatNumber(at(position));
  };
  range.addEventListener("input", () => {
    position = Math.round((Number(range.value) - q.min) / q.step);
    readout.textContent = formatNumber(at(position));
  });
  const nudge = (by, label) =>
    el("button", {
      type: "button", class: "nudge", "aria-label": label,
      onclick: () => {
        position = Math.max(0, Math.min(steps, position + by));
        show();
      },
    }, by < 0 ? "−" : "+");
  const down = nudge(-1, t("answer.down_by", { step: formatNumber(q.step) }));
  const up = nudge(1, t("answer.up_by", { step: formatNumber(q.step) }));
  const send = el("button", { type: "button", class: "primary submit", onclick: () => submit({ value: at(position) }) },
    t("answer.submit"));
  return {
    nodes: [
      el("div", { class: "slider" },
        readout,
        el("div", { class: "slider-row" }, down, range, up),
        el("div", { class: "slider-ends", "aria-hidden": "true" },
          el("span", {}, formatNumber(q.min)), el("span", {}, formatNumber(q.max)))),
      send,
    ],
    update(answer, disabled) {
      if (answer && answer.payload) {
        position = Math.round((answer.payload.value - q.min) / q.step);
        show();
      }
      for (const control of [range, down, up, send]) control.disabled = disabled || answer !== null;
    },
  };
}

function putInOrder(q, submit) {
  let order = q.items.map((_, i) => i); // shown indexes, first to last
  let locked = false;
  const items = el("ol", { class: "order-list", "aria-label": t("answer.order_label") });
  const move = (from, to, focusUp) => {
    [order[from], order[to]] = [order[to], order[from]];
    draw();
    // Keep the keyboard on the item that moved, so it can be moved again at once.
    const button = items.children[to].querySelector(focusUp ? ".up" : ".down");
    (button.disabled ? items.children[to].querySelector("button:not(:disabled)") : button)?.focus();
  };
  const draw = () => {
    items.replaceChildren(
      ...order.map((item, position) =>
        el("li", { class: `order-item c${item}` },
          el("span", { class: "position", "aria-hidden": "true" }, String(position + 1)),
          el("span", { class: "choice-text" }, q.items[item]),
          el("button", {
            type: "button", class: "up", "aria-label": t("answer.move_up", { item: q.items[item] }),
            disabled: locked || position === 0, onclick: () => move(position, position - 1, true),
          }, "▲"),
          el("button", {
            type: "button", class: "down", "aria-label": t("answer.move_down", { item: q.items[item] }),
            disabled: locked || position === order.length - 1, onclick: () => move(position, position + 1, false),
          }, "▼"))),
    );
  };
  const send = el("button", { type: "button", class: "primary submit", onclick: () => submit({ order: [...order] }) },
    t("answer.submit_order"));
  draw();
  return {
    nodes: [el("p", { class: "answer-hint" }, t("answer.order_hint")), items, send],
    update(answer, disabled) {
      if (answer && answer.payload) order = [...answer.payload.order];
      locked = disabled || answer !== null;
      send.disabled = locked;
      draw();
    },
  };
}

const PHONE_VIEWS = {
  choice: tapOne,
  true_false: tapOne,
  poll: tapOne,
  multi: tickMany,
  type_answer: typeText,
  slider: pickNumber,
  order: putInOrder,
};

export function answerControls(q, submit) {
  return (PHONE_VIEWS[typeOf(q)] || tapOne)(q, submit);
}

// The right answer in a sentence, for the player's result screen.
const RIGHT_IN_WORDS = {
  choice: (q) => t("right.answer", { answer: list(q.correct.map((i) => q.choices[i]), "or") }),
  true_false: (q) => t("right.answer", { answer: q.correct.map((i) => choiceText(q, i)).join("") }),
  multi: (q) => t("right.answers", { answers: list(q.correct.map((i) => q.choices[i]), "and") }),
  type_answer: (q) => t("right.accepted", { answers: q.accepted.join(", ") }),
  slider: (q) =>
    q.tolerance
      ? t("right.number_within", {
        answer: formatNumber(q.value),
        low: formatNumber(q.value - q.tolerance),
        high: formatNumber(q.value + q.tolerance),
      })
      : t("right.answer", { answer: formatNumber(q.value) }),
  order: (q) => t("right.order", { order: q.correct.map((i) => q.items[i]).join(", ") }),
  poll: () => "",
};

// A player's own answer in words, for their result screen.
const ANSWER_IN_WORDS = {
  multi: (q, p) => p.choices.map((i) => q.choices[i]).join(", "),
  type_answer: (q, p) => `“${p.text.trim()}”`,
  slider: (q, p) => formatNumber(p.value),
  order: (q, p) => p.order.map((i) => q.items[i]).join(", "),
};

export function answerInWords(q, payload) {
  const words = ANSWER_IN_WORDS[typeOf(q)];
  return words ? words(q, payload) : choiceText(q, payload.choice);
}

export function rightAnswerInWords(q) {
  if (!q.correct && q.value === undefined && !q.accepted) return "";
  return (RIGHT_IN_WORDS[typeOf(q)] || RIGHT_IN_WORDS.choice)(q);
}

// ---------------------------------------------------------------- the host's screen: asking

function hostTiles(q) {
  return [el("div", { class: "choices" },
    q.choices.map((_, i) =>
      el("div", { class: `choice c${i}` },
        el("span", { class: "mark", "aria-hidden": "true" }, CHOICE_MARKS[i]),
        el("span", { class: "choice-text" }, choiceText(q, i)))))];
}

const HOST_ASKING = {
  choice: hostTiles,
  true_false: hostTiles,
  poll: (q) => [el("p", { class: "answer-hint" }, t("host.poll_hint")), ...hostTiles(q)],
  multi: (q) => [el("p", { class: "answer-hint" }, t("host.multi_hint")), ...hostTiles(q)],
  type_answer: () => [el("p", { class: "answer-hint big-hint" }, t("host.type_hint"))],
  slider: (q) => [
    el("p", { class: "answer-hint big-hint" },
      t("host.slider_hint", { min: formatNumber(q.min), max: formatNumber(q.max) })),
  ],
  order: (q) => [
    el("p", { class: "answer-hint" }, t("host.order_hint")),
    el("div", { class: "choices" },
      q.items.map((text, i) => el("div", { class: `choice c${i}` }, el("span", { class: "choice-text" }, text)))),
  ],
};

export function hostQuestion(q) {
  return (HOST_ASKING[typeOf(q)] || hostTiles)(q);
}

// ---------------------------------------------------------------- the host's screen: the reveal

function bar(className, count, most, ...label) {
  const fill = el("span", { class: "fill" });
  fill.style.width = `${(100 * count) / most}%`;
  return el("div", { class: `reveal-choice ${className}` }, fill, ...label);
}

// A poll has no right choice to stand out: every bar is shown at full strength.
function choiceBars(q, votesKey, poll = false) {
  const votes = q.distribution || q.choices.map(() => 0);
  const most = Math.max(1, ...votes);
  return q.choices.map((_, i) => {
    const right = (q.correct || []).includes(i);
    return bar(`c${i}${right ? " correct" : ""}${poll ? " vote" : ""}`, votes[i], most,
      el("span", { "aria-hidden": "true" }, right ? "✔" : CHOICE_MARKS[i]),
      el("span", {}, choiceText(q, i)),
      el("span", { class: "votes" }, tn(votesKey, votes[i])));
  });
}

function revealOrder(q) {
  const placed = q.distribution || q.items.map(() => 0);
  const most = Math.max(1, ...placed);
  return [
    el("p", { class: "reveal-note" }, t("reveal.right_order")),
    ...(q.correct || []).map((item, position) =>
      bar(`c${item} correct`, placed[item], most,
        el("span", { class: "position" }, `${position + 1}.`),
        el("span", {}, q.items[item]),
        el("span", { class: "votes" }, tn("reveal.put_here", placed[item])))),
  ];
}

function revealSlider(q) {
  const span = q.max - q.min;
  const at = (value) => `${(100 * (value - q.min)) / span}%`;
  const answers = q.answers || [];
  const most = Math.max(1, ...answers.map((a) => a.count));
  const zone = el("div", { class: "scale-zone", title: t("reveal.counts_right") });
  zone.style.left = at(Math.max(q.min, q.value - q.tolerance));
  zone.style.width = `${(100 * (Math.min(q.max, q.value + q.tolerance) - Math.max(q.min, q.value - q.tolerance))) / span}%`;
  const mark = el("div", { class: "scale-right" }, el("span", {}, formatNumber(q.value)));
  mark.style.left = at(q.value);
  // Each value's count above its stack, while there are few enough to read.
  const labelled = answers.length <= 12;
  const stacks = answers.map((a) => {
    const stack = el("div", { class: "scale-stack", title: `${formatNumber(a.value)}: ${tn("answers", a.count)}` },
      labelled ? el("span", {}, `${formatNumber(a.value)} ×${a.count}`) : null);
    stack.style.left = at(a.value);
    stack.style.height = `${Math.max(8, (100 * a.count) / most)}%`;
    return stack;
  });
  return [
    el("p", { class: "reveal-big" },
      t("right.answer", { answer: formatNumber(q.value) }),
      q.tolerance ? el("span", { class: "reveal-note" }, ` (± ${formatNumber(q.tolerance)})`) : null),
    el("div", { class: "scale", role: "img", "aria-label": t("reveal.scale") }, zone, ...stacks, mark),
    el("div", { class: "slider-ends" }, el("span", {}, formatNumber(q.min)), el("span", {}, formatNumber(q.max))),
    el("p", { class: "reveal-note" },
      tn("reveal.close_enough", q.right_count || 0, { total: answers.reduce((n, a) => n + a.count, 0) })),
  ];
}

function revealTyped(q) {
  const wrong = q.wrong_answers || [];
  return [
    el("p", { class: "reveal-note" }, t("reveal.accepted")),
    el("ul", { class: "accepted" }, (q.accepted || []).map((text) => el("li", {}, `✔ ${text}`))),
    el("p", { class: "reveal-note" }, tn("reveal.got_it", q.right_count || 0)),
    wrong.length ? el("p", { class: "reveal-note" }, t("reveal.wrong_answers")) : null,
    wrong.length
      ? el("ul", { class: "wrong-answers" },
        wrong.map((w) => el("li", {}, el("span", {}, w.text), el("span", { class: "votes" }, `× ${w.count}`))))
      : null,
  ];
}

const HOST_REVEAL = {
  choice: (q) => choiceBars(q, "answers"),
  true_false: (q) => choiceBars(q, "answers"),
  multi: (q) => [el("p", { class: "reveal-note" }, t("reveal.ticked_by")), ...choiceBars(q, "players")],
  poll: (q) => choiceBars(q, "votes", true),
  order: revealOrder,
  slider: revealSlider,
  type_answer: revealTyped,
};

export function hostReveal(q) {
  // Without the parts a reveal leaves out (null): replaceChildren would write them as "null".
  return (HOST_REVEAL[typeOf(q)] || HOST_REVEAL.choice)(q).filter(Boolean);
}
