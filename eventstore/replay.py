"""Replaying one aggregate event by event, for debugging.

Generic over aggregates: what a "seq" is, which fields hold times or users, and
which invariants an aggregate must keep are the caller's (see
``quiz_actors/tools``). This module reads an aggregate's stored events one at a
time (so a damaged one is named, not just "the load failed"), applies them with
the events' own ``mutate`` (the code path ``repository.get`` uses), and rebuilds
the state at a version with ``EventStore.load(id, version)``, exactly as the
server would.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol
from uuid import UUID

from eventstore.application import EventStore

# Attributes every stored event has that are bookkeeping, not the event's own fields.
METADATA = ("originator_id", "originator_version", "timestamp", "originator_topic")


class ReplayError(Exception):
    """An event that cannot be read or applied; names it by version and type."""

    def __init__(self, version: int, event_type: str, reason: str):
        super().__init__(f"event v{version} {event_type}: {reason}")
        self.version = version
        self.event_type = event_type
        self.reason = reason


@dataclass(frozen=True)
class Step:
    """One event and the aggregate right after it.

    The aggregate is the same object at every step, advanced in place: read
    what you need from it before taking the next step.
    """

    version: int
    event: Any
    aggregate: Any


@dataclass(frozen=True)
class Problem:
    version: int
    event_type: str
    message: str


@dataclass(frozen=True)
class CheckResult:
    events_checked: int
    problem: Problem | None

    @property
    def ok(self) -> bool:
        return self.problem is None


class Rules(Protocol):
    """An aggregate's invariants, checked around each event.

    ``before`` sees the aggregate as it was (``None`` before the first event),
    ``after`` sees it once the event is applied. Each returns what is wrong.
    """

    def before(self, aggregate: Any, event: Any) -> Iterable[str]: ...

    def after(self, aggregate: Any, event: Any) -> Iterable[str]: ...


class ReadingStore(EventStore):
    """The event store opened to read: it creates no tables.

    Tools start several at once (and next to a running server); on PostgreSQL
    concurrent ``CREATE TABLE IF NOT EXISTS`` can fail, and a reader has no
    business changing the schema anyway.
    """

    name = EventStore.name  # the same tables (a subclass would otherwise be named after itself)

    def construct_env(self, name: str, env: Any = None) -> Any:
        environment = super().construct_env(name, env)
        environment["CREATE_TABLE"] = "no"
        return environment


def event_type(event: Any) -> str:
    return type(event).__name__


def topic_name(topic: str) -> str:
    """``pkg.module:Class.Event`` -> ``Event``."""
    return topic.rsplit(":", 1)[-1].rsplit(".", 1)[-1]


def event_fields(event: Any) -> dict[str, Any]:
    """An event's own fields, without the library's bookkeeping."""
    return {k: v for k, v in vars(event).items() if k not in METADATA}


def read_events(store: EventStore, aggregate_id: UUID) -> list[Any]:
    """Every event of one aggregate, oldest first, decoded one at a time."""
    events = []
    for stored in store.recorder.select_events(aggregate_id):
        try:
            events.append(store.mapper.to_domain_event(stored))
        except Exception as e:  # noqa: BLE001 - any decoding failure is reported as such
            raise ReplayError(
                stored.originator_version,
                topic_name(stored.topic),
                f"cannot be decoded: {type(e).__name__}: {e}",
            ) from e
    return events


def replay(events: Iterable[Any]) -> Iterator[Step]:
    """Apply events one by one, as a repository does; raise ReplayError naming the one that fails."""
    aggregate = None
    for event in events:
        try:
            aggregate = event.mutate(aggregate)
        except Exception as e:  # noqa: BLE001
            raise ReplayError(
                event.originator_version, event_type(event), f"replay failed: {type(e).__name__}: {e}"
            ) from e
        yield Step(event.originator_version, event, aggregate)


def state_at(store: EventStore, aggregate_id: UUID, version: int | None = None) -> Any:
    """The aggregate at a version, rebuilt the way the server rebuilds it (snapshot + events)."""
    return store.load(aggregate_id, version=version)


def check(events: Iterable[Any], rules: Rules) -> CheckResult:
    """Replay event by event; stop at the first event that fails or breaks a rule."""
    aggregate = None
    count = 0
    for event in events:
        version, kind = event.originator_version, event_type(event)
        problems = list(rules.before(aggregate, event))
        if not problems:
            try:
                aggregate = event.mutate(aggregate)
            except Exception as e:  # noqa: BLE001
                problems = [f"replay failed: {type(e).__name__}: {e}"]
            else:
                problems = list(rules.after(aggregate, event))
        if problems:
            return CheckResult(count, Problem(version, kind, "; ".join(problems)))
        count += 1
    return CheckResult(count, None)
