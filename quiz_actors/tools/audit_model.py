"""The audit read model of the quiz: one row per stored event, indexed for "who did what, when".

Each row has the event's notification id (its place in the store's log), the
aggregate and version it came from, its type and time, the room, room code,
user and user name it concerns, and the event's fields as JSON. Two small side
tables remember each room's code and each member's name, so that rows of events
that do not repeat them still carry them.

``eventstore/read_model.py`` keeps the tables up to date, exactly once; this
module says what the rows are (``audit_columns``: which room, user and time an
event concerns), how they are stored and how they are queried.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from eventstore.read_model import (
    Insert,
    PostgresTrackedView,
    ReadModel,
    RowProjection,
    SQLiteTrackedView,
    TrackedView,
    storable,
)
from eventstore.replay import event_fields, event_type
from quiz_actors.domain.directory import RoomDirectory
from quiz_actors.domain.media import MediaItem
from quiz_actors.domain.room import Room
from quiz_actors.domain.secret import ServerSecret
from quiz_actors.tools.room_events import time_ms, user_of

LATEST_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z: what a time column and a date both hold

VIEW_NAME = "audit"  # table prefix on PostgreSQL (audit_tracking)
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
    """What one event says of itself; ``None`` means "not known from this event"."""

    room_id: str | None = None
    code: str | None = None
    user_id: str | None = None
    name: str | None = None
    at_ms: int | None = None
    fields: dict[str, Any] | None = None  # replaces the event's fields (to leave a secret out, say)


def audit_columns(event: Any) -> Columns:
    """The audit row's room, code, user, name and time for any stored event."""
    at = time_ms(event)
    if isinstance(event, Room.Event):
        return Columns(
            room_id=str(event.originator_id),
            code=getattr(event, "code", None),
            user_id=user_of(event),
            name=getattr(event, "name", None) or getattr(event, "host_name", None),
            at_ms=at,
        )
    if isinstance(event, RoomDirectory.Event):
        return Columns(room_id=getattr(event, "room_id", None), code=getattr(event, "code", None), at_ms=at)
    if isinstance(event, ServerSecret.Event):
        # The token-signing key stays where it is: the audit log only says it was made.
        return Columns(at_ms=at, fields={k: "(withheld)" for k in event_fields(event)})
    if isinstance(event, MediaItem.MediaStored):
        # A picture's bytes stay in the store: the audit log says what was stored, not the pixels.
        fields = {k: v for k, v in event_fields(event).items() if k != "data_base64"}
        return Columns(at_ms=at, fields={**fields, "data_base64": "(picture bytes, not copied)"})
    return Columns(at_ms=at)


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
    fields: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
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


def _json(value: dict[str, Any]) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)


# --------------------------------------------------------------------------- tables

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


# --------------------------------------------------------------------------- the view


class AuditView(TrackedView[AuditRow]):
    """Audit rows, room codes and member names: how they are stored and queried."""

    def index_hint(self, flt: EventFilter) -> str:
        return ""

    def inserts(self, rows: Sequence[AuditRow]) -> list[Insert]:
        ph = self.placeholder
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
        values = ", ".join([ph] * (len(COLUMNS) - 1) + [self.json_placeholder])
        return [
            (f"INSERT INTO {self.table('audit_events')} ({', '.join(COLUMNS)}) VALUES ({values})", events),
            (
                f"INSERT INTO {self.table('audit_rooms')} VALUES ({ph}, {ph}, {ph}) "
                "ON CONFLICT (room_id) DO NOTHING",
                rooms,
            ),
            (
                f"INSERT INTO {self.table('audit_members')} VALUES ({ph}, {ph}, {ph}) "
                "ON CONFLICT (room_id, user_id) DO UPDATE SET name = excluded.name",
                members,
            ),
        ]

    def analyze(self) -> None:
        self.execute(f"ANALYZE {self.table('audit_events')}")

    def _rows(
        self, where: str, params: list[Any], order: str, limit: int | None, hint: str = ""
    ) -> list[AuditRow]:
        source = f"{self.table('audit_events')} {hint}".strip()
        statement = f"SELECT {', '.join(COLUMNS)} FROM {source} {where} ORDER BY {order}"
        if limit is not None:
            statement += f" LIMIT {int(limit)}"
        return [self._row(values) for values in self.select(statement, params)]

    @staticmethod
    def _row(values: Sequence[Any]) -> AuditRow:
        data = dict(zip(COLUMNS, values, strict=True))
        if isinstance(data["fields"], str):
            data["fields"] = json.loads(data["fields"])
        return AuditRow(**data)

    def events(self, flt: EventFilter) -> list[AuditRow]:
        ph, clauses, params = self.placeholder, [], list[Any]()
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

    def rooms_with_code(self, code: str) -> list[RoomRef]:
        found = self.select(
            f"SELECT room_id, code, first_at_ms FROM {self.table('audit_rooms')} "
            f"WHERE code = {self.placeholder} ORDER BY first_at_ms, room_id",
            [code],
        )
        return [RoomRef(*values) for values in found]

    def room(self, room_id: str) -> RoomRef | None:
        found = self.select(
            f"SELECT room_id, code, first_at_ms FROM {self.table('audit_rooms')} "
            f"WHERE room_id = {self.placeholder}",
            [room_id],
        )
        return RoomRef(*found[0]) if found else None

    def member_name(self, room_id: str, user_id: str) -> str | None:
        ph = self.placeholder
        found = self.select(
            f"SELECT name FROM {self.table('audit_members')} WHERE room_id = {ph} AND user_id = {ph}",
            [room_id, user_id],
        )
        return str(found[0][0]) if found else None

    def count_after(self, notification_id: int = 0) -> int:
        statement = (
            f"SELECT COUNT(*) FROM {self.table('audit_events')} WHERE notification_id > {self.placeholder}"
        )
        return int(self.select(statement, [notification_id])[0][0])


class SQLiteAuditView(AuditView, SQLiteTrackedView[AuditRow]):
    create_statements = SQLITE_TABLES

    def index_hint(self, flt: EventFilter) -> str:
        # A room or a user has at most a few thousand rows: start from them. Without
        # statistics SQLite may start from the type or time index and scan far more.
        if flt.room_ids:
            return "INDEXED BY audit_events_room"
        if flt.user_id is not None:
            return "INDEXED BY audit_events_user"
        return ""


class PostgresAuditView(AuditView, PostgresTrackedView[AuditRow]):
    create_statements = POSTGRES_TABLES


# --------------------------------------------------------------------------- the projection


class AuditProjection(RowProjection[AuditRow]):
    """An audit row per event; the room's code and the member's name carried over from earlier rows."""

    name = VIEW_NAME
    view: AuditView

    def __init__(self, view: AuditView):
        super().__init__(view)
        self.codes: dict[str, str | None] = {}
        self.names: dict[tuple[str, str], str | None] = {}

    def row_for(self, event: Any, notification_id: int) -> AuditRow:
        cols = audit_columns(event)
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
            name=storable(name),
            fields=storable(cols.fields if cols.fields is not None else event_fields(event)),
        )

    def stand_in(self, row: AuditRow, problem: str) -> AuditRow:
        """The row in plain words: why it could not be recorded, its time kept in range."""
        return dataclasses.replace(
            row,
            at_ms=min(max(row.at_ms, 0), LATEST_MS),
            name=None,
            fields={"audit_error": problem[:500], "at_ms": str(row.at_ms)[:40]},
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


# --------------------------------------------------------------------------- the read model


class AuditLog(ReadModel[AuditRow]):
    """The audit read model of one store: catch up from the store, then query."""

    name = VIEW_NAME
    sqlite_view = SQLiteAuditView
    postgres_view = PostgresAuditView
    projection = AuditProjection
    view: AuditView

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
