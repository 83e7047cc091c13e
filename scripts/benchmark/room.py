"""One server run at one N: a fresh server and store, one room of N players.

lobby      N players join at a steady rate: join→state latency, time until every
           member view holds N+1, server CPU, traffic to the clients
broadcast  host start/next → the last of N players has question_shown
answers    all N answer within ~1 s (--answer-window): answer→answer_accepted, answers per
           commit, server CPU per accepted answer (in a small room each comes alone)
burst      all N but one answer in the same instant: answer→answer_accepted, the first
           acknowledgement, server CPU per accepted answer, answers per commit
reveal     host closes the question → the last player has question_closed + leaderboard
memory     server RSS per player and threads after the fill
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from typing import Any

import bench_clients as bc

from benchmark.coordinator import Coordinator
from benchmark.errors import PhaseTimeout
from benchmark.host import Host
from benchmark.servers import QuizServer
from benchmark.stats import (
    client_gc,
    gc_delta,
    latency_summary,
    machine_busy_ticks,
    per_second,
    spread_summary,
)
from benchmark.table import fmt


async def run_room(bench: Coordinator, store: str, n: int) -> dict[str, Any]:
    """A fresh server and store; one room of N players: lobby, questions, answers, reveals."""
    url = bench.stores.fresh(store, f"n{n}")
    server = await bench.start_server(url, f"{store}-n{n}")
    result: dict[str, Any] = {"players": n, "server_start_s": round(server.started_s, 2)}
    host: Host | None = None
    try:
        idle_rss, idle_threads = server.rss_kb(), server.threads()
        quiz_id = await bench.upload_quiz(server, bench.cfg.questions)
        host, code, _ = await bench.host_room(server, quiz_id)
        try:
            async with bench.profiler.phase(f"{store}-n{n}-lobby", bench.pids(server)):
                result["lobby"] = await lobby_fill(bench, server, code, n)
            if "incomplete" in result["lobby"]:
                # Some players never got in (on a busy machine, their load process could
                # not connect in time): the others play on, and the run says so.
                bench.progress.say(f"   TIMEOUT: {result['lobby']['incomplete']}; going on with those in")
                result["timeout"] = result["lobby"]["incomplete"]
            result["memory"] = await bench.memory(server, n, idle_rss, idle_threads)
            if bench.cfg.scenarios & {"broadcast", "answers", "burst", "reveal"}:
                async with bench.profiler.phase(f"{store}-n{n}-questions", bench.pids(server)):
                    result.update(await play(bench, server, host, n))
        except PhaseTimeout as e:
            bench.progress.say(f"   TIMEOUT: {e}")
            result["timeout"] = str(e)
        result["client_problems"] = await bench.problems()
        result["host_errors"] = host.errors[:10]
    finally:
        # The server goes first: closing 5,000 sockets one by one under a live room
        # would broadcast 5,000 member_offline to everyone still there.
        result["server_exit"] = await bench.stop(server)
        await bench.reset_workers()
        if host is not None:
            await host.close()
        result["server_log"] = server.log_problems()
        with contextlib.suppress(Exception):
            commits = bench.stores.answer_commits(url)
            if commits is not None:
                result.setdefault("answers", {})["postgres_xmin_check"] = {
                    "answer_events": commits[0],
                    "transactions": commits[1],
                }
        if store == "postgres":
            bench.stores.drop(url)
    _say_room(bench, store, n, result)
    return result


async def lobby_fill(bench: Coordinator, server: QuizServer, code: str, n: int) -> dict[str, Any]:
    rate = bench.cfg.join_rate
    await bench.call_all("reset_traffic")
    probe_before = await server.probe()
    (user0, system0), busy0, own0 = server.cpu_user_system_s(), machine_busy_ticks(), bc.process_cpu_s()
    start_at = await bench.open_players(server.ws_url, n, rate, [code], {code: n + 1})

    def done(s: dict[str, Any]) -> bool:
        lost: int = s["connect_failed"] + s["join_failed"]
        tried: int = s["opened"] + s["connect_failed"]
        converged: int = s["converged"]
        return tried >= n and converged >= n - lost

    def show(s: dict[str, Any]) -> str:
        return (
            f"joined {s['joined']}/{n}, views complete {s['converged']}/{n}, "
            f"failed {s['connect_failed'] + s['join_failed']}"
        )

    timeout = bench.cfg.timeout_scale * (n / rate * 2 + 60)
    incomplete: str | None = None
    try:
        status = await bench.wait(f"lobby fill N={n}", done, show, timeout)
    except PhaseTimeout as e:
        # Reported, not thrown away: what the players who got in saw is still measured.
        incomplete, status = str(e), await bench.status()
    (user1, system1), busy1, own1 = server.cpu_user_system_s(), machine_busy_ticks(), bc.process_cpu_s()
    cpu0, cpu1 = user0 + system0, user1 + system1
    busy_s = (busy1[0] - busy0[0]) / os.sysconf("SC_CLK_TCK")
    probe_after = await server.probe()
    reports = await bench.call_all("fill_report")
    latencies = [x for r in reports for x in r["join_latencies"]]
    sent_at = [x for r in reports for x in r["join_sent_at"]]
    failed: dict[str, int] = {}
    for r in reports:
        for key in ("join_failed", "connect_failed"):
            for k, v in r[key].items():
                failed[k] = failed.get(k, 0) + v
    return {
        "players": n,
        "rate_per_s": rate,
        "joined": status["joined"],
        "failed": failed,
        "join_to_state": latency_summary(latencies),
        "join_to_state_by_second": per_second(sent_at, latencies, start_at),
        "all_views_complete_s": None if incomplete else round(status["converged_last"] - start_at, 3),
        "complete_after_last_join_ms": None
        if incomplete
        else round((status["converged_last"] - status["last_state_at"]) * 1000, 1),
        "server_cpu_s": round(cpu1 - cpu0, 2),
        "server_cpu_system_s": round(system1 - system0, 2),
        "client_cpu_s": round(status["cpu_s"], 2),
        "machine_busy_pct": round(100 * (busy1[0] - busy0[0]) / max(1, busy1[1] - busy0[1]), 1),
        # Whatever else used the CPU meanwhile: PostgreSQL, the kernel's share, other jobs on the machine.
        "other_cpu_s": round(busy_s - (cpu1 - cpu0) - status["cpu_s"] - (own1 - own0), 2),
        "frames": status["frames"],
        "messages": status["messages"],
        "mb": round(status["chars"] / 1e6, 2),
        "gc": gc_delta(probe_before, probe_after),
        "load_client_gc": client_gc(reports),
        **({"incomplete": incomplete} if incomplete else {}),
    }


async def play(bench: Coordinator, server: QuizServer, host: Host, n: int) -> dict[str, Any]:
    """Questions: each is shown (broadcast); the last ``answered`` ones are answered by
    every player (answer burst; the question then closes by itself), the ``bursts``
    before them by every player but one in the same instant (then closed by the host),
    the others are closed by the host (reveal)."""
    cfg = bench.cfg
    questions, answered = cfg.questions, set(range(cfg.questions - cfg.answered, cfg.questions))
    at_once = set(range(cfg.questions - cfg.answered - cfg.bursts, cfg.questions - cfg.answered))
    same_instant: list[dict[str, Any]] = []
    shown_ms: list[float] = []
    reveal_ms: list[float] = []
    # The same, to the server's last write (bench_probe.py): without the clients' reading.
    shown_server_ms: list[float] = []
    reveal_server_ms: list[float] = []
    after_answers_ms: list[float] = []
    latencies: list[float] = []
    bursts: list[dict[str, Any]] = []
    wait_s = cfg.timeout_scale * (30 + n / 100)
    probe_before = await server.probe()
    cpu0 = server.cpu_s()
    for q in range(questions):
        expected = (await bench.status())["joined_alive"]
        sent = await host.send({"type": "start" if q == 0 else "next"})
        status = await bench.wait_shown(q, expected, wait_s)
        shown_ms.append((status["shown"][q][1] - sent) * 1000)
        shown_server_ms.append(((await server.probe())["last_enqueue_at"] - sent) * 1000)
        if q in answered:
            burst = await _answer_burst(bench, server, q, expected, wait_s)
            latencies.extend(burst.pop("latencies"))
            bursts.append(burst)
            if burst["accepted"] < expected:
                await host.send({"type": "next"})  # answers were refused: it will not close by itself
            status = await bench.wait_revealed(q, expected, wait_s)
            if burst["accepted"] >= expected:
                after_answers_ms.append((status["revealed"][q][1] - burst["last_sent"]) * 1000)
        elif q in at_once:
            async with bench.profiler.phase(f"{server.label}-burst-q{q}", {"server": server.pid}):
                same_instant.append(await _same_instant_burst(bench, server, q, wait_s))
            await host.send({"type": "next"})  # one player has not answered: the host closes it
            await bench.wait_revealed(q, expected, wait_s)
        else:
            closed = await host.send({"type": "next"})
            status = await bench.wait_revealed(q, expected, wait_s)
            reveal_ms.append((status["revealed"][q][1] - closed) * 1000)
            reveal_server_ms.append(((await server.probe())["last_enqueue_at"] - closed) * 1000)
    cpu1 = server.cpu_s()
    probe_after = await server.probe()
    out: dict[str, Any] = {
        "questions_cpu_s": round(cpu1 - cpu0, 2),
        "questions_gc": gc_delta(probe_before, probe_after),
    }
    out["broadcast"] = {**spread_summary(shown_ms), "server_side": spread_summary(shown_server_ms)}
    out["reveal"] = {
        **spread_summary(reveal_ms),
        "server_side": spread_summary(reveal_server_ms),
        "after_all_answered": spread_summary(after_answers_ms),
    }
    if answered:
        saves = probe_after["answer_saves"] - probe_before["answer_saves"]
        events = probe_after["answer_events"] - probe_before["answer_events"]
        durations = [b["last_accepted"] - b["first_sent"] for b in bursts if b["last_accepted"]]
        answer_cpu_s = sum(b["server_cpu_s"] for b in bursts)
        out["answers"] = {
            "answer_to_accepted": latency_summary(latencies),
            "answers_sent": sum(b["sent"] for b in bursts),
            "accepted": len(latencies),
            "answer_commits": saves,
            "answer_events": events,
            "answers_per_commit": round(events / saves, 1) if saves else None,
            "max_answers_per_commit": probe_after["max_answers_per_save"],
            "answers_per_s": round(len(latencies) / sum(durations), 0) if durations else None,
            # Spread over --answer-window: in a small room each answer comes alone, and pays
            # every hand-over between the threads itself (docs/benchmark.md, "A lone answer").
            "server_cpu_us_per_answer": round(answer_cpu_s / len(latencies) * 1e6, 1) if latencies else None,
            "bursts": bursts,
            "store_save_s_during_questions": round(probe_after["save_s"] - probe_before["save_s"], 3),
        }
    if same_instant:
        out["burst"] = _burst_summary(same_instant)
    return out


async def _same_instant_burst(
    bench: Coordinator, server: QuizServer, q: int, wait_s: float
) -> dict[str, Any]:
    """Every player but one answers question ``q`` at the same moment (each load process
    sends its answers back to back, texts built beforehand). The one left out keeps the
    question open, so the server's CPU from the first answer to the last acknowledgement
    is the answers' alone, without the reveal that would follow."""
    before = await bench.status()
    errors_before = before["answer_errors"]
    probe_before = await server.probe()
    cpu0 = server.cpu_s()
    start_at = time.monotonic() + 0.05
    calls = (
        worker.call(
            "answer_at_once",
            question=q,
            start_at=start_at,
            leave_out=1 if i == 0 else 0,
            prebuilt=bench.cfg.burst_frames == "prebuilt",
        )
        for i, worker in enumerate(bench.workers)
    )
    scheduled: int = sum(await asyncio.gather(*calls))

    def done(s: dict[str, Any]) -> bool:
        resolved: int = s.get("accepted", {}).get(q, 0) + s["answer_errors"] - errors_before
        return resolved >= scheduled

    def show(s: dict[str, Any]) -> str:
        return f"{s.get('accepted', {}).get(q, 0)}/{scheduled} accepted (same instant)"

    await bench.wait(f"same-instant answers to question {q}", done, show, wait_s)
    cpu1 = server.cpu_s()
    probe_after = await server.probe()
    reports = await bench.call_all("answer_report", question=q)
    latencies = [x for r in reports for x in r["latencies"]]
    firsts = [r["first_sent"] for r in reports if r["first_sent"]]
    lasts = [r["last_sent"] for r in reports if r["last_sent"]]
    first_acks = [r["first_accepted"] for r in reports if r["first_accepted"]]
    saves = probe_after["answer_saves"] - probe_before["answer_saves"]
    events = probe_after["answer_events"] - probe_before["answer_events"]
    t0 = min(firsts) if firsts else start_at
    # Each commit of this burst: when it began and ended, ms after the first answer was sent.
    timeline = (
        [
            [round((began - t0) * 1000, 1), round((ended - t0) * 1000, 1), answers]
            for began, ended, answers in probe_after.get("answer_commits", [])[-saves:]
        ]
        if saves
        else []
    )
    return {
        "question": q,
        "commits_ms": timeline,
        "sent": sum(r["sent"] for r in reports),
        "accepted": len(latencies),
        "latencies": latencies,
        "sending_took_ms": round((max(lasts) - min(firsts)) * 1000, 2) if firsts else None,
        # Each load process's own sending, first answer to last (the rest of sending_took_ms
        # is the processes starting a little apart).
        "process_sending_ms": [
            round((r["last_sent"] - r["first_sent"]) * 1000, 2) for r in reports if r["first_sent"]
        ],
        "first_ack_ms": round((min(first_acks) - min(firsts)) * 1000, 2) if first_acks and firsts else None,
        "server_cpu_s": round(cpu1 - cpu0, 3),
        "answer_commits": saves,
        "answers_per_commit": round(events / saves, 1) if saves else None,
    }


def _burst_summary(bursts: list[dict[str, Any]]) -> dict[str, Any]:
    """Every same-instant burst's acknowledgements together; the rest per burst and as a median."""
    latencies = [x for b in bursts for x in b.pop("latencies")]
    accepted = sum(b["accepted"] for b in bursts)
    cpu_s = sum(b["server_cpu_s"] for b in bursts)
    first_acks = [b["first_ack_ms"] for b in bursts if b["first_ack_ms"] is not None]
    # The server's side of the first acknowledgement: its first commit of the burst ended
    # (the acknowledgements it holds go to the event loop then). A load process reads no
    # acknowledgement before it has sent its last answer, so first_ack_ms cannot be less
    # than that process's sending (process_sending_ms, 30-70 ms for 1,000 on this machine).
    first_commits = [b["commits_ms"][0][1] for b in bursts if b["commits_ms"]]
    sending = [max(b["process_sending_ms"]) for b in bursts if b["process_sending_ms"]]
    commits = sum(b["answer_commits"] for b in bursts)
    return {
        "answer_to_accepted": latency_summary(latencies),
        "accepted": accepted,
        "first_ack_ms": spread_summary(first_acks),
        "first_commit_ended_ms": spread_summary(first_commits),
        "load_sending_ms": spread_summary(sending),
        # /proc counts CPU in 10 ms ticks: over a few hundred ms of CPU, a few per cent.
        "server_cpu_us_per_answer": round(cpu_s / accepted * 1e6, 1) if accepted else None,
        "answer_commits": commits,
        "answers_per_commit": round(accepted / commits, 1) if commits else None,
        "bursts": bursts,
    }


async def _answer_burst(
    bench: Coordinator, server: QuizServer, q: int, expected: int, wait_s: float
) -> dict[str, Any]:
    before = await bench.status()
    cpu0 = server.cpu_s()
    start_at = time.monotonic() + 0.05
    window = bench.cfg.answer_window
    scheduled: int = sum(await bench.call_all("answer", question=q, start_at=start_at, window_s=window))
    errors_before = before["answer_errors"]

    def done(s: dict[str, Any]) -> bool:
        resolved: int = s.get("accepted", {}).get(q, 0) + s["answer_errors"] - errors_before
        sent: int = s.get("answers_sent", {}).get(q, 0)
        return sent >= scheduled and resolved >= scheduled

    def show(s: dict[str, Any]) -> str:
        return f"{s.get('accepted', {}).get(q, 0)}/{scheduled} accepted"

    await bench.wait(f"answers to question {q}", done, show, wait_s + window)
    # From the answers' scheduling to the last acknowledgement: the answers, plus whatever
    # the open question costs meanwhile (its timers, the host's progress).
    cpu1 = server.cpu_s()
    reports = await bench.call_all("answer_report", question=q)
    firsts = [r["first_sent"] for r in reports if r["first_sent"]]
    lasts = [r["last_sent"] for r in reports if r["last_sent"]]
    accepted_lasts = [r["last_accepted"] for r in reports if r["last_accepted"]]
    latencies = [x for r in reports for x in r["latencies"]]
    return {
        "question": q,
        "players": expected,
        "sent": sum(r["sent"] for r in reports),
        "accepted": len(latencies),
        "latencies": latencies,
        "first_sent": min(firsts) if firsts else None,
        "last_sent": max(lasts) if lasts else None,
        "last_accepted": max(accepted_lasts) if accepted_lasts else None,
        "server_cpu_s": round(cpu1 - cpu0, 3),
    }


def _say_room(bench: Coordinator, store: str, n: int, r: dict[str, Any]) -> None:
    lobby, answers = r.get("lobby", {}), r.get("answers", {})
    parts = []
    if lobby:
        j = lobby["join_to_state"]
        parts.append(
            f"join p99 {fmt(j['p99_ms'])} ms, views {fmt(lobby['all_views_complete_s'])} s, "
            f"CPU {fmt(lobby['server_cpu_s'])} s"
        )
    if "broadcast" in r:
        parts.append(f"broadcast {fmt(r['broadcast']['median_ms'])} ms")
    if answers.get("answer_to_accepted"):
        parts.append(
            f"answer p99 {fmt(answers['answer_to_accepted']['p99_ms'])} ms, "
            f"{fmt(answers['answers_per_commit'])}/commit"
        )
    if "reveal" in r:
        parts.append(f"reveal {fmt(r['reveal']['median_ms'])} ms")
    if "timeout" in r:
        parts.append("TIMEOUT")
    bench.progress.say(f"   {store} N={n}: " + "; ".join(parts))
