"""The event store: one eventsourcing Application per process.

It saves aggregates (several in one atomic save when asked), loads them by
replay (from a snapshot when one exists), and reads the application's
notification log for the debugging and audit tools. It knows no domain: the
aggregates it snapshots are handed to it.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application, ProcessingEvent
from eventsourcing.domain import Snapshot
from eventsourcing.persistence import IntegrityError, JSONTranscoder, Mapper

from eventstore.persistence import DEFAULT_STORE_URL, env_for_store
from eventstore.plain_json import PlainJSONMapper

SNAPSHOT_EVERY = 500  # events; replaying what follows a snapshot stays around 15 ms


def is_version_clash(error: BaseException) -> bool:
    """Did a save fail because another writer had stored that version of the aggregate
    first? The unique key on (aggregate, version) refused it: SQLite's "UNIQUE
    constraint failed", PostgreSQL's unique_violation. Any other integrity error (a
    NOT NULL, a check) is a real fault, not a clash."""
    if not isinstance(error, IntegrityError):
        return False
    cause = error.__cause__
    return type(cause).__name__ == "UniqueViolation" or "UNIQUE constraint failed" in str(cause)


class StoreObserver(Protocol):
    """Told how each commit and each load went (the server's metrics)."""

    def saved(self, events: Sequence[Any], seconds: float) -> None: ...

    def save_failed(self, seconds: float, conflict: bool) -> None:
        """``conflict``: another writer had saved first (the version check refused it)."""

    def loaded(self, aggregate: Any, seconds: float) -> None: ...


@runtime_checkable
class ReadsLastVersions(Protocol):
    """A recorder that tells many aggregates' last versions in one statement
    (``VersionsSQLiteRecorder`` in eventstore/persistence.py, ``OneTripPostgresRecorder``)."""

    def last_versions(self, aggregate_ids: Sequence[UUID]) -> dict[UUID, int]: ...


@runtime_checkable
class PingsOnce(Protocol):
    """A recorder that asks its database one cheap question on a connection of its own,
    once, within a short timeout, on the caller's event loop (``OneTripPostgresRecorder``)."""

    async def ping_once(self) -> None: ...

    async def close_ping(self) -> None: ...


class EventStore(Application[UUID]):
    name = "quiz"  # table prefix on PostgreSQL: quiz_events, quiz_snapshots

    def __init__(
        self, url: str | Mapping[str, str] = DEFAULT_STORE_URL, observer: StoreObserver | None = None
    ):
        """Open the store at ``url``, or by its settings (``env_for_store``): that is
        how eventsourcing's projection runner constructs the application it reads."""
        self.observer = observer
        env = env_for_store(url) if isinstance(url, str) else dict(url)
        # Snapshots are read by every load; they are written by snapshot_if_due,
        # not by the library's save (which rebuilds the aggregate to snapshot it).
        env["IS_SNAPSHOTTING_ENABLED"] = "y"
        super().__init__(env=env)

    def construct_mapper(self) -> Mapper[UUID]:
        """The library's mapper and transcoder, with orjson for the aggregates that ask
        (``write_plain_json``; eventstore/plain_json.py): the same records, written faster."""
        transcoder = self.construct_transcoder()
        if not isinstance(transcoder, JSONTranscoder) or self.factory.env.get(self.factory.MAPPER_TOPIC):
            return super().construct_mapper()
        return self.factory.mapper(transcoder=transcoder, mapper_class=PlainJSONMapper)

    def write_plain_json(self, aggregate_class: type) -> None:
        """Write the events and snapshots of ``aggregate_class`` with orjson. For aggregates
        whose state and events never hold a ``uuid.UUID``, a non-finite float or a plain
        ``Enum``: orjson writes those differently (eventstore/plain_json.py). The records
        are the same bytes."""
        if isinstance(self.mapper, PlainJSONMapper):
            self.mapper.register(aggregate_class)

    def snapshot_if_due(self, aggregate: Any, version_before: int) -> bool:
        """Snapshot an aggregate just saved, if that save crossed a multiple of SNAPSHOT_EVERY.

        The snapshot is taken from the aggregate in memory, which is exactly the
        saved state: the library's own snapshotting would replay it again from
        the store first, inside the save, which for a room of thousands costs
        more than the save itself. Callers run this after they have answered
        their clients, off the path of an acknowledgement.
        """
        if aggregate.version // SNAPSHOT_EVERY <= version_before // SNAPSHOT_EVERY:
            return False
        if aggregate.pending_events:
            return False  # it holds decisions not saved yet: a snapshot must hold only what is stored
        assert self.snapshots is not None, "__init__ enables snapshotting"
        self.snapshots.put([Snapshot.take(aggregate)])
        return True

    def save(self, *aggregates: Any, **kwargs: Any) -> Any:
        """Save the aggregates' new events in one atomic commit, timed for the observer."""
        if self.observer is None:
            return self._save(aggregates, kwargs)
        started = time.perf_counter()
        try:
            recordings = self._save(aggregates, kwargs)
        except Exception as e:
            self.observer.save_failed(time.perf_counter() - started, conflict=is_version_clash(e))
            raise
        if recordings:
            self.observer.saved([r.domain_event for r in recordings], time.perf_counter() - started)
        return recordings

    def _save(self, aggregates: Sequence[Any], kwargs: dict[str, Any]) -> Any:
        """The library's ``Application.save`` (with ``ProcessingEvent.collect_events``)
        for aggregates: collect, record, notify.

        The library's own first asks of every object whether it is an event or an
        aggregate, with ``isinstance`` against two runtime-checkable protocols, and
        on Python 3.11 each such check walks the protocol's members anew: ~70 µs a
        save, about a tenth of the CPU of an answer that comes alone (docs/benchmark.md,
        "A lone answer"). Everything here saves aggregates. The library's snapshots
        by interval are off (``snapshot_if_due`` takes them), so there is nothing
        else to do; tests/test_library_assumptions.py holds the library's version
        this was read from.
        """
        processing: ProcessingEvent[UUID] = ProcessingEvent()
        for aggregate in aggregates:
            processing.events.extend(aggregate.collect_events())
            processing.aggregates[aggregate.id] = aggregate
        processing.saved_kwargs.update(kwargs)
        recordings = self._record(processing)
        self._notify(recordings)
        return recordings

    def load(self, aggregate_id: UUID, version: int | None = None) -> Any:
        """Rebuild an aggregate by replay; ``None`` if it was never stored."""
        started = time.perf_counter()
        try:
            aggregate: Any = self.repository.get(aggregate_id, version=version)
        except AggregateNotFoundError:
            return None
        if self.observer is not None:
            self.observer.loaded(aggregate, time.perf_counter() - started)
        return aggregate

    def last_versions(self, aggregate_ids: Sequence[UUID]) -> dict[UUID, int]:
        """The version of each aggregate's last stored event, without loading any; an id
        never stored has none. An aggregate whose version is unchanged has not changed."""
        if isinstance(self.recorder, ReadsLastVersions):
            return self.recorder.last_versions(aggregate_ids)
        versions = {}  # another recorder (a store configured otherwise): one read per aggregate
        for aggregate_id in aggregate_ids:
            last = self.recorder.select_events(aggregate_id, desc=True, limit=1)
            if last:
                versions[aggregate_id] = last[0].originator_version
        return versions

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
        """Raise if the database does not answer (a read, retried as every read is)."""
        self.recorder.max_notification_id()

    async def ping_once(self) -> None:
        """Raise unless the database answers now: one attempt, within about a second,
        on the caller's event loop (one loop only: the server's).

        For health checks (``/readyz``, ``/healthz``): they ask again a moment later
        themselves, so a read retried for seconds (``POSTGRES_RETRY_S``) would only make
        them pile up while the database is away and answer late once it is back."""
        if isinstance(self.recorder, PingsOnce):
            await self.recorder.ping_once()
        else:  # SQLite: a file on this machine; the read without the library's retry, off the loop
            read = inspect.unwrap(type(self.recorder).max_notification_id)
            await asyncio.get_running_loop().run_in_executor(None, read, self.recorder)

    async def close_ping(self) -> None:
        """Close the health checks' connection (on the loop that used it)."""
        if isinstance(self.recorder, PingsOnce):
            await self.recorder.close_ping()
