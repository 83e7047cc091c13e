"""Server settings: the only place that reads the environment.

Each setting has a default, an environment variable and a ``quiz-server``
option; the option wins over the variable, the variable over the default.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass, field, fields
from typing import Mapping

from eventstore.persistence import DEFAULT_STORE_URL


def _setting(default, env: str, help: str, flag: str | None = None):  # type: ignore[no-untyped-def]
    return field(default=default, metadata={"env": env, "help": help, "flag": flag})


@dataclass(frozen=True)
class Settings:
    host: str = _setting("127.0.0.1", "QUIZ_HOST", "address to listen on")
    port: int = _setting(8080, "QUIZ_PORT", "port to listen on")
    store: str = _setting(DEFAULT_STORE_URL, "QUIZ_STORE", "event store URL (sqlite:///path or postgresql://user@host:port/db)")
    heartbeat_s: float = _setting(30.0, "QUIZ_HEARTBEAT_S", "seconds between server pings")
    missed_pings: int = _setting(3, "QUIZ_MISSED_PINGS", "unanswered pings in a row before a member is marked offline")
    ended_room_ttl_s: float = _setting(300.0, "QUIZ_ENDED_ROOM_TTL_S", "seconds of inactivity after a quiz ends before its room closes")
    idle_room_ttl_s: float = _setting(1800.0, "QUIZ_IDLE_ROOM_TTL_S", "seconds with no member online before a room closes")
    sweep_interval_s: float = _setting(60.0, "QUIZ_SWEEP_INTERVAL_S", "seconds between sweeps for rooms due to close")
    hello_timeout_s: float = _setting(10.0, "QUIZ_HELLO_TIMEOUT_S", "seconds a new socket has to send hello")
    token_max_age_s: float = _setting(30 * 24 * 3600.0, "QUIZ_TOKEN_MAX_AGE_S", "seconds a session token stays valid")
    max_players: int = _setting(2000, "QUIZ_MAX_PLAYERS", "players per room")
    outbox_max_messages: int = _setting(2000, "QUIZ_OUTBOX_MAX_MESSAGES", "messages queued for one socket before it is closed as too slow")
    progress_interval_s: float = _setting(0.25, "QUIZ_PROGRESS_INTERVAL_S", "at most one answers_progress per this many seconds")
    log_level: str = _setting("INFO", "QUIZ_LOG_LEVEL", "logging level")

    @property
    def heartbeat_ms(self) -> int:
        return int(self.heartbeat_s * 1000)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides) -> "Settings":  # type: ignore[no-untyped-def]
        environ = os.environ if environ is None else environ
        values = {}
        for f in fields(cls):
            raw = environ.get(f.metadata["env"])
            if raw is not None and raw != "":
                values[f.name] = _convert(f, raw)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    @classmethod
    def from_command_line(cls, argv: list[str] | None = None, environ: Mapping[str, str] | None = None) -> "Settings":
        parser = argparse.ArgumentParser(
            prog="quiz-server", description="Run the quiz-actors real-time quiz server."
        )
        for f in fields(cls):
            flag = "--" + f.name.replace("_", "-")
            parser.add_argument(
                flag, dest=f.name, type=_type_of(f), default=None,
                help=f"{f.metadata['help']} (env {f.metadata['env']}, default {f.default})",
            )
        args = parser.parse_args(argv)
        return cls.from_env(environ, **vars(args))


def _type_of(f):  # type: ignore[no-untyped-def]
    return {"int": int, "float": float, "str": str}[f.type if isinstance(f.type, str) else f.type.__name__]


def _convert(f, raw: str):  # type: ignore[no-untyped-def]
    try:
        return _type_of(f)(raw)
    except ValueError:
        raise SystemExit(f"{f.metadata['env']}={raw!r} is not a valid {_type_of(f).__name__}") from None
