"""Any answer payload over a real socket, to every type of question: a clear refusal or an
acceptance, and the room stays exactly what its stored events say.

Hypothesis draws answer messages of any shape (every payload field, with values
of any JSON type) from two players while the host walks through the shipped
"Every kind of question" sample. After each run: every reply to an answer is
``answer_accepted`` or an error with a known code and a message in words; the
stored events pass ``quiz-replay --check``'s rules, and every stored answer
re-scores to what was recorded.
"""

from __future__ import annotations

import asyncio
import random
import tempfile
import uuid

import aiohttp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eventstore import EventStore
from eventstore.replay import check, read_events
from quiz_actors.clock import ManualClock
from quiz_actors.quizzes import sample_quiz_id
from quiz_actors.settings import Settings
from quiz_actors.tools.rescore import rescore
from quiz_actors.tools.room_rules import RoomRules
from tests.client import QuizClient
from tests.conftest import RunningServer, create_room, join

EVERY_TYPE = sample_quiz_id("every-type.json")
ANSWER_REFUSALS = {"bad_answer", "bad_choice", "bad_message", "already_answered", "too_late", "wrong_phase"}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 250) | st.floats(-10, 300) | st.text(max_size=50),
    lambda children: st.lists(children, max_size=6),
    max_leaves=8,
)
misfit = st.dictionaries(
    st.sampled_from(["choice", "choices", "text", "value", "order"]), json_values, max_size=2
)
steps = st.lists(
    st.tuples(
        st.sampled_from(["ann", "ben", "ann", "ben", "next"]), st.integers(0, 10**6), misfit, st.floats(0, 8)
    ),
    min_size=1,
    max_size=30,
)


def fitting(shown: dict, seed: int) -> dict:
    """An answer that fits the question as the phone was shown it: right or wrong as the seed falls."""
    kind = shown["question_type"]
    if kind == "multi":
        return {"choices": [i for i in range(len(shown["choices"])) if (seed + 1) >> i & 1] or [0]}
    if kind == "type_answer":
        return {"text": ["madrid", " MÁDRID ", "Barcelona", "madrid" * 7][seed % 4]}
    if kind == "slider":
        positions = round((shown["max"] - shown["min"]) / shown["step"]) + 1
        return {"value": shown["min"] + (seed % positions) * shown["step"]}
    if kind == "order":
        order = list(range(len(shown["items"])))
        random.Random(seed).shuffle(order)
        return {"order": order}
    return {"choice": seed % len(shown["choices"])}


async def play(script: list[tuple[str, int, dict, float]]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        store_url = f"sqlite:///{folder}/events.sqlite3"
        clock = ManualClock()
        settings_ = Settings(
            store=store_url,
            player_messages_per_s=1000,
            player_burst=1000,
            heartbeat_s=10_000,
            get_ready_s=0,  # answers open at once: the property is about answers, not reading time
        )
        server = await RunningServer(settings_, clock).start()
        try:
            async with aiohttp.ClientSession() as http:
                clients = {}
                for who in ("host", "ann", "ben"):
                    clients[who] = await QuizClient(http, server.ws_url).connect()
                    await clients[who].hello()
                code, state = await create_room(clients["host"], EVERY_TYPE)
                await join(clients["ann"], code, "Ann")
                await join(clients["ben"], code, "Ben")
                shown = await clients["host"].request({"type": "start"}, "question_shown")
                for who, seed, misfit_fields, wait in script:
                    clock.advance(wait)
                    if who == "next":
                        # The room handles one socket's messages in order: the state follows the next.
                        await clients["host"].send({"type": "next"})
                        now = await clients["host"].request({"type": "resync"}, "state")
                        shown = now["room"]["question"] or shown
                        continue
                    fields = misfit_fields if seed % 3 == 0 else fitting(shown, seed)
                    answer = {"type": "answer", "question": shown["index"], **fields}
                    reply = await clients[who].request(answer, "answer_accepted")
                    if reply["type"] == "error":
                        assert reply["code"] in ANSWER_REFUSALS, reply
                        assert reply["message"] and "Traceback" not in reply["message"], reply
                await clients["host"].request({"type": "resync"}, "state")  # everything before it is handled
        finally:
            await server.stop()
        store = EventStore(store_url)
        try:
            room_id = uuid.UUID(state["room"]["room_id"])
            events = read_events(store, room_id)
            result = check(events, RoomRules())
            assert result.ok, result.problem
            assert all(r.adds_up for r in rescore(events))
        finally:
            store.close()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps)
def test_any_answer_to_any_type_is_taken_or_refused_in_words_and_the_store_stays_right(script):
    asyncio.run(play(script))
