"""Kahoot's scoring rule as a pure function (docs/protocol.md, "Playing")."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from quiz_actors.domain.scoring import score_answer, score_verdict, streak_without_answer
from quiz_actors.domain.verdict import RIGHT, UNJUDGED, WRONG, Verdict


def score(correct=True, elapsed=0, limit=20_000, kind="standard", streak=0):
    return score_answer(
        correct=correct, elapsed_ms=elapsed, time_limit_ms=limit, points_kind=kind, streak_before=streak
    )


@pytest.mark.parametrize(
    "elapsed, points",
    [
        (0, 1000),
        (499, 1000),
        (500, 988),
        (10_000, 750),
        (20_000, 500),
        (5_000, 875),
        (1, 1000),
    ],
)
def test_speed_weighted_points(elapsed, points):
    assert score(elapsed=elapsed).points == points


def test_half_points_round_up():
    # 1000 * (1 - (1/3)/2) = 833.33; 1000 * (1 - 0.00125) = 998.75 -> 999
    assert score(elapsed=6_667, limit=20_000).points == 833
    assert score(elapsed=500, limit=200_000).points == 999


def test_double_and_none():
    assert score(kind="double", elapsed=10_000).points == 1500
    assert score(kind="double", elapsed=0).points == 2000
    none = score(kind="none", streak=4)
    assert (none.points, none.streak) == (0, 5)


@pytest.mark.parametrize("streak_before, bonus", [(0, 0), (1, 100), (2, 200), (4, 400), (5, 500), (9, 500)])
def test_streak_bonus_is_capped_at_500(streak_before, bonus):
    result = score(streak=streak_before)
    assert result.points == 1000 + bonus
    assert result.streak == streak_before + 1


def test_wrong_answer_earns_nothing_and_resets_the_streak():
    result = score(correct=False, streak=7)
    assert (result.points, result.streak) == (0, 0)


@given(
    elapsed=st.integers(0, 240_000),
    limit=st.integers(5, 240).map(lambda s: s * 1000),
    streak=st.integers(0, 50),
    kind=st.sampled_from(["standard", "double"]),
)
def test_points_are_bounded_and_never_grow_with_time(elapsed, limit, streak, kind):
    base = 1000 if kind == "standard" else 2000
    result = score(elapsed=elapsed, limit=limit, streak=streak, kind=kind)
    bonus = min(100 * streak, 500)
    assert base // 2 + bonus <= result.points <= base + bonus
    later = score(elapsed=elapsed + 1000, limit=limit, streak=streak, kind=kind)
    assert later.points <= result.points


# ------------------------------------------------------------------ question types


def judged(outcome, closeness=1.0, elapsed=0, limit=20_000, kind="standard", streak=0):
    return score_verdict(
        Verdict(outcome, closeness),
        elapsed_ms=elapsed,
        time_limit_ms=limit,
        points_kind=kind,
        streak_before=streak,
    )


def test_a_slider_answers_speed_points_scale_with_closeness_and_the_bonus_does_not():
    assert judged(RIGHT, closeness=1.0, elapsed=10_000).points == 750
    assert judged(RIGHT, closeness=0.5, elapsed=10_000).points == 375
    assert judged(RIGHT, closeness=0.75, elapsed=0).points == 750
    assert judged(RIGHT, closeness=0.75, elapsed=0, kind="double").points == 1500
    # 1000 * 0.875 * 0.6 = 525, plus a streak bonus of 200 in full
    assert judged(RIGHT, closeness=0.6, elapsed=5_000, streak=2).points == 525 + 200
    edge = judged(RIGHT, closeness=0.5, kind="none", streak=3)
    assert (edge.points, edge.streak) == (0, 4)


def test_a_poll_earns_nothing_and_leaves_the_streak_as_it_was():
    for streak in (0, 1, 6):
        result = judged(UNJUDGED, streak=streak)
        assert (result.points, result.streak) == (0, streak)
        assert streak_without_answer(judged=False, streak_before=streak) == streak


def test_a_missing_answer_to_a_judged_question_resets_the_streak_whatever_its_points():
    assert streak_without_answer(judged=True, streak_before=4) == 0


@given(
    elapsed=st.integers(0, 240_000),
    limit=st.integers(5, 240).map(lambda s: s * 1000),
    streak=st.integers(0, 50),
    kind=st.sampled_from(["standard", "double", "none"]),
)
def test_every_type_with_a_right_answer_is_scored_by_the_one_rule(elapsed, limit, streak, kind):
    plain = score(elapsed=elapsed, limit=limit, streak=streak, kind=kind)
    assert judged(RIGHT, elapsed=elapsed, limit=limit, streak=streak, kind=kind) == plain
    assert judged(WRONG, elapsed=elapsed, limit=limit, streak=streak, kind=kind) == score(
        correct=False, streak=streak
    )


@given(
    closeness=st.floats(0.5, 1.0),
    elapsed=st.integers(0, 240_000),
    limit=st.integers(5, 240).map(lambda s: s * 1000),
    streak=st.integers(0, 50),
)
def test_closer_slider_answers_never_earn_less(closeness, elapsed, limit, streak):
    near = judged(RIGHT, closeness=closeness, elapsed=elapsed, limit=limit, streak=streak)
    exact = judged(RIGHT, closeness=1.0, elapsed=elapsed, limit=limit, streak=streak)
    bonus = min(100 * streak, 500)
    assert (exact.points - bonus) // 2 <= near.points - bonus <= exact.points - bonus
