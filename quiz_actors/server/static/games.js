// Past games: the games this browser hosted (its host session, kept by the host
// page), or with the admin key every game on the server; each opens its report.
//
// The list comes from GET /api/games, answered from the server's audit log
// (docs/protocol.md, "Game reports"). `?room=ID` opens that game's report at once.
// Every text is the page's language's (docs/i18n.md); titles and names are the games'.

import { Store } from "./connection.js";
import { formatDateTime, languageSwitch, t, tn, translatePage } from "./i18n.js";
import { getJson, refusalWords, showReport } from "./report.js";
import { $, el, setText } from "./ui.js";

const hostSession = new Store("host");
let credential = hostSession.get("token");

function progress(game) {
  if (game.ended_at_ms) return t("games.progress.finished");
  if (game.closed) return t(game.started ? "games.progress.closed_early" : "games.progress.closed_unplayed");
  return t(game.started ? "games.progress.in_progress" : "games.progress.not_started");
}

function meta(game, allHosts) {
  const words = {
    when: formatDateTime(game.created_at_ms),
    code: game.code,
    host: game.host_name,
    players: tn("players", game.players),
    progress: progress(game),
  };
  return allHosts ? t("games.meta_host", words) : t("games.meta", words);
}

async function loadGames(admin) {
  if (!credential) {
    setText("#games-note", t("games.never_hosted"));
    return;
  }
  setText("#games-note", t("games.loading"));
  const result = await getJson("/api/games", credential);
  if (!result.ok) {
    const reason = refusalWords(result);
    if (!admin) setText("#games-note", reason);
    else if (result.code === "unauthorized") setText("#games-note", t("games.admin_wrong"));
    else setText("#games-note", t("games.admin_refused", { reason }));
    return;
  }
  const games = result.body.games;
  const allHosts = result.body.all_hosts;
  if (games.length) setText("#games-note", tn(allHosts ? "games.count_all" : "games.count_mine", games.length));
  else setText("#games-note", t(allHosts ? "games.none_all" : "games.none_mine"));
  $("#games").replaceChildren(
    ...games.map((g) =>
      el("li", { dataset: { roomId: g.room_id, code: g.code } },
        el("span", { class: "game-title" }, g.title),
        el("span", { class: "game-meta" }, meta(g, allHosts)),
        el("button", { type: "button", class: "secondary", onclick: () => openReport(g.room_id) }, t("games.open_report")))),
  );
}

async function openReport(roomId) {
  const box = $("#game-report");
  await showReport(box, roomId, credential);
  box.scrollIntoView({ block: "start" });
}

function init() {
  translatePage();
  $(".bar-end").append(languageSwitch());
  $("#admin-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const key = $("#admin-key").value.trim();
    if (!key) return;
    credential = key;
    loadGames(true);
  });
  loadGames(false);
  const room = new URLSearchParams(location.search).get("room");
  if (room && credential) openReport(room);
}

init();
