"""Kahoot's published scoring rule, as pure functions: the one place it lives.

A right answer earns ``round(P * (1 - (elapsed / time_limit) / 2))``, or the
full ``P`` when it came within half a second. ``P`` depends on the question's
``points`` setting. A streak of right answers adds ``100 * (streak - 1)``,
capped at 500. A wrong or missing answer earns nothing and resets the streak. A
right answer to a ``"none"`` question earns nothing (bonus included) but still
extends the streak.

Question types add two things (docs/protocol.md, "Question types"):

* a right ``slider`` answer's speed points are scaled by its closeness: 1 for
  the exact value down to ½ at the edge of the tolerance (the streak bonus is
  not scaled);
* a ``poll`` is not judged: answering it or not earns nothing and leaves the
  streak exactly as it was.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from quiz_actors.domain.verdict import Verdict

POINTS_BY_KIND = {"standard": 1000, "double": 2000, "none": 0}
FULL_POINTS_WITHIN_MS = 500
STREAK_BONUS_STEP = 100
STREAK_BONUS_CAP = 500


@dataclass(frozen=True)
class Score:
    points: int
    streak: int


def round_half_up(value: float) -> int:
    # Python's round() rounds halves to even; players expect 0.5 to round up.
    return math.floor(value + 0.5)


def score_answer(
    *,
    correct: bool,
    elapsed_ms: int,
    time_limit_ms: int,
    points_kind: str,
    streak_before: int,
    closeness: float = 1.0,
) -> Score:
    """Points for one judged answer and the streak after it."""
    if not correct:
        return Score(points=0, streak=0)
    streak = streak_before + 1
    base = POINTS_BY_KIND[points_kind]
    if base == 0:
        return Score(points=0, streak=streak)
    elapsed_ms = max(0, min(elapsed_ms, time_limit_ms))
    speed = 1.0 if elapsed_ms < FULL_POINTS_WITHIN_MS else 1 - (elapsed_ms / time_limit_ms) / 2
    # base * speed first, as before closeness existed, so a closeness of 1
    # gives exactly the points the rule always gave.
    speed_points = round_half_up(base * speed * closeness)
    bonus = min(STREAK_BONUS_STEP * (streak - 1), STREAK_BONUS_CAP)
    return Score(points=speed_points + bonus, streak=streak)


def score_verdict(
    verdict: Verdict, *, elapsed_ms: int, time_limit_ms: int, points_kind: str, streak_before: int
) -> Score:
    """Points and streak for an answer as judged, of any question type."""
    if not verdict.judged:
        return Score(points=0, streak=streak_before)
    return score_answer(
        correct=verdict.right,
        elapsed_ms=elapsed_ms,
        time_limit_ms=time_limit_ms,
        points_kind=points_kind,
        streak_before=streak_before,
        closeness=verdict.closeness,
    )


def streak_without_answer(judged: bool, streak_before: int) -> int:
    """The streak of a player who did not answer: reset, unless the question is not judged (a poll)."""
    return 0 if judged else streak_before
