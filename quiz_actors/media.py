"""The media library: pictures for questions, checked, re-encoded and kept in the event store.

``store_image`` takes a stranger's bytes; ``quiz_actors.images`` decides what,
if anything, is stored. Pictures are content-addressed (the media id is the
SHA-256 of the stored bytes), so the same picture uploaded twice, or a picture
exported with a quiz and imported again, is stored once. The most recently
served pictures are kept in memory, bounded by bytes: a class of phones asking
for the same picture at once reads the store once.
"""

from __future__ import annotations

import base64
import hashlib
import threading
from collections import OrderedDict
from typing import Any

from eventsourcing.persistence import IntegrityError

from eventstore import EventStore
from quiz_actors.domain.media import MediaItem, is_media_id, media_aggregate_id
from quiz_actors.images import StoredImage, prepare_image

CACHE_BYTES = 32 * 1024 * 1024


class MediaLibrary:
    def __init__(self, store: EventStore, cache_bytes: int = CACHE_BYTES):
        self.store = store
        self._cache: OrderedDict[str, tuple[bytes, str]] = OrderedDict()
        self._cache_bytes = cache_bytes
        self._cached = 0
        self._lock = threading.Lock()

    def store_image(self, data: bytes) -> dict[str, Any]:
        """Check, re-encode and store a picture; raises ``ImageRefused`` (nothing stored) if it is not one."""
        item = self.prepare(data)
        self.keep([item])
        return describe(item)

    def prepare(self, data: bytes) -> MediaItem:
        """The picture in ``data`` as it would be stored (saved or not yet), or raise ``ImageRefused``.

        Bytes that are exactly a picture already stored (an exported quiz coming
        back) are that picture: re-encoding them would make a new one each time.
        """
        existing = self._item(hashlib.sha256(data).hexdigest())
        if existing is not None:
            return existing
        image = prepare_image(data)
        media_id = hashlib.sha256(image.data).hexdigest()
        existing = self._item(media_id)
        return existing if existing is not None else _new_item(media_id, image)

    def keep(self, items: list[MediaItem]) -> None:
        """Store the prepared pictures that are not stored yet, in one commit."""
        new = list({item.media_id: item for item in items if item.pending_events}.values())
        if not new:
            return
        try:
            self.store.save(*new)
        except IntegrityError:
            # Another request stored one of them a moment ago: store the others one by one.
            for item in new:
                if self._item(item.media_id) is None:
                    self.store.save(item)

    def get(self, media_id: str) -> tuple[bytes, str] | None:
        """The stored bytes and their content type, or None."""
        with self._lock:
            hit = self._cache.get(media_id)
            if hit is not None:
                self._cache.move_to_end(media_id)
                return hit
        item = self._item(media_id)
        if item is None:
            return None
        found = (item.data, str(item.content_type))
        self._remember(media_id, found)
        return found

    def exists(self, media_id: str) -> bool:
        with self._lock:
            if media_id in self._cache:
                return True
        return self._item(media_id) is not None

    def _item(self, media_id: str) -> MediaItem | None:
        if not is_media_id(media_id):
            return None
        item = self.store.load(media_aggregate_id(media_id))
        return item if isinstance(item, MediaItem) else None

    def _remember(self, media_id: str, found: tuple[bytes, str]) -> None:
        size = len(found[0])
        if size > self._cache_bytes // 4:
            return
        with self._lock:
            if media_id in self._cache:
                return
            self._cache[media_id] = found
            self._cached += size
            while self._cached > self._cache_bytes:
                _, (old, _type) = self._cache.popitem(last=False)
                self._cached -= len(old)


def describe(item: MediaItem) -> dict[str, Any]:
    """What an upload answers: the id, where to fetch it, its type and size."""
    return {
        "media_id": item.media_id,
        "url": f"/media/{item.media_id}",
        "content_type": item.content_type,
        "width": item.width,
        "height": item.height,
        "bytes": len(item.data),
    }


def _new_item(media_id: str, image: StoredImage) -> MediaItem:
    return MediaItem(
        media_id=media_id,
        content_type=image.content_type,
        width=image.width,
        height=image.height,
        data_base64=base64.b64encode(image.data).decode("ascii"),
    )
