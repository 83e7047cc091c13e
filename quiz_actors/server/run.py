"""Running the server until it is told to stop, and how each signal stops it.

* SIGTERM (a rolling restart, ``systemctl stop``, ``docker stop``): drain.
  ``/readyz`` turns 503 at once and the server goes on serving for
  ``--drain-grace-s``; then it shuts down and closes sockets with 1012, which
  tells clients to reconnect at once (to another server, or to this one when it
  is back).
* SIGINT (Ctrl-C): shut down now, sockets closed with 1001.
* In cluster mode, the drain first hands the node's rooms over: each saves what it
  decided and closes its sockets with 1012, and its lease is released, so its
  clients resume on another node at once (docs/cluster.md).
* A second signal while draining: shut down now, skipping what is left of the grace.

Shutting down is the same in every case: stop listening, rooms save what they
decided, sockets close, actors stop, the store closes.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable

from aiohttp import web
from eventsourcing.persistence import PersistenceError

from eventstore.persistence import redact, why_unreachable
from quiz_actors.cluster import NodeNameInUse
from quiz_actors.server.access_log import AccessLogWithoutHealthChecks
from quiz_actors.server.app import create_app
from quiz_actors.server.drain import Drain
from quiz_actors.server.keys import DRAIN, SYSTEM
from quiz_actors.server.listen import GuardedSite
from quiz_actors.settings import Settings

log = logging.getLogger("quiz_actors")

SHUTDOWN_TIMEOUT_S = 10.0  # for requests still running once sockets are closed


class StopSignals:
    """What each signal does; ``stopping`` is set when the shutdown should begin."""

    def __init__(self, drain: Drain, grace_s: float, loop: asyncio.AbstractEventLoop):
        self.drain = drain
        self.grace_s = grace_s
        self.loop = loop
        self.stopping = asyncio.Event()
        self._grace_timer: asyncio.TimerHandle | None = None
        self.on_drain: Callable[[], object] | None = None  # cluster mode: hand the rooms over

    def install(self) -> None:
        self.loop.add_signal_handler(signal.SIGTERM, self.on_signal, signal.SIGTERM)
        self.loop.add_signal_handler(signal.SIGINT, self.on_signal, signal.SIGINT)

    def on_signal(self, sig: signal.Signals) -> None:
        if self.stopping.is_set():
            log.info("%s: already stopping", sig.name)
        elif self.drain.draining:
            log.info("%s during the drain: stopping now", sig.name)
            self._stop_now()
        elif sig == signal.SIGTERM and self.grace_s > 0:
            self.drain.begin()
            if self.on_drain is not None:
                # Cluster mode: the rooms go to the other nodes now, not at the end of the grace.
                log.info(
                    "SIGTERM: draining (/readyz says 503); this node's rooms go to the other nodes "
                    "now (their sockets close with 1012); stopping in %.1f s, or at once on a second signal",
                    self.grace_s,
                )
                self.on_drain()
            else:
                log.info(
                    "SIGTERM: draining (/readyz says 503); sockets close with 1012 in %.1f s, "
                    "or at once on a second signal",
                    self.grace_s,
                )
            self._grace_timer = self.loop.call_later(self.grace_s, self._stop_now)
        else:
            if sig == signal.SIGTERM:
                self.drain.begin()  # no grace, but clients should still reconnect at once
            log.info("%s: stopping", sig.name)
            self._stop_now()

    def _stop_now(self) -> None:
        if self._grace_timer is not None:
            self._grace_timer.cancel()
        self.stopping.set()


def hand_over(app: web.Application) -> asyncio.Future[None]:
    """Cluster mode: at the start of a drain the other nodes take this node's rooms at once
    (docs/cluster.md); blocking work, so on the loop's executor."""
    return asyncio.get_running_loop().run_in_executor(None, app[SYSTEM].hand_over_rooms)


def run(settings: Settings) -> None:
    """Serve until stopped, on the event loop the settings name (``--event-loop``).

    uvloop is the default: every socket read and write, and the loop's own turns,
    run in libuv's C code instead of the standard library's Python; a burst of
    answers costs 10-30 % less CPU (docs/benchmark.md, "The event loop, the burst's
    instrument and the 10,000-player lobby").
    """
    with asyncio.Runner(loop_factory=event_loop_factory(settings.event_loop)) as runner:
        runner.run(serve(settings))


def event_loop_factory(name: str) -> Callable[[], asyncio.AbstractEventLoop]:
    if name == "uvloop":
        import uvloop

        return uvloop.new_event_loop
    return asyncio.new_event_loop


async def serve(settings: Settings) -> None:
    app = create_app(settings)
    runner = web.AppRunner(
        app,
        handle_signals=False,
        shutdown_timeout=SHUTDOWN_TIMEOUT_S,
        access_log_class=AccessLogWithoutHealthChecks,
    )
    try:
        await runner.setup()  # opens the store
    except PersistenceError as e:
        reason = why_unreachable(settings.store, e)
        raise SystemExit(f"quiz-server: cannot open the store {redact(settings.store)}: {reason}") from None
    except NodeNameInUse as e:
        raise SystemExit(f"quiz-server: {e}") from None
    try:
        site = GuardedSite(runner, settings.host, settings.port)
        try:
            await site.start()
        except OSError as e:
            raise SystemExit(
                f"quiz-server: cannot listen on {settings.host}:{settings.port}: {e.strerror}"
            ) from None
        log.info(
            "listening on http://%s:%s (WebSocket at /ws), event loop %s",
            settings.host,
            settings.port,
            settings.event_loop,
        )
        signals = StopSignals(app[DRAIN], settings.drain_grace_s, asyncio.get_running_loop())
        if settings.cluster:
            signals.on_drain = lambda: hand_over(app)
        signals.install()
        await signals.stopping.wait()
    finally:
        await runner.cleanup()
