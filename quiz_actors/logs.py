"""Logging set-up: ``--log-format text`` (one line a record) or ``json``.

JSON lines carry ``time`` (UTC, ISO 8601), ``level``, ``logger`` and ``event``
(the message), ``node`` (a cluster node's name, on every line: logs gathered
from several nodes say which one wrote each), plus ``room_id``, ``user_id`` and
``address`` (the socket's peer) where they apply: passed with ``extra=fields(...)`` by the code that
logs, or bound to a thread for everything it logs while a block runs (a room
actor's turn, ``bound``). Nothing logs tokens, keys or what clients send: log the user id and
the address instead.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from pythonjsonlogger.json import JsonFormatter

LOG_FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
CONTEXT_FIELDS = ("room_id", "user_id", "address")

_bound = threading.local()


def fields(*, room_id: object = None, user_id: object = None, address: object = None) -> dict[str, str]:
    """``extra=`` for a log call: the context fields that are known, as strings."""
    given = {"room_id": room_id, "user_id": user_id, "address": address}
    return {name: str(value) for name, value in given.items() if value is not None}


@contextmanager
def bound(**context: object) -> Iterator[None]:
    """Context fields for every record this thread logs until the block ends (a room
    actor's room id while it has a turn). Restored after: threads of a pool take
    turns running many actors, and a field left behind would name the wrong one."""
    before: dict[str, str] = getattr(_bound, "context", {})
    _bound.context = {**before, **fields(**context)}
    try:
        yield
    finally:
        _bound.context = before


class _BoundContext(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in getattr(_bound, "context", {}).items():
            if not hasattr(record, name):
                setattr(record, name, value)
        return True


class _Node(logging.Filter):
    def __init__(self, node: str) -> None:
        super().__init__()
        self.node = node

    def filter(self, record: logging.LogRecord) -> bool:
        record.node = self.node
        return True


class _JsonLines(JsonFormatter):
    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802
        return datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds")


def json_formatter() -> logging.Formatter:
    return _JsonLines(
        "%(asctime)s %(levelname)s %(name)s %(message)s",
        rename_fields={"asctime": "time", "levelname": "level", "name": "logger", "message": "event"},
        json_ensure_ascii=False,
    )


def configure(level: str, log_format: str, node: str | None = None) -> None:
    """Send every record to stderr in the chosen format (replacing earlier set-up); a
    cluster node's name goes on every JSON line."""
    if log_format not in LOG_FORMATS:
        raise ValueError(f"log_format: {log_format!r} is not one of {', '.join(LOG_FORMATS)}")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(json_formatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT))
    handler.addFilter(_BoundContext())
    if node is not None:
        handler.addFilter(_Node(node))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
