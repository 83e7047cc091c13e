"""Kahoot's scoring rule as a pure function (docs/protocol.md, "Playing")."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from quiz_actors.domain.scoring import score_answer


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
