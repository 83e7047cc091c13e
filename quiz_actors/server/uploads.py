"""Reading an uploaded file's bytes, raw or as a multipart form's ``file`` field, within a limit.

A body that says it is too big is refused before a byte of it is read, and one
that does not say (chunked) is refused as soon as it passes the limit: nothing
larger than the limit is ever held in memory. aiohttp discards the rest of a
refused body before it answers the next request on the connection.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Callable
from dataclasses import dataclass
from urllib.parse import unquote

from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError

CHUNK = 64 * 1024
MULTIPART_SLACK = 64 * 1024  # boundaries and part headers around the file in a form
FILE_FIELD = "file"


class UploadTooBig(Exception):
    """The body passed the limit; nothing of it is kept."""


class UploadMissing(Exception):
    """A multipart form without a ``file`` field; the message says so."""


class FormUnreadable(UploadMissing):
    """A body that says it is a multipart form but is not one (no boundary, a broken
    part): for the caller it is the same as a form without the file."""


@dataclass(frozen=True)
class Upload:
    data: bytes
    content_type: str  # as sent: the part's type in a form, else the request's
    filename: str | None  # only a form names the file


async def read_upload(
    request: web.Request, limit: int, part_limit: Callable[[str | None, str], int] | None = None
) -> Upload:
    """The uploaded bytes, or raise ``UploadTooBig`` / ``UploadMissing``.

    ``part_limit(filename, content_type)`` lowers the limit for a form's file once
    its headers say what it is (an import's limit depends on its format).
    """
    is_form = request.content_type.startswith("multipart/")
    declared = request.content_length
    if declared is not None and declared > limit + (MULTIPART_SLACK if is_form else 0):
        raise UploadTooBig
    if not is_form:
        data = await _read_capped(request.content.iter_chunked(CHUNK), limit)
        return Upload(data=data, content_type=request.content_type, filename=None)
    try:
        return await _read_form(request, limit, part_limit)
    except (ValueError, HttpProcessingError):  # aiohttp's words for a form it cannot parse
        raise FormUnreadable(
            f'The body is not a readable multipart form: send the file in a field named "{FILE_FIELD}"'
        ) from None


async def _read_form(
    request: web.Request, limit: int, part_limit: Callable[[str | None, str], int] | None
) -> Upload:
    reader = await request.multipart()
    seen = 0
    while True:
        part = await reader.next()
        if part is None:
            raise UploadMissing(
                f'The form has no "{FILE_FIELD}" field: send the file in a field named "file"'
            )
        if not isinstance(part, BodyPartReader):
            continue  # a nested form: not where a file is sent
        if part.name == FILE_FIELD:
            content_type = part.headers.get("Content-Type", "application/octet-stream")
            cap = min(limit, part_limit(part.filename, content_type)) if part_limit else limit
            data = await _read_part(part, cap)
            return Upload(
                data=data,
                content_type=content_type,
                # Some clients (aiohttp's own) percent-encode the name; browsers send it as it is.
                filename=unquote(part.filename) if part.filename else None,
            )
        # Any other field is read past, counted against the same limit.
        seen += len(await _read_part(part, limit - seen))


async def _read_part(part: BodyPartReader, limit: int) -> bytes:
    held = bytearray()
    while chunk := await part.read_chunk(CHUNK):
        held += chunk
        if len(held) > limit:
            raise UploadTooBig
    return bytes(held)


async def _read_capped(chunks: AsyncIterable[bytes], limit: int) -> bytes:
    held = bytearray()
    async for chunk in chunks:
        held += chunk
        if len(held) > limit:
            raise UploadTooBig
    return bytes(held)
