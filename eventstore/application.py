"""The event store: one eventsourcing Application per process.

It saves aggregates (several in one atomic save when asked), loads them by
replay (from a snapshot when one exists), and reads the application's
notification log for the debugging and audit tools. It knows no domain: the
aggregate classes to snapshot are handed to it.
"""

from __future__ import annotations

from typing import Any, Iterable, Iterator
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application

from eventstore.persistence import DEFAULT_STORE_URL, env_for_store

SNAPSHOT_EVERY = 200  # events; replay from a snapshot stays a few ms


class EventStore(Application):
    name = "quiz"  # table prefix: quiz_events, quiz_snapshots

    def __init__(self, url: str = DEFAULT_STORE_URL, snapshot_types: Iterable[type] = ()):
        self.url = url
        env = env_for_store(url)
        env["IS_SNAPSHOTTING_ENABLED"] = "y"
        # Per instance: the store is told what to snapshot; it does not import the domain.
        self.snapshotting_intervals = {t: SNAPSHOT_EVERY for t in snapshot_types}
        super().__init__(env=env)

    def load(self, aggregate_id: UUID, version: int | None = None) -> Any:
        """Rebuild an aggregate by replay; ``None`` if it was never stored."""
        try:
            return self.repository.get(aggregate_id, version=version)
        except AggregateNotFoundError:
            return None

    def stored_events(self, aggregate_id: UUID) -> list[Any]:
        """Every event of one aggregate, oldest first."""
        return list(self.events.get(aggregate_id))

    def iter_notifications(self, start: int = 1, batch: int = 500) -> Iterator[Any]:
        """Every stored event in the order the store recorded them."""
        while True:
            notes = self.recorder.select_notifications(start=start, limit=batch)
            if not notes:
                return
            yield from notes
            start = notes[-1].id + 1

    def max_notification_id(self) -> int:
        return self.recorder.max_notification_id() or 0

    def ping(self) -> None:
        """Raise if the database does not answer."""
        self.recorder.max_notification_id()
