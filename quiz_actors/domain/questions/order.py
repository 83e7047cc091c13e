"""order: the player puts 2–6 items in order; right only when the whole order is right.

The quiz document lists ``items`` in the right order, so the phone must never
see them that way. Every room shows them in one fixed shuffled order, derived
from the items themselves (the same on every replay and every server, with no
randomness to store), with no item in its right place, and everything on the wire (the answer, the reveal)
numbers the items as shown.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

from quiz_actors.domain.questions.base import (
    JudgedAnswer,
    Payload,
    Problems,
    Question,
    QuestionType,
    bad_answer,
    check_texts,
    is_int,
    payload_field,
)
from quiz_actors.domain.questions.normalise import normalise_text
from quiz_actors.domain.verdict import Verdict, verdict_of

SHUFFLE_TRIES = 50


def shown_order(items: Sequence[str]) -> list[int]:
    """The document indexes of ``items`` in the order the phone shows them.

    A shuffle in which no item is in its right place, so the shown list gives
    nothing away at a glance: the items' hash decides it, tried again with a
    new salt until no item stays put (about one try in three succeeds).
    """
    return list(_shuffled(tuple(items)))


@lru_cache(maxsize=1024)
def _shuffled(items: tuple[str, ...]) -> tuple[int, ...]:
    # Every answer to an order question is judged against this: hash once per question.
    return tuple(_shuffle(items))


def _shuffle(items: tuple[str, ...]) -> list[int]:
    size = len(items)
    for salt in range(SHUFFLE_TRIES):
        order = sorted(range(size), key=lambda i: _digest(salt, i, items[i]))
        if all(order[position] != position for position in range(size)):
            return order
    return list(range(1, size)) + [0]  # every item one place on: also nothing in its right place


def _digest(salt: int, index: int, item: str) -> str:
    return hashlib.sha256(f"{salt}:{index}:{item}".encode()).hexdigest()


def right_order_as_shown(items: Sequence[str]) -> list[int]:
    """The right order, each item named by its index in the shown list."""
    shown = shown_order(items)
    return [shown.index(k) for k in range(len(items))]


class Order(QuestionType):
    name = "order"
    payload_name = "order"

    def validate(self, q: Question, problems: Problems) -> dict[str, Any]:
        items = check_texts(q, "items", problems)
        keys = [normalise_text(i) for i in items if isinstance(i, str)]
        if len(set(keys)) != len(keys):
            problems.question(
                "two items are the same, so the right order would be ambiguous",
                "Two items are the same, so there would be more than one right order: make each different",
                at="items",
                code="items_same",
            )
        return {"items": items}

    def public(self, q: Question) -> dict[str, Any]:
        return {"choices": [], "items": [q["items"][i] for i in shown_order(q["items"])]}

    def read_answer(self, q: Question, message: Mapping[str, Any]) -> Payload:
        size = len(q["items"])
        order = payload_field(
            message, "order", self.name, f"the items' indexes as shown, first to last (0 to {size - 1})"
        )
        if not isinstance(order, list) or not all(is_int(i) for i in order):
            raise bad_answer('"order" must be a list of item indexes')
        if sorted(order) != list(range(size)):
            raise bad_answer(f"Put every item in order exactly once: the numbers 0 to {size - 1}")
        return {"order": list(order)}

    def judge(self, q: Question, payload: Payload) -> Verdict:
        return verdict_of(payload["order"] == right_order_as_shown(q["items"]))

    def reveal(self, q: Question, answers: Sequence[JudgedAnswer]) -> dict[str, Any]:
        right = right_order_as_shown(q["items"])
        # distribution[i]: players who put shown item i in its right place.
        placed = [0] * len(right)
        for a in answers:
            for position, item in enumerate(a.payload["order"]):
                if right[position] == item:
                    placed[item] += 1
        return {"correct": right, "distribution": placed}

    def describe(self, q: Question, payload: Payload) -> str:
        shown = shown_order(q["items"])
        return " > ".join(f'"{q["items"][shown[i]]}"' for i in payload["order"])

    def describe_right(self, q: Question) -> str:
        return " > ".join(f'"{item}"' for item in q["items"])

    def words(self, q: Question, payload: Payload) -> str:
        shown = shown_order(q["items"])
        return " > ".join(q["items"][shown[i]] for i in payload["order"])
