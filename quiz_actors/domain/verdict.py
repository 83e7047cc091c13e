"""What judging an answer decides, before any points are counted.

Judging (``quiz_actors.domain.questions``) says whether an answer is right;
scoring (``quiz_actors.domain.scoring``) turns that into points and a streak.
This small value is what passes between them, and what the answer event stores.
"""

from __future__ import annotations

from dataclasses import dataclass

RIGHT = "right"
WRONG = "wrong"
UNJUDGED = "unjudged"  # a poll: there is no right answer to compare with

OUTCOMES = (RIGHT, WRONG, UNJUDGED)


@dataclass(frozen=True)
class Verdict:
    """``outcome`` is one of OUTCOMES; ``closeness`` (½–1) scales a right slider answer's points."""

    outcome: str
    closeness: float = 1.0

    @property
    def right(self) -> bool:
        return self.outcome == RIGHT

    @property
    def judged(self) -> bool:
        return self.outcome != UNJUDGED


def verdict_of(right: bool) -> Verdict:
    return Verdict(RIGHT if right else WRONG)
