"""A node cut off from PostgreSQL stops its rooms before its leases can expire, and its
clients resume on another node (issue 19, scenario 5): two real nodes behind a real
HAProxy, one of them reaching the database through a forwarder the test cuts."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest

from eventstore.persistence import POSTGRES_TCP_TIMEOUT_S
from tests.client import ConnectionClosed, QuizClient
from tests.cluster_nodes import (
    LEASE_TTL_S,
    Cluster,
    PostgresForwarder,
    Proxy,
    answers_stored,
    connect,
    enter,
)
from tests.conftest import create_room
from tests.silent_network import SilentAddress

pytestmark = pytest.mark.postgres

QUIZ = {
    "title": "Cut off",
    "questions": [{"text": "Long one?", "choices": ["a", "b", "c"], "correct": [1], "time_limit_s": 240}],
}


async def test_a_node_cut_off_from_postgresql_stops_its_rooms_and_its_clients_resume_elsewhere(
    schema, http, tmp_path
):
    store, schema_name = schema
    forwarder = await PostgresForwarder().start()
    through = forwarder.url(store)
    nodes = Cluster(store, names=("node1", "node2"), log_dir=tmp_path, stores={"node1": through})
    proxy = Proxy(nodes, tmp_path, only=("node1", "node2"))
    try:
        proxy.start()
        nodes.start_all()
        await asyncio.gather(*(nodes.wait_ready(http, name) for name in nodes.names))
        await proxy.wait_ready(http)
        async with http.post(nodes.base("node2") + "/api/quizzes", json=QUIZ) as response:
            quiz_id = (await response.json())["quiz_id"]
        host = await connect(http, nodes.ws("node1"))  # node1 creates, and so serves, the room
        code, _ = await create_room(host, quiz_id)
        joined = await asyncio.gather(*(enter(http, proxy.ws, code, f"P{n}") for n in range(8)))
        assert {node for *_, node in joined} == {"node1"}
        players = [client for client, *_ in joined]
        room_id = joined[0][1]["room"]["room_id"]
        renewed = "quiz_cluster_lease_renewal_seconds_count"
        end = time.monotonic() + 10
        while (await nodes.metrics(http, "node1"))[renewed] == 0 and time.monotonic() < end:
            await asyncio.sleep(0.1)  # polling: a renewal comes every 0.5 s here
        before = {name: await nodes.metrics(http, name) for name in nodes.names}
        assert before["node1"]["quiz_cluster_leases_held"] == 1
        assert before["node1"][renewed] > 0
        assert before["node2"]["quiz_cluster_leases_held"] == 0
        await host.send({"type": "start"})
        shown = await asyncio.gather(*(p.expect("question_shown", index=0) for p in players))
        deadline_ms = shown[0]["deadline_ms"]
        accepted = await asyncio.gather(
            *(
                p.request({"type": "answer", "question": 0, "choice": 1}, "answer_accepted")
                for p in players[:4]
            )
        )
        assert {a["type"] for a in accepted} == {"answer_accepted"}

        await forwarder.cut()
        cut_at = time.monotonic()
        # node1 stops the room itself (1012) before its lease can expire; HAProxy may cut
        # the sockets first once /readyz fails (1006). Either way, none stays on node1.
        codes = await asyncio.gather(*(c.expect_closed(timeout=15) for c in (host, *players)))
        closed_in = time.monotonic() - cut_at
        print(f"cut off: node1's sockets closed {closed_in:.2f} s after the cut ({set(codes)})")
        assert closed_in < LEASE_TTL_S + 5  # the lease is 2 s; slack for a loaded machine

        async def back(client):
            end = time.monotonic() + 30
            while True:
                try:
                    return await enter(http, proxy.ws, code, "again", client.token, "node1")
                except (TimeoutError, OSError, ConnectionClosed, AssertionError, aiohttp.ClientError):
                    if time.monotonic() > end:
                        raise
                    await asyncio.sleep(0.1)

        rejoined = await asyncio.gather(*(back(c) for c in (host, *players)))
        print(f"cut off: every client back on node2 {time.monotonic() - cut_at:.2f} s after the cut")
        assert {node for *_, node in rejoined} == {"node2"}
        for _, state, _, _ in rejoined:
            assert state["room"]["question"]["deadline_ms"] == deadline_ms
        # What an operator's alerts read: node1 failed to renew and gave the room up
        # before its lease could expire; node2 took it over and serves it.
        after = {name: await nodes.metrics(http, name) for name in nodes.names}
        lost = 'quiz_cluster_leases_lost_total{reason="not_renewed"}'
        renewals_failed = "quiz_cluster_lease_renewal_failures_total"
        takeovers = "quiz_cluster_takeovers_total"
        assert after["node1"][lost] == before["node1"][lost] + 1
        assert after["node1"][renewals_failed] > before["node1"][renewals_failed]
        assert after["node1"]["quiz_cluster_leases_held"] == 0
        assert after["node2"][takeovers] == before["node2"][takeovers] + 1
        assert after["node2"]["quiz_cluster_leases_held"] == 1
        log = (tmp_path / "node1.log").read_text()
        assert "lease not renewed in time; stopping it before it can expire" in log or "lease lost" in log
        assert answers_stored(schema_name, room_id) == 4
        for client, *_ in rejoined:
            await client.close()
    finally:
        proxy.stop()
        nodes.stop_all()
        await forwarder.cut()


async def a_question_on_node1(
    http, nodes: Cluster, players: int
) -> tuple[QuizClient, list[QuizClient], str, str, int]:
    """Both nodes started and ready, and a room on node1 in its first question: its host
    and ``players`` players, every one talking to node1 directly (so only node1 can close
    their sockets). The host, the players, the room's code and id, the question's deadline."""
    nodes.start_all()
    await asyncio.gather(*(nodes.wait_ready(http, name) for name in nodes.names))
    async with http.post(nodes.base("node2") + "/api/quizzes", json=QUIZ) as response:
        quiz_id = (await response.json())["quiz_id"]
    host = await connect(http, nodes.ws("node1"))
    code, _ = await create_room(host, quiz_id)
    joined = [await enter(http, nodes.ws("node1"), code, f"P{n}", nodes=nodes) for n in range(players)]
    assert {node for *_, node in joined} == {"node1"}
    clients = [client for client, *_ in joined]
    await host.send({"type": "start"})
    shown = await asyncio.gather(*(p.expect("question_shown", index=0) for p in clients))
    return host, clients, code, joined[0][1]["room"]["room_id"], shown[0]["deadline_ms"]


async def test_a_node_cut_off_while_its_room_is_saving_closes_the_rooms_sockets_before_its_lease_runs_out(
    schema, http, tmp_path
):
    """The room's thread held in a save that retries for POSTGRES_RETRY_S (3 s, longer
    than the 2 s lease): the node still closes the room's sockets with 1012 within the
    lease (the lease keeper closes them from its own thread, docs/cluster.md)."""
    store, _ = schema
    forwarder = await PostgresForwarder().start()
    through = forwarder.url(store)
    nodes = Cluster(store, names=("node1", "node2"), log_dir=tmp_path, stores={"node1": through})
    try:
        host, players, *_ = await a_question_on_node1(http, nodes, players=4)

        await forwarder.cut()
        cut_at = time.monotonic()
        # An answer now: the room's thread is inside its save, retrying, past the lease.
        await players[0].send({"type": "answer", "question": 0, "choice": 1})
        # Let the room's thread take that answer into its save before the others come, so
        # that they queue behind it rather than join its commit. Nothing outside shows a
        # save under way, so this is a pause, not a wait for an event: if it were too
        # short the others would share the commit, and the checks below would still hold
        # (tests/test_room_lease.py shows the rule on one room actor, deterministically).
        await asyncio.sleep(0.3)
        for player in players[1:]:
            await player.send({"type": "answer", "question": 0, "choice": 1})
        codes = await asyncio.gather(*(c.expect_closed(timeout=15) for c in (host, *players)))
        closed_in = time.monotonic() - cut_at
        print(f"cut off while saving: node1's sockets closed {closed_in:.2f} s after the cut ({set(codes)})")
        assert set(codes) == {1012}, codes
        assert closed_in < LEASE_TTL_S  # the lease renewed last at most 0.5 s before the cut

        # Once the save gives up, the room stops at once: the lease keeper gave the lease
        # up meanwhile, so the answers queued behind are refused without a store call
        # (no reload, no second save, each of which would hold the room's thread for the
        # store's whole retry).
        log_file = tmp_path / "node1.log"
        end = time.monotonic() + 20
        while "stops serving on this node" not in log_file.read_text() and time.monotonic() < end:
            await asyncio.sleep(0.1)
        stopped_in = time.monotonic() - cut_at
        print(f"cut off while saving: node1's room stopped {stopped_in:.2f} s after the cut")
        log = log_file.read_text()
        assert "lease not renewed in time; stopping it before it can expire" in log
        assert "stops serving on this node (lease lost" in log
        assert log.count("save failed; the room is read from the store again") == 1
        assert "cannot load from the store" not in log
    finally:
        nodes.stop_all()
        await forwarder.cut()


async def test_a_node_whose_database_goes_silent_gives_up_on_it_in_seconds_and_recovers_when_it_answers_again(
    schema, http, tmp_path
):
    """The database's host vanishes instead of refusing (tests/silent_network.py): what
    node1 sends is never acknowledged and nothing comes back. The server's timeouts on
    the database's side cannot end that wait, so without TCP timeouts of the node's own
    the room's save and the lease renewal would wait for TCP's retransmissions, ~15
    minutes. With them (eventstore/persistence.py): node1 closes the room's sockets
    within the lease as before; the room's save fails and the room stops within
    seconds; the renewals fail and are tried again instead of hanging; once the address
    answers again node1 renews within seconds. The player whose answer was never
    acknowledged answers again on node2, and that answer is stored once."""
    silent = SilentAddress()
    silent.check_usable()
    store, schema_name = schema
    forwarder = await PostgresForwarder(address=silent.address).start()
    nodes = Cluster(store, names=("node1", "node2"), log_dir=tmp_path, stores={"node1": forwarder.url(store)})
    try:
        host, players, code, room_id, deadline_ms = await a_question_on_node1(http, nodes, players=3)
        failures = "quiz_cluster_lease_renewal_failures_total"
        renewals = "quiz_cluster_lease_renewal_seconds_count"
        before = await nodes.metrics(http, "node1")

        silent.silence()
        silent_at = time.monotonic()
        # This answer's save goes into the silence.
        await players[0].send({"type": "answer", "question": 0, "choice": 1})
        codes = await asyncio.gather(*(c.expect_closed(timeout=15) for c in (host, *players)))
        closed_in = time.monotonic() - silent_at
        print(f"silent database: node1's sockets closed {closed_in:.2f} s after ({set(codes)})")
        assert set(codes) == {1012}, codes

        # The room's thread comes back from its save: TCP gave up on it after 5 s.
        log_file = tmp_path / "node1.log"
        end = time.monotonic() + 20
        while "stops serving on this node" not in log_file.read_text() and time.monotonic() < end:
            await asyncio.sleep(0.1)
        print(f"silent database: node1's room stopped {time.monotonic() - silent_at:.2f} s after")
        assert "stops serving on this node (lease lost" in log_file.read_text()
        # The renewals go on failing, one after another, rather than one of them hanging:
        # the one on the open connection after the TCP timeout (it went out up to a
        # renewal interval after the save), then each new connection's after its connect
        # timeout, so more fail in the 7.5 s after that first one.
        end = silent_at + POSTGRES_TCP_TIMEOUT_S + 5
        while (stopped := await nodes.metrics(http, "node1"))[failures] == before[failures]:
            assert time.monotonic() < end, "no renewal failed"
            await asyncio.sleep(0.1)
        first_failed_in = time.monotonic() - silent_at
        await asyncio.sleep(7.5)
        during = await nodes.metrics(http, "node1")
        print(
            "silent database: renewals failed: "
            f"{stopped[failures] - before[failures]:.0f} by {first_failed_in:.1f} s, "
            f"{during[failures] - stopped[failures]:.0f} in the 7.5 s after"
        )
        assert during[failures] > stopped[failures]
        # What QuizStoreFailing reads (deploy/prometheus-alerts.yml): the save that timed out.
        save_errors = "quiz_store_save_errors_total"
        assert during[save_errors] == before[save_errors] + 1

        silent.restore()
        restored_at = time.monotonic()
        end = restored_at + 15
        while (await nodes.metrics(http, "node1"))[renewals] <= during[renewals] and time.monotonic() < end:
            await asyncio.sleep(0.1)
        renewed_in = time.monotonic() - restored_at
        print(f"silent database: node1 renewed again {renewed_in:.2f} s after it answered")
        assert (await nodes.metrics(http, "node1"))[renewals] > during[renewals]
        await nodes.wait_ready(http, "node1")

        # node2 took the room over; the answer node1 never acknowledged is given again there.
        player, state, _, node = await enter(
            http, nodes.ws("node2"), code, "P0", players[0].token, nodes=nodes
        )
        assert node == "node2"
        assert state["room"]["question"]["deadline_ms"] == deadline_ms
        accepted = await player.request({"type": "answer", "question": 0, "choice": 1}, "answer_accepted")
        assert accepted["type"] == "answer_accepted", accepted
        assert answers_stored(schema_name, room_id) == 1
        await player.close()
    finally:
        silent.restore()
        nodes.stop_all()
        await forwarder.cut()
