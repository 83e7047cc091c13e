"""Question types: one table from a question's ``type`` to what handles it.

Everything that depends on the kind of question goes through the functions
here, so the Room aggregate, the wire views and the tools never branch on a
type's name. A question stored before question types existed has no ``type``
and is a ``choice`` question.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from quiz_actors.domain.questions.base import (
    AnswerRefused,
    JudgedAnswer,
    Payload,
    Problem,
    Problems,
    Question,
    QuestionType,
    is_int,
    text_problem,
)
from quiz_actors.domain.questions.choices import Choice, Multi, Poll, TrueFalse
from quiz_actors.domain.questions.order import Order
from quiz_actors.domain.questions.slider import Slider
from quiz_actors.domain.questions.typed import TypeAnswer
from quiz_actors.domain.scoring import POINTS_BY_KIND, Score, score_verdict
from quiz_actors.domain.verdict import Verdict

__all__ = [
    "AnswerRefused",
    "JudgedAnswer",
    "Payload",
    "QUESTION_TYPES",
    "PAYLOAD_FIELDS",
    "Problem",
    "QuestionType",
    "answer_words",
    "decide",
    "describe_answer",
    "describe_right",
    "is_judged",
    "judge",
    "public_view",
    "read_answer",
    "reveal",
    "type_of",
    "validate_question",
]

QUESTION_TYPES: dict[str, QuestionType] = {
    t.name: t for t in (Choice(), Multi(), TrueFalse(), TypeAnswer(), Slider(), Order(), Poll())
}
DEFAULT_TYPE = "choice"
PAYLOAD_FIELDS = tuple(dict.fromkeys(t.payload_name for t in QUESTION_TYPES.values()))

MAX_QUESTION_TEXT = 500
MIN_TIME_LIMIT_S, MAX_TIME_LIMIT_S = 5, 240
DEFAULT_TIME_LIMIT_S = 20
MEDIA_ID_CHARS = 64  # a media id is the SHA-256 of the stored image, in hex (quiz_actors/media.py)


def type_of(q: Question) -> QuestionType:
    return QUESTION_TYPES[q.get("type", DEFAULT_TYPE)]


def validate_question(path: str, q: Any, errors: list[Problem]) -> dict[str, Any] | None:
    """The question trimmed and with defaults filled in; its problems are added to ``errors``."""
    if not isinstance(q, dict):
        errors.append(
            Problem(
                path,
                "This question cannot be read: it must be an object with its text and fields",
                f"{path}: must be an object",
            )
        )
        return None
    type_name = q.get("type", DEFAULT_TYPE)
    if not isinstance(type_name, str) or type_name not in QUESTION_TYPES:
        errors.append(
            Problem(
                f"{path}.type",
                f"Choose a kind of question: {', '.join(QUESTION_TYPES)}",
                f"{path}.type: {type_name!r} is not a question type; use one of {', '.join(QUESTION_TYPES)}",
            )
        )
        return None
    kind = QUESTION_TYPES[type_name]
    problems = Problems(path, type_name, errors)
    text = q.get("text")
    if not isinstance(text, str) or not text.strip():
        problems.field("text", "must be a non-empty string", "Write the question", "question_text_missing")
    elif len(text) > MAX_QUESTION_TEXT:
        problems.field(
            "text",
            f"at most {MAX_QUESTION_TEXT} characters",
            f"A question is at most {MAX_QUESTION_TEXT} characters (this one has {len(text)})",
            "question_text_too_long",
            {"max": MAX_QUESTION_TEXT, "length": len(text)},
        )
    elif (problem := text_problem(text)) is not None:
        problems.said("text", problem)
    time_limit = q.get("time_limit_s", DEFAULT_TIME_LIMIT_S)
    if not is_int(time_limit) or not MIN_TIME_LIMIT_S <= time_limit <= MAX_TIME_LIMIT_S:
        problems.field(
            "time_limit_s",
            f"must be a whole number from {MIN_TIME_LIMIT_S} to {MAX_TIME_LIMIT_S}",
            f"The time limit is a whole number of seconds from {MIN_TIME_LIMIT_S} to {MAX_TIME_LIMIT_S}",
            "time_limit_range",
            {"min": MIN_TIME_LIMIT_S, "max": MAX_TIME_LIMIT_S},
        )
    points = _points(q, kind, problems)
    own = kind.validate(q, problems)
    return {
        "type": type_name,
        "text": text.strip() if isinstance(text, str) else text,
        **own,
        "time_limit_s": time_limit,
        "points": points,
        **_image(q, problems),
    }


def _image(q: Question, problems: Problems) -> dict[str, Any]:
    """The question's picture, when it has one: a media id (whether the store holds it is the
    library's check, quiz_actors.quizzes), and whether the phones show it too."""
    out: dict[str, Any] = {}
    image = q.get("image")
    if image is not None:
        if not is_media_id(image):
            problems.field(
                "image",
                f"must be a media id ({MEDIA_ID_CHARS} hex characters) from POST /api/media",
                "This picture is not one the server holds: upload it again",
                "image_missing",
            )
        out["image"] = image
    on_phones = q.get("image_on_phones")
    if on_phones is None:
        on_phones = False  # the picture is on the host's screen only, unless the teacher says so
    elif not isinstance(on_phones, bool):
        problems.field(
            "image_on_phones", "must be true or false", "Say whether the phones show the picture too"
        )
    if image is not None or "image_on_phones" in q:
        out["image_on_phones"] = on_phones
    return out


def is_media_id(value: Any) -> bool:
    return (
        isinstance(value, str)
        and len(value) == MEDIA_ID_CHARS
        and all(c in "0123456789abcdef" for c in value)
    )


def _points(q: Question, kind: QuestionType, problems: Problems) -> Any:
    if not kind.judged:
        points = q.get("points", "none")
        if points != "none":
            problems.question(
                'a poll has no right answer, so it gives no points: leave "points" out',
                "A poll has no right answer, so it gives no points",
                at="points",
            )
        return points
    points = q.get("points", "standard")
    if not isinstance(points, str) or points not in POINTS_BY_KIND:
        problems.field(
            "points",
            f"must be one of {', '.join(POINTS_BY_KIND)}",
            f"Points are one of: {', '.join(POINTS_BY_KIND)}",
        )
    return points


def public_view(q: Question) -> dict[str, Any]:
    """What every member may see of an open question, beyond its text and timing."""
    kind = type_of(q)
    view = {"question_type": kind.name, "points": q["points"], **kind.public(q)}
    if q.get("image"):
        # The picture is public (GET /media/{id}); the host screen always shows it,
        # the phones only when the quiz says so (docs/protocol.md, "Pictures").
        view["image"] = f"/media/{q['image']}"
        view["image_on_phones"] = bool(q.get("image_on_phones", False))
    return view


def read_answer(q: Question, message: Mapping[str, Any]) -> Payload:
    """The payload an ``answer`` message carries for this question, or raise AnswerRefused."""
    return type_of(q).read_answer(q, message)


def judge(q: Question, payload: Payload) -> Verdict:
    return type_of(q).judge(q, payload)


def decide(q: Question, payload: Payload, *, elapsed_ms: int, streak_before: int) -> tuple[Verdict, Score]:
    """The verdict on an accepted answer and what it scores: the room's decision, and ``--check``'s."""
    verdict = judge(q, payload)
    score = score_verdict(
        verdict,
        elapsed_ms=elapsed_ms,
        time_limit_ms=q["time_limit_s"] * 1000,
        points_kind=q["points"],
        streak_before=streak_before,
    )
    return verdict, score


def reveal(q: Question, answers: Sequence[JudgedAnswer]) -> dict[str, Any]:
    """The right answer and the distribution, as ``question_closed`` shows them."""
    return type_of(q).reveal(q, answers)


def is_judged(q: Question) -> bool:
    return type_of(q).judged


def describe_answer(q: Question, payload: Payload) -> str:
    return type_of(q).describe(q, payload)


def answer_words(q: Question, payload: Payload) -> str:
    """An answer as a person reads it in a report: ``Paris``, ``Atom > Cell``, ``95``."""
    return type_of(q).words(q, payload)


def describe_right(q: Question) -> str:
    return type_of(q).describe_right(q)
