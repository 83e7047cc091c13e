// Past games: the games this browser hosted (its host session, kept by the host
// page), or with the admin key every game on the server; each opens its report.
//
// The list comes from GET /api/games, answered from the server's audit log
// (docs/protocol.md, "Game reports"). `?room=ID` opens that game's report at once.

import { Store } from "./connection.js";
import { getJson, showReport } from "./report.js";
import { $, el, plural, setText } from "./ui.js";

const hostSession = new Store("host");
let credential = hostSession.get("token");

function when(ms) {
  return new Date(ms).toLocaleString([], { dateStyle: "medium", timeStyle: "short" });
}

function progress(game) {
  if (game.ended_at_ms) return "finished";
  if (game.closed) return game.started ? "closed before the end" : "closed unplayed";
  return game.started ? "in progress" : "not started";
}

async function loadGames(admin) {
  if (!credential) {
    setText("#games-note", "This browser has not hosted a game on this server yet.");
    return;
  }
  setText("#games-note", "Loading…");
  const result = await getJson("/api/games", credential);
  if (!result.ok) {
    setText("#games-note", admin ? `The admin key was not accepted: ${result.message}` : result.message);
    return;
  }
  const games = result.body.games;
  const whose = result.body.all_hosts ? "every host's games on this server" : "games hosted in this browser";
  setText("#games-note", games.length ? `${plural(games.length, "game", "games")}: ${whose}, newest first.`
    : `No ${whose} yet.`);
  $("#games").replaceChildren(
    ...games.map((g) =>
      el("li", { dataset: { roomId: g.room_id, code: g.code } },
        el("span", { class: "game-title" }, g.title),
        el("span", { class: "game-meta" },
          `${when(g.created_at_ms)} · room ${g.code}${result.body.all_hosts ? ` · ${g.host_name}` : ""} · `
            + `${plural(g.players, "player", "players")} · ${progress(g)}`),
        el("button", { type: "button", class: "secondary", onclick: () => openReport(g.room_id) }, "Open report"))),
  );
}

async function openReport(roomId) {
  const box = $("#game-report");
  await showReport(box, roomId, credential);
  box.scrollIntoView({ block: "start" });
}

function init() {
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
