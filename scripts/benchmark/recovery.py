"""Recovery: a room of --recovery-events events, built over the wire, then the
server restarted (players still connected) and join→state timed, which
includes activating the room by replay."""

from __future__ import annotations

import math
import time
from typing import Any

from benchmark.coordinator import Coordinator, players_with
from benchmark.host import Host
from benchmark.servers import QuizServer
from benchmark.stats import spread_summary
from benchmark.table import fmt


async def run_recovery(bench: Coordinator, store: str) -> dict[str, Any]:
    """Build a room of --recovery-events events (players answering many questions,
    every answer an event), restart the server, time the first join→state."""
    events_wanted = bench.cfg.recovery_events
    players = max(bench.cfg.recovery_players, math.ceil(events_wanted / 100))
    questions = min(100, max(1, math.ceil((events_wanted - players - 2) / (players + 2))))
    url = bench.stores.fresh(store, "recovery")
    server = await bench.start_server(url, f"{store}-recovery")
    host: Host | None = None
    result: dict[str, Any] = {"players": players, "questions": questions}
    try:
        quiz_id = await bench.upload_quiz(server, questions)
        host, code, room_id = await bench.host_room(server, quiz_id)
        await bench.open_players(server.ws_url, players, 500.0, [code], {code: players + 1})
        await bench.wait(
            "recovery: players joining",
            lambda s: s["converged"] >= players,
            lambda s: f"{s['converged']}/{players} joined",
            bench.cfg.timeout_scale * 60,
        )
        wait_s = bench.cfg.timeout_scale * 30
        for q in range(questions):
            bench.progress.status(f"recovery: building the room, question {q + 1}/{questions}")
            await host.send({"type": "start" if q == 0 else "next"})
            await bench.wait_shown(q, players, wait_s)
            await _answer_burst_quietly(bench, q, players, wait_s)
        # A member the restart can bring back: it joins now and keeps its token.
        probe = Host(bench.session, "Probe", code=code)
        await probe.connect(server.ws_url)
        await probe.expect("state")
        token = probe.player.token
        await probe.close()
    finally:
        if host is not None:
            await host.close()
        await bench.stop(server)  # players still connected: a restart, not a room emptying
        await bench.reset_workers()
    result["events"], result["snapshots"] = bench.stores.room_events(url, room_id)
    result["restarts"] = []
    try:
        for _ in range(bench.cfg.recovery_restarts):
            result["restarts"].append(await _restart_and_rejoin(bench, url, store, code, token))
    finally:
        if store == "postgres":
            bench.stores.drop(url)
    firsts = [r["first_join_ms"] for r in result["restarts"]]
    result["activation_ms"] = spread_summary(firsts)
    bench.progress.say(
        f"   {store} recovery: room of {result['events']} events "
        f"({result['snapshots']} snapshots): first join→state after restart "
        f"{fmt(result['activation_ms']['median_ms'])} ms"
    )
    return result


async def _answer_burst_quietly(bench: Coordinator, q: int, players: int, wait_s: float) -> None:
    """Everyone answers at once; the question closes itself when all have."""
    before = await bench.status()
    await bench.call_all("answer", question=q, start_at=time.monotonic() + 0.01, window_s=0.2)

    def done(s: dict[str, Any]) -> bool:
        return players_with(s, "revealed", q) >= players or s["answer_errors"] > before["answer_errors"]

    await bench.wait(
        f"recovery answers {q}",
        done,
        lambda s: f"{s.get('accepted', {}).get(q, 0)}/{players} accepted",
        wait_s,
    )


async def _restart_and_rejoin(
    bench: Coordinator, url: str, store: str, code: str, token: str | None
) -> dict[str, Any]:
    server = QuizServer(
        bench.workdir, f"{store}-recovery", url, bench.cfg.server_log_level, bench.cfg.server_settings
    )
    bench.live.append(server)
    started_s = await server.start()
    bench.pin(server.pid, server=True)
    try:
        joins = []
        for _ in range(2):  # the first activates the room; the second finds it running
            probe = Host(bench.session, "Probe", code=code)
            await probe.connect(server.ws_url, token=token)
            await probe.expect("state")
            joins.append(probe.player.tally.join_latencies[-1] * 1000)
            await probe.close()
        return {
            "server_start_s": round(started_s, 2),
            "first_join_ms": round(joins[0], 2),
            "second_join_ms": round(joins[1], 2),
        }
    finally:
        await bench.stop(server)
