// What a screen reader says without the user moving: new questions, time
// running out, results. Two live regions, made once per page and kept empty
// between announcements: "polite" waits for the reader to finish a sentence,
// "assertive" (time running out) interrupts it.
//
// Setting the same text twice in a row is not announced again by some readers,
// so each announcement clears its region first and writes on the next frame.

const regions = {};

function region(politeness) {
  if (!regions[politeness]) {
    const node = document.createElement("div");
    node.id = `announce-${politeness}`;
    node.className = "visually-hidden";
    node.setAttribute("aria-live", politeness);
    node.setAttribute("aria-atomic", "true");
    document.body.append(node);
    regions[politeness] = node;
  }
  return regions[politeness];
}

// Several texts read as sentences: each ends with a stop unless it has its own.
export function sentences(texts) {
  return texts.filter(Boolean).map((text) => (/[.!?…:]$/.test(text) ? text : `${text}.`)).join(" ");
}

export function announce(text, { urgent = false } = {}) {
  const node = region(urgent ? "assertive" : "polite");
  node.textContent = "";
  requestAnimationFrame(() => (node.textContent = text));
}

// Made at load, before anything is announced: a region that appears together
// with its first text is not read by every screen reader.
if (document.body) {
  region("polite");
  region("assertive");
} else {
  document.addEventListener("DOMContentLoaded", () => (region("polite"), region("assertive")));
}
