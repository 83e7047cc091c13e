"""Client frames must be masked (RFC 6455 section 5.1); aiohttp's reader does not check.

"A server MUST close the connection upon receiving a frame that is not
masked", with 1002 (protocol error). ``MaskedFramesOnly`` stands in front of
aiohttp's WebSocket reader as the connection's payload parser: it follows the
frame headers in the byte stream (payloads are skipped, not copied) and hands
the bytes on. At the first unmasked frame it hands the reader, at that frame
boundary, a frame with a reserved opcode instead: the reader rejects it as a
protocol error, and aiohttp closes the socket with 1002 exactly as for any
other broken frame, through its own code path.

A frame header that arrives split over two reads is held back until its mask
bit is known, so the reader is always at a frame boundary when that happens.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

log = logging.getLogger(__name__)

MASK_BIT = 0x80
RESERVED_OPCODE_FRAME = b"\x8f\x80\x00\x00\x00\x00"  # FIN, opcode 0xF (reserved), masked, empty


class FrameReader(Protocol):
    def feed_data(self, data: bytes) -> tuple[bool, bytes]: ...

    def feed_eof(self) -> None: ...


class MaskedFramesOnly:
    def __init__(self, reader: FrameReader, peer: str) -> None:
        self.reader = reader
        self.peer = peer
        self.header = bytearray()  # the start of a frame header that is not complete yet
        self.payload_left = 0  # bytes of the current frame's payload still to come
        self.refused = False

    def feed_data(self, data: bytes | bytearray | memoryview) -> tuple[bool, bytes]:
        if self.refused:
            return True, b""
        data = bytes(self.header) + bytes(data)
        self.header = bytearray()
        unmasked_at, complete_until = self._scan(data)
        if unmasked_at is None:
            held = data[complete_until:]
            self.header = bytearray(held)
            return self.reader.feed_data(data[:complete_until]) if complete_until else (False, b"")
        self.refused = True
        log.info("closing socket from %s: an unmasked client frame (RFC 6455 5.1)", self.peer)
        if unmasked_at:
            self.reader.feed_data(data[:unmasked_at])
        return self.reader.feed_data(RESERVED_OPCODE_FRAME)

    def feed_eof(self) -> None:
        self.reader.feed_eof()

    def _scan(self, data: bytes) -> tuple[int | None, int]:
        """(where an unmasked frame starts, or None; where an incomplete header starts, or len(data))."""
        i, end = 0, len(data)
        while i < end:
            if self.payload_left:
                step = min(self.payload_left, end - i)
                self.payload_left -= step
                i += step
                continue
            if end - i < 2:
                return None, i
            second = data[i + 1]
            if not second & MASK_BIT:
                return i, i
            length = second & 0x7F
            extended = 2 if length == 126 else 8 if length == 127 else 0
            header_size = 2 + extended + 4
            if end - i < header_size:
                return None, i
            if extended:
                length = int.from_bytes(data[i + 2 : i + 2 + extended], "big")
            self.payload_left = length
            i += header_size
        return None, end


def require_masked_frames(protocol: Any, peer: str) -> None:
    """Put the check in front of the reader ``WebSocketResponse.prepare`` gave ``protocol``.

    ``_payload_parser`` is where aiohttp's connection feeds a WebSocket's bytes;
    there is no public hook for it.
    """
    protocol._payload_parser = MaskedFramesOnly(protocol._payload_parser, peer)  # noqa: SLF001
