"""``quiz-admin``: backing up and restoring the event store.

    quiz-admin backup quiz-backup.jsonl.gz                     # the default store
    quiz-admin backup --store postgresql://quiz@db/quiz FILE   # while the server runs
    quiz-admin restore --store sqlite:///new/events.sqlite3 FILE

A backup holds every event (rooms, quizzes, the room directory, the key that
signs session tokens, so players' tokens stay valid): a server started on the
restored store goes on where the backup was taken. It restores into SQLite or
PostgreSQL, whichever it came from. What the file looks like: ``eventstore/backup.py``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from eventsourcing.persistence import PersistenceError

from eventstore import DEFAULT_STORE_URL, EventStore
from eventstore.backup import BackupError, backup, restore
from eventstore.persistence import StoreUrlError, describe_store, redact
from eventstore.replay import ReadingStore
from quiz_actors.tools.rooms import ToolError, check_store_exists

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="quiz-admin", description="Back up and restore the quiz event store.")
    commands = p.add_subparsers(dest="command", required=True)
    for name, text in (
        ("backup", "write every stored event to FILE (gzipped JSON lines); safe while the server runs"),
        ("restore", "load a backup FILE into an empty store, then start the server on it"),
    ):
        command = commands.add_parser(name, help=text, description=text)
        command.add_argument("file", type=Path, metavar="FILE")
        command.add_argument(
            "--store", default=DEFAULT_STORE_URL, help=f"event store URL (default {DEFAULT_STORE_URL})"
        )
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        if args.command == "backup":
            check_store_exists(args.store)
            return _backup(args.store, args.file)
        return _restore(args.store, args.file)
    except (ToolError, StoreUrlError) as e:
        return _fail(e, EXIT_USAGE)
    except BackupError as e:
        return _fail(e, EXIT_FAILED)
    except PersistenceError as e:
        return _fail(f"the event store failed ({type(e).__name__}: {e})", EXIT_FAILED)
    except OSError as e:
        return _fail(f"{e.strerror}: {e.filename}", EXIT_FAILED)


def _backup(url: str, path: Path) -> int:
    store = ReadingStore(url)
    try:
        summary = backup(store, path, source=redact(url))
    finally:
        store.close()
    print(
        f"backed up {summary.events:,} events of {summary.aggregates:,} aggregates "
        f"(up to #{summary.last_notification_id}) from {describe_store(url)} to {path}"
    )
    return EXIT_OK


def _restore(url: str, path: Path) -> int:
    if not path.is_file():
        raise BackupError(f"no backup at {path}")
    store = EventStore(url)  # creates the tables in a new store
    try:
        summary = restore(store, path)
    finally:
        store.close()
    print(
        f"restored {summary.events:,} events of {summary.aggregates:,} aggregates from {path} "
        f"into {describe_store(url)}"
    )
    return EXIT_OK


def _fail(e: Exception | str, status: int) -> int:
    print(f"quiz-admin: {e}", file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())
