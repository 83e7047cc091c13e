"""The quiz library: upload, list and load quizzes, and the shipped samples."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable
from importlib import resources
from typing import Any

from eventstore import EventStore
from quiz_actors.domain.quiz import CATALOG_ID, Quiz, QuizCatalog, summary, validate_quiz_document

SAMPLES_PACKAGE = "quiz_actors.samples"


def sample_quiz_id(file_name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"quiz-actors:sample:{file_name}"))


class QuizLibrary:
    def __init__(self, store: EventStore, clock_ms: Callable[[], int]):
        self.store = store
        self.clock_ms = clock_ms
        # The catalog is one aggregate: uploads from several request threads take turns.
        self._catalog_lock = threading.Lock()

    def upload(self, document: object, quiz_id: str | None = None) -> dict[str, Any]:
        """Validate and store a quiz; raises QuizInvalid with every problem found."""
        quiz_doc = validate_quiz_document(document)
        quiz = Quiz(quiz_id=quiz_id or str(uuid.uuid4()), document=quiz_doc, uploaded_at=self.clock_ms())
        with self._catalog_lock:
            catalog = self._catalog()
            version = catalog.version
            entry = summary(quiz.id, quiz_doc)
            catalog.list_quiz(**entry)
            self.store.save(quiz, catalog)
            self.store.snapshot_if_due(catalog, version)
        return entry

    def load_document(self, quiz_id: str) -> dict[str, Any] | None:
        """The stored quiz document, or None if no quiz has this id."""
        try:
            key = uuid.UUID(quiz_id)
        except ValueError:
            return None
        quiz = self.store.load(key)
        return dict(quiz.document) if isinstance(quiz, Quiz) else None

    def list(self) -> list[dict[str, Any]]:
        catalog = self.store.load(CATALOG_ID)
        return list(catalog.entries.values()) if catalog else []

    def seed_samples(self) -> None:
        """Store the shipped sample quizzes once; later starts find them there."""
        listed = {entry["quiz_id"] for entry in self.list()}
        for item in sorted(resources.files(SAMPLES_PACKAGE).iterdir(), key=lambda p: p.name):
            if not item.name.endswith(".json"):
                continue
            quiz_id = sample_quiz_id(item.name)
            if quiz_id not in listed:
                self.upload(json.loads(item.read_text(encoding="utf-8")), quiz_id=quiz_id)

    def _catalog(self) -> QuizCatalog:
        catalog = self.store.load(CATALOG_ID)
        return catalog if catalog is not None else QuizCatalog()
