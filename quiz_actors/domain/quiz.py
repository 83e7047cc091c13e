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

from quiz_actors.domain.questions import validate_question
from quiz_actors.domain.questions.base import text_problem

MAX_QUESTIONS = 100
MAX_TITLE = 120
MAX_GET_READY_S = 30  # the "read the question" phase before answers open, in whole seconds

CATALOG_ID = uuid.uuid5(uuid.NAMESPACE_URL, "quiz-actors:quiz-catalog")


class QuizInvalid(ValueError):
    """A quiz document broke one or more rules; ``details`` lists each one."""

    def __init__(self, details: list[str]) -> None:
        super().__init__("; ".join(details))
        self.details = details


def validate_quiz_document(doc: Any) -> dict[str, Any]:
    """Return the normalised quiz (defaults filled in) or raise ``QuizInvalid``."""
    if not isinstance(doc, dict):
        raise QuizInvalid(["the quiz must be a JSON object"])
    errors: list[str] = []
    title = doc.get("title")
    if not isinstance(title, str) or not title.strip():
        errors.append("title: must be a non-empty string")
    elif len(title.strip()) > MAX_TITLE:
        errors.append(f"title: at most {MAX_TITLE} characters")
    elif (problem := text_problem(title)) is not None:
        errors.append(f"title: {problem}")
    questions = doc.get("questions")
    if not isinstance(questions, list) or not questions:
        errors.append("questions: must be a non-empty list")
        questions = []
    elif len(questions) > MAX_QUESTIONS:
        errors.append(f"questions: at most {MAX_QUESTIONS}")
    get_ready = doc.get("get_ready_s")
    if get_ready is not None and (
        isinstance(get_ready, bool) or not isinstance(get_ready, int) or not 0 <= get_ready <= MAX_GET_READY_S
    ):
        errors.append(f"get_ready_s: must be a whole number of seconds from 0 to {MAX_GET_READY_S}")
    # Each question type checks its own fields (quiz_actors.domain.questions).
    normalised = [validate_question(f"questions[{i}]", q, errors) for i, q in enumerate(questions)]
    if errors or not isinstance(title, str):  # a title that is not a string is among the errors
        raise QuizInvalid(errors)
    quiz: dict[str, Any] = {"title": title.strip(), "questions": normalised}
    if get_ready is not None:
        # Left out when not given: the server's --get-ready-s applies (filled in as a room opens).
        quiz["get_ready_s"] = get_ready
    return quiz


def summary(quiz_id: uuid.UUID | str, quiz: dict[str, Any]) -> dict[str, Any]:
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
    def __init__(self, quiz_id: str, document: dict[str, Any], uploaded_at: int):
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
        self.entries: dict[str, dict[str, Any]] = {}

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
