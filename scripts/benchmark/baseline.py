"""The baseline: ``scripts/baseline_server.py`` sends one pre-serialized frame to N
sockets, timed with the same client code; our broadcast and reveal times are
divided by its time."""

from __future__ import annotations

from typing import Any

from benchmark.coordinator import Coordinator
from benchmark.host import Host
from benchmark.servers import BaselineServer
from benchmark.stats import spread_summary
from benchmark.table import fmt


async def run_baseline(bench: Coordinator, n: int) -> dict[str, Any]:
    server = BaselineServer(bench.workdir, f"baseline-n{n}")
    bench.live.append(server)
    await server.start()
    host = Host(bench.session, "Baseline host")
    try:
        idle_rss = server.rss_kb()
        await host.connect(server.ws_url)
        await bench.open_players(server.ws_url, n, rate=max(bench.cfg.join_rate, 1000))
        await bench.wait(
            f"baseline: {n} sockets",
            lambda s: s["welcomed"] + s["connect_failed"] >= n,
            lambda s: f"{s['welcomed']}/{n} connected",
            bench.cfg.timeout_scale * (n / 1000 * 2 + 30),
        )
        rss = server.rss_kb()
        times: list[float] = []
        profiled = bench.profiler.phase(f"baseline-n{n}", bench.pids(server))
        await profiled.__aenter__()
        for q in range(bench.cfg.questions):
            expected = (await bench.status())["welcomed"]
            sent = await host.send({"type": "next"})
            status = await bench.wait_shown(q, expected, bench.cfg.timeout_scale * 30)
            times.append((status["shown"][q][1] - sent) * 1000)
        await profiled.__aexit__(None, None, None)
        async with bench.session.get(f"{server.base_url}/healthz") as r:
            loops = (await r.json())["broadcast_loop_s"]
        result = {
            "sockets": n,
            **spread_summary(times),
            "send_loop_ms": [round(x * 1000, 2) for x in loops],
            "rss_kb": rss,
            "kb_per_socket": round((rss - idle_rss) / n, 1),
        }
        bench.progress.say(
            f"   baseline N={n}: broadcast {fmt(result['median_ms'])} ms (worst {fmt(result['worst_ms'])} ms)"
        )
        return result
    finally:
        await bench.reset_workers()  # nothing to protect here: clients may leave first
        await host.close()
        await bench.stop(server)
