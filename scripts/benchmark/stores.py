"""Fresh event stores for the servers under test, and reading them back afterwards."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import uuid
from pathlib import Path
from typing import Any

POSTGRES_URL = os.environ.get("QUIZ_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


class Stores:
    """Fresh stores: a SQLite file in the run's temp folder, or a PostgreSQL schema made and dropped here."""

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.schemas: list[str] = []

    @staticmethod
    def postgres_problem() -> str | None:
        try:
            import psycopg

            with psycopg.connect(POSTGRES_URL, connect_timeout=3):
                return None
        except Exception as e:  # noqa: BLE001
            return str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__

    def fresh(self, kind: str, label: str) -> str:
        if kind == "sqlite":
            return f"sqlite:///{self.workdir / (label + '.sqlite3')}"
        import psycopg

        schema = f"bench_{label}_{uuid.uuid4().hex[:8]}".lower()
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {schema}")
        self.schemas.append(schema)
        return f"{POSTGRES_URL}?schema={schema}"

    def drop(self, url: str) -> None:
        schema = self._schema(url)
        if schema is None:
            return
        import psycopg

        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        self.schemas.remove(schema)

    def drop_all(self) -> None:
        for schema in list(self.schemas):
            with contextlib.suppress(Exception):
                self.drop(f"?schema={schema}")

    @staticmethod
    def _schema(url: str) -> str | None:
        return url.split("?schema=", 1)[1] if "?schema=" in url else None

    def query(self, url: str, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Read the store directly (the server is stopped or not writing). ``{events}`` and
        ``{snapshots}`` name the tables: eventsourcing calls them stored_events and
        stored_snapshots in SQLite, <app name>_events and _snapshots in PostgreSQL."""
        if url.startswith("sqlite:"):
            path = url[len("sqlite:///") :]
            sql = sql.replace("%s", "?").format(events="stored_events", snapshots="stored_snapshots")
            with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
                return conn.execute(sql, params).fetchall()
        import psycopg

        schema = self._schema(url)
        sql = sql.format(events=f"{schema}.quiz_events", snapshots=f"{schema}.quiz_snapshots")
        with psycopg.connect(POSTGRES_URL) as conn:
            return conn.execute(sql, params).fetchall()

    def room_events(self, url: str, room_id: str) -> tuple[int, int]:
        """(events, snapshots) stored for one room."""
        rid = uuid.UUID(room_id).hex if url.startswith("sqlite:") else uuid.UUID(room_id)  # SQLite keeps hex
        events = self.query(url, "SELECT count(*) FROM {events} WHERE originator_id = %s", (rid,))
        snaps = self.query(url, "SELECT count(*) FROM {snapshots} WHERE originator_id = %s", (rid,))
        return events[0][0], snaps[0][0]

    def answer_commits(self, url: str) -> tuple[int, int] | None:
        """PostgreSQL only: (AnswerSubmitted rows, distinct writing transactions), from xmin."""
        if url.startswith("sqlite:"):
            return None
        rows = self.query(
            url,
            "SELECT count(*), count(DISTINCT xmin::text) FROM {events} WHERE topic LIKE %s",
            ("%AnswerSubmitted",),
        )
        return rows[0][0], rows[0][1]
