"""The code-guessing lockout, held in PostgreSQL so that it holds on every node.

A guesser behind HAProxy reaches every node in turn (each code hashes to its
own node), so a lockout counted per node would let it try three times as many
codes in a three-node cluster. Unknown codes are kept per address in
``cluster_wrong_codes``, each code once a minute however often it is tried (as
``JoinGuard`` counts them, quiz_actors/actors/join_guard.py), and a lockout is a
row of ``cluster_lockouts``; the rate of joins per address and per seat stays per
node (a classroom's joins go to the node of its room anyway).

If the database does not answer, the guard lets joins through (logged): the
room itself cannot be reached then, and refusing every join would not help.
"""

from __future__ import annotations

import logging

import psycopg
from psycopg import sql

from quiz_actors.actors.join_guard import CODE_KEPT, JoinGuard, JoinRefusal, locked_out_for
from quiz_actors.cluster.database import ClusterDatabase
from quiz_actors.cluster.schema import LOCKOUTS, WRONG_CODES

log = logging.getLogger(__name__)


class SharedJoinGuard(JoinGuard):
    def __init__(
        self,
        database: ClusterDatabase,
        joins_per_minute: int,
        failures_per_minute: int,
        lockout_ms: int,
        member_joins_per_minute: int,
    ):
        super().__init__(joins_per_minute, failures_per_minute, lockout_ms, member_joins_per_minute)
        self.database = database
        wrong_codes, lockouts = database.table(WRONG_CODES), database.table(LOCKOUTS)
        self._locked_for = sql.SQL(
            "SELECT ceil(extract(epoch FROM until - now()))::int FROM {l}"
            " WHERE address = %s AND until > now()"
        ).format(l=lockouts)
        # Two statements, each committed on its own: the count then sees every code that
        # nodes added at the same moment (in one statement it would see none of them, and
        # as many nodes as guessed at once could each let one more code through).
        self._add_wrong_code = sql.SQL(
            "INSERT INTO {w} (address, code, at) VALUES (%s, %s, now())"
            " ON CONFLICT (address, code) DO UPDATE SET at = now()"
            " WHERE {w}.at <= now() - interval '1 minute'"  # tried over a minute ago: counts again
        ).format(w=wrong_codes)
        self._count_wrong_codes = sql.SQL(
            "SELECT count(*) FROM {w} WHERE address = %s AND at > now() - interval '1 minute'"
        ).format(w=wrong_codes)
        self._lock_out = sql.SQL(
            "WITH cleared AS (DELETE FROM {w} WHERE address = %s)"
            " INSERT INTO {l} (address, until) VALUES (%s, now() + %s::interval)"
            " ON CONFLICT (address) DO UPDATE SET until = EXCLUDED.until"
        ).format(w=wrong_codes, l=lockouts)
        self._forget = (
            sql.SQL("DELETE FROM {w} WHERE at <= now() - interval '1 minute'").format(w=wrong_codes),
            sql.SQL("DELETE FROM {l} WHERE until <= now()").format(l=lockouts),
        )

    def locked_out(self, ip: str, now: int) -> JoinRefusal | None:
        try:
            rows = self.database.execute(self._locked_for, (ip,))
        except psycopg.Error as e:
            log.warning("join lockout: the database did not answer (%s); join let through", e)
            return None
        return locked_out_for(rows[0][0]) if rows else None

    def failed(self, ip: str, now: int, code: str) -> bool:
        try:
            self.database.execute(self._add_wrong_code, (ip, code[:CODE_KEPT]))
            count = self.database.execute(self._count_wrong_codes, (ip,))[0][0]
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
