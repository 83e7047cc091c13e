"""Memory over several rooms: --memory-players join --memory-rooms rooms; server RSS
per player and threads once every view is complete."""

from __future__ import annotations

from typing import Any

from benchmark.coordinator import Coordinator
from benchmark.host import Host


async def run_many_rooms(bench: Coordinator, store: str) -> dict[str, Any]:
    players, rooms = bench.cfg.memory_players, bench.cfg.memory_rooms
    url = bench.stores.fresh(store, "memory")
    server = await bench.start_server(url, f"{store}-memory")
    hosts: list[Host] = []
    try:
        idle_rss, idle_threads = server.rss_kb(), server.threads()
        quiz_id = await bench.upload_quiz(server, 1)
        codes = []
        for r in range(rooms):
            host, code, _ = await bench.host_room(server, quiz_id, f"Host {r}")
            hosts.append(host)
            codes.append(code)
        targets = {code: len(range(i, players, rooms)) + 1 for i, code in enumerate(codes)}
        rate = bench.cfg.memory_rate
        start_at = await bench.open_players(server.ws_url, players, rate, codes, targets)
        status = await bench.wait(
            f"memory: {players} players in {rooms} rooms",
            lambda s: (
                s["opened"] + s["connect_failed"] >= players
                and s["converged"] >= players - s["connect_failed"] - s["join_failed"]
            ),
            lambda s: f"joined {s['joined']}/{players}, views complete {s['converged']}",
            bench.cfg.timeout_scale * (players / rate * 2 + 90),
        )
        result = {
            "rooms": rooms,
            **(await bench.memory(server, players, idle_rss, idle_threads)),
            "joined": status["joined"],
            "fill_s": round(status["converged_last"] - start_at, 2),
            "client_problems": await bench.problems(),
        }
        bench.progress.say(
            f"   {store} memory: {players} players in {rooms} rooms: "
            f"{result['kb_per_player']} KB/player, {result['threads']} threads"
        )
        return result
    finally:
        await bench.stop(server)
        await bench.reset_workers()
        for host in hosts:
            await host.close()
        if store == "postgres":
            bench.stores.drop(url)
