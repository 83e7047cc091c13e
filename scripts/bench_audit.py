#!/usr/bin/env python3
"""Benchmark the audit log on a store of about a million events.

    python scripts/bench_audit.py --store sqlite:///quiz-data/bench/events.sqlite3 --events 1000000
    python scripts/bench_audit.py --store 'postgresql://postgres@127.0.0.1:5432/test?schema=bench'

1. Fills the store (if it holds fewer than ``--events``) with whole games played
   through the Room aggregate's own commands and saved with ``EventStore.save``,
   as the server saves them: 30 players, 10 questions, ~340 events a game,
   players drawn from a pool of 20,000 users, codes from 2,000 (so codes are
   reused), a few leaves, drops and locks. Bounded by ``--fill-budget-s``.
2. Catches the audit read model up, timed.
3. Times each query (the same query functions ``quiz-audit`` runs, on an open
   read model; median and worst of ``--repeat`` runs), then whole commands
   (``quiz-audit``'s ``main()`` in this process: opening the store and the
   read model, the catch-up check, the query, printing to a buffer).

Prints one table; nothing is written but the store and its read model.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import io
import random
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # runs from a checkout, installed or not

from eventstore import EventStore  # noqa: E402
from quiz_actors.domain.directory import DIRECTORY_ID, RoomDirectory  # noqa: E402
from quiz_actors.domain.room import Room  # noqa: E402
from quiz_actors.tools import audit_cli  # noqa: E402
from quiz_actors.tools.audit_model import AuditLog  # noqa: E402
from quiz_actors.tools.output import fmt_time, table  # noqa: E402

START_MS = 1_764_000_000_000
ROOM_EVERY_MS = 90_000  # a new game every 90 s: games overlap in time
USERS, CODES, PLAYERS, QUESTIONS, LIMIT_S = 20_000, 2_000, 30, 10, 20
QUIZ = {
    "title": "Bench quiz",
    "questions": [
        {
            "text": f"Question {i}?",
            "choices": ["a", "b", "c", "d"],
            "correct": [i % 4],
            "time_limit_s": LIMIT_S,
            "points": "standard",
        }
        for i in range(QUESTIONS)
    ],
}


def user_ids(rng: random.Random) -> list[str]:
    return [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(USERS)]


def play_room(
    store: EventStore, directory: RoomDirectory, rng: random.Random, users: list[str], t: int
) -> None:
    host, *players = rng.sample(users, PLAYERS + 1)
    code = f"{rng.randrange(CODES):06d}"
    room = Room.open(code=code, quiz_id="bench", quiz=QUIZ, host_id=host, host_name="Host", at=t)
    directory.assign(code=code, room_id=str(room.id), at=t)
    store.save(room, directory)
    for i, p in enumerate(players):
        room.join(p, f"P{i}-{p[:4]}", t + 100 * i, 10**6)
    t += 100 * PLAYERS
    if rng.random() < 0.1:
        room.lock(host, "host", t)
        room.unlock(host, t + 1000)
    if rng.random() < 0.2:
        room.go_offline(players[0], "closed", t)
        room.join(players[0], "", t + 500, 10**6)
    if rng.random() < 0.1:
        room.leave(players[-1], t)
        players = players[:-1]
    store.save(room)
    room.start(host, t)
    for q in range(QUESTIONS):
        if q:
            room.next(host, t)
        times = sorted(rng.randrange(LIMIT_S * 1000) for _ in players)
        for p, after in zip(rng.sample(players, len(players)), times, strict=True):
            if rng.random() < 0.9:
                room.answer(p, q, rng.randrange(4) if rng.random() < 0.5 else q % 4, t + after)
        room.close_question("timeout", t + LIMIT_S * 1000)
        store.save(room)
        t += (LIMIT_S + 5) * 1000
    room.next(host, t)
    room.close("inactive", t + 300_000)
    directory.release(code, str(room.id), t + 300_000)
    store.save(room, directory)


def fill(url: str, target: int, budget_s: float, rng: random.Random) -> tuple[int, float]:
    store = EventStore(url)
    try:
        directory = store.load(DIRECTORY_ID) or RoomDirectory()
        users = user_ids(random.Random(7))  # the same users on every run
        rooms = (directory.version - 1) // 2  # DirectoryOpened, then a code assigned and released per game
        began = time.perf_counter()
        while store.max_notification_id() < target and time.perf_counter() - began < budget_s:
            play_room(store, directory, rng, users, START_MS + rooms * ROOM_EVERY_MS)
            rooms += 1
            if rooms % 100 == 0:
                print(
                    f"  {store.max_notification_id():>9,} events, {time.perf_counter() - began:6.0f} s",
                    file=sys.stderr,
                )
        return store.max_notification_id(), time.perf_counter() - began
    finally:
        store.close()


def pick_subjects(log: AuditLog) -> dict[str, str]:
    """A reused code, a room, a busy user, a time window in the middle of the log."""
    sel = log.view.select  # the benchmark picks its subjects with plain SQL
    t = log.view.table
    code = sel(f"SELECT code FROM {t('audit_rooms')} GROUP BY code ORDER BY COUNT(*) DESC, code LIMIT 1", [])[
        0
    ][0]
    rooms = log.rooms_with_code(code)
    lo, hi = sel(f"SELECT MIN(at_ms), MAX(at_ms) FROM {t('audit_events')} WHERE room_id IS NOT NULL", [])[0]
    middle = (lo + hi) // 2
    user = sel(
        f"SELECT user_id FROM {t('audit_events')} WHERE event_type = {log.view.placeholder} "
        f"AND at_ms < {middle} ORDER BY at_ms DESC LIMIT 1",
        [Room.MemberJoined.__name__],
    )[0][0]
    iso = lambda ms: fmt_time(ms).replace(" ", "T") + "Z"  # noqa: E731
    return {
        "code": code,
        "reuses": str(len(rooms)),
        "room": rooms[0].room_id,
        "user": user,
        "t0": iso(middle),
        "t1": iso(middle + 60_000),
        "t10": iso(middle + 600_000),
    }


# The event types the queries filter on, as quiz-audit's --type names them.
ANSWERS, LOCKS, CLOSES = (e.__name__ for e in (Room.AnswerSubmitted, Room.RoomLocked, Room.QuestionClosed))


def queries(s: dict[str, str]) -> list[tuple[str, list[str]]]:
    return [
        ("latest 50 events", ["events"]),
        (f"room by code (used by {s['reuses']} rooms), newest 50", ["events", "--room", s["code"]]),
        ("one room, all its events", ["events", "--room", s["room"], "--limit", "0", "--oldest-first"]),
        ("one user, all their events", ["events", "--user", s["user"], "--limit", "0"]),
        (
            "one user's answers in 10 minutes",
            [
                "events",
                "--user",
                s["user"],
                "--type",
                ANSWERS,
                "--since",
                s["t0"],
                "--until",
                s["t10"],
                "--limit",
                "0",
            ],
        ),
        (
            "answers in 10 minutes, newest 50",
            ["events", "--type", ANSWERS, "--since", s["t0"], "--until", s["t10"]],
        ),
        ("every event in 1 minute", ["events", "--since", s["t0"], "--until", s["t1"], "--limit", "0"]),
        (f"a rare type ({LOCKS}), newest 50", ["events", "--type", LOCKS]),
        (f"oldest 50 {CLOSES}", ["events", "--type", CLOSES, "--oldest-first"]),
        ("game report (+ ranks by replay)", ["game", s["room"]]),
        ("user history", ["user", s["user"]]),
    ]


def timed(fn, repeat: int) -> tuple[float, float, object]:
    times, result = [], None
    for _ in range(repeat):
        began = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times), max(times), result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--store", default="sqlite:///quiz-data/bench/events.sqlite3")
    p.add_argument("--events", type=int, default=1_000_000, help="fill the store up to this many events")
    p.add_argument("--fill-budget-s", type=float, default=1800, help="stop filling after this long")
    p.add_argument("--repeat", type=int, default=5)
    args = p.parse_args(argv)

    print(f"filling {args.store} up to {args.events:,} events …", file=sys.stderr)
    total, fill_s = fill(args.store, args.events, args.fill_budget_s, random.Random(1))
    log = AuditLog(args.store)
    try:
        began = time.perf_counter()
        added = log.catch_up(timeout=3600)
        catch_up_s = time.perf_counter() - began
        subjects = pick_subjects(log)
        up_to_date = timed(log.catch_up, args.repeat)
        rows = [["(catch-up, already up to date)", round(up_to_date[0], 1), round(up_to_date[1], 1), None, 0]]
        for label, argv_ in queries(subjects):
            cli_args = audit_cli.parse(["--store", args.store, *argv_])
            query = audit_cli.COMMANDS[cli_args.command][0]
            with contextlib.redirect_stderr(io.StringIO()):
                median, worst, result = timed(functools.partial(query, log, cli_args), args.repeat)
                command = ["--store", args.store, *argv_]
                whole, _, _ = timed(functools.partial(_command, command), max(1, args.repeat // 2))
            count = len(result["answers"]) if isinstance(result, dict) else len(result)
            rows.append([label, round(median, 1), round(worst, 1), round(whole, 1), count])
    finally:
        log.close()
    print(f"store: {args.store}")
    rate = f" ({added / catch_up_s:,.0f} rows/s)" if added else ""
    print(
        f"events: {total:,} (filled in {fill_s:.0f} s); "
        f"audit catch-up: {added:,} rows in {catch_up_s:.1f} s{rate}"
    )
    print(f"subjects: {subjects}")
    print()
    print(table(["query", "median ms", "worst ms", "command ms", "rows"], rows))
    return 0


def _command(argv: list[str]) -> None:
    with contextlib.redirect_stdout(io.StringIO()):
        assert audit_cli.main(argv) == 0


if __name__ == "__main__":
    sys.exit(main())
