"""Idle rooms: --idle-rooms rooms created and left with nobody online; the server's
threads and RSS before the first room and after the last, and KB per room."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from benchmark.coordinator import Coordinator
from benchmark.host import Host

# The run measures rooms that stay open: none may close while it counts.
IDLE_ROOMS_SETTINGS = {"QUIZ_UNJOINED_ROOM_TTL_S": "86400", "QUIZ_IDLE_ROOM_TTL_S": "86400"}
IDLE_ROOM_HOSTS = 50  # sockets creating the rooms, each one room after another
SETTLE_S = 2.0  # after the hosts close: the last rooms hear their host went offline


async def run_idle_rooms(bench: Coordinator, store: str) -> dict[str, Any]:
    rooms = bench.cfg.idle_rooms
    url = bench.stores.fresh(store, "idle_rooms")
    server = await bench.start_server(url, f"{store}-idle-rooms", IDLE_ROOMS_SETTINGS)
    hosts: list[Host] = []
    try:
        quiz_id = await bench.upload_quiz(server, 1)
        idle_rss, idle_threads = server.rss_kb(), server.threads()
        hosts = [Host(bench.session, f"Host {i}") for i in range(min(IDLE_ROOM_HOSTS, rooms))]
        for host in hosts:
            await host.connect(server.ws_url)
        created = 0

        async def create(host: Host, count: int) -> None:
            nonlocal created
            for _ in range(count):
                await host.create_room(quiz_id)
                created += 1
                bench.progress.status(f"idle rooms: {created}/{rooms} created")

        began = time.monotonic()
        shares = [len(range(i, rooms, len(hosts))) for i in range(len(hosts))]
        await asyncio.wait_for(
            asyncio.gather(*(create(h, n) for h, n in zip(hosts, shares, strict=True))),
            bench.cfg.timeout_scale * (rooms / 20 + 60),
        )
        create_s = time.monotonic() - began
        for host in hosts:  # now nobody is online in any room
            await host.close()
        await asyncio.sleep(SETTLE_S)
        rss, threads = server.rss_kb(), server.threads()
        result = {
            "rooms": rooms,
            "create_s": round(create_s, 2),
            "rooms_per_s": round(rooms / create_s, 1),
            "idle_rss_kb": idle_rss,
            "idle_threads": idle_threads,
            "rss_kb": rss,
            "threads": threads,
            "kb_per_room": round((rss - idle_rss) / rooms, 1),
        }
        bench.progress.say(
            f"   {store} idle rooms: {rooms} rooms, {threads} threads (before: {idle_threads}), "
            f"{result['kb_per_room']} KB/room, RSS {rss // 1024} MB"
        )
        return result
    finally:
        for host in hosts:
            await host.close()
        await bench.stop(server)
        if store == "postgres":
            bench.stores.drop(url)
