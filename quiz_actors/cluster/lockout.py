"""The code-guessing lockout, held in PostgreSQL so that it holds on every node.

A guesser behind HAProxy reaches every node in turn (each code hashes to its
own node), so a lockout counted per node would let it try three times as many
codes in a three-node cluster. Joins with an unknown code are counted in
``cluster_join_failures`` and a lockout is a row of ``cluster_lockouts``; the
rate of joins per address stays per node (a classroom's joins go to the node
of its room anyway).

If the database does not answer, the guard lets joins through (logged): the
room itself cannot be reached then, and refusing every join would not help.
"""

from __future__ import annotations

import logging

import psycopg
from psycopg import sql

from quiz_actors.actors.join_guard import JoinGuard
from quiz_actors.cluster.database import ClusterDatabase
from quiz_actors.cluster.schema import JOIN_FAILURES, LOCKOUTS

log = logging.getLogger(__name__)


class SharedJoinGuard(JoinGuard):
    def __init__(
        self, database: ClusterDatabase, joins_per_minute: int, failures_per_minute: int, lockout_ms: int
    ):
        super().__init__(joins_per_minute, failures_per_minute, lockout_ms)
        self.database = database
        failures, lockouts = database.table(JOIN_FAILURES), database.table(LOCKOUTS)
        self._locked_for = sql.SQL(
            "SELECT ceil(extract(epoch FROM until - now()))::int FROM {l}"
            " WHERE address = %s AND until > now()"
        ).format(l=lockouts)
        # The insert is not visible to the count in the same statement: hence the + 1.
        self._count_failure = sql.SQL(
            "WITH added AS (INSERT INTO {f} (address, at) VALUES (%s, now()) RETURNING 1)"
            " SELECT count(*) + 1 FROM {f} WHERE address = %s AND at > now() - interval '1 minute'"
        ).format(f=failures)
        self._lock_out = sql.SQL(
            "WITH cleared AS (DELETE FROM {f} WHERE address = %s)"
            " INSERT INTO {l} (address, until) VALUES (%s, now() + %s::interval)"
            " ON CONFLICT (address) DO UPDATE SET until = EXCLUDED.until"
        ).format(f=failures, l=lockouts)
        self._forget = (
            sql.SQL("DELETE FROM {f} WHERE at <= now() - interval '1 minute'").format(f=failures),
            sql.SQL("DELETE FROM {l} WHERE until <= now()").format(l=lockouts),
        )

    def check(self, ip: str, now: int) -> str | None:
        try:
            rows = self.database.execute(self._locked_for, (ip,))
        except psycopg.Error as e:
            log.warning("join lockout: the database did not answer (%s); join let through", e)
            rows = []
        if rows:
            return f"Too many wrong room codes from your address; try again in {max(1, rows[0][0])} s"
        return super().check(ip, now)

    def failed(self, ip: str, now: int) -> bool:
        try:
            count = self.database.execute(self._count_failure, (ip, ip))[0][0]
            if count < self.failures_per_minute:
                return False
            self.database.execute(self._lock_out, (ip, ip, f"{self.lockout_ms} milliseconds"))
            return True
        except psycopg.Error as e:
            log.warning("join lockout: the database did not answer (%s); failure not counted", e)
            return False

    def forget_old(self, now: int) -> None:
        super().forget_old(now)
        try:
            for statement in self._forget:
                self.database.execute(statement)
        except psycopg.Error as e:
            log.warning("join lockout: could not forget old failures (%s)", e)
