"""Writing the events of plain-data aggregates with orjson: the same bytes, ~4-7x less CPU.

eventsourcing's ``JSONTranscoder`` writes each event's state with ``json``,
building a new encoder for every event (~5 µs for a room's ``AnswerSubmitted``)
and ~10 ms for the snapshot of a 2,000-member room: together about a fifth of
the CPU an answer costs in a burst (docs/benchmark.md, issue 20). orjson writes
the same state in ~1.7 µs and ~1.5 ms.

The stored format does not change. For state made of str, int, float, bool,
None, lists and dicts with str keys, orjson's output is byte for byte what the
library's encoder writes (``tests/test_store_plain_json.py`` compares them),
but for floats below 1e-4, which it spells out (``0.00001`` for ``1e-05``:
the same number to any JSON reader, an earlier release's included),
datetimes go through the library's own transcoding (``OPT_PASSTHROUGH_DATETIME``
sends them to its ``default``), and anything orjson refuses (a type it does not
know, an int key, an integer beyond 64 bits) is written by the library's
encoder instead, as before. So the records are exactly those an earlier
release writes and reads.

Three kinds of value orjson would write differently without an error, which is
why only the aggregates that ask for it (``EventStore.write_plain_json``) take
this path: a ``uuid.UUID`` (orjson writes it as a string, where the library
writes ``{"_type_": "uuid_hex", ...}``, so it would load back as a str), a
non-finite float (orjson writes ``null``, the library ``NaN``), and a plain
``enum.Enum`` member (orjson writes its value, which loads back as that value,
where the library refuses it; a ``str`` or ``int`` enum is written alike by
both). An aggregate whose events and state never hold any of them may be
registered: the room's do not (its ids are strings, it keeps no enums, and
non-finite numbers are refused where they would come in: the WebSocket
protocol and the HTTP API).
"""

from __future__ import annotations

from typing import Any

import orjson
from eventsourcing.domain import CanMutateAggregate, DomainEventProtocol, Snapshot
from eventsourcing.persistence import JSONTranscoder, Mapper, StoredEvent
from eventsourcing.utils import get_topic

ORJSON_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


class PlainJSONMapper(Mapper[Any]):
    """The library's mapper; the events of registered aggregates are encoded by orjson."""

    def __init__(self, transcoder: JSONTranscoder, **kwargs: Any) -> None:
        super().__init__(transcoder, **kwargs)
        self._json = transcoder
        self._event_classes: tuple[type, ...] = ()  # the registered aggregates' event classes
        # Each event class seen, and whether it is one of those (or a subclass: the
        # ``@event`` decorator triggers a subclass of the class it names).
        self._plain: dict[type, bool] = {}
        self._snapshot_topics: set[str] = set()  # the registered aggregates' topics, as snapshots name them

    def register(self, aggregate_class: type) -> None:
        """Write the events and snapshots of ``aggregate_class`` with orjson: it promises
        they hold no ``uuid.UUID``, no non-finite float and no plain ``Enum`` (see the module's docstring)."""
        self._snapshot_topics.add(get_topic(aggregate_class))
        found = [getattr(aggregate_class, name) for name in dir(aggregate_class)]
        events = [v for v in found if isinstance(v, type) and issubclass(v, CanMutateAggregate)]
        self._event_classes = (*self._event_classes, *events)
        self._plain.clear()

    def _is_plain(self, domain_event: DomainEventProtocol[Any]) -> bool:
        cls = type(domain_event)
        if cls is Snapshot:
            return getattr(domain_event, "topic", None) in self._snapshot_topics
        plain = self._plain.get(cls)
        if plain is None:
            plain = self._plain[cls] = issubclass(cls, self._event_classes)
        return plain

    def to_stored_event(self, domain_event: DomainEventProtocol[Any]) -> StoredEvent:
        if self.compressor is not None or self.cipher is not None or not self._is_plain(domain_event):
            return super().to_stored_event(domain_event)
        cls = type(domain_event)
        # As Mapper.to_stored_event, with orjson for the transcoder's encoder.
        event_state = dict(vars(domain_event))
        originator_id = event_state.pop("originator_id")
        originator_version = event_state.pop("originator_version")
        class_version = getattr(cls, "class_version", 1)
        if class_version > 1:
            event_state["class_version"] = class_version
        try:
            stored_state = orjson.dumps(event_state, default=self._json._encode_obj, option=ORJSON_OPTIONS)  # noqa: SLF001
        except orjson.JSONEncodeError:
            stored_state = self._json.encode(event_state)  # what orjson refuses, the library writes as before
        return StoredEvent(
            originator_id=originator_id,
            originator_version=originator_version,
            topic=get_topic(cls),
            state=stored_state,
        )
