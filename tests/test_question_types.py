"""Each question type: its document checks, what a phone sees, which answers it takes, how it judges.

The rules tested here are the ones docs/protocol.md writes down under "Question types".
"""

from __future__ import annotations

import itertools
import json
from importlib import resources
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from quiz_actors.domain.questions import (
    AnswerRefused,
    JudgedAnswer,
    decide,
    describe_answer,
    describe_right,
    judge,
    public_view,
    read_answer,
    reveal,
)
from quiz_actors.domain.questions.normalise import normalise_text
from quiz_actors.domain.questions.order import right_order_as_shown, shown_order
from quiz_actors.domain.quiz import QuizInvalid, validate_quiz_document
from quiz_actors.domain.verdict import RIGHT, UNJUDGED, WRONG


def one(question: dict[str, Any]) -> dict[str, Any]:
    """A question as a valid quiz stores it."""
    stored: dict[str, Any] = validate_quiz_document({"title": "T", "questions": [question]})["questions"][0]
    return stored


def problems(question: dict[str, Any]) -> list[str]:
    with pytest.raises(QuizInvalid) as error:
        validate_quiz_document({"title": "T", "questions": [question]})
    return error.value.details


def refused(q: dict[str, Any], message: dict[str, Any]) -> AnswerRefused:
    with pytest.raises(AnswerRefused) as error:
        read_answer(q, message)
    return error.value


def verdict(q: dict[str, Any], message: dict[str, Any]) -> str:
    return judge(q, read_answer(q, message)).outcome


CHOICE = {"text": "Capital of France?", "choices": ["Paris", "Lyon", "Nice"], "correct": [0]}
MULTI = {
    "type": "multi",
    "text": "Mammals?",
    "choices": ["Dolphin", "Shark", "Bat", "Penguin"],
    "correct": [2, 0],
}
TRUE_FALSE = {"type": "true_false", "text": "Water is wet.", "correct": True}
TYPED = {"type": "type_answer", "text": "Capital of Spain?", "accepted": ["Madrid", " Villa de Madrid "]}
SLIDER = {
    "type": "slider",
    "text": "Boils at?",
    "min": 0,
    "max": 200,
    "step": 5,
    "value": 100,
    "tolerance": 10,
}
ORDER = {"type": "order", "text": "Smallest first", "items": ["Atom", "Cell", "Mouse", "Elephant"]}
POLL = {"type": "poll", "text": "Favourite?", "choices": ["Red", "Blue"]}


# ------------------------------------------------------------------ documents


def test_a_question_without_a_type_is_a_choice_question_as_before():
    q = one(CHOICE)
    assert q == {
        "type": "choice",
        "text": "Capital of France?",
        "choices": ["Paris", "Lyon", "Nice"],
        "correct": [0],
        "time_limit_s": 20,
        "points": "standard",
    }


def test_every_type_gets_its_defaults():
    assert one(TYPED)["ignore_accents"] is False
    assert one(TYPED)["accepted"] == ["Madrid", "Villa de Madrid"]
    assert one({**SLIDER, "step": 1, "tolerance": 0} | {"value": 3})["tolerance"] == 0
    without_step = {k: v for k, v in SLIDER.items() if k not in ("step", "tolerance")}
    assert (one(without_step)["step"], one(without_step)["tolerance"]) == (1, 0)
    assert one(POLL)["points"] == "none"
    assert one(MULTI)["correct"] == [0, 2]


def test_the_shipped_every_type_sample_is_valid_and_uses_every_type():
    text = resources.files("quiz_actors.samples").joinpath("every-type.json").read_text(encoding="utf-8")
    quiz = validate_quiz_document(json.loads(text))
    assert {q["type"] for q in quiz["questions"]} == {
        "choice",
        "multi",
        "true_false",
        "type_answer",
        "slider",
        "order",
        "poll",
    }


@pytest.mark.parametrize(
    "question, expected",
    [
        ({**SLIDER, "value": 120, "max": 100}, "questions[0] (slider): the right value 120 is outside 0–100"),
        (
            {**SLIDER, "value": 101},
            "questions[0] (slider): the right value 101 cannot be picked with steps of 5",
        ),
        (
            {**SLIDER, "min": 10, "max": 10},
            "questions[0] (slider): the smallest value 10 must be below the largest 10",
        ),
        ({**SLIDER, "step": 0}, 'questions[0] (slider): "step" must be greater than 0'),
        ({**SLIDER, "step": 7}, "questions[0] (slider): steps of 7 from 0 do not land on 200"),
        ({**SLIDER, "step": 0.1}, "more than 1000 steps"),
        ({**SLIDER, "tolerance": -1}, '"tolerance" must be 0 or more'),
        ({**SLIDER, "tolerance": 500}, "wider than the whole range"),
        ({**SLIDER, "value": "100"}, 'questions[0] (slider): "value" must be a number'),
        ({**SLIDER, "min": True}, '"min" must be a number'),
        ({**ORDER, "items": ["Atom"]}, 'questions[0] (order): "items" must be a list of 2 to 6 strings'),
        ({**ORDER, "items": ["Atom", " atom"]}, "two items are the same"),
        ({**ORDER, "items": ["Atom", ""]}, '"items[1]" must be a non-empty string'),
        ({**MULTI, "correct": []}, 'questions[0] (multi): "correct" must be a non-empty list'),
        ({**MULTI, "correct": [4]}, "4 is not an index into choices"),
        ({**MULTI, "choices": ["a"] * 7}, "2 to 6"),
        ({**TRUE_FALSE, "correct": 1}, 'questions[0] (true_false): "correct" must be true or false'),
        ({**TYPED, "accepted": []}, '"accepted" must be a list of 1 to 10'),
        ({**TYPED, "accepted": ["  "]}, '"accepted[0]" must be a non-empty string'),
        ({**TYPED, "accepted": ["x" * 41]}, "longer than the 40 characters a player can type"),
        ({**TYPED, "ignore_accents": "yes"}, '"ignore_accents" must be true or false'),
        ({**POLL, "correct": [0]}, 'a poll has no right answer: leave "correct" out'),
        ({**POLL, "points": "double"}, "a poll has no right answer, so it gives no points"),
        ({**POLL, "text": ""}, 'questions[0] (poll): "text" must be a non-empty string'),
        ({**CHOICE, "type": "essay"}, "questions[0].type: 'essay' is not a question type; use one of choice"),
        ({**CHOICE, "type": ["choice"]}, "questions[0].type: ['choice'] is not a question type"),
        ({**MULTI, "points": ["double"]}, '"points" must be one of standard, double, none'),
        (
            {**ORDER, "items": ["Atom", "Ce\x07ll"]},
            '"items[1]" must not contain control characters (found U+0007)',
        ),
        ({**TYPED, "accepted": ["Mad\x00rid"]}, '"accepted[0]" must not contain control characters'),
        (
            {**MULTI, "text": "Mammals\x1b?"},
            'questions[0] (multi): "text" must not contain control characters',
        ),
        ({**SLIDER, "time_limit_s": 3}, '"time_limit_s" must be a whole number from 5 to 240'),
    ],
)
def test_problems_are_said_in_a_teachers_words_with_their_place(question, expected):
    details = problems(question)
    assert any(expected in d for d in details), details


def test_every_problem_of_every_type_is_reported_at_once():
    with pytest.raises(QuizInvalid) as error:
        validate_quiz_document(
            {
                "title": "T",
                "questions": [
                    {**SLIDER, "value": 300},
                    {**ORDER, "items": []},
                    {**TRUE_FALSE, "correct": None},
                ],
            }
        )
    assert [d.split(" ")[0] for d in error.value.details] == ["questions[0]", "questions[1]", "questions[2]"]


# ------------------------------------------------------------------ what a phone sees

RIGHT_ANSWER_KEYS = {"correct", "accepted", "value", "tolerance", "ignore_accents"}


@pytest.mark.parametrize("question", [CHOICE, MULTI, TRUE_FALSE, TYPED, SLIDER, ORDER, POLL])
def test_the_public_view_never_holds_the_right_answer(question):
    q = one(question)
    view = public_view(q)
    assert view["question_type"] == q["type"] and view["points"] == q["points"]
    assert not RIGHT_ANSWER_KEYS & view.keys()
    assert isinstance(view["choices"], list)  # clients of the first release always find choices
    if q["type"] == "type_answer":
        assert "Madrid" not in json.dumps(view)


def test_an_order_question_never_shows_its_items_in_the_right_order():
    view = public_view(one(ORDER))
    assert sorted(view["items"]) == sorted(ORDER["items"])
    assert all(shown != right for shown, right in zip(view["items"], ORDER["items"], strict=True))


@given(
    st.lists(
        st.text(min_size=1, max_size=12).filter(lambda t: t.strip()), min_size=2, max_size=6, unique=True
    )
)
def test_the_shown_order_is_a_shuffle_with_no_item_in_its_right_place(items):
    shown = shown_order(items)
    assert sorted(shown) == list(range(len(items)))
    assert all(shown[position] != position for position in range(len(items)))
    assert shown_order(list(items)) == shown  # the same on every replay
    right = right_order_as_shown(items)
    assert [items[shown[i]] for i in right] == items


# ------------------------------------------------------------------ choice, true_false, poll


def test_choice_judges_one_tap_and_keeps_bad_choice_for_an_index_out_of_range():
    q = one({**CHOICE, "correct": [0, 2]})
    assert verdict(q, {"choice": 0}) == RIGHT and verdict(q, {"choice": 2}) == RIGHT
    assert verdict(q, {"choice": 1}) == WRONG
    assert refused(q, {"choice": 3}).code == "bad_choice"
    assert refused(q, {"choice": True}).code == "bad_answer"
    wrong_type = refused(q, {"text": "Paris"})
    assert wrong_type.code == "bad_answer" and '"choice"' in wrong_type.message


def test_true_false_is_choice_0_for_true_and_1_for_false():
    q = one(TRUE_FALSE)
    assert public_view(q)["choices"] == ["True", "False"]
    assert verdict(q, {"choice": 0}) == RIGHT
    assert verdict(q, {"choice": 1}) == WRONG
    assert verdict(one({**TRUE_FALSE, "correct": False}), {"choice": 1}) == RIGHT
    assert refused(q, {"choice": 2}).code == "bad_choice"
    assert refused(q, {"value": True}).code == "bad_answer"
    answers = [JudgedAnswer({"choice": c}, judge(q, {"choice": c})) for c in (0, 0, 1)]
    assert reveal(q, answers) == {"correct": [0], "distribution": [2, 1]}
    assert describe_right(q) == "True" and describe_answer(q, {"choice": 1}) == "False"


def test_a_poll_is_never_judged_and_reveals_only_its_distribution():
    q = one(POLL)
    assert verdict(q, {"choice": 1}) == UNJUDGED
    answers = [JudgedAnswer({"choice": 1}, judge(q, {"choice": 1}))] * 3
    assert reveal(q, answers) == {"correct": [], "distribution": [0, 3]}
    assert describe_right(q) == ""


# ------------------------------------------------------------------ multi


def test_multi_is_right_only_for_exactly_the_right_set():
    q = one(MULTI)
    assert verdict(q, {"choices": [0, 2]}) == RIGHT
    assert verdict(q, {"choices": [2, 0]}) == RIGHT  # the order of ticking does not matter
    assert verdict(q, {"choices": [0]}) == WRONG  # half the answer is a wrong answer
    assert verdict(q, {"choices": [0, 2, 3]}) == WRONG
    assert verdict(q, {"choices": [1, 3]}) == WRONG


@pytest.mark.parametrize(
    "message, fragment",
    [
        ({"choices": []}, "Tick at least one choice"),
        ({"choices": [0, 0]}, "ticked twice"),
        ({"choices": [4]}, "0 to 3"),
        ({"choices": [-1]}, "0 to 3"),
        ({"choices": [True]}, "list of choice indexes"),
        ({"choices": "0,2"}, "list of choice indexes"),
        ({"choice": 0}, 'answered with "choices"'),
    ],
)
def test_multi_refuses_sets_it_cannot_judge(message, fragment):
    error = refused(one(MULTI), message)
    assert error.code == "bad_answer" and fragment in error.message


@given(st.sets(st.integers(0, 3), min_size=1))
def test_multi_is_right_exactly_when_the_set_matches(ticked):
    q = one(MULTI)
    assert (verdict(q, {"choices": sorted(ticked)}) == RIGHT) == (ticked == {0, 2})


def test_multi_reveal_counts_each_ticked_choice():
    q = one(MULTI)
    sent = [[0, 2], [0], [1, 2, 3]]
    answers = [JudgedAnswer({"choices": s}, judge(q, {"choices": s})) for s in sent]
    assert reveal(q, answers) == {"correct": [0, 2], "distribution": [2, 1, 2, 1]}


# ------------------------------------------------------------------ type_answer


@pytest.mark.parametrize(
    "typed, accepted, ignore_accents, right",
    [
        ("madrid", "Madrid", False, True),
        ("  MADRID  ", "Madrid", False, True),
        ("villa   de\tmadrid", "Villa de Madrid", False, True),
        ("villa de\u00a0madrid", "Villa de Madrid", False, True),  # a no-break space is a space
        ("ＭＡＤＲＩＤ", "Madrid", False, True),  # full-width letters (NFKC)
        ("ﬁsh", "fish", False, True),  # a ligature (NFKC)
        ("STRASSE", "Straße", False, True),  # case folding, not just lower()
        ("Bogota\u0301", "Bogotá", False, True),  # a combining accent is the same letter
        ("Bogota", "Bogotá", False, False),
        ("Bogota", "Bogotá", True, True),
        ("Bogotá", "Bogota", True, True),
        ("Malmo", "Malmö", True, True),
        ("Kobenhavn", "København", True, False),  # ø is a letter of its own, not o with a mark
        ("Madri", "Madrid", False, False),
        ("Mad rid", "Madrid", False, False),
    ],
)
def test_typed_answers_match_after_normalisation(typed, accepted, ignore_accents, right):
    q = one({**TYPED, "accepted": [accepted], "ignore_accents": ignore_accents})
    assert verdict(q, {"text": typed}) == (RIGHT if right else WRONG)


@pytest.mark.parametrize(
    "message, fragment",
    [
        ({"text": ""}, "Type an answer"),
        ({"text": " \t "}, "Type an answer"),
        ({"text": "x" * 41}, "at most 40 characters"),
        ({"text": "paris" + " " * 76}, "at most 40 characters"),  # stored as sent: not a page of spaces
        ({"text": "par\x00is"}, "control characters"),
        ({"text": "\x1b[31mparis"}, "control characters"),
        ({"text": 5}, '"text" must be a string'),
        ({"choice": 0}, 'answered with "text"'),
    ],
)
def test_typed_answers_that_cannot_be_judged_are_refused(message, fragment):
    error = refused(one(TYPED), message)
    assert error.code == "bad_answer" and fragment in error.message


def test_forty_characters_inside_spaces_are_accepted_and_kept_as_given():
    q = one(TYPED)
    assert read_answer(q, {"text": "  " + "x" * 40 + " "}) == {"text": "  " + "x" * 40 + " "}


@given(st.text())
def test_normalising_twice_changes_nothing(text):
    once = normalise_text(text)
    assert normalise_text(once) == once
    folded = normalise_text(text, ignore_accents=True)
    assert normalise_text(folded, ignore_accents=True) == folded


@given(
    word=st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=10),
    caps=st.lists(st.booleans(), min_size=10, max_size=10),
    before=st.text(alphabet=" \t\u00a0", max_size=3),
    after=st.text(alphabet=" \t\u3000", max_size=3),
)
def test_case_and_surrounding_spaces_never_change_a_verdict(word, caps, before, after):
    q = one({**TYPED, "accepted": [word]})
    typed = before + "".join(c.upper() if up else c for c, up in zip(word, caps, strict=False)) + after
    assert verdict(q, {"text": typed}) == RIGHT


def test_the_reveal_lists_accepted_answers_and_the_most_common_wrong_ones():
    q = one(TYPED)
    typed = [
        "madrid",
        "Barcelona",
        "barcelona ",
        "Sevilla",
        "Lisbon",
        "Lisbon",
        "lisbon",
        "Rome",
        "Paris",
        "Oslo",
    ]
    answers = [JudgedAnswer({"text": t}, judge(q, {"text": t})) for t in typed]
    shown = reveal(q, answers)
    assert shown["accepted"] == ["Madrid", "Villa de Madrid"]
    assert shown["right_count"] == 1
    assert shown["wrong_answers"] == [
        {"text": "lisbon", "count": 3},
        {"text": "barcelona", "count": 2},
        {"text": "oslo", "count": 1},
        {"text": "paris", "count": 1},
        {"text": "rome", "count": 1},
    ]
    assert (shown["correct"], shown["distribution"]) == ([], [])


# ------------------------------------------------------------------ slider


def test_slider_answers_within_the_tolerance_are_right_and_the_edge_is_inside():
    q = one(SLIDER)
    assert judge(q, {"value": 100}).closeness == 1.0
    assert judge(q, {"value": 110}).outcome == RIGHT and judge(q, {"value": 110}).closeness == 0.5
    assert judge(q, {"value": 90}).outcome == RIGHT and judge(q, {"value": 95}).closeness == 0.75
    assert judge(q, {"value": 115}).outcome == WRONG
    assert judge(q, {"value": 85}).outcome == WRONG


def test_slider_edges_hold_for_decimal_steps_that_binary_floats_cannot_write():
    q = one(
        {"type": "slider", "text": "pH?", "min": 0, "max": 1, "step": 0.1, "value": 0.3, "tolerance": 0.1}
    )
    # 0.4 - 0.3 is 0.10000000000000003 in floats; in decimal it is exactly the tolerance.
    assert judge(q, {"value": 0.4}) == judge(q, {"value": 0.2})
    assert judge(q, {"value": 0.4}).outcome == RIGHT and judge(q, {"value": 0.4}).closeness == 0.5
    assert judge(q, {"value": 0.5}).outcome == WRONG
    assert read_answer(q, {"value": 0.7}) == {"value": 0.7}
    assert refused(q, {"value": 0.75}).code == "bad_answer"


def test_a_slider_with_no_tolerance_takes_only_the_exact_value():
    q = one({**SLIDER, "tolerance": 0})
    assert judge(q, {"value": 100}).outcome == RIGHT and judge(q, {"value": 100}).closeness == 1.0
    assert judge(q, {"value": 105}).outcome == WRONG


@pytest.mark.parametrize(
    "message, fragment",
    [
        ({"value": 201}, "from 0 to 200 in steps of 5"),
        ({"value": -5}, "from 0 to 200 in steps of 5"),
        ({"value": 102}, "from 0 to 200 in steps of 5"),
        ({"value": True}, '"value" must be a number'),
        ({"value": "100"}, '"value" must be a number'),
        ({"choice": 1}, 'answered with "value"'),
    ],
)
def test_slider_values_off_the_scale_are_refused(message, fragment):
    error = refused(one(SLIDER), message)
    assert error.code == "bad_answer" and fragment in error.message


@given(steps=st.integers(0, 40))
def test_slider_right_exactly_within_the_tolerance_and_closer_is_never_worth_less(steps):
    q = one(SLIDER)
    value = steps * 5
    judged = judge(q, {"value": value})
    assert judged.right == (abs(value - 100) <= 10)
    if judged.right:
        assert 0.5 <= judged.closeness <= 1.0
        nearer = value + (5 if value < 100 else -5) if value != 100 else value
        assert judge(q, {"value": nearer}).closeness >= judged.closeness


def test_slider_reveal_shows_the_right_value_and_where_answers_fell():
    q = one(SLIDER)
    sent = [100, 95, 100.0, 150, 0]
    answers = [JudgedAnswer({"value": v}, judge(q, {"value": v})) for v in sent]
    assert reveal(q, answers) == {
        "correct": [],
        "distribution": [],
        "value": 100,
        "tolerance": 10,
        "right_count": 3,
        "answers": [
            {"value": 0, "count": 1},
            {"value": 95, "count": 1},
            {"value": 100, "count": 2},
            {"value": 150, "count": 1},
        ],
    }
    assert describe_right(q) == "100 ± 10"


# ------------------------------------------------------------------ order


def right_order(q: dict[str, Any]) -> list[int]:
    return right_order_as_shown(q["items"])


def test_order_is_right_only_when_every_item_is_in_its_place():
    q = one(ORDER)
    right = right_order(q)
    assert verdict(q, {"order": right}) == RIGHT
    swapped = right[:2][::-1] + right[2:]
    assert verdict(q, {"order": swapped}) == WRONG  # two of four in place is still wrong
    assert describe_answer(q, {"order": right}) == '"Atom" > "Cell" > "Mouse" > "Elephant"'


@pytest.mark.parametrize(
    "order, fragment",
    [
        ([0, 1, 2], "every item in order exactly once"),  # one missing
        ([0, 1, 2, 2], "every item in order exactly once"),  # one twice
        ([0, 1, 2, 3, 4], "every item in order exactly once"),  # one too many
        ([0, 1, 2, 7], "every item in order exactly once"),
        ([], "every item in order exactly once"),
        ("0123", "list of item indexes"),
        ([0, 1, 2, 3.0], "list of item indexes"),
    ],
)
def test_order_refuses_missing_duplicate_and_unknown_items(order, fragment):
    error = refused(one(ORDER), {"order": order})
    assert error.code == "bad_answer" and fragment in error.message


@given(st.permutations([0, 1, 2, 3]))
def test_exactly_one_order_is_right(order):
    q = one(ORDER)
    assert (verdict(q, {"order": list(order)}) == RIGHT) == (list(order) == right_order(q))


def test_order_reveal_counts_players_who_put_each_item_in_its_place():
    q = one(ORDER)
    right = right_order(q)
    almost = right[:2][::-1] + right[2:]
    answers = [JudgedAnswer({"order": o}, judge(q, {"order": o})) for o in (right, almost)]
    shown = reveal(q, answers)
    assert shown["correct"] == right
    expected = [0, 0, 0, 0]
    for item in right:
        expected[item] = 1
    for position in (2, 3):
        expected[right[position]] += 1
    assert shown["distribution"] == expected


def test_every_permutation_of_two_to_six_items_is_judged():
    for size in range(2, 7):
        q = one({**ORDER, "items": [f"item {i}" for i in range(size)]})
        rights = [p for p in itertools.permutations(range(size)) if verdict(q, {"order": list(p)}) == RIGHT]
        assert rights == [tuple(right_order(q))]


def test_an_answer_without_its_types_payload_is_refused_in_plain_words():
    for q, message in [(one(SLIDER), {}), (one(ORDER), {}), (one(TYPED), {}), (one(POLL), {})]:
        error = refused(q, message)
        assert error.code == "bad_answer" and "is answered with" in error.message


# ------------------------------------------------------------------ deciding: judging and scoring together


def test_a_decision_is_the_verdict_and_its_score_by_the_questions_own_limit_and_points():
    slider = one({**SLIDER, "time_limit_s": 40, "points": "double"})
    verdict_95, score_95 = decide(slider, {"value": 95}, elapsed_ms=20_000, streak_before=2)
    # 2000 × (1 − (20/40)/2) × 0.75 = 1125, + 200 for a streak of 3
    assert (verdict_95.outcome, score_95.points, score_95.streak) == (RIGHT, 1325, 3)
    poll_verdict, poll_score = decide(one(POLL), {"choice": 0}, elapsed_ms=0, streak_before=4)
    assert (poll_verdict.outcome, poll_score.points, poll_score.streak) == (UNJUDGED, 0, 4)
    wrong, nothing = decide(one(ORDER), {"order": [0, 1, 2, 3]}, elapsed_ms=0, streak_before=4)
    assert (wrong.outcome, nothing.points, nothing.streak) == (WRONG, 0, 0)


# ------------------------------------------------------------------ any payload at all

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-10, 300)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=45),
    lambda children: (
        st.lists(children, max_size=7) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=12,
)


@given(
    question=st.sampled_from([CHOICE, MULTI, TRUE_FALSE, TYPED, SLIDER, ORDER, POLL]),
    message=st.dictionaries(st.sampled_from(["choice", "choices", "text", "value", "order"]), json_values),
)
def test_any_payload_is_accepted_and_judged_or_refused_in_words(question, message):
    q = one(question)
    try:
        payload = read_answer(q, message)
    except AnswerRefused as refused:
        assert refused.code in ("bad_answer", "bad_choice") and refused.message
        return
    verdict = judge(q, payload)
    assert verdict.outcome in (RIGHT, WRONG, UNJUDGED)
    assert reveal(q, [JudgedAnswer(payload, verdict)])["correct"] is not None
    assert describe_answer(q, payload)
