"""The audit read model: one row per stored event, indexed for "who did what, when".

Each row has the event's notification id (its place in the store's log), the
aggregate and version it came from, its type and time, the room, room code,
user and user name it concerns, and the event's fields as JSON. Which room,
user or time an event concerns is domain knowledge: the caller passes an
``extract`` function (``quiz_actors/tools/room_events.py`` has the quiz's), so
this module stays generic. Two small side tables remember each room's code and
each member's name, so that rows of events that do not repeat them still carry
them.

Exactly once: rows and the tracking position (the last notification id
projected) are written in one transaction, and a position can only move
forward, so an event is never projected twice nor skipped.

* PostgreSQL: eventsourcing's projection machinery, a ``ProjectionRunner``
  subscribed to the store (LISTEN/NOTIFY) feeding ``AuditProjection`` whose
  view is ``PostgresAuditView`` (a ``PostgresTrackingRecorder``).
* SQLite, which has no subscriptions: the same projection and a
  ``SQLiteAuditView`` (a ``SQLiteTrackingRecorder``), fed by reading the
  notification log from the tracked position on.

A catch-up writes ``batch_size`` rows per transaction. When following the store
on PostgreSQL, events stored after the follower started are written one by one
as they arrive.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import sys
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from eventsourcing.application import Application
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
from eventstore.replay import ReadingStore, event_fields, event_type

log = logging.getLogger(__name__)

UPSTREAM = EventStore.name  # the tracked application: the event store's log
VIEW_NAME = "audit"  # table prefix on PostgreSQL (audit_tracking)
ANALYZE_AFTER = 50_000  # rows added by one catch-up
COLUMNS = (
    "notification_id",
    "aggregate_id",
    "version",
    "event_type",
    "at_ms",
    "room_id",
    "code",
    "user_id",
    "name",
    "fields",
)


@dataclass(frozen=True)
class Columns:
    """What the domain says about one event; ``None`` means "not known from this event"."""

    room_id: str | None = None
    code: str | None = None
    user_id: str | None = None
    name: str | None = None
    at_ms: int | None = None
    fields: dict | None = None  # replaces the event's fields (to leave a secret out, say)


Extractor = Callable[[Any], Columns]


def default_columns(event: Any) -> Columns:
    return Columns()


@dataclass(frozen=True)
class AuditRow:
    notification_id: int
    aggregate_id: str
    version: int
    event_type: str
    at_ms: int
    room_id: str | None
    code: str | None
    user_id: str | None
    name: str | None
    fields: dict

    def as_dict(self) -> dict:
        return {c: getattr(self, c) for c in COLUMNS}


@dataclass(frozen=True)
class RoomRef:
    room_id: str
    code: str
    first_at_ms: int


@dataclass
class EventFilter:
    room_ids: list[str] | None = None
    user_id: str | None = None
    types: list[str] = field(default_factory=list)
    since_ms: int | None = None  # inclusive
    until_ms: int | None = None  # inclusive
    newest_first: bool = True
    limit: int | None = 50


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


NUL_STAND_IN = "\ufffd"  # U+FFFD REPLACEMENT CHARACTER
LATEST_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z: what a time column and a date can both hold


def _storable(value: Any) -> Any:
    """``value`` with every NUL replaced by U+FFFD, in strings, keys and nested values.

    PostgreSQL's text and JSONB cannot hold NUL, and the read model must hold
    every event the store accepted (an earlier release let NUL into quiz text).
    Both stores do the same, so the read model reads the same on either.
    """
    if isinstance(value, str):
        return value.replace("\x00", NUL_STAND_IN) if "\x00" in value else value
    if isinstance(value, dict):
        return {_storable(k): _storable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_storable(v) for v in value]
    return value


def _json(value: dict) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)


# --------------------------------------------------------------------------- views


class AuditView(TrackingRecorder, ABC):
    """The materialised view: audit rows, room codes, member names, and the tracking position."""

    placeholder = "?"

    def table(self, name: str) -> str:
        return name

    @abstractmethod
    def record(self, rows: Sequence[AuditRow], tracking: Tracking) -> None:
        """Insert rows and move the tracking position, in one transaction."""

    @abstractmethod
    def _select(self, statement: str, params: Sequence[Any]) -> list[tuple]: ...

    @abstractmethod
    def analyze(self) -> None:
        """Refresh the query planner's statistics of the audit table."""

    def index_hint(self, flt: EventFilter) -> str:
        return ""

    def _rows(
        self, where: str, params: list, order: str, limit: int | None, hint: str = ""
    ) -> list[AuditRow]:
        source = f"{self.table('audit_events')} {hint}".strip()
        statement = f"SELECT {', '.join(COLUMNS)} FROM {source} {where} ORDER BY {order}"
        if limit is not None:
            statement += f" LIMIT {int(limit)}"
        return [self._row(values) for values in self._select(statement, params)]

    @staticmethod
    def _row(values: Sequence[Any]) -> AuditRow:
        data = dict(zip(COLUMNS, values, strict=True))
        if isinstance(data["fields"], str):
            data["fields"] = json.loads(data["fields"])
        return AuditRow(**data)

    def events(self, flt: EventFilter) -> list[AuditRow]:
        ph, clauses, params = self.placeholder, [], []
        if flt.room_ids is not None:
            clauses.append(f"room_id IN ({', '.join([ph] * len(flt.room_ids))})" if flt.room_ids else "1=0")
            params += flt.room_ids
        if flt.user_id is not None:
            clauses.append(f"user_id = {ph}")
            params.append(flt.user_id)
        if flt.types:
            clauses.append(f"event_type IN ({', '.join([ph] * len(flt.types))})")
            params += flt.types
        if flt.since_ms is not None:
            clauses.append(f"at_ms >= {ph}")
            params.append(flt.since_ms)
        if flt.until_ms is not None:
            clauses.append(f"at_ms <= {ph}")
            params.append(flt.until_ms)
        where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
        direction = "DESC" if flt.newest_first else "ASC"
        order = f"at_ms {direction}, notification_id {direction}"
        return self._rows(where, params, order, flt.limit, self.index_hint(flt))

    def rows_by_notification(self, start: int = 0, limit: int | None = None) -> list[AuditRow]:
        """Rows in the store's order, from notification id ``start`` on."""
        return self._rows(f"WHERE notification_id >= {self.placeholder}", [start], "notification_id", limit)

    def rooms_with_code(self, code: str) -> list[RoomRef]:
        found = self._select(
            f"SELECT room_id, code, first_at_ms FROM {self.table('audit_rooms')} "
            f"WHERE code = {self.placeholder} ORDER BY first_at_ms, room_id",
            [code],
        )
        return [RoomRef(*values) for values in found]

    def room(self, room_id: str) -> RoomRef | None:
        found = self._select(
            f"SELECT room_id, code, first_at_ms FROM {self.table('audit_rooms')} "
            f"WHERE room_id = {self.placeholder}",
            [room_id],
        )
        return RoomRef(*found[0]) if found else None

    def member_name(self, room_id: str, user_id: str) -> str | None:
        ph = self.placeholder
        found = self._select(
            f"SELECT name FROM {self.table('audit_members')} WHERE room_id = {ph} AND user_id = {ph}",
            [room_id, user_id],
        )
        return found[0][0] if found else None

    def count_after(self, notification_id: int = 0) -> int:
        """How many rows project events after this notification id."""
        return self._select(
            f"SELECT COUNT(*) FROM {self.table('audit_events')} WHERE notification_id > {self.placeholder}",
            [notification_id],
        )[0][0]

    @staticmethod
    def _insert_params(rows: Sequence[AuditRow]) -> tuple[list, list, list]:
        events = [
            (
                r.notification_id,
                r.aggregate_id,
                r.version,
                r.event_type,
                r.at_ms,
                r.room_id,
                r.code,
                r.user_id,
                r.name,
                _json(r.fields),
            )
            for r in rows
        ]
        rooms = [(r.room_id, r.code, r.at_ms) for r in rows if r.room_id and r.code]
        members = [(r.room_id, r.user_id, r.name) for r in rows if r.room_id and r.user_id and r.name]
        return events, rooms, members


class SQLiteAuditView(SQLiteTrackingRecorder, AuditView):
    def index_hint(self, flt: EventFilter) -> str:
        # A room or a user has at most a few thousand rows: start from them. Without
        # statistics SQLite may start from the type or time index and scan far more.
        if flt.room_ids:
            return "INDEXED BY audit_events_room"
        if flt.user_id is not None:
            return "INDEXED BY audit_events_user"
        return ""

    def construct_create_table_statements(self) -> list[str]:
        return [*super().construct_create_table_statements(), *SQLITE_TABLES]

    def record(self, rows: Sequence[AuditRow], tracking: Tracking) -> None:
        events, rooms, members = self._insert_params(rows)
        with self.datastore.transaction(commit=True) as c:
            c.executemany(
                f"INSERT INTO audit_events ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})",
                events,
            )
            c.executemany("INSERT INTO audit_rooms VALUES (?, ?, ?) ON CONFLICT (room_id) DO NOTHING", rooms)
            c.executemany(
                "INSERT INTO audit_members VALUES (?, ?, ?) "
                "ON CONFLICT (room_id, user_id) DO UPDATE SET name = excluded.name",
                members,
            )
            self._insert_tracking(c, tracking)

    def _select(self, statement: str, params: Sequence[Any]) -> list[tuple]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(statement, list(params))
            return [tuple(row) for row in c.fetchall()]

    def analyze(self) -> None:
        with self.datastore.transaction(commit=True) as c:
            c.execute("ANALYZE audit_events")


SQLITE_TABLES = [
    "CREATE TABLE IF NOT EXISTS audit_events (notification_id INTEGER PRIMARY KEY, "
    "aggregate_id TEXT NOT NULL, version INTEGER NOT NULL, event_type TEXT NOT NULL, at_ms INTEGER NOT NULL, "
    "room_id TEXT, code TEXT, user_id TEXT, name TEXT, fields TEXT NOT NULL)",
    # SQLite appends the rowid (notification_id) to every index entry: each index
    # below also serves ORDER BY at_ms, notification_id.
    "CREATE INDEX IF NOT EXISTS audit_events_room ON audit_events (room_id, at_ms)",
    "CREATE INDEX IF NOT EXISTS audit_events_user ON audit_events (user_id, at_ms)",
    "CREATE INDEX IF NOT EXISTS audit_events_type ON audit_events (event_type, at_ms)",
    "CREATE INDEX IF NOT EXISTS audit_events_at ON audit_events (at_ms)",
    "CREATE TABLE IF NOT EXISTS audit_rooms (room_id TEXT PRIMARY KEY, code TEXT NOT NULL, "
    "first_at_ms INTEGER NOT NULL) WITHOUT ROWID",
    "CREATE INDEX IF NOT EXISTS audit_rooms_code ON audit_rooms (code, first_at_ms)",
    "CREATE TABLE IF NOT EXISTS audit_members (room_id TEXT NOT NULL, user_id TEXT NOT NULL, "
    "name TEXT NOT NULL, PRIMARY KEY (room_id, user_id)) WITHOUT ROWID",
]

POSTGRES_TABLES = [
    "CREATE TABLE IF NOT EXISTS {schema}.audit_events (notification_id BIGINT PRIMARY KEY, "
    "aggregate_id TEXT NOT NULL, version BIGINT NOT NULL, event_type TEXT NOT NULL, at_ms BIGINT NOT NULL, "
    "room_id TEXT, code TEXT, user_id TEXT, name TEXT, fields JSONB NOT NULL)",
    "CREATE INDEX IF NOT EXISTS audit_events_room ON {schema}.audit_events (room_id, at_ms, notification_id)",
    "CREATE INDEX IF NOT EXISTS audit_events_user ON {schema}.audit_events (user_id, at_ms, notification_id)",
    "CREATE INDEX IF NOT EXISTS audit_events_type ON {schema}.audit_events "
    "(event_type, at_ms, notification_id)",
    "CREATE INDEX IF NOT EXISTS audit_events_at ON {schema}.audit_events (at_ms, notification_id)",
    "CREATE TABLE IF NOT EXISTS {schema}.audit_rooms (room_id TEXT PRIMARY KEY, code TEXT NOT NULL, "
    "first_at_ms BIGINT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS audit_rooms_code ON {schema}.audit_rooms (code, first_at_ms)",
    "CREATE TABLE IF NOT EXISTS {schema}.audit_members (room_id TEXT NOT NULL, user_id TEXT NOT NULL, "
    "name TEXT NOT NULL, PRIMARY KEY (room_id, user_id))",
]


class PostgresAuditView(PostgresTrackingRecorder, AuditView):
    placeholder = "%s"

    def __init__(self, datastore, **kwargs):  # type: ignore[no-untyped-def]
        super().__init__(datastore, **kwargs)
        schema = Identifier(self.datastore.schema)
        self.sql_create_statements += [SQL(s).format(schema=schema) for s in POSTGRES_TABLES]  # type: ignore[arg-type]
        self._insert_events = SQL(
            "INSERT INTO {schema}.audit_events (" + ", ".join(COLUMNS) + ") "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s::jsonb)"
        ).format(schema=schema)
        self._insert_rooms = SQL(
            "INSERT INTO {schema}.audit_rooms VALUES (%s, %s, %s) ON CONFLICT (room_id) DO NOTHING"
        ).format(schema=schema)
        self._insert_members = SQL(
            "INSERT INTO {schema}.audit_members VALUES (%s, %s, %s) "
            "ON CONFLICT (room_id, user_id) DO UPDATE SET name = EXCLUDED.name"
        ).format(schema=schema)

    def record(self, rows: Sequence[AuditRow], tracking: Tracking) -> None:
        events, rooms, members = self._insert_params(rows)
        with self.datastore.transaction(commit=True) as curs:
            curs.executemany(self._insert_events, events)
            curs.executemany(self._insert_rooms, rooms)
            curs.executemany(self._insert_members, members)
            self._insert_tracking(curs, tracking)

    def table(self, name: str) -> str:
        return f'"{self.datastore.schema}".{name}'

    def _select(self, statement: str, params: Sequence[Any]) -> list[tuple]:
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(statement, list(params))
            return [tuple(row.values()) for row in curs.fetchall()]

    def analyze(self) -> None:
        with self.datastore.transaction(commit=True) as curs:
            schema = Identifier(self.datastore.schema)
            curs.execute(SQL("ANALYZE {schema}.audit_events").format(schema=schema))


# --------------------------------------------------------------------------- projection


class AuditProjection(Projection[AuditView]):
    """Turns each event into an audit row; writes rows with their tracking position.

    Configure a subclass with ``projection_class()``: the runner constructs
    projections from their class alone.
    """

    name = VIEW_NAME
    extract: Extractor = staticmethod(default_columns)
    batch_size = 1000
    flush_from = 0  # events from this notification id on are written at once

    def __init__(self, view: AuditView):
        super().__init__(view)
        self.pending: list[AuditRow] = []
        self.last: Tracking | None = None
        self.codes: dict[str, str | None] = {}
        self.names: dict[tuple[str, str], str | None] = {}

    def process_event(self, domain_event: Any, tracking: Tracking) -> None:  # type: ignore[override]
        self.pending.append(self.row_for(domain_event, tracking.notification_id))
        self.last = tracking
        if len(self.pending) >= self.batch_size or tracking.notification_id >= self.flush_from:
            self.flush()

    def flush(self) -> None:
        if not self.pending:
            return
        try:
            self.view.record(self.pending, self.last)
        except IntegrityError:
            raise  # another process recorded these first: the caller goes on from its position
        except Exception:
            # One poison event must not stop the read model for good: find it, say so, go on.
            log.exception(
                "audit: %s rows could not be recorded together; recording them one by one", len(self.pending)
            )
            for row in self.pending:
                self._record_alone(row)
        self.pending = []

    def _record_alone(self, row: AuditRow) -> None:
        """Record one row; one that cannot be recorded is recorded in plain words
        instead, or at worst skipped, and the tracking position moves on either way."""
        tracking = Tracking(UPSTREAM, row.notification_id)
        try:
            self.view.record([row], tracking)
            return
        except IntegrityError:
            raise
        except Exception as e:  # noqa: BLE001 - said loudly below, and a stand-in recorded
            problem = f"{type(e).__name__}: {e}"
        log.error(
            "audit: event %s (%s, notification %s) cannot be recorded as it is (%s); "
            "recorded without its fields",
            row.aggregate_id,
            row.event_type,
            row.notification_id,
            problem,
        )
        stand_in = dataclasses.replace(
            row,
            at_ms=min(max(row.at_ms, 0), LATEST_MS),
            name=None,
            fields={"audit_error": problem[:500], "at_ms": str(row.at_ms)[:40]},
        )
        try:
            self.view.record([stand_in], tracking)
            return
        except IntegrityError:
            raise
        except Exception:  # noqa: BLE001 - the position still moves on below
            log.exception("audit: event %s cannot be recorded even so; skipped", row.aggregate_id)
        self.view.record([], tracking)

    def row_for(self, event: Any, notification_id: int) -> AuditRow:
        cols = type(self).extract(event)
        room_id, user_id = cols.room_id, cols.user_id
        code = cols.code or (self._code(room_id) if room_id else None)
        if room_id and cols.code:
            self.codes.setdefault(room_id, cols.code)
        name = cols.name
        if room_id and user_id:
            if name:
                self.names[(room_id, user_id)] = name
            else:
                name = self._name(room_id, user_id)
        return AuditRow(
            notification_id=notification_id,
            aggregate_id=str(event.originator_id),
            version=event.originator_version,
            event_type=event_type(event),
            at_ms=cols.at_ms if cols.at_ms is not None else _ms(event.timestamp),
            room_id=room_id,
            code=code,
            user_id=user_id,
            name=_storable(name),
            fields=_storable(cols.fields if cols.fields is not None else event_fields(event)),
        )

    def _code(self, room_id: str) -> str | None:
        if room_id not in self.codes:
            known = self.view.room(room_id)
            self.codes[room_id] = known.code if known else None
        return self.codes[room_id]

    def _name(self, room_id: str, user_id: str) -> str | None:
        key = (room_id, user_id)
        if key not in self.names:
            self.names[key] = self.view.member_name(room_id, user_id)
        return self.names[key]


def projection_class(
    extract: Extractor, flush_from: int = 0, batch_size: int = 1000
) -> type[AuditProjection]:
    return type(
        "AuditProjection",
        (AuditProjection,),
        {
            "name": VIEW_NAME,
            "extract": staticmethod(extract),
            "flush_from": flush_from,
            "batch_size": batch_size,
        },
    )


def _run_until(runner: ProjectionRunner, stop: threading.Event) -> None:
    """Process events as they are stored until ``stop`` is set; re-raise the runner's error."""

    def stop_runner() -> None:
        stop.wait()
        runner.stop()

    threading.Thread(target=stop_runner, daemon=True).start()
    runner.run_forever()


class StoreReader(Application):
    """The event store as the projection runner constructs it: from settings alone, to read."""

    name = EventStore.name

    def construct_env(self, name: str, env: Any = None) -> Environment:
        environment = super().construct_env(name, env)
        environment["CREATE_TABLE"] = "no"
        return environment


# --------------------------------------------------------------------------- the read model


class AuditLog:
    """The audit read model of one store: catch up from the store, then query."""

    def __init__(self, url: str, extract: Extractor = default_columns, batch_size: int = 1000):
        self.url = url
        self.extract = extract
        self.batch_size = batch_size
        self.env = env_for_store(url)
        self.is_postgres = "POSTGRES_DBNAME" in self.env
        self.view: AuditView = self._construct_view()
        self._store: EventStore | None = None

    def _construct_view(self) -> AuditView:
        """Open the view, creating its tables the first time.

        Two tools creating them at the same moment can collide (both record the
        tracking table's migration row); the loser finds them made and carries on.
        """
        view_class = PostgresAuditView if self.is_postgres else SQLiteAuditView
        for attempt in range(3):
            self._factory = InfrastructureFactory.construct(Environment(VIEW_NAME, self.env))
            try:
                return self._factory.tracking_recorder(view_class)  # type: ignore[arg-type]
            except (IntegrityError, InternalError, ProgrammingError):
                self._factory.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    @property
    def store(self) -> EventStore:
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

    def _run_projection(self, flush_from: int, until: Callable[[ProjectionRunner], None]) -> None:
        runner = ProjectionRunner(
            application_class=StoreReader,
            projection_class=projection_class(self.extract, flush_from, self.batch_size),
            view_class=PostgresAuditView,
            env=self.env,
        )
        try:
            with runner:
                until(runner)
        finally:
            runner.view.datastore.close()

    def _pull(self) -> None:
        """SQLite's catch-up: read the log from the tracked position, in batches."""
        projection = projection_class(self.extract, sys.maxsize, self.batch_size)(self.view)
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

    # ----------------------------------------------------------------- queries

    def events(self, flt: EventFilter) -> list[AuditRow]:
        return self.view.events(flt)

    def room_rows(self, room_id: str) -> list[AuditRow]:
        return self.view.events(EventFilter(room_ids=[room_id], newest_first=False, limit=None))

    def user_rows(self, user_id: str) -> list[AuditRow]:
        return self.view.events(EventFilter(user_id=user_id, newest_first=False, limit=None))

    def rooms_with_code(self, code: str) -> list[RoomRef]:
        return self.view.rooms_with_code(code)

    def room(self, room_id: str) -> RoomRef | None:
        return self.view.room(room_id)

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
        self._factory.close()
