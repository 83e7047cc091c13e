"""A room's events and snapshots written by orjson are the records the library writes.

``EventStore.write_plain_json(Room)`` (eventstore/plain_json.py) has orjson
encode a room's events: the stored bytes must be exactly what eventsourcing's
own ``JSONTranscoder`` writes (so earlier releases read them as they always
did), anything orjson refuses must be written as before, and a store written
this way must load in a store that does not use orjson at all.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from eventsourcing.domain import Snapshot
from eventsourcing.persistence import Mapper

from eventstore import EventStore
from eventstore.plain_json import PlainJSONMapper
from quiz_actors.domain.quiz import validate_quiz_document
from quiz_actors.domain.room import Room
from tests.test_question_types_e2e import QUIZ
from tests.test_room_aggregate import T0, public_state


def played_room() -> Room:
    """A game of every question type, with names and answers outside ASCII, not yet saved."""
    room = Room.open(
        code="123456",
        quiz_id=str(uuid.uuid4()),
        quiz=validate_quiz_document(QUIZ),
        host_id="host",
        host_name="Hôst",
        at=T0,
        word_filter=False,
    )
    for user, name in (("ann", "Ann"), ("zoë", "Zoë 😀"), ("ben", 'Ben "quoted"')):
        room.join(user, name, T0, max_players=10)
    room.start("host", T0)
    payloads: list[dict[str, Any]] = [
        {"choice": 1},
        {"choices": [0, 2]},
        {"choice": 1},
        {"text": "madrid ñ"},
        {"value": 95},
    ]
    for index, payload in enumerate(payloads):
        room.answer("ann", index, payload, T0 + 1000 * index + 7)
        room.next("host", T0 + 1000 * index + 500)
        room.show_leaderboard("host", T0 + 1000 * index + 600)
        room.next("host", T0 + 1000 * index + 700)
    return room


def stores(tmp_path: Path) -> tuple[EventStore, EventStore]:
    plain = EventStore(f"sqlite:///{tmp_path}/plain.sqlite3")
    plain.write_plain_json(Room)
    library = EventStore(f"sqlite:///{tmp_path}/library.sqlite3")
    return plain, library


def test_every_event_and_the_snapshot_are_the_bytes_the_library_writes(tmp_path: Path) -> None:
    plain, library = stores(tmp_path)
    assert isinstance(plain.mapper, PlainJSONMapper)
    room = played_room()
    events = list(room.pending_events)
    assert {type(e).__name__ for e in events} >= {
        "RoomCreated",
        "MemberJoined",
        "AnswerSubmitted",
        "QuestionClosed",
    }
    for event in [*events, Snapshot.take(room)]:
        ours, theirs = plain.mapper.to_stored_event(event), Mapper.to_stored_event(plain.mapper, event)
        assert (ours.topic, ours.originator_version, ours.state) == (
            theirs.topic,
            theirs.originator_version,
            theirs.state,
        ), type(event).__name__
        assert ours.state == library.mapper.to_stored_event(event).state
    plain.close()
    library.close()


def test_a_small_float_is_spelled_otherwise_but_reads_back_the_same(tmp_path: Path) -> None:
    plain, _ = stores(tmp_path)
    event = played_room().pending_events[-1]
    event.__dict__["numbers"] = [0.1, 95.5, 1e-05, 1e16, -0.0]
    ours, theirs = plain.mapper.to_stored_event(event), Mapper.to_stored_event(plain.mapper, event)
    assert b"0.00001" in ours.state and b"1e-05" in theirs.state
    decoded = plain.mapper.transcoder.decode(ours.state)
    assert decoded == plain.mapper.transcoder.decode(theirs.state)
    assert decoded["numbers"] == [0.1, 95.5, 1e-05, 1e16, -0.0]


def test_what_orjson_refuses_is_written_as_before(tmp_path: Path) -> None:
    plain, _ = stores(tmp_path)
    room = played_room()
    event = room.pending_events[-1]
    event.__dict__["extra"] = {1: "an int key", "big": 2**70}  # orjson refuses both
    assert plain.mapper.to_stored_event(event).state == Mapper.to_stored_event(plain.mapper, event).state


def test_only_registered_aggregates_are_written_by_orjson(tmp_path: Path) -> None:
    """A UUID in another aggregate's state keeps the library's transcoding (orjson would
    write it as a bare string and it would load back as one)."""
    plain, _ = stores(tmp_path)
    snapshot = Snapshot.take(played_room())
    snapshot.__dict__["topic"] = "some.other:Aggregate"
    snapshot.__dict__["state"] = {"an_id": uuid.UUID(int=7)}
    assert b'"_type_":"uuid_hex"' in plain.mapper.to_stored_event(snapshot).state


def test_a_store_written_with_orjson_loads_without_it(tmp_path: Path) -> None:
    plain, _ = stores(tmp_path)
    room = played_room()
    plain.save(room)
    plain.snapshot_if_due(room, 0) or plain.snapshots.put([Snapshot.take(room)])  # type: ignore[union-attr]
    plain.close()
    reader = EventStore(f"sqlite:///{tmp_path}/plain.sqlite3")  # the library's mapper alone
    assert not isinstance(reader.mapper, PlainJSONMapper) or not reader.mapper._event_classes  # noqa: SLF001
    loaded = reader.load(room.id)
    assert public_state(loaded) == public_state(room)
    assert loaded.version == room.version
    replayed_events = reader.stored_events(room.id)
    assert len(replayed_events) == room.version
    reader.close()
