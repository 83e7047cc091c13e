"""``quiz-admin backup`` / ``restore`` (issue: run it like a service).

A backup taken in the middle of a question, while the server runs, restores
into a new store; a new server on it has the room, the players' tokens still
work, and the game plays on from where the backup was taken.
"""

from __future__ import annotations

import asyncio
import gzip
import sys
import uuid
from pathlib import Path

import pytest
from eventsourcing.domain import Aggregate, event

from eventstore import EventStore
from eventstore.application import SNAPSHOT_EVERY
from eventstore.backup import backup, restore
from quiz_actors.settings import Settings
from tests.client import QuizClient
from tests.conftest import POSTGRES_URL, RunningServer, answer, create_room, join, upload_quiz

QUIZ = {
    "title": "Backed up",
    "questions": [
        {"text": "One?", "choices": ["a", "b"], "correct": [1], "time_limit_s": 60},
        {"text": "Two?", "choices": ["a", "b"], "correct": [0], "time_limit_s": 60},
    ],
}


async def quiz_admin(*args: str) -> tuple[int, str, str]:
    """The real command, without blocking the event loop the server under test runs on."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "quiz_actors.tools.admin_cli",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 120)
    return process.returncode, out.decode(), err.decode()


def new_postgres_schema() -> str:
    import psycopg

    schema = "t_" + uuid.uuid4().hex[:12]
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    return schema


def drop_postgres_schema(schema: str) -> None:
    import psycopg

    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture
def second_store(store_url, tmp_path):
    """Another empty store of the same kind as ``store_url``."""
    if store_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path}/restored/events.sqlite3"
        return
    schema = new_postgres_schema()
    yield f"{POSTGRES_URL}?schema={schema}"
    drop_postgres_schema(schema)


async def test_a_backup_taken_mid_question_restores_into_a_new_server_that_plays_on(
    server, connect, http, clock, store_url, second_store, settings, tmp_path
):
    quiz_id = await upload_quiz(http, server, QUIZ)
    host = await connect()
    code, _ = await create_room(host, quiz_id, "Host")
    ann, ben, cat = [await connect() for _ in range(3)]
    for client, name in ((ann, "Ann"), (ben, "Ben"), (cat, "Cat")):
        await join(client, code, name)
    await host.send({"type": "start"})
    for client in (host, ann, ben, cat):
        await client.expect("question_shown", index=0)
    await answer(ann, 0, 1)
    await answer(ben, 0, 0)

    backup_file = tmp_path / "quiz-backup.jsonl.gz"
    status, out, err = await quiz_admin("backup", "--store", store_url, str(backup_file))
    assert status == 0, err
    assert out.startswith("backed up ") and str(backup_file) in out
    # After the backup: in the old store only.
    await answer(cat, 0, 1)
    await server.stop()

    status, out, err = await quiz_admin("restore", "--store", second_store, str(backup_file))
    assert status == 0, err
    assert out.startswith("restored ")
    restored = await RunningServer(Settings(**{**settings.__dict__, "store": second_store}), clock).start()
    try:
        back = {}
        for old, name in ((host, "Host"), (ann, "Ann"), (ben, "Ben"), (cat, "Cat")):
            client = QuizClient(http, restored.ws_url)
            await client.connect()
            welcome = await client.hello(old.token)  # the signing key came back with the store
            assert welcome["user_id"] == old.user_id
            back[name] = (client, await join(client, code, name))
        for name, answered in (("Ann", True), ("Ben", True), ("Cat", False)):
            state = back[name][1]
            assert state["room"]["phase"] == "question" and state["room"]["question"]["index"] == 0
            assert state["you"]["answered"] is answered, name
        host2, ann2, ben2, cat2 = (back[n][0] for n in ("Host", "Ann", "Ben", "Cat"))
        assert (await answer(cat2, 0, 0))["type"] == "answer_accepted"
        closed = await ann2.expect("question_closed", index=0)
        assert closed["distribution"] == [2, 1]
        assert closed["you"]["correct"] is True
        await host2.send({"type": "next"})
        for client in (host2, ann2, ben2, cat2):
            await client.expect("question_shown", index=1)
        for client in (ann2, ben2, cat2):
            await answer(client, 1, 0)
        board = await cat2.expect("leaderboard")
        assert [r["name"] for r in board["top"]][:1] == ["Ann"]
    finally:
        await restored.stop()


async def test_restore_refuses_a_store_that_holds_events(server, connect, store_url, tmp_path):
    host = await connect()
    await create_room(host)
    backup_file = tmp_path / "b.jsonl.gz"
    assert (await quiz_admin("backup", "--store", store_url, str(backup_file)))[0] == 0
    status, _, err = await quiz_admin("restore", "--store", store_url, str(backup_file))
    assert status == 1
    assert "already holds events" in err and "restore only into an empty store" in err


async def test_restore_refuses_a_cut_off_or_foreign_file_and_restores_nothing(tmp_path):
    source = f"sqlite:///{tmp_path}/source.sqlite3"
    EventStore(source).close()  # a store with nothing in it is still a store
    whole = tmp_path / "whole.jsonl.gz"
    assert (await quiz_admin("backup", "--store", source, str(whole)))[0] == 0
    lines = gzip.decompress(whole.read_bytes()).splitlines(keepends=True)
    cut = tmp_path / "cut.jsonl.gz"
    cut.write_bytes(gzip.compress(b"".join(lines[:-1])))
    foreign = tmp_path / "foreign.jsonl.gz"
    foreign.write_bytes(gzip.compress(b'{"hello": "world"}\n'))
    not_gzip = tmp_path / "plain.txt"
    not_gzip.write_text("just text")
    target = tmp_path / "target.sqlite3"
    for path, why in (
        (cut, "is incomplete"),
        (foreign, "is not a quiz-actors backup"),
        (not_gzip, "cannot be read as a backup"),
        (tmp_path / "missing.gz", "no backup at"),
    ):
        status, _, err = await quiz_admin("restore", "--store", f"sqlite:///{target}", str(path))
        assert status == 1, err
        assert why in err, err
        assert "Traceback" not in err
    status, _, err = await quiz_admin("backup", "--store", f"sqlite:///{tmp_path}/nothing.sqlite3", "x.gz")
    assert status == 2 and "no event store at" in err
    assert not Path(tmp_path / "nothing.sqlite3").exists()


@pytest.mark.postgres
@pytest.mark.parametrize("store_url", ["postgres"], indirect=True)
async def test_a_sqlite_backup_restores_into_postgresql(store_url, tmp_path):
    from quiz_actors.quizzes import QuizLibrary

    source = f"sqlite:///{tmp_path}/source.sqlite3"
    store = EventStore(source)
    QuizLibrary(store, lambda: 0).seed_samples()
    expected = [(n.originator_id, n.originator_version, n.topic, n.state) for n in store.iter_notifications()]
    store.close()
    backup_file = tmp_path / "b.jsonl.gz"
    assert (await quiz_admin("backup", "--store", source, str(backup_file)))[0] == 0
    status, _, err = await quiz_admin("restore", "--store", store_url, str(backup_file))
    assert status == 0, err
    target = EventStore(store_url)
    try:
        restored = [
            (n.originator_id, n.originator_version, n.topic, n.state) for n in target.iter_notifications()
        ]
    finally:
        target.close()
    assert restored == expected and expected


class Tally(Aggregate):
    """A stand-in for a long-lived room: an aggregate with many events."""

    def __init__(self) -> None:
        self.count = 0

    @event("Counted")
    def count_one(self) -> None:
        self.count += 1


def test_restore_snapshots_aggregates_long_enough_to_need_it(tmp_path):
    source = EventStore(f"sqlite:///{tmp_path}/source.sqlite3")
    tally = Tally()
    for _ in range(SNAPSHOT_EVERY + 20):
        tally.count_one()
    source.save(tally)
    backup_file = tmp_path / "b.jsonl.gz"
    summary = backup(source, backup_file, source="test")
    source.close()
    assert (summary.events, summary.aggregates) == (SNAPSHOT_EVERY + 21, 1)

    target = EventStore(f"sqlite:///{tmp_path}/target.sqlite3")
    try:
        assert restore(target, backup_file).events == SNAPSHOT_EVERY + 21
        snapshots = list(target.snapshots.get(tally.id))
        assert [s.originator_version for s in snapshots] == [SNAPSHOT_EVERY + 21]
        assert target.load(tally.id).count == SNAPSHOT_EVERY + 20
    finally:
        target.close()
