"""The one exception the domain raises when a command is refused."""

from __future__ import annotations

from typing import Any


class RoomError(Exception):
    """A refused command. ``code`` is an error code of docs/protocol.md; ``details``
    are extra fields of the error message (``clash`` of ``name_taken``)."""

    def __init__(self, code: str, message: str, details: dict[str, Any] | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details or {}
