"""``quiz-server``: run the server until SIGINT or SIGTERM (``server/run.py`` says how each stops it).

``--version`` prints the version; ``--check-config`` checks the settings and
that the store answers, then exits (0 when all is well).
"""

from __future__ import annotations

import gc
import logging

from eventstore import EventStore
from eventstore.persistence import describe_store, redact, why_unreachable
from quiz_actors import __version__, logs
from quiz_actors.server import open_files
from quiz_actors.server.run import run
from quiz_actors.settings import Settings

# Python's default collector thresholds run a full collection every few hundred
# thousand allocations; with thousands of sockets each full pass walks millions of
# objects and stops the server for 100-200 ms (measured by scripts/bench.py).
# Collecting rarely keeps those pauses out of answers and broadcasts.
#
# A generation is collected when its count exceeds its threshold, so the middle one
# is collected after every third young collection: each pass walks at most ~200,000
# survivors. Collected after every twentieth (as before), it gathered a whole
# 10,000-player fill and stopped the server for 0.45-1.0 s once per fill; now the
# longest pause is 86-100 ms, and a 2,000-player answer burst's CPU is within the
# runs' spread (docs/benchmark.md, "The collector's middle generation"). The young
# threshold stays at 50,000: with 20,000 (and the middle generation every other
# time) that burst cost 30 % more. A full collection now waits for ~4,000 young ones
# (1,001 middle ones of 4) instead of ~2,100 (101 of 21): half as often, and Python
# still runs one only when a quarter of the long-lived objects are new.
GC_THRESHOLDS = (50_000, 2, 1_000)


def main(argv: list[str] | None = None) -> None:
    parser = Settings.command_line_parser()
    parser.add_argument("--version", action="version", version=f"quiz-server {__version__}")
    parser.add_argument(
        "--check-config",
        action="store_true",
        help="check the settings and that the store answers, then exit (status 0: all fine)",
    )
    options = vars(parser.parse_args(argv))
    check_only = options.pop("check_config")
    settings = Settings.from_env(None, **options)
    problems = settings.problems()
    if problems:
        raise SystemExit("quiz-server: these settings cannot work:\n  " + "\n  ".join(problems))
    if check_only:
        raise SystemExit(check_config(settings))
    gc.set_threshold(*GC_THRESHOLDS)
    logs.configure(settings.log_level, settings.log_format, settings.node_name if settings.cluster else None)
    log = logging.getLogger("quiz_actors")
    log.info("quiz-server %s", __version__)
    log.info("store %s (%s)", redact(settings.store), describe_store(settings.store))
    limits = open_files.raise_to_hard_limit()
    log.info(open_files.describe(limits))
    shortfall = open_files.shortfall(limits, settings.max_connections)
    if shortfall is not None:
        log.warning(shortfall)
    run(settings)


def check_config(settings: Settings) -> int | str:
    """0 when the store answers, else what is wrong (SystemExit prints it and exits 1)."""
    print(f"settings: fine (quiz-server {__version__})")
    print(f"store: {redact(settings.store)} ({describe_store(settings.store)})")
    try:
        store = EventStore(settings.store)
        try:
            store.ping()
        finally:
            store.close()
    except Exception as e:  # noqa: BLE001 - any failure to reach the store is the answer
        return f"quiz-server: the store does not answer: {why_unreachable(settings.store, e)}"
    print("store: answers")
    if settings.cluster:
        print(
            f"cluster: this node is {settings.node_name} (its server name in HAProxy); leases last "
            f"{settings.lease_ttl_s:g} s, renewed every {settings.lease_renew_s:g} s"
        )
    limits = open_files.as_raised()
    print(f"open files: up to {open_files.show(limits.soft)} once raised to the hard limit")
    shortfall = open_files.shortfall(limits, settings.max_connections)
    if shortfall is not None:
        print(f"warning: {shortfall}")
    return 0


if __name__ == "__main__":
    main()
