"""``quiz-server``: run the server until SIGINT or SIGTERM."""

from __future__ import annotations

import gc
import logging

from eventstore.persistence import StoreUrlError, describe_store, redact
from quiz_actors.server import listen
from quiz_actors.server.app import create_app
from quiz_actors.settings import Settings

# Python's default collector thresholds run a full collection every few hundred
# thousand allocations; with thousands of sockets each full pass walks millions of
# objects and stops the server for 100-200 ms (measured by scripts/bench.py).
# Collecting rarely keeps those pauses out of answers and broadcasts.
GC_THRESHOLDS = (50_000, 20, 100)


def main(argv: list[str] | None = None) -> None:
    settings = Settings.from_command_line(argv)
    gc.set_threshold(*GC_THRESHOLDS)
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    log = logging.getLogger("quiz_actors")
    try:
        log.info("store %s (%s)", redact(settings.store), describe_store(settings.store))
    except StoreUrlError as e:
        raise SystemExit(f"quiz-server: {e}") from None
    log.info("listening on http://%s:%s (WebSocket at /ws)", settings.host, settings.port)
    # Like web.run_app, behind the accept guard: SIGINT/SIGTERM runs on_shutdown (sockets
    # closed with GOING_AWAY), then cleanup stops the actors and closes the store.
    listen.run(create_app(settings), settings.host, settings.port, shutdown_timeout=10)


if __name__ == "__main__":
    main()
