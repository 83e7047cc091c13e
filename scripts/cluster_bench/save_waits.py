"""What the nodes' saves are doing inside PostgreSQL, sampled from pg_stat_activity:
how many are running, and how many of those wait for the events table's lock
(every save takes it in EXCLUSIVE mode until its commit: eventstore/persistence.py).
Only this run's schema is counted (the database is shared with other work)."""

from __future__ import annotations

import asyncio
import contextlib
import statistics
from collections.abc import AsyncIterator
from typing import Any

import psycopg

SAMPLE_EVERY_S = 0.05
QUERY = (
    "SELECT count(*), count(*) FILTER (WHERE wait_event_type = 'Lock')"
    " FROM pg_stat_activity WHERE state = 'active' AND query LIKE %s"
)


@contextlib.asynccontextmanager
async def save_waits(database: str, schema: str) -> AsyncIterator[dict[str, Any]]:
    """Yields a dict that holds the summary once the block is done."""
    summary: dict[str, Any] = {}
    saving: list[int] = []
    waiting: list[int] = []
    stop = asyncio.Event()

    async def sample() -> None:
        pattern = f"%{schema}%quiz_events_insert_columns_locked%"  # the names are quoted in the call
        async with await psycopg.AsyncConnection.connect(database, autocommit=True) as conn:
            while True:  # at least one sample, however short the block
                row = await (await conn.execute(QUERY, (pattern,))).fetchone()
                assert row is not None
                saving.append(row[0])
                waiting.append(row[1])
                if stop.is_set():
                    return
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), SAMPLE_EVERY_S)

    task = asyncio.create_task(sample())
    try:
        yield summary
    finally:
        stop.set()
        await task
        if saving:
            summary["samples"] = len(saving)
            summary["saves_in_flight_mean"] = round(statistics.mean(saving), 2)
            summary["waiting_for_lock_mean"] = round(statistics.mean(waiting), 2)
            summary["waiting_for_lock_max"] = max(waiting)
