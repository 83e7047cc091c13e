"""aiohttp's access log, without the health checks that answered 200.

HAProxy checks every node's ``/readyz`` a few times a second, an orchestrator
``/livez``: logged, each is a line a second per node (about 86,000 a day) that
says nothing. A check that failed is still logged, as is every other request,
and HAProxy's own log says when a node's checks fail.
"""

from __future__ import annotations

from aiohttp import web
from aiohttp.web_log import AccessLogger

QUIET_WHEN_FINE = frozenset({"/livez", "/readyz", "/healthz"})


class AccessLogWithoutHealthChecks(AccessLogger):
    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        if response.status == 200 and request.path in QUIET_WHEN_FINE:
            return
        super().log(request, response, time)
