"""``quiz-audit``: who did what, when, across rooms.

    quiz-audit events --room 483920 --type AnswerSubmitted --since 2025-11-24T16:00Z --limit 20
    quiz-audit events --user 6f1c… --oldest-first
    quiz-audit game 483920 --csv > game.csv       # one row per player per question, with final ranks
    quiz-audit user 6f1c…                         # every room the user joined, names there, scores
    quiz-audit catch-up                           # bring the read model up to date, nothing else
    quiz-audit follow                             # keep it up to date until interrupted

Every command first catches the audit read model up with the event store
(``--no-catch-up`` skips that). Output is an aligned table, or ``--json`` /
``--csv``.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Callable
from typing import Any
from uuid import UUID

from eventsourcing.persistence import PersistenceError

from eventstore import DEFAULT_STORE_URL
from eventstore.persistence import StoreUrlError
from eventstore.replay import ReadingStore, ReplayError, read_events
from quiz_actors.domain.room import Room
from quiz_actors.tools.audit_model import AuditLog, AuditRow, EventFilter
from quiz_actors.tools.output import compact, fmt_time, json_line, parse_time, table, who, write_csv
from quiz_actors.tools.reports import (
    GAME_COLUMNS,
    HISTORY_COLUMNS,
    RANK_COLUMNS,
    TYPE_COLUMNS,
    LoadRoom,
    by_type,
    game_report,
    user_history,
)
from quiz_actors.tools.rooms import Candidate, ToolError, check_store_exists, choose

EXIT_OK, EXIT_USAGE = 0, 2
# Common options may come before or after the command; given nowhere, they take these values.
DEFAULTS = {"store": DEFAULT_STORE_URL, "json": False, "csv": False, "no_catch_up": False}


def parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--store", default=argparse.SUPPRESS, help=f"event store URL (default {DEFAULT_STORE_URL})"
    )
    fmt = common.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="JSON output")
    fmt.add_argument("--csv", action="store_true", default=argparse.SUPPRESS, help="CSV output")
    common.add_argument(
        "--no-catch-up",
        action="store_true",
        default=argparse.SUPPRESS,
        help="answer from the read model as it is, without reading new events first",
    )

    p = argparse.ArgumentParser(
        prog="quiz-audit", parents=[common], description="Audit-log queries over the event store."
    )
    sub = p.add_subparsers(dest="command", required=True)

    ev = sub.add_parser("events", parents=[common], help="events filtered by room, user, type and time")
    ev.add_argument("--room", help="a room's code (the most recent room with it, unless --nth) or id")
    ev.add_argument("--nth", type=int, help="for a reused code: which room, 1 = the oldest")
    ev.add_argument("--user", help="a user id")
    ev.add_argument(
        "--type",
        action="append",
        default=[],
        metavar="TYPE",
        help="event type, e.g. AnswerSubmitted (repeat or comma-separate for several)",
    )
    ev.add_argument("--since", metavar="ISO", help="from this time on (ISO 8601; UTC unless a zone is given)")
    ev.add_argument("--until", metavar="ISO", help="up to this time, inclusive")
    ev.add_argument("--oldest-first", action="store_true", help="oldest first (default: newest first)")
    ev.add_argument("--limit", type=int, default=50, help="at most this many rows (default 50; 0 for all)")

    game = sub.add_parser(
        "game", parents=[common], help="one game: every player's answer to every question, final ranks"
    )
    game.add_argument("room", nargs="?", help="the room's code or id")
    game.add_argument("--room-id", help="the room's id")
    game.add_argument("--nth", type=int, help="for a reused code: which room, 1 = the oldest")

    user = sub.add_parser(
        "user", parents=[common], help="every room a user joined, their names there, their scores"
    )
    user.add_argument("user_id")

    sub.add_parser("catch-up", parents=[common], help="bring the audit read model up to date")
    follow = sub.add_parser(
        "follow", parents=[common], help="keep the read model up to date until interrupted"
    )
    follow.add_argument("--poll", type=float, default=0.5, help="seconds between reads of a SQLite store")
    return p


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    args = parser().parse_args(argv)
    for key, value in DEFAULTS.items():
        if not hasattr(args, key):
            setattr(args, key, value)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    try:
        check_store_exists(args.store)
        log = AuditLog(args.store)
    except (ToolError, StoreUrlError) as e:
        print(f"quiz-audit: {e}", file=sys.stderr)
        return EXIT_USAGE
    except PersistenceError as e:
        print(f"quiz-audit: cannot open the audit log ({type(e).__name__}: {e})", file=sys.stderr)
        return EXIT_USAGE
    try:
        if args.command == "follow":
            return _follow(log, args.poll)
        added = 0 if args.no_catch_up else log.catch_up()
        if added or args.command == "catch-up":
            print(
                f"audit log: {added} new events projected, up to notification {log.position()}",
                file=sys.stderr,
            )
        if args.command == "catch-up":
            return EXIT_OK
        query, show = COMMANDS[args.command]
        show(query(log, args), args)
        return EXIT_OK
    except ToolError as e:
        print(f"quiz-audit: {e}", file=sys.stderr)
        return EXIT_USAGE
    except PersistenceError as e:
        print(f"quiz-audit: cannot read the event store ({type(e).__name__}: {e})", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    finally:
        log.close()


def _follow(log: AuditLog, poll_s: float) -> int:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    print(f"audit log: following the store from notification {log.position()}; Ctrl-C stops", file=sys.stderr)
    log.follow(stop, poll_s)
    print(f"audit log: stopped at notification {log.position()}", file=sys.stderr)
    return EXIT_OK


def _choose_room(log: AuditLog, ident: str | None, room_id: str | None, nth: int | None) -> str:
    def by_code(code: str) -> list[Candidate]:
        return [Candidate(r.room_id, r.code, r.first_at_ms) for r in log.rooms_with_code(code)]

    choice = choose(ident, room_id, nth, by_code)
    if choice.note:
        print(choice.note, file=sys.stderr)
    return choice.room_id


def _time(text: str | None, option: str) -> int | None:
    if text is None:
        return None
    try:
        return parse_time(text)
    except ValueError:
        raise ToolError(f"{option} {text!r} is not an ISO 8601 time") from None


# --------------------------------------------------------------------------- events


def events_query(log: AuditLog, args: argparse.Namespace) -> list[AuditRow]:
    return log.events(
        EventFilter(
            room_ids=[_choose_room(log, args.room, None, args.nth)] if args.room else None,
            user_id=args.user,
            types=[t.strip() for group in args.type for t in group.split(",") if t.strip()],
            since_ms=_time(args.since, "--since"),
            until_ms=_time(args.until, "--until"),
            newest_first=not args.oldest_first,
            limit=args.limit or None,
        )
    )


# Fields the events table already shows in its own columns.
SHOWN_IN_COLUMNS = ("user_id", "host_id", "name", "host_name", "code", "at", "received_at", "created_at")
EVENT_COLUMNS = [
    "notification_id",
    "time",
    "event_type",
    "room_id",
    "code",
    "user_id",
    "name",
    "aggregate_id",
    "version",
    "at_ms",
    "fields",
]


def events_print(rows: list[AuditRow], args: argparse.Namespace) -> None:
    if args.json:
        for row in rows:
            json_line({**row.as_dict(), "time": fmt_time(row.at_ms)})
    elif args.csv:
        write_csv(EVENT_COLUMNS, ([_value(row, c) for c in EVENT_COLUMNS] for row in rows))
    else:
        print(
            table(
                ["#", "time (UTC)", "event", "code", "user", "name", "details"],
                [
                    [
                        r.notification_id,
                        fmt_time(r.at_ms),
                        r.event_type,
                        r.code,
                        r.user_id,
                        r.name,
                        compact(r.fields, skip=SHOWN_IN_COLUMNS),
                    ]
                    for r in rows
                ],
            )
        )
        print(f"({len(rows)} events)")


def _value(row: AuditRow, column: str) -> object:
    return fmt_time(row.at_ms) if column == "time" else getattr(row, column)


# --------------------------------------------------------------------------- game


def game_query(log: AuditLog, args: argparse.Namespace) -> dict[str, Any]:
    room_id = _choose_room(log, args.room, args.room_id, args.nth)
    rows = log.room_rows(room_id)
    if not any(r.event_type == Room.RoomCreated.__name__ for r in rows):
        raise ToolError(f"no room {room_id} in the audit log")
    try:
        answers, ranking = game_report(read_events(log.store, UUID(room_id)))
    except ReplayError as e:
        raise ToolError(f"room {room_id} does not replay ({e}): quiz-replay --check tells more") from None
    room = _room_loader(log.store)(room_id, None)
    return {
        "room_id": room_id,
        "code": rows[0].code,
        "quiz_id": room.quiz_id,
        "title": room.quiz["title"],
        "quiz_revision": room.quiz_revision,
        "answers": answers,
        "ranks": ranking,
        "by_type": by_type(answers),
    }


def game_print(report: dict[str, Any], args: argparse.Namespace) -> None:
    answers, ranking = report["answers"], report["ranks"]
    if args.json:
        json_line(report)
    elif args.csv:
        write_csv(GAME_COLUMNS, ([a[c] for c in GAME_COLUMNS] for a in answers))
    else:
        print(
            f'Room {report["code"]} ({report["room_id"]}): quiz "{report["title"]}" '
            f"revision {report['quiz_revision']} ({report['quiz_id']})"
        )
        print()
        print(
            table(
                ["Q", "type", "player", "answered", "answer", "verdict", "points", "elapsed s"],
                [
                    [
                        a["question"],
                        a["question_type"],
                        who(a["name"], a["user_id"]),
                        a["answered"],
                        a["answer"] or "",
                        a["verdict"] or "",
                        a["points"],
                        None if a["elapsed_ms"] is None else round(a["elapsed_ms"] / 1000, 3),
                    ]
                    for a in answers
                ],
            )
        )
        print()
        print("By question type")
        print(table(list(TYPE_COLUMNS), [[t[c] for c in TYPE_COLUMNS] for t in report["by_type"]]))
        print()
        print("Final ranks")
        print(table(list(RANK_COLUMNS), [[r[c] for c in RANK_COLUMNS] for r in ranking]))


def _room_loader(store: ReadingStore) -> LoadRoom:
    def load(room_id: str, version: int | None) -> Room:
        room = store.load(UUID(room_id), version)
        if not isinstance(room, Room):
            raise ToolError(f"{room_id} is not a room")
        return room

    return load


# --------------------------------------------------------------------------- user


def user_query(log: AuditLog, args: argparse.Namespace) -> list[dict[str, Any]]:
    rows = log.user_rows(args.user_id)
    history = user_history(args.user_id, rows, _room_loader(log.store))
    return [{"user_id": args.user_id, **entry} for entry in history]


def user_print(history: list[dict[str, Any]], args: argparse.Namespace) -> None:
    if args.json:
        for entry in history:
            json_line(entry)
    elif args.csv:
        write_csv(HISTORY_COLUMNS, ([h[c] for c in HISTORY_COLUMNS] for h in history))
    else:
        print(f"User {args.user_id}: {len(history)} room{'' if len(history) == 1 else 's'}")
        print()
        print(
            table(
                [
                    "code",
                    "title",
                    "revision",
                    "role",
                    "names",
                    "joined (UTC)",
                    "answers",
                    "correct",
                    "score",
                    "status",
                    "room",
                ],
                [
                    [
                        h["code"],
                        h["title"],
                        h["quiz_revision"],
                        h["role"],
                        h["names"],
                        fmt_time(h["joined_at_ms"]),
                        h["answers"],
                        h["correct"],
                        h["score"],
                        h["status"],
                        h["room_id"],
                    ]
                    for h in history
                ],
            )
        )


# Each command: (query the read model, print the answer); each command's answer has its own shape.
Query = Callable[[AuditLog, argparse.Namespace], Any]
Show = Callable[[Any, argparse.Namespace], None]
COMMANDS: dict[str, tuple[Query, Show]] = {
    "events": (events_query, events_print),
    "game": (game_query, game_print),
    "user": (user_query, user_print),
}


if __name__ == "__main__":
    sys.exit(main())
