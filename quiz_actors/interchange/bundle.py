"""The project's own quiz file: a quiz document and its pictures, as one JSON object.

```
{"format": "quiz-actors-quiz", "version": 1,
 "quiz": {...the quiz document...},
 "media": {"<media_id>": {"content_type": "image/png", "data": "<base64>"}}}
```

Importing it elsewhere stores each picture (checked and re-encoded like any
upload, so its id may change there; the questions are pointed at the new ids).
A plain quiz document, as ``POST /api/quizzes`` takes it, imports too.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from quiz_actors.domain.media import MediaItem
from quiz_actors.images import ImageRefused
from quiz_actors.interchange.problems import ImportProblem, ImportRefused
from quiz_actors.protocol import NonFiniteNumber, loads_strict

FORMAT = "quiz-actors-quiz"
VERSION = 1

PrepareImage = Callable[[bytes], MediaItem]
LoadImage = Callable[[str], tuple[bytes, str] | None]


@dataclass(frozen=True)
class Bundle:
    document: dict[str, Any]
    pictures: list[MediaItem]  # prepared, not stored yet


def write_bundle(document: dict[str, Any], load: LoadImage) -> dict[str, Any]:
    """The file's JSON object: the document and every picture its questions show."""
    media: dict[str, dict[str, str]] = {}
    for q in document["questions"]:
        media_id = q.get("image")
        if isinstance(media_id, str) and media_id not in media:
            found = load(media_id)
            if found is not None:
                data, content_type = found
                media[media_id] = {
                    "content_type": content_type,
                    "data": base64.b64encode(data).decode("ascii"),
                }
    return {"format": FORMAT, "version": VERSION, "quiz": document, "media": media}


def read_bundle(data: bytes, prepare: PrepareImage) -> Bundle:
    """The quiz and its prepared pictures, or ``ImportRefused``; nothing is stored here."""
    parsed = _json(data)
    if isinstance(parsed, dict) and "format" in parsed:
        if parsed.get("format") != FORMAT or parsed.get("version") != VERSION:
            raise ImportRefused(
                [
                    ImportProblem(
                        f"This JSON file is a {str(parsed.get('format'))[:40]!r} file of version "
                        f"{str(parsed.get('version'))[:10]}; this server reads {FORMAT!r} version {VERSION}",
                        code="json_other_format",
                        params={
                            "format": str(parsed.get("format"))[:40],
                            "version": str(parsed.get("version"))[:10],
                            "expected_format": FORMAT,
                            "expected_version": VERSION,
                        },
                    )
                ]
            )
        document, media = parsed.get("quiz"), parsed.get("media", {})
    else:
        document, media = parsed, {}
    if not isinstance(document, dict):
        raise ImportRefused(
            [
                ImportProblem(
                    "This JSON file holds no quiz (a JSON object with questions)", code="json_no_quiz"
                )
            ]
        )
    if not isinstance(media, dict):
        raise ImportRefused(
            [
                ImportProblem(
                    '"media" must be an object of pictures by media id', "media", code="json_media_not_object"
                )
            ]
        )
    problems: list[ImportProblem] = []
    renamed: dict[str, str] = {}
    pictures: list[MediaItem] = []
    for old_id, entry in media.items():
        path = f"media.{str(old_id)[:64]}"
        if not isinstance(entry, dict) or not isinstance(entry.get("data"), str):
            problems.append(
                ImportProblem(
                    'Each picture must be {"content_type": …, "data": "<base64>"}',
                    path,
                    code="json_picture_shape",
                )
            )
            continue
        try:
            raw = base64.b64decode(entry["data"], validate=True)
        except (binascii.Error, ValueError):
            problems.append(
                ImportProblem("This picture's data is not valid base64", path, code="json_picture_base64")
            )
            continue
        try:
            item = prepare(raw)
        except ImageRefused as e:
            problems.append(ImportProblem(e.message, path, code="picture_refused"))
            continue
        renamed[old_id] = item.media_id
        pictures.append(item)
    if problems:
        raise ImportRefused(problems)
    return Bundle(document=_repointed(document, renamed), pictures=pictures)


def _repointed(document: dict[str, Any], renamed: dict[str, str]) -> dict[str, Any]:
    questions = document.get("questions")
    if not isinstance(questions, list):
        return document
    out = []
    for q in questions:
        if isinstance(q, dict) and isinstance(q.get("image"), str) and q["image"] in renamed:
            q = {**q, "image": renamed[q["image"]]}
        out.append(q)
    return {**document, "questions": out}


def _json(data: bytes) -> Any:
    try:
        return loads_strict(data.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise ImportRefused(
            [ImportProblem("This JSON file is not UTF-8 text", code="json_not_utf8")]
        ) from None
    except NonFiniteNumber:
        raise ImportRefused(
            [ImportProblem("Numbers must be finite: NaN and Infinity are not JSON", code="json_not_finite")]
        ) from None
    except RecursionError:
        raise ImportRefused(
            [ImportProblem("This JSON file is nested too deeply to be a quiz", code="json_too_deep")]
        ) from None
    except ValueError as e:
        raise ImportRefused(
            [ImportProblem(f"This is not valid JSON ({str(e)[:120]})", code="json_invalid")]
        ) from None
