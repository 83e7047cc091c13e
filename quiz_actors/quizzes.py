"""The quiz library: create, revise, archive, duplicate, list and load quizzes; the shipped samples.

Every change saves the quiz and the catalog in one commit, one change at a
time (the catalog is one aggregate). A revision names the revision it was
made from: the Quiz aggregate refuses a stale one (``quiz_changed``), and should
another process have saved the quiz in between, the store's own version check
refuses the commit, which is reported the same way.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable
from importlib import resources
from typing import Any

from eventsourcing.persistence import IntegrityError

from eventstore import EventStore
from quiz_actors.domain.questions import Problem
from quiz_actors.domain.quiz import (
    CATALOG_ID,
    Quiz,
    QuizCatalog,
    QuizInvalid,
    QuizRefused,
    copy_title,
    quiz_changed,
    validate_quiz_document,
)

SAMPLES_PACKAGE = "quiz_actors.samples"
CATALOG_ATTEMPTS = 10  # saves of the catalog racing another process's (cluster mode)

Entries = list[dict[str, Any]]  # catalog summaries (the method ``list`` shadows the name in the class)

MediaExists = Callable[[str], bool]


def sample_quiz_id(file_name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"quiz-actors:sample:{file_name}"))


def quiz_not_found(quiz_id: str) -> QuizRefused:
    return QuizRefused("quiz_not_found", f"No quiz has id {quiz_id[:64]}")


class QuizLibrary:
    def __init__(
        self, store: EventStore, clock_ms: Callable[[], int], media_exists: MediaExists | None = None
    ):
        """``media_exists`` says whether the store holds a picture (quiz_actors.media); without
        it, a question's ``image`` is checked for the form of a media id only."""
        self.store = store
        self.clock_ms = clock_ms
        self.media_exists = media_exists
        # The catalog is one aggregate: changes from several request threads take turns.
        self._catalog_lock = threading.Lock()
        # The catalog as last loaded or saved, brought up to date before each use (_catalog):
        # replaying it whole for every request cost ~40 ms at 160 quizzes.
        self._kept: QuizCatalog | None = None

    # ------------------------------------------------------------------ checks

    def check(self, document: object) -> dict[str, Any]:
        """The normalised document, or QuizInvalid with every problem (missing pictures too)."""
        quiz_doc = validate_quiz_document(document)
        missing = self._missing_images(quiz_doc)
        if missing:
            raise QuizInvalid(missing)
        return quiz_doc

    def problems(self, document: object) -> list[Problem]:
        """Every problem of a document, stored nowhere: the editor's check as the teacher types."""
        try:
            self.check(document)
        except QuizInvalid as e:
            return e.problems
        return []

    def _missing_images(self, quiz_doc: dict[str, Any]) -> list[Problem]:
        if self.media_exists is None:
            return []
        out = []
        for i, q in enumerate(quiz_doc["questions"]):
            image = q.get("image")
            if image is not None and not self.media_exists(image):
                out.append(
                    Problem(
                        f"questions[{i}].image",
                        "This picture is not on the server: upload it again",
                        f"questions[{i}].image: no stored picture has media id {image}",
                        "image_missing",
                    )
                )
        return out

    # ------------------------------------------------------------------ changes

    def upload(self, document: object, quiz_id: str | None = None) -> dict[str, Any]:
        """Validate and store a new quiz (revision 1); raises QuizInvalid with every problem found."""
        quiz_doc = self.check(document)
        quiz_id = quiz_id or str(uuid.uuid4())
        for attempt in range(1, CATALOG_ATTEMPTS + 1):
            quiz = Quiz(quiz_id=quiz_id, document=quiz_doc, created_at=self.clock_ms())
            try:
                return self._save(quiz)
            except IntegrityError:
                # Another process on the same store (a cluster's node) saved the catalog
                # first: _save read it again; try again on top of it.
                if attempt == CATALOG_ATTEMPTS:
                    raise
        raise AssertionError("unreachable: the last attempt returns or raises")

    def revise(self, quiz_id: str, document: object, expected_revision: int) -> dict[str, Any]:
        """Store a new revision made from ``expected_revision``; QuizRefused if that is not the latest."""
        with self._catalog_lock:
            quiz = self.get(quiz_id)
            quiz.ensure_revisable(expected_revision)  # before the document: a stale editor hears that first
            quiz.revise(self.check(document), expected_revision, self.clock_ms())
            return self._save(quiz, locked=True)

    def archive(self, quiz_id: str) -> dict[str, Any]:
        """Archive a quiz: gone from the list and from new rooms, kept for the games played."""
        with self._catalog_lock:
            quiz = self.get(quiz_id)
            if not quiz.archive(self.clock_ms()):
                return quiz.listing()
            return self._save(quiz, locked=True)

    def duplicate(self, quiz_id: str, title: str | None = None) -> dict[str, Any]:
        """A new quiz with the same questions, titled ``title`` (a page's words for a copy),
        else "<title> (copy)"; a title the rules refuse is refused like any upload's."""
        original = self.get(quiz_id)
        named = title.strip() if title is not None else copy_title(original.title)
        return self.upload({**original.document, "title": named})

    def _save(self, quiz: Quiz, locked: bool = False) -> dict[str, Any]:
        """Save the quiz and its catalog entry in one commit; the summary as saved."""
        if not locked:
            with self._catalog_lock:
                return self._save(quiz, locked=True)
        catalog = self._catalog()
        version = catalog.version
        catalog.record(quiz)
        try:
            self.store.save(quiz, catalog)
        except IntegrityError:
            self._kept = None  # it holds a change that was not stored
            # Another process saved this quiz (or the catalog) since we loaded it.
            latest = self.store.load(quiz.id)
            if isinstance(latest, Quiz) and latest.revision != quiz.revision - 1:
                raise quiz_changed(latest.revision) from None
            raise
        except Exception:
            self._kept = None
            raise
        self.store.snapshot_if_due(catalog, version)
        return quiz.listing()

    # ------------------------------------------------------------------ reads

    def get(self, quiz_id: str) -> Quiz:
        """The quiz as it is now (archived ones too); QuizRefused ``quiz_not_found`` otherwise."""
        try:
            key = uuid.UUID(quiz_id)
        except ValueError:
            raise quiz_not_found(quiz_id) from None
        quiz = self.store.load(key)
        if not isinstance(quiz, Quiz):
            raise quiz_not_found(quiz_id)
        return quiz

    def list(self, query: str = "", archived: bool = False) -> Entries:
        """Summaries, newest change first: the quizzes in use, or the archived ones;
        ``query`` keeps those whose title holds it (case-insensitive)."""
        needle = query.strip().casefold()
        entries = [
            entry
            for entry in self._entries()
            if entry["archived"] == archived and needle in entry["title"].casefold()
        ]
        # Equal times (samples seeded at once) keep a fixed order: by title, then id.
        entries.sort(key=lambda e: (-e["updated_at"], e["title"].casefold(), e["quiz_id"]))
        return entries

    def load_document(self, quiz_id: str) -> dict[str, Any] | None:
        """The stored quiz document, or None if no quiz has this id."""
        try:
            key = uuid.UUID(quiz_id)
        except ValueError:
            return None
        quiz = self.store.load(key)
        return dict(quiz.document) if isinstance(quiz, Quiz) else None

    def _entries(self) -> Entries:
        with self._catalog_lock:
            return [dict(e) for e in self._catalog().entries.values()]

    def seed_samples(self) -> None:
        """Store the shipped sample quizzes once; later starts find them there (archived or not).

        Every missing sample and the catalog go in one commit: nodes of a cluster starting at
        once on an empty store race for it, and a loser reads the catalog again and finds them.
        """
        samples = [
            (sample_quiz_id(item.name), item)
            for item in sorted(resources.files(SAMPLES_PACKAGE).iterdir(), key=lambda p: p.name)
            if item.name.endswith(".json")
        ]
        for attempt in range(1, CATALOG_ATTEMPTS + 1):
            with self._catalog_lock:
                catalog = self._catalog()
                missing = [(quiz_id, item) for quiz_id, item in samples if quiz_id not in catalog.entries]
                if not missing:
                    return
                version, now = catalog.version, self.clock_ms()
                quizzes = [
                    Quiz(
                        quiz_id=quiz_id,
                        document=self.check(json.loads(item.read_text(encoding="utf-8"))),
                        created_at=now,
                    )
                    for quiz_id, item in missing
                ]
                for quiz in quizzes:
                    catalog.record(quiz)
                try:
                    self.store.save(*quizzes, catalog)
                except IntegrityError:
                    self._kept = None  # it holds samples that were not stored
                    if attempt == CATALOG_ATTEMPTS:
                        raise
                    continue  # another node stored them (or changed the catalog) first: look again
                except Exception:
                    self._kept = None
                    raise
            self.store.snapshot_if_due(catalog, version)
            return

    def _catalog(self) -> QuizCatalog:
        """The catalog as stored (callers hold the lock): the one kept, with any events another
        process stored since applied to it, or loaded afresh."""
        catalog = self._kept
        if catalog is None:
            catalog = self.store.load(CATALOG_ID)
        else:
            for later in self.store.events.get(CATALOG_ID, gt=catalog.version):
                later.mutate(catalog)  # type: ignore[attr-defined]  # every stored event is an Aggregate.Event
        if catalog is None:
            return QuizCatalog()  # the first quiz ever: saved with it
        self._kept = catalog
        return catalog
