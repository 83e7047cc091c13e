"""``quiz-replay``: a room's timeline, its state at a point, and a check of its events.

    quiz-replay 483920                      # timeline, then the room as it is now
    quiz-replay 483920 --at 7               # the timeline up to seq 7, then the room at seq 7
    quiz-replay 483920 --at-time 2025-11-24T16:05:00Z
    quiz-replay 483920 --json               # one JSON object per line: the events, then the state
    quiz-replay 483920 --check              # exit status 1 at the first event that breaks a rule,
                                            # or if any answer re-scored does not add up
    quiz-replay --room-id 6c1e…             # by id; a reused code means its most recent room unless --nth

The state shown is rebuilt by ``EventStore.load(room_id, version)``: the same
replay (snapshot, then events) the room actor does after a restart.
"""

from __future__ import annotations

import argparse
import os
import sys
from uuid import UUID

from eventsourcing.persistence import PersistenceError

from eventstore import DEFAULT_STORE_URL, EventStore
from eventstore.persistence import StoreUrlError
from eventstore.replay import ReadingStore, ReplayError, check, read_events, state_at
from quiz_actors.domain.room import Room
from quiz_actors.tools.output import fmt_time, json_line, parse_time
from quiz_actors.tools.rescore import Rescored, rescore
from quiz_actors.tools.room_rules import RoomRules
from quiz_actors.tools.rooms import ToolError, check_store_exists, choose, rooms_with_code_in_directory
from quiz_actors.tools.timeline import Entry, build_timeline, state_json, state_text, timeline_table

EXIT_OK, EXIT_CHECK_FAILED, EXIT_USAGE = 0, 1, 2


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="quiz-replay", description="Replay one room's events for debugging.")
    p.add_argument("room", nargs="?", help="the room's 6-digit code or its id")
    p.add_argument(
        "--store", default=DEFAULT_STORE_URL, help=f"event store URL (default {DEFAULT_STORE_URL})"
    )
    p.add_argument("--room-id", help="the room's id (instead of ROOM)")
    p.add_argument(
        "--nth", type=int, help="for a reused code: which room, 1 = the oldest (default: the most recent)"
    )
    at = p.add_mutually_exclusive_group()
    at.add_argument("--at", type=int, metavar="SEQ", help="stop at seq SEQ and show the room's state there")
    at.add_argument(
        "--at-time", metavar="ISO", help="stop at this time (ISO 8601, UTC unless a zone is given)"
    )
    at.add_argument("--at-version", type=int, metavar="V", help="stop at the room's event (version) V")
    p.add_argument("--json", action="store_true", help="JSON lines: one object per event, then the state")
    p.add_argument(
        "--check",
        action="store_true",
        help="replay event by event; report the first event that fails or breaks a rule, "
        "and re-score every answer, naming each that does not add up (exit 1)",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        check_store_exists(args.store)
        store = ReadingStore(args.store)
    except (ToolError, StoreUrlError) as e:
        return _usage_error(e)
    try:
        return run(args, store)
    except ToolError as e:
        return _usage_error(e)
    except PersistenceError as e:
        return _usage_error(f"cannot read the event store ({type(e).__name__}: {e})")
    except BrokenPipeError:  # the reader (head, less) went away
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    finally:
        store.close()


def _usage_error(e: Exception | str) -> int:
    print(f"quiz-replay: {e}", file=sys.stderr)
    return EXIT_USAGE


def run(args: argparse.Namespace, store: EventStore) -> int:
    choice = choose(args.room, args.room_id, args.nth, lambda code: rooms_with_code_in_directory(store, code))
    if choice.note:
        print(choice.note, file=sys.stderr)
    room_id = UUID(choice.room_id)
    try:
        events = read_events(store, room_id)
    except ReplayError as e:
        return _report_failure(args, e.version, e.event_type, e.reason, checked=e.version - 1)
    if not events:
        raise ToolError(f"no room has id {room_id}")
    if not isinstance(events[0], Room.Event):
        raise ToolError(f"{room_id} is not a room (its first event is {type(events[0]).__name__})")
    if args.check:
        result = check(events, RoomRules())
        rescored = rescore(events)
        p = result.problem
        if p is None:
            status = _report_ok(args, result.events_checked)
        else:
            status = _report_failure(args, p.version, p.event_type, p.message, result.events_checked)
        return max(status, _report_rescored(args, rescored))
    try:
        entries = build_timeline(events)
    except ReplayError as e:
        return _report_failure(args, e.version, e.event_type, e.reason, checked=e.version - 1)
    version = _stop_version(args, entries)
    shown = [e for e in entries if e.version <= version]
    room = state_at(store, room_id, version)
    _print(args, room, shown, len(entries))
    return EXIT_OK


def _stop_version(args: argparse.Namespace, entries: list[Entry]) -> int:
    last = entries[-1]
    if args.at is not None:
        if not 1 <= args.at <= last.seq:
            raise ToolError(f"--at {args.at}: the room went from seq 1 to seq {last.seq}")
        return max(e.version for e in entries if e.seq <= args.at)
    if args.at_time is not None:
        try:
            moment = parse_time(args.at_time)
        except ValueError:
            raise ToolError(f"--at-time {args.at_time!r} is not an ISO 8601 time") from None
        before = [e.version for e in entries if e.time_ms <= moment]
        if not before:
            created = fmt_time(entries[0].time_ms)
            raise ToolError(f"the room was created at {created} UTC, after {args.at_time}")
        return max(before)
    if args.at_version is not None:
        if not 1 <= args.at_version <= last.version:
            raise ToolError(f"--at-version {args.at_version}: the room has versions 1 to {last.version}")
        return int(args.at_version)
    return last.version


def _print(args: argparse.Namespace, room: Room, entries: list[Entry], total: int) -> None:
    if args.json:
        for entry in entries:
            json_line(entry.as_json())
        json_line(state_json(room))
        return
    upto = "" if len(entries) == total else f", showing the first {len(entries)}"
    quiz = f'quiz "{room.quiz["title"]}" revision {room.quiz_revision}'
    print(f"Room {room.code}  id {room.id}  {quiz}  {total} events{upto}")
    print()
    print(timeline_table(entries))
    print()
    print(state_text(room))


def _report_ok(args: argparse.Namespace, count: int) -> int:
    if args.json:
        json_line({"kind": "check", "ok": True, "events_checked": count})
    else:
        print(f"OK: {count} events replayed one by one; every rule holds")
    return EXIT_OK


def _report_failure(args: argparse.Namespace, version: int, kind: str, message: str, checked: int) -> int:
    if args.json:
        json_line(
            {
                "kind": "check",
                "ok": False,
                "events_checked": checked,
                "problem": {"version": version, "type": kind, "message": message},
            }
        )
    else:
        print(f"FAILED at event v{version} {kind}: {message}")
        print(f"({checked} events before it replayed cleanly)")
    return EXIT_CHECK_FAILED


def _report_rescored(args: argparse.Namespace, rescored: list[Rescored]) -> int:
    """Every answer re-scored; each that does not add up is named. Exit 1 if any."""
    wrong = [r for r in rescored if not r.adds_up]
    if args.json:
        json_line(
            {
                "kind": "rescore",
                "answers": len(rescored),
                "not_adding_up": [r.as_json() for r in wrong],
            }
        )
    elif wrong:
        print(f"Re-scored {len(rescored)} answers; {len(wrong)} do not add up:")
        for r in wrong:
            print(f"  {r.line()}")
    else:
        print(f"Re-scored {len(rescored)} answers: each adds up")
    return EXIT_CHECK_FAILED if wrong else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
