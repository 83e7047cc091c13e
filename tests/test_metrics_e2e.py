"""``/metrics`` during a real game (issue: run it like a service).

The counters are process-wide (one server per process in production), so each
test reads them before and after what it does and checks the difference.
"""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from quiz_actors.settings import Settings
from tests.conftest import RunningServer, answer, create_room, join, upload_quiz

QUIZ = {
    "title": "Metrics",
    "questions": [
        {"text": "One?", "choices": ["a", "b"], "correct": [0], "time_limit_s": 30},
        {"text": "Two?", "choices": ["a", "b"], "correct": [1], "time_limit_s": 30},
    ],
}
PLAYERS = 5


class Scrape:
    """One ``/metrics`` response, parsed by the official parser."""

    def __init__(self, text: str):
        self.text = text
        self.samples: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                self.samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value

    def value(self, name: str, **labels: str) -> float:
        return self.samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def scrape(http, server, **headers: str) -> Scrape:
    async with http.get(server.base_url + "/metrics", headers=headers) as response:
        assert response.status == 200, await response.text()
        assert response.content_type == "text/plain"
        return Scrape(await response.text())


def moved(before: Scrape, after: Scrape, name: str, **labels: str) -> float:
    return after.value(name, **labels) - before.value(name, **labels)


async def test_counters_move_by_what_a_game_did(connect, http, server):
    quiz_id = await upload_quiz(http, server, QUIZ)
    start = await scrape(http, server)

    host = await connect()
    code, _ = await create_room(host, quiz_id, "Host")
    players = []
    for n in range(PLAYERS):
        player = await connect()
        await join(player, code, f"P{n}")
        players.append(player)
    await host.expect("member_joined", count=PLAYERS + 1)
    stranger = await connect()
    refused = await stranger.request({"type": "join", "code": "000000", "name": "X"}, "state")
    assert refused["code"] == "room_not_found"
    await stranger.send_raw("not json")
    await stranger.expect("error", code="bad_message")
    lobby = await scrape(http, server)
    assert moved(start, lobby, "quiz_sockets_open") == PLAYERS + 2
    assert moved(start, lobby, "quiz_members_online") == PLAYERS + 1
    assert moved(start, lobby, "quiz_messages_received_total", type="join") == PLAYERS + 1
    assert moved(start, lobby, "quiz_messages_received_total", type="invalid") == 1
    assert moved(start, lobby, "quiz_errors_sent_total", code="room_not_found") == 1
    assert moved(start, lobby, "quiz_errors_sent_total", code="bad_message") == 1
    assert moved(start, lobby, "quiz_messages_sent_total", type="welcome") == PLAYERS + 2
    assert moved(start, lobby, "quiz_room_activations_total") == 0  # created in memory
    assert lobby.value("quiz_rooms_open") >= 1 and lobby.value("quiz_rooms_in_memory") >= 1

    await host.send({"type": "start"})
    for client in (host, *players):
        await client.expect("question_shown", index=0)
    before = await scrape(http, server)
    # One at a time, each waiting for its acknowledgement: one commit per answer,
    # and the last one's commit is followed by the commit closing the question.
    for player in players:
        assert (await answer(player, 0, 0))["type"] == "answer_accepted"
    for client in (host, *players):
        await client.expect("question_closed", index=0)
    after = await scrape(http, server)
    assert moved(before, after, "quiz_messages_received_total", type="answer") == PLAYERS
    assert moved(before, after, "quiz_answers_stored_total") == PLAYERS
    assert moved(before, after, "quiz_answers_per_save_count") == PLAYERS
    assert moved(before, after, "quiz_answers_per_save_sum") == PLAYERS
    assert moved(before, after, "quiz_store_save_seconds_count") == PLAYERS + 1
    assert moved(before, after, "quiz_store_events_per_save_count") == PLAYERS + 1
    assert moved(before, after, "quiz_store_events_per_save_sum") >= PLAYERS + 1
    assert moved(before, after, "quiz_messages_sent_total", type="answer_accepted") == PLAYERS
    assert moved(before, after, "quiz_messages_sent_total", type="question_closed") == PLAYERS + 1
    assert moved(before, after, "quiz_messages_sent_total", type="leaderboard") == PLAYERS + 1
    # The reveal reached PLAYERS + 1 connections in one round.
    assert moved(before, after, "quiz_broadcast_fanout_seconds_count") >= 1
    assert after.value("quiz_event_loop_lag_seconds_count") >= 0

    # Labels never name a user or a room: their number does not grow with players.
    for secret in [code, *(p.user_id for p in players), host.user_id]:
        assert secret not in after.text
    assert 'quiz_build_info{version="' in after.text
    assert "process_open_fds" in after.text

    # After a restart, the first player back activates the room from the store.
    await server.restart()
    back = await scrape(http, server)
    assert back.value("quiz_members_online") == lobby.value("quiz_members_online") - PLAYERS - 1
    returning = await connect(token=players[0].token)
    rejoined = await join(returning, code, "P0")
    assert rejoined["room"]["phase"] == "reveal"
    again = await scrape(http, server)
    assert moved(back, again, "quiz_room_activations_total") == 1
    assert moved(back, again, "quiz_room_replay_seconds_count") >= 1
    assert moved(back, again, "quiz_members_online") == 1


@pytest.fixture
def guarded_settings(tmp_path):
    def make(**metrics_settings: str) -> Settings:
        return Settings(store=f"sqlite:///{tmp_path}/events.sqlite3", **metrics_settings)

    return make


async def status_of(http, server, **headers: str) -> int:
    async with http.get(server.base_url + "/metrics", headers=headers) as response:
        return response.status


async def test_metrics_can_be_kept_to_an_address_range(http, clock, guarded_settings):
    outside = await RunningServer(guarded_settings(metrics_allow="10.0.0.0/8, 192.168.0.0/16"), clock).start()
    try:
        assert await status_of(http, outside) == 403
        async with http.get(outside.base_url + "/livez") as response:
            assert response.status == 200  # only /metrics is restricted
    finally:
        await outside.stop()
    inside = await RunningServer(guarded_settings(metrics_allow="10.0.0.0/8,127.0.0.0/8"), clock).start()
    try:
        assert await status_of(http, inside) == 200
    finally:
        await inside.stop()


async def test_metrics_can_need_a_token(http, clock, guarded_settings):
    running = await RunningServer(guarded_settings(metrics_token="scrape-me"), clock).start()
    try:
        assert await status_of(http, running) == 401
        assert await status_of(http, running, Authorization="Bearer wrong") == 401
        assert await status_of(http, running, Authorization="Bearer scrape-me") == 200
    finally:
        await running.stop()
