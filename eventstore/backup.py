"""Backing up an event store to a file, and restoring it into an empty store.

A backup is every stored event in the order the store recorded them, as
gzipped JSON lines: a header, one line per event (its state bytes in base64,
exactly as stored), and a trailer that counts them, so a cut-off file is
refused instead of restored in part. It is the same for SQLite and PostgreSQL:
a backup of one restores into the other.

Taken while the server runs, a backup holds every event up to the newest one
stored when it began, and nothing after: on both stores events become visible
in the order of their ids (one writer on SQLite; the insert function's table
lock on PostgreSQL), so that is a state the store really was in. Snapshots are
not copied: restore takes new ones of the aggregates long enough to need them.
"""

from __future__ import annotations

import base64
import gzip
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from eventsourcing.domain import Snapshot
from eventsourcing.persistence import StoredEvent

from eventstore.application import SNAPSHOT_EVERY, EventStore

FORMAT = "quiz-actors-backup"
VERSION = 1
BATCH = 500


class BackupError(Exception):
    """A backup that cannot be restored, or a store it cannot go into; the message says why."""


@dataclass(frozen=True)
class Summary:
    events: int
    aggregates: int
    last_notification_id: int


def backup(store: EventStore, path: Path, source: str) -> Summary:
    """Write every event stored so far to ``path`` (written aside, then moved into place)."""
    last = store.max_notification_id()
    partial = path.with_name(path.name + ".partial")
    events, aggregates = 0, set()
    with gzip.open(partial, "wt", encoding="utf-8") as out:
        header = {
            "format": FORMAT,
            "version": VERSION,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "source": source,
            "last_notification_id": last,
        }
        out.write(json.dumps(header) + "\n")
        for note in store.iter_notifications(batch=BATCH):
            if note.id > last:
                break  # stored after the backup began
            record = {
                "id": note.id,
                "originator_id": str(note.originator_id),
                "originator_version": note.originator_version,
                "topic": note.topic,
                "state": base64.b64encode(note.state).decode("ascii"),
            }
            out.write(json.dumps(record) + "\n")
            events += 1
            aggregates.add(note.originator_id)
        out.write(json.dumps({"end": True, "events": events}) + "\n")
    os.replace(partial, path)
    return Summary(events, len(aggregates), last)


def restore(store: EventStore, path: Path) -> Summary:
    """Insert every event of the backup at ``path`` into ``store``, which must be empty."""
    header = _check(path)
    held = store.max_notification_id()
    if held:
        raise BackupError(f"The store already holds events (up to #{held}); restore only into an empty store")
    versions: dict[UUID, int] = {}
    batch: list[StoredEvent] = []
    events = 0
    for record in _records(path):
        originator = UUID(record["originator_id"])
        batch.append(
            StoredEvent(
                originator_id=originator,
                originator_version=record["originator_version"],
                topic=record["topic"],
                state=base64.b64decode(record["state"]),
            )
        )
        versions[originator] = record["originator_version"]
        if len(batch) >= BATCH:
            store.recorder.insert_events(batch)
            events += len(batch)
            batch = []
    if batch:
        store.recorder.insert_events(batch)
        events += len(batch)
    snapshots = store.snapshots
    assert snapshots is not None  # EventStore always turns snapshotting on
    for originator, version in versions.items():
        if version >= SNAPSHOT_EVERY:
            snapshots.put([Snapshot.take(store.load(originator))])
    return Summary(events, len(versions), header["last_notification_id"])


def _check(path: Path) -> dict[str, Any]:
    """The header, once the whole file has been read and found complete."""
    try:
        with gzip.open(path, "rt", encoding="utf-8") as lines:
            header = json.loads(next(lines, "null"))
            if not isinstance(header, dict) or header.get("format") != FORMAT:
                raise BackupError(f"{path} is not a quiz-actors backup")
            if header.get("version") != VERSION:
                raise BackupError(
                    f"{path} is a backup of format version {header.get('version')}; this is {VERSION}"
                )
            count, last = 0, None
            for line in lines:
                last = json.loads(line)
                count += 1
    except (OSError, EOFError, ValueError, UnicodeDecodeError) as e:
        raise BackupError(f"{path} cannot be read as a backup: {e}") from None
    if not isinstance(last, dict) or not last.get("end") or last.get("events") != count - 1:
        raise BackupError(
            f"{path} is incomplete (cut off while it was written or copied); nothing was restored"
        )
    return header


def _records(path: Path) -> Iterator[dict[str, Any]]:
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        next(lines)  # the header
        for line in lines:
            record = json.loads(line)
            if record.get("end"):
                return
            yield record
