"""The OpenAPI fragment for pictures, import and export describes exactly the routes served."""

from __future__ import annotations

import re

from quiz_actors.server import interchange_http, media_http
from quiz_actors.server.media_openapi import PATHS, SCHEMAS


def _served() -> set[tuple[str, str]]:
    out = set()
    for route in [*media_http.routes, *interchange_http.routes]:
        path = route.path  # type: ignore[attr-defined]
        # /api/quizzes/template.{fmt:xlsx|csv} is two documents.
        if match := re.search(r"\{(\w+):([\w|]+)\}", path):
            for choice in match[2].split("|"):
                out.add((route.method.lower(), path.replace(match[0], choice)))  # type: ignore[attr-defined]
        else:
            out.add((route.method.lower(), re.sub(r"\{(\w+)(:[^}]*)?\}", r"{\1}", path)))  # type: ignore[attr-defined]
    return out


def test_every_route_is_described_and_nothing_else():
    described = {(method, path) for path, methods in PATHS.items() for method in methods}
    assert described == _served()


def test_the_references_resolve_to_known_schemas():
    text = repr(PATHS)
    refs = set(re.findall(r"#/components/schemas/(\w+)", text))
    # Error and QuizSummary are the whole API's (docs/api.md); Media is this fragment's own.
    assert refs == {"Error", "QuizSummary", "Media"}
    assert set(SCHEMAS) == {"Media"}
