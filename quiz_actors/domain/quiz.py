"""Quiz documents: validation, and the Quiz and QuizCatalog aggregates.

A quiz document is what a host uploads (see docs/protocol.md, "HTTP"). It is
validated here, completely, so that every problem is reported at once with a
path to the offending field. A valid document is stored as a ``Quiz`` aggregate;
the ``QuizCatalog`` aggregate lists every quiz's summary so that listing quizzes
does not load each one.
"""

from __future__ import annotations

import uuid
from typing import Any

from eventsourcing.domain import Aggregate, event

from quiz_actors.domain.scoring import POINTS_BY_KIND

MAX_QUESTIONS = 100
MAX_TITLE = 120
MAX_QUESTION_TEXT = 500
MAX_CHOICE_TEXT = 120
MIN_CHOICES, MAX_CHOICES = 2, 6
MIN_TIME_LIMIT_S, MAX_TIME_LIMIT_S = 5, 240

CATALOG_ID = uuid.uuid5(uuid.NAMESPACE_URL, "quiz-actors:quiz-catalog")


class QuizInvalid(ValueError):
    """A quiz document broke one or more rules; ``details`` lists each one."""

    def __init__(self, details: list[str]):
        super().__init__("; ".join(details))
        self.details = details


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def validate_quiz_document(doc: Any) -> dict:
    """Return the normalised quiz (defaults filled in) or raise ``QuizInvalid``."""
    if not isinstance(doc, dict):
        raise QuizInvalid(["the quiz must be a JSON object"])
    errors: list[str] = []
    title = doc.get("title")
    if not isinstance(title, str) or not title.strip():
        errors.append("title: must be a non-empty string")
    elif len(title.strip()) > MAX_TITLE:
        errors.append(f"title: at most {MAX_TITLE} characters")
    questions = doc.get("questions")
    if not isinstance(questions, list) or not questions:
        errors.append("questions: must be a non-empty list")
        questions = []
    elif len(questions) > MAX_QUESTIONS:
        errors.append(f"questions: at most {MAX_QUESTIONS}")
    normalised = []
    for i, question in enumerate(questions):
        normalised.append(_validate_question(f"questions[{i}]", question, errors))
    if errors:
        raise QuizInvalid(errors)
    return {"title": title.strip(), "questions": normalised}


def _validate_question(path: str, q: Any, errors: list[str]) -> dict | None:
    if not isinstance(q, dict):
        errors.append(f"{path}: must be an object")
        return None
    text = q.get("text")
    if not isinstance(text, str) or not text.strip():
        errors.append(f"{path}.text: must be a non-empty string")
    elif len(text) > MAX_QUESTION_TEXT:
        errors.append(f"{path}.text: at most {MAX_QUESTION_TEXT} characters")
    choices = q.get("choices")
    if not isinstance(choices, list) or not MIN_CHOICES <= len(choices) <= MAX_CHOICES:
        errors.append(f"{path}.choices: must be a list of {MIN_CHOICES} to {MAX_CHOICES} strings")
        choices = []
    for j, choice in enumerate(choices):
        if not isinstance(choice, str) or not choice.strip():
            errors.append(f"{path}.choices[{j}]: must be a non-empty string")
        elif len(choice) > MAX_CHOICE_TEXT:
            errors.append(f"{path}.choices[{j}]: at most {MAX_CHOICE_TEXT} characters")
    correct = q.get("correct")
    if not isinstance(correct, list) or not correct:
        errors.append(f"{path}.correct: must be a non-empty list of choice indexes")
        correct = []
    for index in correct:
        if not _is_int(index) or not 0 <= index < len(choices):
            errors.append(f"{path}.correct: {index!r} is not an index into choices")
    if len(set(i for i in correct if _is_int(i))) != len(correct):
        errors.append(f"{path}.correct: lists an index twice")
    time_limit = q.get("time_limit_s", 20)
    if not _is_int(time_limit) or not MIN_TIME_LIMIT_S <= time_limit <= MAX_TIME_LIMIT_S:
        errors.append(
            f"{path}.time_limit_s: must be a whole number from {MIN_TIME_LIMIT_S} to {MAX_TIME_LIMIT_S}"
        )
    points = q.get("points", "standard")
    if points not in POINTS_BY_KIND:
        errors.append(f"{path}.points: must be one of {', '.join(POINTS_BY_KIND)}")
    if not isinstance(text, str) or not isinstance(choices, list):
        return None
    return {
        "text": text.strip() if isinstance(text, str) else text,
        "choices": [c.strip() if isinstance(c, str) else c for c in choices],
        "correct": sorted(correct) if all(_is_int(i) for i in correct) else correct,
        "time_limit_s": time_limit,
        "points": points,
    }


def summary(quiz_id: uuid.UUID | str, quiz: dict) -> dict:
    """What a quiz listing shows: never the answers."""
    return {
        "quiz_id": str(quiz_id),
        "title": quiz["title"],
        "question_count": len(quiz["questions"]),
    }


class Quiz(Aggregate):
    """One uploaded quiz. Its content never changes once stored."""

    class QuizUploaded(Aggregate.Created):
        # The name stored with the event: it never changes.
        TOPIC = "quiz_actors.domain.quiz:Quiz.QuizUploaded"
        quiz_id: str
        document: dict[str, Any]
        uploaded_at: int

    @event(QuizUploaded)
    def __init__(self, quiz_id: str, document: dict, uploaded_at: int):
        self.document = document
        self.uploaded_at = uploaded_at

    @staticmethod
    def create_id(quiz_id: str, **_: Any) -> uuid.UUID:
        # The caller chooses the id: sample quizzes use fixed ones so that
        # seeding them on every start stores each only once.
        return uuid.UUID(quiz_id)


class QuizCatalog(Aggregate):
    """The list of every stored quiz, as summaries."""

    @staticmethod
    def create_id() -> uuid.UUID:
        return CATALOG_ID

    class CatalogOpened(Aggregate.Created):
        # The name stored with the event: it never changes.
        TOPIC = "quiz_actors.domain.quiz:QuizCatalog.CatalogOpened"

    @event(CatalogOpened)
    def __init__(self) -> None:
        self.entries: dict[str, dict] = {}

    class QuizListed(Aggregate.Event):
        TOPIC = "quiz_actors.domain.quiz:QuizCatalog.QuizListed"
        quiz_id: str
        title: str
        question_count: int

    @event(QuizListed)
    def list_quiz(self, quiz_id: str, title: str, question_count: int) -> None:
        self.entries[quiz_id] = {
            "quiz_id": quiz_id,
            "title": title,
            "question_count": question_count,
        }
