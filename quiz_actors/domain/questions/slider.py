"""slider: the player picks a number on a range; right within the tolerance of the right value.

Numbers arrive as JSON numbers (Python floats for anything with a decimal
point), and 0.1 + 0.2 is not 0.3 in binary floating point. Every comparison here
is made in decimal on the number as written (``Decimal(str(0.1))`` is exactly
0.1), so a value exactly at the edge of the tolerance is inside it.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from quiz_actors.domain.questions.base import (
    JudgedAnswer,
    Payload,
    Problems,
    Question,
    QuestionType,
    bad_answer,
    payload_field,
)
from quiz_actors.domain.verdict import RIGHT, WRONG, Verdict

MAX_POSITIONS = 1001  # a slider a thumb can set: at most 1,000 steps from min to max
SLIDER_FIELD_WORDS = {
    "min": "Write the smallest value, as a number",
    "max": "Write the largest value, as a number",
    "step": "Write the step, as a number",
    "value": "Write the right value, as a number",
    "tolerance": "Write the tolerance, as a number (0 for exactly right)",
}


def is_number(value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return math.isfinite(value)


def exact(value: int | float) -> Decimal:
    """The number as it was written: ``exact(0.1) == Decimal("0.1")``."""
    return Decimal(value) if isinstance(value, int) else Decimal(repr(value))


def shown(value: Decimal | int | float) -> str:
    """A number as a teacher writes it: 120, 0.5, -3 (never 1.20E+2)."""
    number = value if isinstance(value, Decimal) else exact(value)
    text = format(number.normalize(), "f")
    return "0" if text == "-0" else text


def on_grid(value: Decimal, low: Decimal, step: Decimal) -> bool:
    return (value - low) % step == 0


def closeness(distance: Decimal, tolerance: Decimal) -> float:
    """1 for the exact value, falling in a straight line to ½ at the edge of the tolerance."""
    if tolerance == 0:
        return 1.0
    return float(1 - distance / (2 * tolerance))


class Slider(QuestionType):
    name = "slider"
    payload_name = "value"

    def validate(self, q: Question, problems: Problems) -> dict[str, Any]:
        fields = {"min": q.get("min"), "max": q.get("max"), "step": q.get("step", 1)}
        fields["value"] = q.get("value")
        fields["tolerance"] = q.get("tolerance", 0)
        for name, value in fields.items():
            if not is_number(value):
                problems.field(name, "must be a number", SLIDER_FIELD_WORDS[name], f"slider_{name}_number")
        if not all(is_number(v) for v in fields.values()):
            return fields
        low, high, step = exact(fields["min"]), exact(fields["max"]), exact(fields["step"])
        value, tolerance = exact(fields["value"]), exact(fields["tolerance"])
        if low >= high:
            problems.question(
                f"the smallest value {shown(low)} must be below the largest {shown(high)}",
                at="max",
                code="slider_min_above_max",
                params={"min": shown(low), "max": shown(high)},
            )
            return fields
        if step <= 0:
            problems.field(
                "step", "must be greater than 0", "The step must be more than 0", "slider_step_positive"
            )
            return fields
        # Count the steps before testing the grid: a remainder of a huge range
        # by a tiny step is more digits than decimal arithmetic carries.
        if (high - low) / step + 1 > MAX_POSITIONS:
            problems.question(
                f"steps of {shown(step)} from {shown(low)} to {shown(high)} make more than "
                f"{MAX_POSITIONS - 1} steps: use a bigger step",
                at="step",
                code="slider_too_many_steps",
                params={
                    "step": shown(step),
                    "min": shown(low),
                    "max": shown(high),
                    "steps": MAX_POSITIONS - 1,
                },
            )
            return fields
        if not on_grid(high, low, step):
            problems.question(
                f"steps of {shown(step)} from {shown(low)} do not land on {shown(high)}",
                at="step",
                code="slider_max_off_steps",
                params={"step": shown(step), "min": shown(low), "max": shown(high)},
            )
        if not low <= value <= high:
            problems.question(
                f"the right value {shown(value)} is outside {shown(low)}–{shown(high)}",
                at="value",
                code="slider_value_outside",
                params={"value": shown(value), "min": shown(low), "max": shown(high)},
            )
        elif not on_grid(value, low, step):
            problems.question(
                f"the right value {shown(value)} cannot be picked "
                f"with steps of {shown(step)} from {shown(low)}",
                at="value",
                code="slider_value_off_steps",
                params={"value": shown(value), "step": shown(step), "min": shown(low)},
            )
        if tolerance < 0:
            problems.field(
                "tolerance",
                "must be 0 or more",
                "The tolerance must be 0 or more",
                "slider_tolerance_negative",
            )
        elif tolerance > high - low:
            problems.question(
                f"a tolerance of {shown(tolerance)} is wider than the whole range",
                at="tolerance",
                code="slider_tolerance_wide",
                params={"tolerance": shown(tolerance)},
            )
        return fields

    def public(self, q: Question) -> dict[str, Any]:
        return {"choices": [], "min": q["min"], "max": q["max"], "step": q["step"]}

    def read_answer(self, q: Question, message: Mapping[str, Any]) -> Payload:
        low, high, step = exact(q["min"]), exact(q["max"]), exact(q["step"])
        value = payload_field(message, "value", self.name, f"a number from {shown(low)} to {shown(high)}")
        if not is_number(value):
            raise bad_answer('"value" must be a number')
        picked = exact(value)
        if not low <= picked <= high or not on_grid(picked, low, step):
            raise bad_answer(f"Pick a number from {shown(low)} to {shown(high)} in steps of {shown(step)}")
        return {"value": value}

    def judge(self, q: Question, payload: Payload) -> Verdict:
        distance = abs(exact(payload["value"]) - exact(q["value"]))
        tolerance = exact(q["tolerance"])
        if distance > tolerance:
            return Verdict(WRONG)
        return Verdict(RIGHT, closeness(distance, tolerance))

    def reveal(self, q: Question, answers: Sequence[JudgedAnswer]) -> dict[str, Any]:
        # Keyed by the exact decimal, so 5 and 5.0 are one place on the scale.
        picked = Counter(exact(a.payload["value"]) for a in answers)
        return {
            "correct": [],
            "distribution": [],
            "value": q["value"],
            "tolerance": q["tolerance"],
            "right_count": sum(1 for a in answers if a.verdict.right),
            "answers": [{"value": _as_json(v), "count": n} for v, n in sorted(picked.items())],
        }

    def describe(self, q: Question, payload: Payload) -> str:
        return shown(payload["value"])

    def describe_right(self, q: Question) -> str:
        if exact(q["tolerance"]) == 0:
            return shown(q["value"])
        return f"{shown(q['value'])} ± {shown(q['tolerance'])}"


def _as_json(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)
