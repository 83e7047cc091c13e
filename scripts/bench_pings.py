#!/usr/bin/env python3
"""What the phones' stall detection costs the server (issue 16).

    .venv/bin/python scripts/bench_pings.py                  # 500 and 2,000 sockets, 15 s each
    .venv/bin/python scripts/bench_pings.py --sizes 100 --seconds 5

The web pages ping the server every 1.5 s while it says nothing
(docs/web-client.md, "Noticing a stalled connection"): during a question a room
of N phones sends N / 1.5 pings a second. This starts the real server
(``quiz-server``) on a free 127.0.0.1 port with a fresh SQLite store, opens N
sockets that say ``hello``, and measures the server process's CPU time
(/proc/PID/stat) over the same length of time twice: the sockets quiet, then
each pinging every 1.5 s as the pages do (spread evenly). It prints one row per
N: pings a second answered, server CPU as a share of one core in each window,
the server's CPU time per ping (the difference over the pings), and the
ping→pong round trip as the load client saw it. The load client is one
process: when it cannot keep up (thousands of sockets on a busy machine), the
pings a second fall short of N / 1.5 and the round trip is mostly its own
delay; the CPU time per ping still holds. Everything is bounded: only 127.0.0.1, N at most 5,000,
every wait with a timeout. Linux only (/proc). Nothing is asserted: the machine
it runs on decides the numbers.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

PING_EVERY_S = 1.5  # connection.js: PING_AFTER_MS
MAX_SOCKETS = 5000
TICKS_PER_S = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS_PER_S  # utime + stime


async def wait_until_up(http: aiohttp.ClientSession, url: str, server: subprocess.Popen) -> None:
    for _ in range(300):
        if server.poll() is not None:
            raise SystemExit(f"the server exited with {server.returncode}")
        try:
            async with http.get(url + "/healthz") as response:
                if response.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.1)
    raise SystemExit("the server did not come up within 30 s")


async def open_socket(http: aiohttp.ClientSession, url: str) -> aiohttp.ClientWebSocketResponse:
    ws = await http.ws_connect(url, timeout=aiohttp.ClientWSTimeout(ws_close=5))
    await ws.send_str(json.dumps({"type": "hello", "token": None}))
    async with asyncio.timeout(30):
        while True:
            message = json.loads((await ws.receive()).data)
            if message.get("type") == "welcome":
                return ws


async def ping_for(
    ws: aiohttp.ClientWebSocketResponse, offset_s: float, until: float, rtts: list[float]
) -> None:
    """Ping every PING_EVERY_S from ``offset_s`` on until ``until`` (loop time); answer the server's pings."""
    loop = asyncio.get_running_loop()
    await asyncio.sleep(offset_s)
    while loop.time() < until:
        sent = loop.time()
        await ws.send_str(json.dumps({"type": "ping", "t": int(time.time() * 1000)}))
        while True:
            frame = await asyncio.wait_for(ws.receive(), 10)
            data = json.loads(frame.data)
            for message in data if isinstance(data, list) else [data]:
                if message.get("type") == "ping":
                    await ws.send_str(json.dumps({"type": "pong", "t": message["t"]}))
            if any(m.get("type") == "pong" for m in (data if isinstance(data, list) else [data])):
                break
        rtts.append(loop.time() - sent)
        await asyncio.sleep(max(0.0, sent + PING_EVERY_S - loop.time()))


async def measure(n: int, seconds: float) -> dict[str, float]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as tmp:
        server = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "quiz-server"),
                "--host", "127.0.0.1", "--port", str(port),
                "--store", f"sqlite:///{tmp}/events.sqlite3",
                "--max-connections-per-ip", str(n + 10),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            connector = aiohttp.TCPConnector(limit=0)
            async with aiohttp.ClientSession(connector=connector) as http:
                await wait_until_up(http, base, server)
                sockets = []
                for start in range(0, n, 100):  # in steps, inside the server's accept limits
                    sockets += await asyncio.gather(
                        *(
                            open_socket(http, base.replace("http", "ws") + "/ws")
                            for _ in range(start, min(n, start + 100))
                        )
                    )
                loop = asyncio.get_running_loop()
                before = cpu_seconds(server.pid)
                await asyncio.sleep(seconds)
                quiet = (cpu_seconds(server.pid) - before) / seconds
                rtts: list[float] = []
                until = loop.time() + seconds + PING_EVERY_S
                before, started = cpu_seconds(server.pid), loop.time()
                await asyncio.gather(
                    *(ping_for(ws, PING_EVERY_S * i / n, until, rtts) for i, ws in enumerate(sockets))
                )
                elapsed = loop.time() - started
                pinging = (cpu_seconds(server.pid) - before) / elapsed
                for ws in sockets:
                    await ws.close()
        finally:
            server.terminate()
            try:
                server.wait(10)
            except subprocess.TimeoutExpired:
                server.kill()
    rtts.sort()
    return {
        "n": n,
        "pings_per_s": len(rtts) / elapsed,
        "cpu_quiet": quiet,
        "cpu_pinging": pinging,
        "us_per_ping": 1e6 * (pinging - quiet) * elapsed / max(1, len(rtts)),
        "rtt_p50_ms": 1000 * statistics.median(rtts),
        "rtt_p99_ms": 1000 * rtts[int(0.99 * (len(rtts) - 1))],
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--sizes", default="500,2000", help="sockets per run, comma-separated (at most 5,000)"
    )
    parser.add_argument("--seconds", type=float, default=15.0, help="length of each window (1–120)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    if not all(1 <= s <= MAX_SOCKETS for s in sizes) or not 1 <= args.seconds <= 120:
        raise SystemExit(f"sizes from 1 to {MAX_SOCKETS}, seconds from 1 to 120")
    print(
        f"{'sockets':>8} {'pings/s':>8} {'CPU quiet':>10} {'CPU pinging':>12} {'µs/ping':>8}"
        f" {'RTT p50':>8} {'RTT p99':>8}"
    )
    for n in sizes:
        row = asyncio.run(measure(n, args.seconds))
        print(
            f"{row['n']:>8} {row['pings_per_s']:>8.0f} {row['cpu_quiet']:>10.1%} {row['cpu_pinging']:>12.1%}"
            f" {row['us_per_ping']:>8.0f}"
            f" {row['rtt_p50_ms']:>6.1f}ms {row['rtt_p99_ms']:>6.1f}ms"
        )


if __name__ == "__main__":
    main()
