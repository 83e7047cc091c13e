"""The inbound answer path in one process, without sockets: CPU per answer of a burst.

What ``scripts/bench.py --scenarios lobby,burst`` measures from outside takes a
two-core machine, two load processes and a server, and moves with whatever
else the machine runs. This drives the same path inside one process, from the
frame's text onwards: the bridge's ``_forward`` (parse, check, tell), the
connection actor's turn on the event loop (``LoopDispatcher`` through
``LoopPost``, as in the server), the room actor on its pool (decide, event
objects, group commit to a real store), ``answer_accepted`` back to the
connection actor and its socket outlet. The outlet only counts what it is
handed (the socket write and aiohttp's reading are not in it).

A room of ``--players`` players (and its host) is filled, then for each of
``--bursts`` questions every player but one answers in the same instant (all
frames handed over in one pass of the loop, as the bench's load processes do);
the one left out keeps the question open, so the room's snapshot, the commits
and every ack are the burst's own. Per burst it prints the process's CPU
(``time.process_time``: every thread, so the room's pool too) from the first
frame to the last ack and until the room is idle again, per answer, with the
wall time. CPU time is little moved by other jobs on the machine, so runs of
two commits can be compared back to back; say the load average anyway.

    .venv/bin/python scripts/bench_answer_path.py --players 2000 --bursts 4
    .venv/bin/python scripts/bench_answer_path.py --profile answers.prof   # cProfile of the bursts
    .venv/bin/python scripts/bench_answer_path.py --players 40 --bursts 6 --lone-gap-ms 5   # lone answers

With ``--profile``, the event loop's thread and the rooms' threads are profiled
by cProfile (one profile each, merged into the file: ``python -m pstats``).
cProfile's own cost inflates the CPU, so profile runs are read for call counts
and shares, not for µs.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import dataclasses
import gc
import json
import os
import pstats
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from quiz_actors.__main__ import GC_THRESHOLDS  # noqa: E402
from quiz_actors.actors.pooled import LoopDispatcher, PooledActor  # noqa: E402
from quiz_actors.actors.room.actor import RoomActor  # noqa: E402
from quiz_actors.protocol import Batch  # noqa: E402
from quiz_actors.server import bridge  # noqa: E402
from quiz_actors.server.loop_post import LoopPost  # noqa: E402
from quiz_actors.server.run import event_loop_factory  # noqa: E402
from quiz_actors.settings import EVENT_LOOPS, Settings  # noqa: E402
from quiz_actors.system import QuizSystem  # noqa: E402

CHOICES = ["red", "green", "blue", "yellow"]


def quiz_document(questions: int) -> dict[str, Any]:
    return {
        "title": "Answer path",
        "questions": [
            {"text": f"Question {i}?", "choices": CHOICES, "correct": [i % 4], "time_limit_s": 240}
            for i in range(questions)
        ],
    }


class Outlet:
    """A socket as the connection actor sees it: counts the messages it is handed."""

    def __init__(self, waits: Waits, peer: str = "127.0.0.1") -> None:
        self.peer = peer
        self.waits = waits
        self.last: dict[str, str] = {}  # the latest text of each awaited type

    def send(self, batch: Batch) -> None:
        for text in batch.texts:
            kind = text[9 : text.index('"', 9)] if text.startswith('{"type":"') else "?"
            self.last[kind] = text
            self.waits.seen(kind)

    def close(self, code: int, reason: str) -> None:
        raise AssertionError(f"socket closed: {code} {reason}")

    def authenticated(self, user_id: str) -> None:
        pass

    def set_host(self, is_host: bool) -> None:
        pass


class Waits:
    """Counts of message types received by every outlet; a coroutine waits for a count."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.target: tuple[str, int] | None = None
        self.reached = asyncio.Event()
        self.reached_at = 0.0
        self.cpu_at = 0.0

    def seen(self, kind: str) -> None:
        n = self.counts[kind] = self.counts.get(kind, 0) + 1
        if self.target == (kind, n):
            self.reached_at, self.cpu_at = time.perf_counter(), time.process_time()
            self.reached.set()

    async def until(self, kind: str, count: int, timeout: float = 60.0) -> None:
        if self.counts.get(kind, 0) >= count:
            return
        self.target = (kind, count)
        self.reached.clear()
        await asyncio.wait_for(self.reached.wait(), timeout)
        self.target = None


def settings_for(store: str) -> Settings:
    wanted = {
        "store": store,
        "max_players": 20000,
        "max_connections": 30000,
        "max_connections_per_ip": 30000,
        "joins_per_ip_per_minute": 1_000_000,
        "room_join_burst": 1_000_000,
        "get_ready_s": 0.0,
        "log_level": "WARNING",
    }
    known = {f.name for f in dataclasses.fields(Settings)}  # older commits lack some settings
    return Settings(**{k: v for k, v in wanted.items() if k in known})


class Profiles:
    """One cProfile per thread that runs actor turns (the loop and the rooms' pool)."""

    def __init__(self) -> None:
        self.by_thread: dict[int, cProfile.Profile] = {}
        self.active: dict[int, bool] = {}  # per thread: its profile is on
        self.on = False
        self._lock = threading.Lock()

    def wrap(self, cls: type[PooledActor]) -> None:
        original = cls._run_turn  # noqa: SLF001
        profiles = self

        def _run_turn(actor: PooledActor) -> None:
            if not profiles.on or profiles.active.get(threading.get_ident()):
                original(actor)  # not profiling, or already (a turn run inside the bridge's call)
                return
            profiles.enable()
            try:
                original(actor)
            finally:
                profiles.disable()

        cls._run_turn = _run_turn  # type: ignore[method-assign]  # noqa: SLF001

    def enable(self) -> None:
        self.active[threading.get_ident()] = True
        self.mine().enable()

    def disable(self) -> None:
        self.mine().disable()
        self.active[threading.get_ident()] = False

    def mine(self) -> cProfile.Profile:
        ident = threading.get_ident()
        with self._lock:
            profile = self.by_thread.get(ident)
            if profile is None:
                profile = self.by_thread[ident] = cProfile.Profile()
            return profile

    def dump(self, path: str) -> None:
        profiles = list(self.by_thread.values())
        stats = pstats.Stats(profiles[0])
        for profile in profiles[1:]:
            stats.add(profile)
        stats.dump_stats(path)


async def run(args: argparse.Namespace) -> list[dict[str, float]]:
    loop = asyncio.get_running_loop()
    post = LoopPost()
    post.bind()
    workdir = tempfile.mkdtemp(prefix="answer-path-")
    store = args.store or f"sqlite:///{workdir}/quiz.db"
    system = QuizSystem(settings_for(store))
    await loop.run_in_executor(None, system.start, LoopDispatcher(post))
    assert system.quizzes is not None
    quiz_id = system.quizzes.upload(quiz_document(args.bursts + 1))["quiz_id"]
    waits = Waits()
    now_ms = system.clock.now_ms

    def connect() -> tuple[Outlet, Any]:
        outlet = Outlet(waits)
        return outlet, system.start_connection(outlet)  # type: ignore[arg-type]

    def send(outlet: Outlet, conn: Any, message: dict[str, Any]) -> None:
        bridge._forward(json.dumps(message), outlet, conn, now_ms())  # type: ignore[arg-type]  # noqa: SLF001

    host, host_conn = connect()
    send(host, host_conn, {"type": "hello"})
    await waits.until("welcome", 1)
    send(host, host_conn, {"type": "create_room", "quiz_id": quiz_id, "name": "Host"})
    await waits.until("room_created", 1)
    code = json.loads(host.last["room_created"])["code"]
    players = [connect() for _ in range(args.players)]
    for outlet, conn in players:
        send(outlet, conn, {"type": "hello"})
    await waits.until("welcome", args.players + 1)
    for i, (outlet, conn) in enumerate(players):
        send(outlet, conn, {"type": "join", "code": code, "name": f"Player {i}"})
        if i % 200 == 199:
            await waits.until("state", i + 2)  # the host's state, then one per joiner
    await waits.until("state", args.players + 1)
    await asyncio.sleep(0.5)  # the joins' fan-out windows close
    room = system.hub
    assert room is not None
    send(host, host_conn, {"type": "start"})
    results = []
    accepted = 0
    answering = players[:-1]  # the last one keeps the question open
    gc.collect()
    for q in range(args.bursts):
        await waits.until("question_shown", (q + 1) * (args.players + 1))
        await asyncio.sleep(0.3)
        texts = [json.dumps({"type": "answer", "question": q, "choice": q % 4, "ref": f"a{q}"})] * len(
            answering
        )
        if args.profile:
            profiles.on = True
        cpu0, wall0 = time.process_time(), time.perf_counter()
        received = now_ms()
        if args.lone_gap_ms:
            # One at a time: each answer is sent once the last is acknowledged and every
            # thread has gone quiet, as in a class where phones answer seconds apart.
            for (outlet, conn), text in zip(answering, texts, strict=True):
                bridge._forward(text, outlet, conn, now_ms())  # type: ignore[arg-type]  # noqa: SLF001
                accepted += 1
                await waits.until("answer_accepted", accepted)
                await asyncio.sleep(args.lone_gap_ms / 1000)
        else:
            if args.profile:
                profiles.enable()
            for (outlet, conn), text in zip(answering, texts, strict=True):
                bridge._forward(text, outlet, conn, received)  # type: ignore[arg-type]  # noqa: SLF001
            if args.profile:
                profiles.disable()
            accepted += len(answering)
        await waits.until("answer_accepted", accepted)
        cpu_ack, wall_ack = waits.cpu_at, waits.reached_at
        await until_rooms_idle()
        cpu_idle = time.process_time()
        profiles.on = False
        n = len(answering)
        results.append(
            {
                "to_last_ack_us": (cpu_ack - cpu0) / n * 1e6,
                "to_idle_us": (cpu_idle - cpu0) / n * 1e6,
                "wall_ms": (wall_ack - wall0) * 1000,
            }
        )
        print(
            f"burst {q}: {n} answers, CPU {results[-1]['to_last_ack_us']:.1f} µs each to the last ack, "
            f"{results[-1]['to_idle_us']:.1f} µs until idle; last ack after {results[-1]['wall_ms']:.0f} ms",
            file=sys.stderr,
        )
        send(host, host_conn, {"type": "next"})  # close it
        await waits.until("leaderboard", (q + 1) * (args.players + 1))
        send(host, host_conn, {"type": "next"})  # the next question
    await loop.run_in_executor(None, system.stop)
    return results


async def until_rooms_idle() -> None:
    """Until every room actor's mailbox is empty and stays so for 20 ms (its snapshot done)."""
    quiet_since = None
    while True:
        rooms = [ref for ref in RoomActorRefs()]
        busy = any(not ref.actor_inbox.empty() or ref.actor_inbox._scheduled for ref in rooms)  # noqa: SLF001
        now = time.perf_counter()
        if busy:
            quiet_since = None
        elif quiet_since is None:
            quiet_since = now
        elif now - quiet_since > 0.02:
            return
        await asyncio.sleep(0.002)


def RoomActorRefs() -> list[Any]:  # noqa: N802 - reads like the list it is
    import pykka

    return pykka.ActorRegistry.get_by_class(RoomActor)


profiles = Profiles()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--players", type=int, default=2000)
    parser.add_argument("--bursts", type=int, default=4)
    parser.add_argument(
        "--event-loop",
        choices=EVENT_LOOPS,
        default=Settings().event_loop,
        help="as the server's --event-loop",
    )
    parser.add_argument("--store", default="", help="store URL (default: a fresh SQLite file)")
    parser.add_argument("--profile", default="", help="write a cProfile of the bursts to this file")
    parser.add_argument(
        "--lone-gap-ms",
        type=float,
        default=0.0,
        help="instead of a burst, answers one at a time: each once the last is acknowledged and "
        "this many ms have passed (its CPU then includes the idle process's over the gaps)",
    )
    args = parser.parse_args()
    gc.set_threshold(*GC_THRESHOLDS)  # as the server
    if args.profile:
        profiles.wrap(PooledActor)  # RoomActor's turn calls this one too
    with asyncio.Runner(loop_factory=event_loop_factory(args.event_loop)) as runner:
        results = runner.run(run(args))
    if args.profile:
        profiles.dump(args.profile)
    ack = [r["to_last_ack_us"] for r in results]
    idle = [r["to_idle_us"] for r in results]
    load = os.getloadavg()[0]
    print(
        f"players {args.players}: CPU µs per answer to the last ack min / median {min(ack):.1f} / "
        f"{statistics.median(ack):.1f} (max {max(ack):.1f}), until idle min / median {min(idle):.1f} / "
        f"{statistics.median(idle):.1f} (max {max(idle):.1f}); load average {load:.2f}"
    )


if __name__ == "__main__":
    main()
