"""The quiz library: upload, list and load quizzes, and the shipped samples."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable
from importlib import resources
from typing import Any

from eventsourcing.persistence import IntegrityError

from eventstore import EventStore
from quiz_actors.domain.quiz import CATALOG_ID, Quiz, QuizCatalog, summary, validate_quiz_document

SAMPLES_PACKAGE = "quiz_actors.samples"
CATALOG_ATTEMPTS = 10  # saves of the catalog racing another process's (cluster mode)


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
        quiz_id = quiz_id or str(uuid.uuid4())
        with self._catalog_lock:
            for attempt in range(1, CATALOG_ATTEMPTS + 1):
                quiz = Quiz(quiz_id=quiz_id, document=quiz_doc, uploaded_at=self.clock_ms())
                catalog = self._catalog()
                version = catalog.version
                entry = summary(quiz.id, quiz_doc)
                catalog.list_quiz(**entry)
                try:
                    self.store.save(quiz, catalog)
                    break
                except IntegrityError:
                    # Another process on the same store (a cluster's node) saved the catalog
                    # first, or this very quiz (a sample seeded by two starting nodes).
                    if attempt == CATALOG_ATTEMPTS or self.store.load(quiz.id) is not None:
                        raise
            self.store.snapshot_if_due(catalog, version)
        return entry

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
                try:
                    self.upload(json.loads(item.read_text(encoding="utf-8")), quiz_id=quiz_id)
                except IntegrityError:
                    if self.store.load(uuid.UUID(quiz_id)) is None:
                        raise
                    # another node starting at the same moment stored this sample first

    def _catalog(self) -> QuizCatalog:
        catalog = self.store.load(CATALOG_ID)
        return catalog if catalog is not None else QuizCatalog()
