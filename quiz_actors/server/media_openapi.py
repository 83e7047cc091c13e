"""The OpenAPI 3.1 description of the pictures, import and export endpoints (docs/api.md).

``PATHS`` and ``SCHEMAS`` are meant to be merged into the server's whole
description (``GET /api/openapi.json``): they refer to an ``Error`` schema
and a ``QuizSummary`` schema by ``#/components/schemas/...``, and bring
their own ``Media``.
"""

from __future__ import annotations

from typing import Any

from quiz_actors.images import MAX_UPLOAD_BYTES

ERROR = {"$ref": "#/components/schemas/Error"}
SUMMARY = {"$ref": "#/components/schemas/QuizSummary"}
BEARER: list[dict[str, list[str]]] = [{"adminKey": []}, {}]  # needed only when --admin-key is set

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": ERROR}}}


def _file_body(description: str) -> dict[str, Any]:
    return {
        "required": True,
        "description": description,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {"type": "string", "contentMediaType": "application/octet-stream"}
                    },
                }
            },
            "application/octet-stream": {
                "schema": {"type": "string", "contentMediaType": "application/octet-stream"}
            },
        },
    }


def _download(types: list[str]) -> dict[str, Any]:
    return {
        "description": "The file, as a download (Content-Disposition: attachment)",
        "headers": {"Content-Disposition": {"schema": {"type": "string"}}},
        # A JSON download is a JSON object to a client that reads it; the others are bytes.
        "content": {
            t: {
                "schema": {"type": "object"}
                if t == "application/json"
                else {"type": "string", "contentMediaType": t}
            }
            for t in types
        },
    }


SCHEMAS: dict[str, Any] = {
    "Media": {
        "type": "object",
        "required": ["media_id", "url", "content_type", "width", "height", "bytes"],
        "properties": {
            "media_id": {
                "type": "string",
                "pattern": "^[0-9a-f]{64}$",
                "description": "SHA-256 of the stored bytes",
            },
            "url": {"type": "string"},
            "content_type": {
                "type": "string",
                "enum": ["image/png", "image/jpeg", "image/webp", "image/gif"],
            },
            "width": {"type": "integer", "minimum": 1, "maximum": 1920},
            "height": {"type": "integer", "minimum": 1, "maximum": 1920},
            "bytes": {"type": "integer", "minimum": 1},
        },
    }
}

PATHS: dict[str, Any] = {
    "/api/media": {
        "post": {
            "summary": "Upload a picture for a question",
            "description": (
                f"PNG, JPEG, WebP or GIF, at most {MAX_UPLOAD_BYTES} bytes; checked by content, "
                "re-encoded to at most 1920 px without metadata, stored content-addressed in the event store."
            ),
            "security": BEARER,
            "requestBody": _file_body("The picture's bytes, raw or as the form field `file`"),
            "responses": {
                "201": {
                    "description": "Stored",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Media"}}},
                },
                "400": _error(
                    "media_invalid: not a picture the server takes, damaged, or a decompression bomb"
                ),
                "401": _error("unauthorized: the admin key is missing or wrong"),
                "413": _error("media_too_big: over 5 MB"),
            },
        }
    },
    "/media/{media_id}": {
        "get": {
            "summary": "A stored picture (cached for a year: it never changes)",
            "parameters": [
                {"name": "media_id", "in": "path", "required": True, "schema": {"type": "string"}}
            ],
            "responses": {
                "200": _download(["image/png", "image/jpeg", "image/webp", "image/gif"])
                | {"description": "The picture"},
                "304": {"description": "Not modified (If-None-Match)"},
                "404": _error("media_not_found"),
            },
        }
    },
    "/api/quizzes/import": {
        "post": {
            "summary": "Import a spreadsheet (Kahoot's layout, .xlsx or .csv) or a JSON quiz file",
            "security": BEARER,
            "parameters": [
                {
                    "name": "format",
                    "in": "query",
                    "schema": {"type": "string", "enum": ["xlsx", "csv", "json"]},
                },
                {"name": "title", "in": "query", "schema": {"type": "string"}},
            ],
            "requestBody": _file_body("The file, raw or as the form field `file`"),
            "responses": {
                "201": {"description": "Imported", "content": {"application/json": {"schema": SUMMARY}}},
                "400": _error(
                    "import_invalid: nothing imported; problems carry row and column, and each its code and "
                    "params (docs/api.md, Problem codes: file_empty, cell_correct_no_such_answer, …; a quiz "
                    "check's problem keeps its validation code)"
                ),
                "401": _error("unauthorized"),
                "413": _error(
                    "import_too_big: over 5 MB (a JSON quiz file: 32 MB); one problem, code file_too_big"
                ),
            },
        }
    },
    "/api/quizzes/{quiz_id}/export": {
        "get": {
            "summary": "Download a quiz as JSON (with its pictures), .xlsx or .csv",
            "security": BEARER,
            "parameters": [
                {"name": "quiz_id", "in": "path", "required": True, "schema": {"type": "string"}},
                {
                    "name": "format",
                    "in": "query",
                    "schema": {"type": "string", "enum": ["json", "xlsx", "csv"], "default": "json"},
                },
            ],
            "responses": {
                "200": _download(["application/json", XLSX, "text/csv"]),
                "400": _error(
                    "export_invalid (unknown format) or export_unsupported (questions the layout cannot hold)"
                ),
                "401": _error("unauthorized"),
                "404": _error("quiz_not_found"),
            },
        }
    },
    "/api/quizzes/template.xlsx": {
        "get": {"summary": "The spreadsheet template to fill in", "responses": {"200": _download([XLSX])}}
    },
    "/api/quizzes/template.csv": {
        "get": {"summary": "The template as .csv", "responses": {"200": _download(["text/csv"])}}
    },
}
