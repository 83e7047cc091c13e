// The lobby's join panel: where players join, why that address, and a QR code
// of the link that opens the player page with the room's code filled in. The
// server chooses the address (GET /api/join; --public-url, the address this page
// was opened at, or this computer's network address) and draws the QR code as
// SVG (GET /api/join/qr), so nothing comes from elsewhere.

import { t } from "./i18n.js";
import { $, setText } from "./ui.js";

let shownFor = null; // the code the panel was last filled in for

export async function showJoinPanel(code) {
  if (shownFor === code) return;
  shownFor = code;
  let info;
  try {
    const response = await fetch(`/api/join?code=${encodeURIComponent(code)}`);
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    info = await response.json();
  } catch {
    shownFor = null; // try again on the next redraw
    setText("#join-url", `${location.host}`);
    setText("#join-why", t("join.why.unknown"));
    return;
  }
  if (shownFor !== code) return; // another room since
  setText("#join-url", info.shown);
  $("#join-url").dataset.url = info.url;
  // The server says why in codes too, so the reason reads in the page's language.
  const page = { host: location.hostname };
  setText("#join-why", info.why ? t(`join.why.${info.why}`, page) : `${info.reason}.`);
  $("#join-why").dataset.source = info.source;
  const warning = $("#join-warning");
  warning.hidden = !info.warning;
  warning.textContent = info.warning_code ? t(`join.warning.${info.warning_code}`) : info.warning || "";
  const qr = $("#join-qr");
  qr.src = info.qr;
  qr.alt = t("join.qr_alt", { link: info.link });
  qr.dataset.link = info.link;
  qr.hidden = false;
}

export function forgetJoinPanel() {
  shownFor = null;
}
