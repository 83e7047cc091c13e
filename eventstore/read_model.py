"""A read model of the store: rows projected from every stored event, exactly once.

Generic: which tables, which rows and which queries are the caller's (the
quiz's audit model is ``quiz_actors/tools/audit_model.py``). What this module
owns is getting every event into those tables once and only once, on both
kinds of database:

* exactly once: a batch of rows and the tracking position (the last
  notification id projected) are written in one transaction, and a position
  can only move forward, so an event is never projected twice nor skipped;
* PostgreSQL: eventsourcing's projection machinery, a ``ProjectionRunner``
  subscribed to the store (LISTEN/NOTIFY) feeding a ``RowProjection`` whose
  view is a ``PostgresTrackedView`` (a ``PostgresTrackingRecorder``);
* SQLite, which has no subscriptions: the same projection and a
  ``SQLiteTrackedView`` (a ``SQLiteTrackingRecorder``), fed by reading the
  notification log from the tracked position on.

Every event the store accepted gets its row: ``storable`` replaces NUL, which
PostgreSQL's text and JSONB cannot hold, and a batch that still cannot be
written is written row by row, a row that fails alone being replaced by the
model's ``stand_in`` (or, at worst, skipped), loudly; the position moves on.

A catch-up writes ``batch_size`` rows per transaction. When following the store
on PostgreSQL, events stored after the follower started are written one by one
as they arrive.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, Generic, TypeVar

from eventsourcing.persistence import (
    InfrastructureFactory,
    IntegrityError,
    InternalError,
    ProgrammingError,
    Tracking,
    TrackingRecorder,
)
from eventsourcing.postgres import PostgresTrackingRecorder
from eventsourcing.projection import Projection, ProjectionRunner
from eventsourcing.sqlite import SQLiteTrackingRecorder
from eventsourcing.utils import Environment
from psycopg.sql import SQL, Identifier

from eventstore.application import EventStore
from eventstore.persistence import env_for_store
from eventstore.replay import ReadingStore

log = logging.getLogger(__name__)

UPSTREAM = EventStore.name  # the tracked application: the event store's log
ANALYZE_AFTER = 50_000  # rows added by one catch-up

Row = TypeVar("Row")
Insert = tuple[str, list[tuple[Any, ...]]]  # a statement and the parameters of each of its rows
NUL_STAND_IN = "\ufffd"  # U+FFFD REPLACEMENT CHARACTER


def storable(value: Any) -> Any:
    """``value`` with every NUL replaced by U+FFFD, in strings, keys and nested values.

    PostgreSQL's text and JSONB cannot hold NUL, and a read model must hold
    every event the store accepted (an earlier release let NUL into quiz text).
    Rows are made the same on both stores, so a read model reads the same on either.
    """
    if isinstance(value, str):
        return value.replace("\x00", NUL_STAND_IN) if "\x00" in value else value
    if isinstance(value, dict):
        return {storable(k): storable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [storable(v) for v in value]
    return value


# --------------------------------------------------------------------------- views


class TrackedView(TrackingRecorder, ABC, Generic[Row]):
    """The caller's tables and the tracking position, written together.

    A subclass names its tables (``create_statements``, per kind of database),
    says how rows are inserted (``inserts``) and how many rows follow a
    position (``count_after``); queries build on ``select``.
    """

    placeholder: ClassVar[str] = "?"
    json_placeholder: ClassVar[str] = "?"  # a parameter stored in a JSON column

    def table(self, name: str) -> str:
        return name

    @abstractmethod
    def inserts(self, rows: Sequence[Row]) -> list[Insert]:
        """The statements that store ``rows`` (tables named through ``table``)."""

    @abstractmethod
    def count_after(self, notification_id: int = 0) -> int:
        """How many rows project events after this notification id."""

    @abstractmethod
    def record(self, rows: Sequence[Row], tracking: Tracking) -> None:
        """Insert rows and move the tracking position, in one transaction."""

    @abstractmethod
    def select(self, statement: str, params: Sequence[Any]) -> list[tuple[Any, ...]]: ...

    @abstractmethod
    def execute(self, statement: str) -> None:
        """Run one statement in a transaction of its own."""

    def analyze(self) -> None:
        """Refresh the query planner's statistics (after a large catch-up); a subclass says of what."""


class SQLiteTrackedView(SQLiteTrackingRecorder, TrackedView[Row]):
    create_statements: ClassVar[list[str]] = []

    def construct_create_table_statements(self) -> list[str]:
        return [*super().construct_create_table_statements(), *self.create_statements]

    def record(self, rows: Sequence[Row], tracking: Tracking) -> None:
        inserts = self.inserts(rows)
        with self.datastore.transaction(commit=True) as c:
            for statement, params in inserts:
                c.executemany(statement, params)
            self._insert_tracking(c, tracking)

    def select(self, statement: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(statement, list(params))
            return [tuple(row) for row in c.fetchall()]

    def execute(self, statement: str) -> None:
        with self.datastore.transaction(commit=True) as c:
            c.execute(statement)


class PostgresTrackedView(PostgresTrackingRecorder, TrackedView[Row]):
    """``create_statements`` name the schema as ``{schema}``; it is quoted in."""

    placeholder = "%s"
    json_placeholder = "%s::jsonb"
    create_statements: ClassVar[list[str]] = []

    def __init__(self, datastore: Any, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        schema = Identifier(self.datastore.schema)
        self.sql_create_statements += [SQL(s).format(schema=schema) for s in self.create_statements]

    def table(self, name: str) -> str:
        return f'"{self.datastore.schema}".{name}'

    def record(self, rows: Sequence[Row], tracking: Tracking) -> None:
        inserts = self.inserts(rows)
        with self.datastore.transaction(commit=True) as curs:
            for statement, params in inserts:
                curs.executemany(statement.encode(), params)
            self._insert_tracking(curs, tracking)

    def select(self, statement: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(statement.encode(), list(params))
            return [tuple(row.values()) for row in curs.fetchall()]

    def execute(self, statement: str) -> None:
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(statement.encode())


# --------------------------------------------------------------------------- projection


class RowProjection(Projection[TrackedView[Row]], ABC, Generic[Row]):
    """Turns each event into a row (``row_for``); writes rows with their tracking position.

    The runner constructs projections from their class alone: configure one
    with ``ReadModel.projection_class``.
    """

    batch_size = 1000
    flush_from = 0  # events from this notification id on are written at once

    def __init__(self, view: TrackedView[Row]):
        super().__init__(view)
        self.pending: list[Row] = []
        self.pending_ids: list[int] = []  # each pending row's notification id
        self.last: Tracking | None = None

    @abstractmethod
    def row_for(self, event: Any, notification_id: int) -> Row: ...

    def stand_in(self, row: Row, problem: str) -> Row | None:
        """What to record for a row that cannot be recorded (``problem`` says why),
        or None to skip it; a subclass says it in its own columns."""
        return None

    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        self.pending.append(self.row_for(domain_event, tracking.notification_id))
        self.pending_ids.append(tracking.notification_id)
        self.last = tracking
        if len(self.pending) >= self.batch_size or tracking.notification_id >= self.flush_from:
            self.flush()

    def flush(self) -> None:
        if not self.pending or self.last is None:
            return
        try:
            self.view.record(self.pending, self.last)
        except IntegrityError:
            raise  # another process recorded these first: the caller goes on from its position
        except Exception:
            # One poison event must not stop the read model for good: find it, say so, go on.
            log.exception(
                "read model: %s rows could not be recorded together; one by one now", len(self.pending)
            )
            for row, notification_id in zip(self.pending, self.pending_ids, strict=True):
                self._record_alone(row, Tracking(UPSTREAM, notification_id))
        self.pending, self.pending_ids = [], []

    def _record_alone(self, row: Row, tracking: Tracking) -> None:
        try:
            self.view.record([row], tracking)
            return
        except IntegrityError:
            raise
        except Exception as e:  # noqa: BLE001 - said loudly below, and a stand-in recorded
            problem = f"{type(e).__name__}: {e}"
        stand_in = self.stand_in(row, problem)
        log.error(
            "read model: the event at notification %s cannot be recorded as it is (%s); %s",
            tracking.notification_id,
            problem,
            "recorded without its fields" if stand_in is not None else "skipped",
        )
        if stand_in is not None:
            try:
                self.view.record([stand_in], tracking)
                return
            except IntegrityError:
                raise
            except Exception:  # noqa: BLE001 - the position still moves on below
                log.exception(
                    "read model: notification %s cannot be recorded even so; skipped",
                    tracking.notification_id,
                )
        self.view.record([], tracking)


def _run_until(runner: ProjectionRunner[Any, Any], stop: threading.Event) -> None:
    """Process events as they are stored until ``stop`` is set; re-raise the runner's error."""

    def stop_runner() -> None:
        stop.wait()
        runner.stop()

    threading.Thread(target=stop_runner, daemon=True).start()
    runner.run_forever()


# --------------------------------------------------------------------------- the read model


class ReadModel(Generic[Row]):
    """One read model of one store: catch up from the store, follow it, query the view.

    A subclass names the model (``name``: the prefix of its tracking table on
    PostgreSQL), its two view classes and its projection.
    """

    name: ClassVar[str]
    sqlite_view: ClassVar[type[SQLiteTrackedView[Any]]]
    postgres_view: ClassVar[type[PostgresTrackedView[Any]]]
    projection: ClassVar[type[RowProjection[Any]]]

    def __init__(self, url: str, batch_size: int = 1000):
        self.url = url
        self.batch_size = batch_size
        self.env = env_for_store(url)
        self.is_postgres = "POSTGRES_DBNAME" in self.env
        self.view: TrackedView[Row] = self._construct_view()
        self._store: ReadingStore | None = None

    def _construct_view(self) -> TrackedView[Row]:
        """Open the view, creating its tables the first time.

        Two tools creating them at the same moment can collide (both record the
        tracking table's migration row); the loser finds them made and carries on.
        """
        view_class: type[TrackedView[Row]] = self.postgres_view if self.is_postgres else self.sqlite_view
        for attempt in range(3):
            self._factory = InfrastructureFactory[TrackedView[Row]].construct(
                Environment(self.name, self.env)
            )
            try:
                return self._factory.tracking_recorder(view_class)
            except (IntegrityError, InternalError, ProgrammingError):
                self._factory.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def projection_class(self, flush_from: int) -> type[RowProjection[Row]]:
        return type(
            self.projection.__name__,
            (self.projection,),
            {"name": self.name, "flush_from": flush_from, "batch_size": self.batch_size},
        )

    @property
    def store(self) -> ReadingStore:
        if self._store is None:
            self._store = ReadingStore(self.url)
        return self._store

    def position(self) -> int:
        return self.view.max_tracking_id(UPSTREAM) or 0

    def catch_up(self, timeout: float = 600.0) -> int:
        """Project every event stored so far; returns how many rows were added.

        Another process catching up at the same time makes one of the two fail
        to record a batch the other recorded first; the loser waits a moment and
        goes on from the new position. After a large catch-up the database's
        statistics are refreshed, so its query planner knows each index.
        """
        before = self.position()
        target = self.store.max_notification_id()
        stuck_at = None
        while (position := self.position()) < target:
            try:
                if self.is_postgres:
                    self._run_projection(target, lambda runner: runner.wait(target, timeout=timeout))
                else:
                    self._pull()
            except IntegrityError:
                if position == stuck_at:
                    raise  # nobody moved the position on since the last conflict: not a race
                stuck_at = position
                time.sleep(0.2)
        added = self.view.count_after(before)
        if added >= ANALYZE_AFTER:
            self.view.analyze()
        return added

    def _run_projection(self, flush_from: int, until: Callable[[ProjectionRunner[Any, Any]], None]) -> None:
        runner: ProjectionRunner[Any, Any] = ProjectionRunner(
            application_class=ReadingStore,
            projection_class=self.projection_class(flush_from),
            view_class=self.postgres_view,
            env=self.env,
        )
        try:
            with runner:
                until(runner)
        finally:
            runner.view.datastore.close()

    def _pull(self) -> None:
        """SQLite's catch-up: read the log from the tracked position, in batches."""
        projection = self.projection_class(sys.maxsize)(self.view)
        position = self.position()
        while True:
            notes = self.store.recorder.select_notifications(
                start=position, limit=self.batch_size, inclusive_of_start=False
            )
            if not notes:
                break
            for note in notes:
                projection.process_event(self.store.mapper.to_domain_event(note), Tracking(UPSTREAM, note.id))
            position = notes[-1].id
        projection.flush()

    def follow(self, stop: threading.Event, poll_s: float = 0.5) -> None:
        """Keep the read model up to date until ``stop`` is set."""
        while not stop.is_set():
            try:
                self.catch_up()
                if self.is_postgres:
                    self._run_projection(self.position(), lambda runner: _run_until(runner, stop))
                else:
                    stop.wait(poll_s)
            except IntegrityError:
                stop.wait(poll_s)  # another process projected some events first: go on from where it got to

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
        self._factory.close()
