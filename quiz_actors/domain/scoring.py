"""Kahoot's published scoring rule, as one pure function.

A correct answer earns ``round(P * (1 - (elapsed / time_limit) / 2))``, or the
full ``P`` when it came within half a second. ``P`` depends on the question's
``points`` setting. A streak of correct answers adds ``100 * (streak - 1)``,
capped at 500. A wrong or missing answer earns nothing and resets the streak. A
correct answer to a ``"none"`` question earns nothing (bonus included) but still
extends the streak.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

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
) -> Score:
    """Points for one answer and the streak after it."""
    if not correct:
        return Score(points=0, streak=0)
    streak = streak_before + 1
    base = POINTS_BY_KIND[points_kind]
    if base == 0:
        return Score(points=0, streak=streak)
    elapsed_ms = max(0, min(elapsed_ms, time_limit_ms))
    if elapsed_ms < FULL_POINTS_WITHIN_MS:
        speed_points = base
    else:
        speed_points = round_half_up(base * (1 - (elapsed_ms / time_limit_ms) / 2))
    bonus = min(STREAK_BONUS_STEP * (streak - 1), STREAK_BONUS_CAP)
    return Score(points=speed_points + bonus, streak=streak)
