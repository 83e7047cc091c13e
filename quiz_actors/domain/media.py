"""The MediaItem aggregate: one stored picture, named by the SHA-256 of its bytes.

A picture lives in the event store like everything else, so a backup of the
store (``quiz-admin backup``) is a backup of every picture, on SQLite and
PostgreSQL alike. Its id is derived from its content: storing the same picture
twice finds it already there and stores it once. Its bytes travel in the one
event as base64 text, which every transcoder and both databases carry as is.
"""

from __future__ import annotations

import base64
import re
import uuid

from eventsourcing.domain import Aggregate, event

MEDIA_ID = re.compile(r"[0-9a-f]{64}")  # the SHA-256 of the stored bytes, in lower-case hex


def media_aggregate_id(media_id: str) -> uuid.UUID:
    return uuid.uuid5(uuid.NAMESPACE_URL, f"quiz-actors:media:{media_id}")


def is_media_id(value: object) -> bool:
    return isinstance(value, str) and MEDIA_ID.fullmatch(value) is not None


class MediaItem(Aggregate):
    """One picture, checked and re-encoded before it was stored; it never changes."""

    class MediaStored(Aggregate.Created):
        # The name stored with the event: it never changes.
        TOPIC = "quiz_actors.domain.media:MediaItem.MediaStored"
        media_id: str
        content_type: str
        width: int
        height: int
        data_base64: str

    @event(MediaStored)
    def __init__(self, media_id: str, content_type: str, width: int, height: int, data_base64: str) -> None:
        self.media_id = media_id
        self.content_type = content_type
        self.width = width
        self.height = height
        self.data_base64 = data_base64

    @staticmethod
    def create_id(media_id: str, **_: object) -> uuid.UUID:
        return media_aggregate_id(media_id)

    @property
    def data(self) -> bytes:
        return base64.b64decode(self.data_base64)
