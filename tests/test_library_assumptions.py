"""What quiz-actors assumes of its libraries beyond what they document.

Five mechanisms lean on things their libraries do not promise: ``PooledActor``
(pykka's hooks for new actor types and the loop it copies), ``OneTripPostgresRecorder``
and ``BoundedPostgresFactory`` (attributes of eventsourcing's PostgreSQL recorder
and datastore, and the retry decorator around its saves and reads), ``EventStore.save``
(eventsourcing's ``Application.save``, which it does without its type checks), the hand-built RFC 6455
frames a broadcast shares (``websocket_text_frame``, written beside aiohttp's own
writer), and the C JSON
encoder ``protocol.encode`` reuses. An upgrade that breaks one would show up as
a hang, a lost message or a slow server; each check here fails instead with a
message naming the library, the assumption and what depends on it.

The last tests break each assumption on purpose (monkeypatch) and show that its
check then fails with that message.
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import json
import textwrap
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import aiohttp
import pykka
import pytest
from aiohttp import web
from eventsourcing.application import Application, ProcessingEvent
from eventsourcing.postgres import PostgresAggregateRecorder, PostgresApplicationRecorder, PostgresDatastore
from pykka._envelope import Envelope  # noqa: PLC2701 - what PooledInbox stores

from eventstore import EventStore
from eventstore.postgres import (
    LIBRARY_RETRIES_REPLACED,
    LIBRARY_SNAPSHOT_RETRIES_REPLACED,
    BoundedPostgresAggregateRecorder,
    OneTripPostgresRecorder,
)
from quiz_actors import protocol
from quiz_actors.protocol import Batch
from quiz_actors.server import session


class AssumptionBroken(AssertionError):
    pass


def require(holds: bool, assumption: str) -> None:
    if not holds:
        raise AssumptionBroken(assumption)


# ------------------------------------------------------------------ pykka (PooledActor)

# pykka.Actor methods PooledActor calls, and what for (quiz_actors/actors/pooled.py).
POOLED_ACTOR_CALLS = {
    "_create_actor_inbox": "to give each actor a PooledInbox",
    "_create_future": "to make the futures of ask()",
    "_start_actor_loop": "to schedule the first turn instead of starting a thread",
    "_actor_loop_setup": "to run on_start with pykka's failure handling",
    "_actor_loop_teardown": "to fail the asks that came too late",
    "_handle_receive": "to handle one message (proxy calls, stop) as pykka does",
    "_handle_failure": "to log a failure and stop the actor",
    "_stop": "to stop at once on a BaseException",
}

# PooledActor._handle_envelope is the body of this method of pykka 4.5.0, one
# message at a time: when pykka changes it, the copy must be compared again.
ACTOR_LOOP_RUNNING_SHA256 = "226670085f0c989497b438b01649c9646e99685e524121f5bef4d1af6358a8ae"

# PooledActor._handle_envelope hands any message but these four of pykka's
# (quiz_actors/actors/pooled.py, _PYKKA_MESSAGES) straight to on_receive, as this
# method of pykka 4.5.0 does after checking for them.
HANDLE_RECEIVE_SHA256 = "b34fbe107827333c49d561b75d17f2464fbde3b8f43214488aab41e0d1a2228a"


class RecordingInbox:
    def __init__(self) -> None:
        self.envelopes: deque[Envelope[Any]] = deque()

    def put(self, envelope: Envelope[Any], /) -> None:
        self.envelopes.append(envelope)

    def get(self) -> Envelope[Any]:
        return self.envelopes.popleft()

    def empty(self) -> bool:
        return not self.envelopes


def check_pykka_hooks() -> None:
    for name, why in POOLED_ACTOR_CALLS.items():
        require(
            callable(getattr(pykka.Actor, name, None)),
            f"pykka.Actor no longer has {name}(), which PooledActor calls {why}",
        )
    inboxes: list[RecordingInbox] = []
    started: list[pykka.Actor] = []

    class Probe(pykka.Actor):
        @staticmethod
        def _create_actor_inbox() -> RecordingInbox:
            inboxes.append(RecordingInbox())
            return inboxes[-1]

        @staticmethod
        def _create_future() -> pykka.ThreadingFuture[Any]:
            return pykka.ThreadingFuture()

        def _start_actor_loop(self) -> None:
            started.append(self)

    ref = Probe.start()
    try:
        actor = started[0] if started else None
        require(
            actor is not None,
            "pykka.Actor.start() no longer calls _start_actor_loop(): no PooledActor would run",
        )
        assert actor is not None
        require(
            len(inboxes) == 1 and actor.actor_inbox is inboxes[0],
            "pykka.Actor.__init__ no longer takes actor_inbox from _create_actor_inbox(): "
            "PooledActor's mailbox would never get mail",
        )
        require(
            isinstance(actor.actor_stopped, threading.Event),
            "pykka.Actor.actor_stopped is no longer a threading.Event, "
            "which PooledActor checks between messages",
        )
        inbox = inboxes[0]
        ref.tell("told")
        told = inbox.envelopes[-1] if inbox.envelopes else None
        require(
            isinstance(told, Envelope) and told.message == "told" and told.reply_to is None,
            "pykka.ActorRef.tell() no longer puts Envelope(message) into actor_inbox, "
            "which PooledInbox schedules and PooledActor handles",
        )
        future = ref.ask("asked", block=False)
        asked = inbox.envelopes[-1] if inbox.envelopes else None
        require(
            isinstance(asked, Envelope) and asked.message == "asked" and asked.reply_to is future,
            "pykka.ActorRef.ask() no longer puts Envelope(message, reply_to=<the future of "
            "_create_future()>) into actor_inbox, which PooledActor answers",
        )
    finally:
        pykka.ActorRegistry.unregister(ref)


def check_pykka_loop_copied() -> None:
    source = textwrap.dedent(inspect.getsource(pykka.Actor._actor_loop_running))
    require(
        hashlib.sha256(source.encode()).hexdigest() == ACTOR_LOOP_RUNNING_SHA256,
        "pykka.Actor._actor_loop_running changed since PooledActor._handle_envelope copied it "
        "(pykka 4.5.0): compare the two, update the copy, then ACTOR_LOOP_RUNNING_SHA256",
    )


def check_pykka_receive_bypassed() -> None:
    source = textwrap.dedent(inspect.getsource(pykka.Actor._handle_receive))
    require(
        hashlib.sha256(source.encode()).hexdigest() == HANDLE_RECEIVE_SHA256,
        "pykka.Actor._handle_receive changed since PooledActor._handle_envelope learnt which "
        "messages it handles itself (pykka 4.5.0): compare them with _PYKKA_MESSAGES, then "
        "HANDLE_RECEIVE_SHA256",
    )


def test_pooled_actor_passes_its_own_messages_to_on_receive_as_pykka_does() -> None:
    check_pykka_receive_bypassed()


def test_pykka_runs_actors_through_the_hooks_pooled_actor_replaces() -> None:
    check_pykka_hooks()


def test_pooled_actor_handles_a_message_as_pykkas_own_loop_does() -> None:
    check_pykka_loop_copied()


# ------------------------------------------------------------------ eventsourcing (OneTripPostgresRecorder)

# PostgresApplicationRecorder attributes OneTripPostgresRecorder reads or replaces
# (eventstore/postgres.py); none of them is documented.
ONE_TRIP_RECORDER_USES = (
    "pg_function_name_insert_events",
    "sql_create_statements",
    "create_insert_function_statement_index",
    "stored_event_type_name",
    "channel_name",
)


def library_recorder() -> PostgresApplicationRecorder:
    # Connects to nothing: the datastore's pool opens on first use.
    datastore = PostgresDatastore("test", "127.0.0.1", 5432, "postgres", "", enable_db_functions=True)
    return PostgresApplicationRecorder(datastore, events_table_name="quiz_events")


def check_eventsourcing_recorder(recorder: PostgresApplicationRecorder) -> None:
    for name in ONE_TRIP_RECORDER_USES:
        require(
            hasattr(recorder, name),
            f"eventsourcing's PostgresApplicationRecorder no longer has attribute {name} "
            "used by OneTripPostgresRecorder",
        )
    for name in ("schema", "lock_timeout"):
        require(
            hasattr(recorder.datastore, name),
            f"eventsourcing's PostgresDatastore no longer has attribute {name} "
            "used by OneTripPostgresRecorder",
        )
    statement = recorder.sql_create_statements[recorder.create_insert_function_statement_index].as_string()
    require(
        statement.startswith("CREATE OR REPLACE FUNCTION")
        and recorder.pg_function_name_insert_events in statement,
        "eventsourcing's PostgresApplicationRecorder.sql_create_statements"
        "[create_insert_function_statement_index] no longer creates its insert function, "
        "the statement OneTripPostgresRecorder replaces",
    )
    require(
        isinstance(recorder.datastore.pool.kwargs, dict),
        "eventsourcing's PostgresDatastore pool no longer keeps its connect arguments in a dict, "
        "where BoundedPostgresFactory adds the statement timeout",
    )
    replaced = [(type(recorder), name) for name in LIBRARY_RETRIES_REPLACED]
    replaced += [(PostgresAggregateRecorder, name) for name in LIBRARY_SNAPSHOT_RETRIES_REPLACED]
    for recorder_class, name in replaced:
        method = getattr(recorder_class, name)
        wrapped = getattr(method, "__wrapped__", None)
        require(
            method.__code__.co_name == "retry_decorator"
            and wrapped is not None
            and inspect.unwrap(method) is wrapped,
            f"eventsourcing's {recorder_class.__name__}.{name} is no longer its retry decorator "
            f"around one statement: eventstore/postgres.py unwraps it to retry within a bound "
            "of its own (retried_within_bound)",
        )


# eventstore/application.py's EventStore._save is these two methods of eventsourcing 9.5.6
# for aggregates only, without their isinstance checks: when the library changes either,
# compare again.
APPLICATION_SAVE_SHA256 = "90ffff529fa38bb0f0a2d7a459b8514d9554e2a2d02a00159614fd7b808bcddc"
COLLECT_EVENTS_SHA256 = "231f20663caddfa1beb2c63f63490ca483f4728718e1c03f96fa7b1193a6ad00"


def check_application_save_copied() -> None:
    source = textwrap.dedent(inspect.getsource(Application.save))
    require(
        hashlib.sha256(source.encode()).hexdigest() == APPLICATION_SAVE_SHA256,
        "eventsourcing's Application.save changed since EventStore._save was read from it "
        "(eventsourcing 9.5.6): compare the two, update _save, then APPLICATION_SAVE_SHA256",
    )
    source = textwrap.dedent(inspect.getsource(ProcessingEvent.collect_events))
    require(
        hashlib.sha256(source.encode()).hexdigest() == COLLECT_EVENTS_SHA256,
        "eventsourcing's ProcessingEvent.collect_events changed since EventStore._save was read "
        "from it (eventsourcing 9.5.6): compare the two, update _save, then COLLECT_EVENTS_SHA256",
    )
    require(
        not EventStore.snapshotting_intervals,
        "EventStore has snapshotting intervals, which the library's save would act on and "
        "EventStore._save does not: snapshots are taken by snapshot_if_due",
    )


def test_event_store_saves_as_the_library_does() -> None:
    check_application_save_copied()


def test_one_trip_recorder_finds_what_it_replaces_in_eventsourcing() -> None:
    check_eventsourcing_recorder(library_recorder())


def test_our_recorders_replace_every_library_retry_they_name() -> None:
    """The names in LIBRARY_RETRIES_REPLACED and LIBRARY_SNAPSHOT_RETRIES_REPLACED are the
    methods eventstore/postgres.py bounds: each must be overridden by its recorder with the
    bounded retry, not left as the library's ten attempts."""
    replaced = [(OneTripPostgresRecorder, name) for name in LIBRARY_RETRIES_REPLACED]
    replaced += [(BoundedPostgresAggregateRecorder, name) for name in LIBRARY_SNAPSHOT_RETRIES_REPLACED]
    for recorder_class, name in replaced:
        method = getattr(recorder_class, name)
        assert method.__code__.co_name == "bounded", (
            f"{recorder_class.__name__}.{name} keeps the library's retry"
        )


# ------------------------------------------------------------------ aiohttp (hand-built frames)

# Payload sizes on both sides of each RFC 6455 length form (7-bit, 16-bit, 64-bit).
FRAME_SIZES = (2, 125, 126, 127, 65_535, 65_536, 70_000)


def _text_of(size: int) -> str:
    return json.dumps("é" * ((size - 2) // 2) + "x" * ((size - 2) % 2))  # ``size`` bytes of UTF-8


async def check_frames_parse_back(build: Callable[[bytes], bytes]) -> None:
    """Write ``build``'s frames straight to the socket's transport, as SocketSession does,
    then one message through aiohttp's own writer; an aiohttp client must read them all."""
    texts = [_text_of(size) for size in FRAME_SIZES]

    async def handle(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(compress=False)
        await ws.prepare(request)
        assert request.transport is not None
        for text in texts:
            request.transport.write(build(Batch(text).payload()))
        await ws.send_str("after")  # aiohttp's own writer, on the same transport
        await ws.receive()
        return ws

    app = web.Application()
    app.router.add_get("/ws", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/ws"
    try:
        async with aiohttp.ClientSession() as http, http.ws_connect(url) as ws:
            for size, text in [*zip(FRAME_SIZES, texts, strict=True), (5, "after")]:
                try:
                    frame = await asyncio.wait_for(ws.receive(), 10)
                except TimeoutError:
                    raise AssumptionBroken(
                        f"a frame built by Batch ({size} bytes) is not what aiohttp's WebSocketReader "
                        "parses back: it waits for bytes the frame does not have"
                    ) from None
                require(
                    frame.type == aiohttp.WSMsgType.TEXT and frame.data == text,
                    f"a frame built by Batch ({size} bytes) is not what aiohttp's WebSocketReader "
                    f"parses back: got {frame.type.name} {str(frame.data)[:60]!r}",
                )
    finally:
        await runner.cleanup()


async def test_aiohttp_reads_the_frames_a_batch_shares() -> None:
    await check_frames_parse_back(session.websocket_text_frame)


# ------------------------------------------------------------------ json (the reused C encoder)

SAMPLES: list[Any] = [
    {"type": "state", "seq": 3, "you": {"score": 0, "answered": False, "rank": None}},
    {"a": [1, 2.5, -0.0, 1e300, True, None], "b": {}, "c": []},
    {"name": 'Zoë "the" 🦊\n\t\\ \u2028', "big": 2**70, "neg": -17},
]


def check_c_encoder(encode: Callable[[Any], str]) -> None:
    require(
        getattr(json.encoder, "c_make_encoder", None) is not None,
        "json.encoder.c_make_encoder is gone: protocol.encode falls back to the pure-Python "
        "encoder, several times slower for the thousands of messages of a reveal",
    )
    require(
        not isinstance(getattr(encode, "__self__", None), json.JSONEncoder),
        "json.encoder.c_make_encoder no longer takes the nine arguments protocol._make_encoder passes "
        "(markers, default, encoder, indent, key_separator, item_separator, sort_keys, skipkeys, "
        "allow_nan) or no longer encodes as json.dumps does: protocol.encode fell back to JSONEncoder.encode",
    )
    for sample in SAMPLES:
        require(
            encode(sample) == json.dumps(sample, separators=(",", ":"), ensure_ascii=False),
            f"protocol.encode no longer encodes {sample!r} as json.dumps does",
        )


def test_protocol_encodes_with_the_c_encoder() -> None:
    check_c_encoder(protocol.encode)


# ------------------------------------------------------------------ each check fails when its assumption does


def test_the_pykka_checks_fail_when_pykka_changes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(pykka.Actor, "_actor_loop_teardown")
    with pytest.raises(AssumptionBroken, match=r"pykka.Actor no longer has _actor_loop_teardown\(\)"):
        check_pykka_hooks()
    monkeypatch.undo()

    def tell_without_envelope(self: pykka.ActorRef[Any], message: Any) -> None:
        self.actor_inbox.put(message)

    monkeypatch.setattr(pykka.ActorRef, "tell", tell_without_envelope)
    with pytest.raises(AssumptionBroken, match=r"pykka.ActorRef.tell\(\) no longer puts Envelope"):
        check_pykka_hooks()
    monkeypatch.undo()

    def changed_loop(self: pykka.Actor) -> None:
        pass

    monkeypatch.setattr(pykka.Actor, "_actor_loop_running", changed_loop)
    with pytest.raises(AssumptionBroken, match="pykka.Actor._actor_loop_running changed"):
        check_pykka_loop_copied()

    def changed_receive(self: pykka.Actor, message: Any) -> Any:
        return self.on_receive(message)

    monkeypatch.setattr(pykka.Actor, "_handle_receive", changed_receive)
    with pytest.raises(AssumptionBroken, match="pykka.Actor._handle_receive changed"):
        check_pykka_receive_bypassed()


def test_the_eventsourcing_checks_fail_when_eventsourcing_changes(monkeypatch: pytest.MonkeyPatch) -> None:
    recorder = library_recorder()
    del recorder.channel_name
    with pytest.raises(AssumptionBroken, match="no longer has attribute channel_name used by OneTrip"):
        check_eventsourcing_recorder(recorder)

    recorder = library_recorder()
    recorder.create_insert_function_statement_index = 0  # some other statement
    with pytest.raises(AssumptionBroken, match="no longer creates its insert function"):
        check_eventsourcing_recorder(recorder)

    def changed_save(self: Application[Any], *objs: Any, **kwargs: Any) -> Any:
        return None

    with monkeypatch.context() as patched:
        patched.setattr(Application, "save", changed_save)
        with pytest.raises(AssumptionBroken, match="Application.save changed"):
            check_application_save_copied()
    with monkeypatch.context() as patched:
        patched.setattr(ProcessingEvent, "collect_events", changed_save)
        with pytest.raises(AssumptionBroken, match="ProcessingEvent.collect_events changed"):
            check_application_save_copied()
    with monkeypatch.context() as patched:
        patched.setattr(EventStore, "snapshotting_intervals", {object: 10})
        with pytest.raises(AssumptionBroken, match="EventStore has snapshotting intervals"):
            check_application_save_copied()

    replaced = [(PostgresApplicationRecorder, name) for name in LIBRARY_RETRIES_REPLACED]
    replaced += [(PostgresAggregateRecorder, name) for name in LIBRARY_SNAPSHOT_RETRIES_REPLACED]
    for recorder_class, name in replaced:
        with monkeypatch.context() as patched:
            patched.setattr(recorder_class, name, getattr(recorder_class, name).__wrapped__)
            with pytest.raises(AssumptionBroken, match=f"{name} is no longer its retry decorator"):
                check_eventsourcing_recorder(library_recorder())


async def test_the_frame_check_fails_when_aiohttp_reads_the_frames_otherwise() -> None:
    def binary_frame(payload: bytes) -> bytes:  # one header bit off, as a framing mistake would be
        return bytes([0x82]) + session.websocket_text_frame(payload)[1:]

    with pytest.raises(
        AssumptionBroken, match="a frame built by Batch .* is not what aiohttp's WebSocketReader"
    ):
        await check_frames_parse_back(binary_frame)


def test_the_encoder_check_fails_when_the_c_encoder_changes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(json.encoder, "c_make_encoder", None)
    with pytest.raises(AssumptionBroken, match="json.encoder.c_make_encoder is gone"):
        check_c_encoder(protocol._make_encoder())

    def make_encoder_of_another_signature(markers: Any, default: Any) -> Any:
        raise TypeError("c_make_encoder() takes 2 arguments")

    monkeypatch.setattr(json.encoder, "c_make_encoder", make_encoder_of_another_signature)
    with pytest.raises(AssumptionBroken, match="no longer takes the nine arguments"):
        check_c_encoder(protocol._make_encoder())


# ------------------------------------------------------------------ psycopg_pool (reconnect delays)


def test_the_store_pool_reconnects_steadily_not_with_growing_backoff() -> None:
    """``steady_pool_reconnects`` (eventstore/postgres.py) sets two class attributes of
    psycopg_pool's ``AttemptWithBackoff``: the pool must still create its attempts from
    that class and read them, or a pool would again wait up to 8 s and more after an
    outage before it reconnects."""
    import psycopg_pool.base
    import psycopg_pool.pool

    from eventstore.postgres import POOL_RECONNECT_EVERY_S, steady_pool_reconnects

    steady_pool_reconnects()
    assert psycopg_pool.pool.AttemptWithBackoff is psycopg_pool.base.AttemptWithBackoff, (
        "psycopg_pool's pool no longer makes its reconnect attempts from base.AttemptWithBackoff"
    )
    attempt = psycopg_pool.base.AttemptWithBackoff(timeout=300)
    delays = []
    for _ in range(6):
        attempt.update_delay(time.monotonic())
        delays.append(attempt.delay)
    assert all(abs(d - POOL_RECONNECT_EVERY_S) <= POOL_RECONNECT_EVERY_S * 0.11 for d in delays), (
        f"psycopg_pool's reconnect delays no longer follow INITIAL_DELAY and DELAY_BACKOFF: {delays}"
    )
