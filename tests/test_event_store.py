"""The event store on both kinds of database: atomic saves, and a notification
log that a reader can follow while rooms write to it concurrently."""

from __future__ import annotations

import threading
import time
import uuid

import pytest
from eventsourcing.domain import Snapshot

from eventstore import EventStore
from tests.conftest import one_question_room


def test_a_save_of_several_aggregates_is_one_block_of_notifications(store_url):
    store = EventStore(store_url)
    try:
        first, second = one_question_room("100001"), one_question_room("100002")
        store.save(first, second)
        notes = list(store.iter_notifications())
        assert [n.originator_id for n in notes] == [first.id, second.id]
        assert [n.id for n in notes] == [1, 2]
        assert store.load(first.id).code == "100001"
    finally:
        store.close()


class FailedSaves:
    """A store observer that keeps what it is told of failed saves."""

    def __init__(self) -> None:
        self.conflicts: list[bool] = []

    def saved(self, events, seconds) -> None:
        pass

    def save_failed(self, seconds, conflict) -> None:
        self.conflicts.append(conflict)

    def loaded(self, aggregate, seconds) -> None:
        pass


def test_a_save_another_writer_got_in_before_is_told_apart_from_other_failures(store_url):
    """The metrics count failed saves that are not version clashes on their own
    (``quiz_store_save_errors_total``): in a cluster clashes are routine, and the alert
    on failed saves must not page for them."""
    observer = FailedSaves()
    store = EventStore(store_url, observer=observer)
    try:
        room = one_question_room("100003")
        store.save(room)
        first, second = store.load(room.id), store.load(room.id)
        first.take_over("node1", 2, at=5)
        store.save(first)
        second.take_over("node2", 3, at=6)  # the same version as first's: the check refuses it
        with pytest.raises(Exception, match="(?i)integrity|unique|duplicate"):
            store.save(second)
        assert observer.conflicts == [True]
    finally:
        store.close()
    with pytest.raises(Exception):  # noqa: B017 - any failure of a store that was closed
        store.save(one_question_room("100004"))
    assert observer.conflicts == [True, False]


def test_a_reader_of_the_log_never_sees_a_later_event_before_an_earlier_one(store_url):
    """Rooms save from their own threads at the same time. Notification ids must
    become visible in order: the audit tools remember the last id they read and
    would skip forever an earlier one that committed later."""
    store = EventStore(store_url)
    writers, saves_each = 4, 60
    stop = threading.Event()
    gaps: list[tuple[int, list[int]]] = []
    errors: list[BaseException] = []

    def write(index: int) -> None:
        try:
            room = one_question_room(f"2{index:05d}")
            store.save(room)
            for n in range(saves_each):
                room.join(str(uuid.uuid4()), f"P{n}", 2 + n, 1000)
                store.save(room)
        except BaseException as e:  # noqa: BLE001 - reported by the main thread
            errors.append(e)

    def read() -> None:
        while not stop.is_set():
            ids = [n.id for n in store.iter_notifications()]
            if ids != list(range(1, len(ids) + 1)):
                gaps.append((len(ids), ids[-5:]))

    reader = threading.Thread(target=read)
    threads = [threading.Thread(target=write, args=(i,)) for i in range(writers)]
    try:
        reader.start()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        stop.set()
        reader.join(timeout=60)
        assert not errors, errors
        assert not gaps, f"the reader saw ids out of order: {gaps[:3]}"
        assert store.max_notification_id() == writers * (saves_each + 1)
    finally:
        stop.set()
        store.close()


@pytest.mark.postgres
@pytest.mark.parametrize("store_url", ["postgres"], indirect=True)
def test_postgres_saves_take_the_table_lock_in_one_call(store_url):
    """The one-round-trip save keeps the library's ordering guarantee: its
    function locks the events table before it inserts, and every save goes
    through it (without it, a save fails naming it)."""
    import psycopg

    store = EventStore(store_url)
    try:
        schema = store_url.split("schema=")[1]
        function = "quiz_events_insert_columns_locked"
        with psycopg.connect(store_url.split("?")[0], autocommit=True) as conn:
            body = conn.execute(
                "SELECT pg_get_functiondef(p.oid) FROM pg_proc p "
                "JOIN pg_namespace n ON n.oid = p.pronamespace "
                "WHERE n.nspname = %s AND p.proname = %s",
                (schema, function),
            ).fetchone()[0]
            assert "LOCK TABLE" in body and "EXCLUSIVE MODE" in body
            room = one_question_room("300001")
            room.join("u1", "Ann", 2, 1000)
            store.save(room)  # through that function: three events in one call
            assert store.load(room.id).code == "300001"
            conn.execute(f"DROP FUNCTION {schema}.{function}")
        with pytest.raises(Exception, match=function):
            store.save(one_question_room("300002"))
    finally:
        store.close()


# How the release before 5c5dd2c saved on PostgreSQL: one array of the library's
# composite type, through a function of its own (eventstore/postgres.py at da86e06;
# eventstore/postgres.py has the new one).
EARLIER_RELEASE_INSERT_FUNCTION = (
    "CREATE OR REPLACE FUNCTION {schema}.quiz_events_insert_locked(events {schema}.stored_event_uuid[]) "
    "RETURNS SETOF bigint LANGUAGE plpgsql AS $BODY$ "
    "BEGIN "
    "  SET LOCAL lock_timeout = '5s'; "
    "  LOCK TABLE {schema}.quiz_events IN EXCLUSIVE MODE; "
    '  NOTIFY "quiz_events"; '
    "  RETURN QUERY "
    "  INSERT INTO {schema}.quiz_events (originator_id, originator_version, topic, state) "
    "  SELECT originator_id, originator_version, topic, state FROM unnest(events) "
    "  RETURNING notification_id; "
    "END; $BODY$"
)


def _as_the_earlier_release_left_it(conn, schema: str) -> None:
    """The schema this release made, with the earlier release's insert function instead of its own."""
    conn.execute(f"DROP FUNCTION {schema}.quiz_events_insert_columns_locked")
    conn.execute(EARLIER_RELEASE_INSERT_FUNCTION.format(schema=schema))


def _saved_by_the_earlier_release(conn, schema: str, store: EventStore, room) -> None:
    (event,) = [store.mapper.to_stored_event(e) for e in room.collect_events()]
    conn.execute(
        f"SELECT * FROM {schema}.quiz_events_insert_locked(ARRAY[ROW(%s::uuid, %s::bigint, "
        f"%s::text, %s::bytea)]::{schema}.stored_event_uuid[])",
        (event.originator_id, event.originator_version, event.topic, event.state),
    )


def _insert_functions(conn, schema: str) -> list[str]:
    rows = conn.execute(
        "SELECT proname FROM pg_proc JOIN pg_namespace n ON n.oid = pronamespace "
        "WHERE nspname = %s AND proname LIKE 'quiz_events_insert%%' ORDER BY proname",
        (schema,),
    ).fetchall()
    return [name for (name,) in rows]


@pytest.mark.postgres
@pytest.mark.parametrize("store_url", ["postgres"], indirect=True)
@pytest.mark.parametrize("start", ["single node", "cluster node"])
def test_this_release_starts_on_the_earlier_releases_postgres_schema_and_both_save(store_url, start):
    """A database the earlier release set up (its insert function, not this release's):
    this release, started as a single node or as a cluster node (which checks the schema
    under a lock, ``quiz_actors/cluster/schema.py``), adds its function beside the
    earlier one and saves through it. The earlier function stays, so during a rolling
    upgrade of a cluster a node of either release saves a room's next events and the
    other reads them."""
    import psycopg

    from quiz_actors.cluster.database import ClusterDatabase
    from quiz_actors.cluster.schema import open_store

    schema, database = store_url.split("schema=")[1], store_url.split("?")[0]
    earlier = EventStore(store_url)  # reads and maps events as the earlier release did
    try:
        room = one_question_room("300003")
        earlier.save(room)
        with psycopg.connect(database, autocommit=True) as conn:
            _as_the_earlier_release_left_it(conn, schema)
            assert _insert_functions(conn, schema) == ["quiz_events_insert_locked"]
            room.join("u1", "Ann", 2, 1000)
            _saved_by_the_earlier_release(conn, schema, earlier, room)

        if start == "cluster node":
            cluster = ClusterDatabase(store_url)
            this = open_store(cluster, store_url)
        else:
            this = EventStore(store_url)
        try:
            loaded = this.load(room.id)
            assert set(loaded.members) == {"h", "u1"}
            loaded.join("u2", "Bo", 3, 1000)
            this.save(loaded)  # through this release's function
        finally:
            this.close()
            if start == "cluster node":
                cluster.close()

        with psycopg.connect(database, autocommit=True) as conn:
            assert _insert_functions(conn, schema) == [
                "quiz_events_insert_columns_locked",
                "quiz_events_insert_locked",
            ]
            room = earlier.load(room.id)
            room.join("u3", "Cy", 4, 1000)
            _saved_by_the_earlier_release(conn, schema, earlier, room)  # a node not upgraded yet
        assert set(earlier.load(room.id).members) == {"h", "u1", "u2", "u3"}
    finally:
        earlier.close()


def test_the_last_versions_of_many_aggregates_are_read_without_loading_them(store_url):
    """One read for them all (the sweep asks it of every room nobody serves); an
    aggregate never stored has none, and a snapshot does not move a version."""
    store = EventStore(store_url)
    try:
        first, second = one_question_room("300001"), one_question_room("300002")
        store.save(first, second)
        for n in range(3):
            second.join(f"u{n}", f"P{n}", 2 + n, 1000)
        store.save(second)
        store.snapshots.put([Snapshot.take(second)])
        never = uuid.uuid4()
        assert store.last_versions([first.id, second.id, never]) == {first.id: 1, second.id: 4}
        assert store.last_versions([]) == {}
    finally:
        store.close()


@pytest.mark.postgres
@pytest.mark.parametrize("store_url", ["postgres"], indirect=True)
def test_a_save_that_times_out_on_the_table_lock_is_not_tried_again(store_url, monkeypatch):
    """Another transaction holds the lock every save takes on the events table. The save
    waits one lock timeout and gives up, though its retry window has most of a minute
    left: that attempt already waited its whole bound (eventstore/persistence.py,
    POSTGRES_RETRY_S), and its players are waiting. Once the lock is gone saves go on."""
    import psycopg
    from eventsourcing.persistence import OperationalError

    from eventstore import persistence, postgres

    monkeypatch.setattr(persistence, "POSTGRES_LOCK_TIMEOUT_S", 1)
    monkeypatch.setattr(postgres, "POSTGRES_RETRY_S", 60.0)
    retries: list[float] = []  # every retry of a save or read sleeps first

    class Clock:
        monotonic = staticmethod(time.monotonic)

        @staticmethod
        def sleep(seconds: float) -> None:
            retries.append(seconds)
            time.sleep(seconds)

    monkeypatch.setattr(postgres, "time", Clock)
    store = EventStore(store_url)
    schema = store_url.split("schema=")[1]
    try:
        store.save(one_question_room("400001"))
        blocked = one_question_room("400002")
        with psycopg.connect(store_url.split("?")[0]) as other:  # a transaction until rollback
            other.execute(f"LOCK TABLE {schema}.quiz_events IN EXCLUSIVE MODE")
            with pytest.raises(OperationalError, match="lock timeout"):
                store.save(blocked)
            other.rollback()
        assert retries == []  # one attempt
        assert store.load(blocked.id) is None  # nothing of it stored
        # Its events were taken by the failed save (a room reloads after one, saving.py).
        later = one_question_room("400003")
        store.save(later)
        assert store.load(later.id).code == "400003"
    finally:
        store.close()


@pytest.mark.postgres
@pytest.mark.parametrize("store_url", ["postgres"], indirect=True)
def test_a_snapshot_write_that_times_out_is_not_tried_again(store_url, monkeypatch):
    """A snapshot is written on the room's thread (or the hub's) after a save. With the
    snapshots table locked elsewhere it waits out one statement timeout and gives up,
    where eventsourcing's own retry would try ten times, holding that thread for ten
    timeouts. The room's events are stored, and it loads from them; a later snapshot
    is written once the lock is gone."""
    import psycopg
    from eventsourcing.persistence import OperationalError
    from eventsourcing.postgres import PostgresAggregateRecorder

    from eventstore import application, postgres

    monkeypatch.setattr(postgres, "POSTGRES_STATEMENT_TIMEOUT_MS", 500)
    monkeypatch.setattr(postgres, "POSTGRES_RETRY_S", 60.0)
    monkeypatch.setattr(application, "SNAPSHOT_EVERY", 1)  # every save is due one
    attempts: list[int] = []  # every attempt runs the library's one INSERT
    insert_once = PostgresAggregateRecorder._insert_stored_events

    def counted(recorder, *args, **kwargs):
        attempts.append(len(args[1]))
        return insert_once(recorder, *args, **kwargs)

    monkeypatch.setattr(PostgresAggregateRecorder, "_insert_stored_events", counted)
    store = EventStore(store_url)
    schema = store_url.split("schema=")[1]
    try:
        room = one_question_room("400004")
        store.save(room)
        with psycopg.connect(store_url.split("?")[0]) as other:  # a transaction until rollback
            other.execute(f"LOCK TABLE {schema}.quiz_snapshots IN EXCLUSIVE MODE")
            with pytest.raises(OperationalError, match="statement timeout"):
                store.snapshot_if_due(room, 0)
            other.rollback()
        assert attempts == [1]  # one attempt of one snapshot
        assert store.snapshots is not None
        assert list(store.snapshots.get(room.id)) == []
        assert store.load(room.id).code == "400004"  # from its events
        assert store.snapshot_if_due(room, 0)
        assert [s.originator_version for s in store.snapshots.get(room.id)] == [room.version]
        assert attempts == [1, 1]
    finally:
        store.close()
