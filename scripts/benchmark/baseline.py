"""The baseline: ``scripts/baseline_server.py`` sends one message to N sockets, timed
with the same client code, in two ways taking turns: a ``send_str`` loop and a
frame built once and written to each transport. Our broadcast and reveal times
are divided by the faster of the two (the median of each over its questions)."""

from __future__ import annotations

from typing import Any

from benchmark.coordinator import Coordinator
from benchmark.host import Host
from benchmark.servers import BaselineServer
from benchmark.stats import spread_summary
from benchmark.table import fmt

WAYS = ("send_str", "prebuilt")  # scripts/baseline_server.py's two ways of broadcasting


async def run_baseline(bench: Coordinator, n: int) -> dict[str, Any]:
    loop = bench.cfg.server_settings.get("QUIZ_EVENT_LOOP", "uvloop")
    server = BaselineServer(bench.workdir, f"baseline-n{n}", loop)
    bench.live.append(server)
    await server.start()
    bench.pin(server.pid, server=True)
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
        times: dict[str, list[float]] = {how: [] for how in WAYS}
        sent_at: dict[str, list[float]] = {how: [] for how in WAYS}
        profiled = bench.profiler.phase(f"baseline-n{n}", bench.pids(server))
        await profiled.__aenter__()
        for q in range(2 * bench.cfg.questions):  # each way as many times as the server has questions
            how = WAYS[q % len(WAYS)]
            expected = (await bench.status())["welcomed"]
            sent = await host.send({"type": "next", "how": how})
            sent_at[how].append(sent)
            status = await bench.wait_shown(q, expected, bench.cfg.timeout_scale * 30)
            times[how].append((status["shown"][q][1] - sent) * 1000)
        await profiled.__aexit__(None, None, None)
        async with bench.session.get(f"{server.base_url}/healthz") as r:
            loops = (await r.json())["broadcast_loop_s"]
        ways = {
            how: {
                **spread_summary(times[how]),
                "send_loop_ms": [round(x["loop_s"] * 1000, 2) for x in loops if x["how"] == how],
                # The host's next sent → the server's last write: the server's part alone.
                "server_side": spread_summary(
                    [
                        (x["ended_at"] - sent) * 1000
                        for x, sent in zip((x for x in loops if x["how"] == how), sent_at[how], strict=True)
                    ]
                ),
            }
            for how in WAYS
        }
        fastest = min(WAYS, key=lambda how: ways[how]["median_ms"])
        fastest_server = min(WAYS, key=lambda how: ways[how]["server_side"]["median_ms"])
        result = {
            "sockets": n,
            **ways[fastest],  # median_ms and worst_ms: the baseline the ratios use
            "fastest": fastest,
            "server_side": {**ways[fastest_server]["server_side"], "way": fastest_server},
            **ways,
            "rss_kb": rss,
            "kb_per_socket": round((rss - idle_rss) / n, 1),
        }
        bench.progress.say(
            f"   baseline N={n}: "
            + ", ".join(f"{how} {fmt(ways[how]['median_ms'])} ms" for how in WAYS)
            + f" (median); ratios use {fastest}"
        )
        return result
    finally:
        await bench.reset_workers()  # nothing to protect here: clients may leave first
        await host.close()
        await bench.stop(server)
