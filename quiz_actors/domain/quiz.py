"""Quiz documents: validation, and the Quiz and QuizCatalog aggregates.

A quiz document is what a host uploads (see docs/api.md). It is validated here,
completely, so that every problem is reported at once with a path to the
offending field. A valid document is stored as a ``Quiz`` aggregate, which
records each revision as an event: a room copies the revision it starts with
(``Room.RoomCreated``), so a later revision changes no game. The
``QuizCatalog`` aggregate lists every quiz's summary so that listing quizzes
does not load each one.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from eventsourcing.domain import Aggregate, event

from quiz_actors.domain.questions import Problem, validate_question
from quiz_actors.domain.questions.base import text_problem

MAX_QUESTIONS = 100
MAX_TITLE = 120
MAX_GET_READY_S = 30  # the "read the question" phase before answers open, in whole seconds
MAX_DESCRIPTION = 500
COPY_SUFFIX = " (copy)"

CATALOG_ID = uuid.uuid5(uuid.NAMESPACE_URL, "quiz-actors:quiz-catalog")


class QuizInvalid(ValueError):
    """A quiz document broke one or more rules; ``problems`` lists each one."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        self.details = [p.detail for p in problems]  # as clients before the editor know them
        super().__init__("; ".join(self.details))


class QuizRefused(Exception):
    """A change or a read the quiz cannot take: ``code`` is for programs, ``message`` for people;
    ``revision`` is the quiz's current one when the refusal is about a stale copy."""

    def __init__(self, code: str, message: str, revision: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.revision = revision


def quiz_changed(revision: int) -> QuizRefused:
    return QuizRefused(
        "quiz_changed", f"This quiz changed since you opened it (now revision {revision})", revision
    )


def quiz_archived(title: str) -> QuizRefused:
    return QuizRefused("quiz_archived", f'The quiz "{title}" was deleted (archived): it cannot be changed')


def validate_quiz_document(doc: Any) -> dict[str, Any]:
    """Return the normalised quiz (defaults filled in) or raise ``QuizInvalid``."""
    if not isinstance(doc, dict):
        raise QuizInvalid(
            [Problem("", "This is not a quiz (it must be a JSON object)", "the quiz must be a JSON object")]
        )
    errors: list[Problem] = []
    title = doc.get("title")
    if not isinstance(title, str) or not title.strip():
        errors.append(
            Problem("title", "Give the quiz a title", "title: must be a non-empty string", "title_missing")
        )
    elif len(title.strip()) > MAX_TITLE:
        errors.append(
            Problem(
                "title",
                f"A title is at most {MAX_TITLE} characters (this one has {len(title.strip())})",
                f"title: at most {MAX_TITLE} characters",
                "title_too_long",
                {"max": MAX_TITLE, "length": len(title.strip())},
            )
        )
    elif (problem := text_problem(title)) is not None:
        errors.append(
            Problem("title", problem.plain, f"title: {problem.detail}", problem.code, problem.params)
        )
    description = _description(doc, errors)
    questions = doc.get("questions")
    if not isinstance(questions, list) or not questions:
        errors.append(
            Problem(
                "questions",
                "Add at least one question",
                "questions: must be a non-empty list",
                "questions_missing",
            )
        )
        questions = []
    elif len(questions) > MAX_QUESTIONS:
        errors.append(
            Problem(
                "questions",
                f"A quiz has at most {MAX_QUESTIONS} questions (this one has {len(questions)})",
                f"questions: at most {MAX_QUESTIONS}",
                "questions_too_many",
                {"max": MAX_QUESTIONS, "count": len(questions)},
            )
        )
    get_ready = doc.get("get_ready_s")
    if get_ready is not None and (
        isinstance(get_ready, bool) or not isinstance(get_ready, int) or not 0 <= get_ready <= MAX_GET_READY_S
    ):
        errors.append(
            Problem(
                "get_ready_s",
                f"The time to read each question is a whole number of seconds from 0 to {MAX_GET_READY_S}",
                f"get_ready_s: must be a whole number of seconds from 0 to {MAX_GET_READY_S}",
            )
        )
    # Each question type checks its own fields (quiz_actors.domain.questions).
    normalised = [validate_question(f"questions[{i}]", q, errors) for i, q in enumerate(questions)]
    if errors or not isinstance(title, str):  # a title that is not a string is among the errors
        raise QuizInvalid(errors)
    quiz: dict[str, Any] = {"title": title.strip(), "questions": normalised}
    if description:
        quiz["description"] = description
    if get_ready is not None:
        # Left out when not given: the server's --get-ready-s applies (filled in as a room opens).
        quiz["get_ready_s"] = get_ready
    return quiz


def _description(doc: dict[str, Any], errors: list[Problem]) -> str:
    """The quiz's optional description, trimmed ("" when it has none)."""
    description = doc.get("description")
    if description is None:
        return ""
    if not isinstance(description, str):
        errors.append(Problem("description", "The description must be text", "description: must be a string"))
        return ""
    if len(description.strip()) > MAX_DESCRIPTION:
        errors.append(
            Problem(
                "description",
                f"A description is at most {MAX_DESCRIPTION} characters "
                f"(this one has {len(description.strip())})",
                f"description: at most {MAX_DESCRIPTION} characters",
                "description_too_long",
                {"max": MAX_DESCRIPTION, "length": len(description.strip())},
            )
        )
    elif (problem := text_problem(description)) is not None:
        errors.append(
            Problem(
                "description", problem.plain, f"description: {problem.detail}", problem.code, problem.params
            )
        )
    return description.strip()


def copy_title(title: str) -> str:
    """``Capitals (copy)``, cut so that it is still a valid title."""
    return title[: MAX_TITLE - len(COPY_SUFFIX)].rstrip() + COPY_SUFFIX


def summary(quiz_id: uuid.UUID | str, quiz: dict[str, Any]) -> dict[str, Any]:
    """What a quiz listing shows of a document: never the answers."""
    return {
        "quiz_id": str(quiz_id),
        "title": quiz["title"],
        "question_count": len(quiz["questions"]),
        "description": quiz.get("description", ""),
    }


def ms_of(stamp: Any) -> int:
    """An eventsourcing timestamp (a datetime, or its ISO text in a stored state) in ms since the epoch."""
    when = stamp if isinstance(stamp, datetime) else datetime.fromisoformat(str(stamp))
    return int(when.timestamp() * 1000)


class Quiz(Aggregate):
    """One quiz and its revisions: created (revision 1), revised (2, 3, …), archived.

    Stored events name their class by ``TOPIC``, pinned: a topic never changes.
    The first release stored ``QuizUploaded``, which loads as revision 1.
    """

    # Before revisions, a quiz held ``document`` and ``uploaded_at`` only.
    class_version = 2

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        uploaded_at = state.pop("uploaded_at")
        state.update(revision=1, created_at=uploaded_at, updated_at=uploaded_at, archived=False)

    class QuizCreated(Aggregate.Created):
        TOPIC = "quiz_actors.domain.quiz:Quiz.QuizCreated"
        quiz_id: str
        document: dict[str, Any]
        created_at: int

    class QuizUploaded(QuizCreated):
        """The first release's creation event, read as ``QuizCreated`` (it is never written now)."""

        TOPIC = "quiz_actors.domain.quiz:Quiz.QuizUploaded"
        class_version = 2

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["created_at"] = state.pop("uploaded_at")

    @event(QuizCreated)
    def __init__(self, quiz_id: str, document: dict[str, Any], created_at: int):
        self.document = document
        self.revision = 1
        self.created_at = created_at
        self.updated_at = created_at
        self.archived = False

    @staticmethod
    def create_id(quiz_id: str, **_: Any) -> uuid.UUID:
        # The caller chooses the id: sample quizzes use fixed ones so that
        # seeding them on every start stores each only once.
        return uuid.UUID(quiz_id)

    @property
    def title(self) -> str:
        return str(self.document["title"])

    def ensure_revisable(self, expected_revision: int) -> None:
        """Refuse a revision of an archived quiz, or one made from a revision that is not the latest."""
        if self.archived:
            raise quiz_archived(self.title)
        if expected_revision != self.revision:
            raise quiz_changed(self.revision)

    def revise(self, document: dict[str, Any], expected_revision: int, at: int) -> None:
        """A new revision of a validated document, if the editor had the latest one."""
        self.ensure_revisable(expected_revision)
        self._revised(document=document, revision=self.revision + 1, revised_at=at)

    class QuizRevised(Aggregate.Event):
        TOPIC = "quiz_actors.domain.quiz:Quiz.QuizRevised"
        document: dict[str, Any]
        revision: int
        revised_at: int

    @event(QuizRevised)
    def _revised(self, document: dict[str, Any], revision: int, revised_at: int) -> None:
        self.document = document
        self.revision = revision
        self.updated_at = revised_at

    def archive(self, at: int) -> bool:
        """Archive the quiz (deleting it keeps it for the games played); False if it already was."""
        if self.archived:
            return False
        self._archived(archived_at=at)
        return True

    class QuizArchived(Aggregate.Event):
        TOPIC = "quiz_actors.domain.quiz:Quiz.QuizArchived"
        archived_at: int

    @event(QuizArchived)
    def _archived(self, archived_at: int) -> None:
        self.archived = True
        self.updated_at = archived_at

    def listing(self) -> dict[str, Any]:
        """The catalog's summary of this quiz as it is now."""
        return {
            **summary(self.id, self.document),
            "revision": self.revision,
            "updated_at": self.updated_at,
            "archived": self.archived,
        }


class QuizCatalog(Aggregate):
    """The list of every stored quiz, as summaries."""

    # Before revisions, an entry held quiz_id, title and question_count only.
    class_version = 2

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        listed_at = ms_of(state["_modified_on"])
        for entry in state["entries"].values():
            entry.update(description="", revision=1, updated_at=listed_at, archived=False)

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
        """A quiz created or revised: its summary as it is now."""

        TOPIC = "quiz_actors.domain.quiz:QuizCatalog.QuizListed"
        # Version 1 (before revisions) had quiz_id, title and question_count.
        class_version = 2
        quiz_id: str
        title: str
        question_count: int
        description: str
        revision: int
        updated_at: int

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state.update(description="", revision=1, updated_at=ms_of(state["timestamp"]))

    @event(QuizListed)
    def list_quiz(
        self, quiz_id: str, title: str, question_count: int, description: str, revision: int, updated_at: int
    ) -> None:
        self.entries[quiz_id] = {
            "quiz_id": quiz_id,
            "title": title,
            "question_count": question_count,
            "description": description,
            "revision": revision,
            "updated_at": updated_at,
            "archived": False,
        }

    class QuizUnlisted(Aggregate.Event):
        """A quiz archived: it stays in the catalog, marked, for the games played with it."""

        TOPIC = "quiz_actors.domain.quiz:QuizCatalog.QuizUnlisted"
        quiz_id: str
        archived_at: int

    @event(QuizUnlisted)
    def unlist_quiz(self, quiz_id: str, archived_at: int) -> None:
        entry = self.entries[quiz_id]
        entry["archived"] = True
        entry["updated_at"] = archived_at

    def record(self, quiz: Quiz) -> None:
        """Bring the quiz's entry up to date with the quiz (just created, revised or archived)."""
        listing = quiz.listing()
        if listing["archived"]:
            self.unlist_quiz(quiz_id=listing["quiz_id"], archived_at=listing["updated_at"])
        else:
            self.list_quiz(**{k: v for k, v in listing.items() if k != "archived"})
