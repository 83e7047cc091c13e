#!/usr/bin/env python3
"""``quiz-server`` with a commit counter, for scripts/bench.py.

    python scripts/bench_probe.py --host 127.0.0.1 --port 8080 --store URL   # same options as quiz-server

The server runs unchanged (``quiz_actors.__main__.main``); the only additions
are counters:

* a wrapper around ``EventStore.save`` that counts saves (one save is one
  commit) and the events in them, so the benchmark can report how many answers a
  group commit carried (SQLite keeps no trace of commit boundaries to read back);
* when the event loop last handed a batch to a socket (``SocketSession.enqueue``;
  a socket that keeps up is written to at once), so a broadcast can be timed to
  its last write on the server's side, without the clients' reading in it;
* what the sockets hold back (bytes in transports' write buffers and in the
  sessions' queues, now and the most seen, sampled every 0.25 s on the loop)
  and what glibc's malloc holds (``mallinfo2``: in use, and free but kept, which
  RSS still counts), for the memory per player: a lobby whose clients read late
  leaves its peak behind in RSS;
* the garbage collector's pauses per generation (scripts/bench_gc.py): a full
  collection stops every thread of the server, and with millions of objects it
  shows up as a slow broadcast.

On SIGUSR2 it takes the RSS apart, for the memory row: it runs a full garbage
collection, then asks glibc to give its free memory back (``malloc_trim``),
noting the RSS before and after each (``rss_apart`` in the next dump): what
the first frees was garbage waiting for a collection, what the second frees
was free memory malloc kept, and the rest is live.

On SIGUSR1 the counters are written as JSON to the file named by
``QUIZ_BENCH_PROBE_FILE`` (written aside and renamed, so a reader never sees
half a file). The cost is a few counter updates per save.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import sys
import threading
import time
import weakref
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # runs from a checkout, installed or not

from bench_gc import GcPauses  # noqa: E402

from eventstore import EventStore  # noqa: E402
from quiz_actors.__main__ import main  # noqa: E402
from quiz_actors.domain.room import Room  # noqa: E402
from quiz_actors.server.session import SocketSession  # noqa: E402

_lock = threading.Lock()
_counts = {
    "dumps": 0,
    "saves": 0,
    "events": 0,
    "failed_saves": 0,
    "save_s": 0.0,
    "max_events_per_save": 0,
    "answer_saves": 0,
    "answer_events": 0,
    "max_answers_per_save": 0,
}
# The latest commits that carried answers: (monotonic start, end, answers), for the
# same-instant burst's timeline (when each commit ran against when answers were sent).
ANSWER_COMMITS_KEPT = 400
_answer_commits: list[tuple[float, float, int]] = []
_original_save = EventStore.save
_original_enqueue = SocketSession.enqueue
# When the event loop last handed a batch to a socket (time.monotonic, the clock every
# process of the benchmark shares): the end of a broadcast on the server's side.
_last_enqueue_at = [0.0]


def _timed_enqueue(self, batch):  # type: ignore[no-untyped-def]
    _original_enqueue(self, batch)
    _last_enqueue_at[0] = time.monotonic()  # on the loop thread only: no lock


_gc_pauses = GcPauses()

_original_session_init = SocketSession.__init__
_sessions: weakref.WeakSet[SocketSession] = weakref.WeakSet()
_held = {"now": 0, "peak": 0, "peak_sockets_behind": 0}
BACKLOG_SAMPLE_S = 0.25


def _tracked_session_init(self, *args, **kwargs):  # type: ignore[no-untyped-def]
    _original_session_init(self, *args, **kwargs)
    if not _sessions:
        self.loop.call_soon_threadsafe(_sample_backlog, self.loop)
    _sessions.add(self)


def _held_bytes() -> tuple[int, int]:
    """Bytes the server holds for sockets that have not taken them yet, and how many such sockets."""
    total = behind = 0
    for session in list(_sessions):
        held = session._queued_bytes  # noqa: SLF001
        if session.transport is not None:
            held += session.transport.get_write_buffer_size()
        if held:
            total += held
            behind += 1
    return total, behind


def _sample_backlog(loop) -> None:  # type: ignore[no-untyped-def]
    held, behind = _held_bytes()
    _held["now"] = held
    if held > _held["peak"]:
        _held["peak"], _held["peak_sockets_behind"] = held, behind
    loop.call_later(BACKLOG_SAMPLE_S, _sample_backlog, loop)


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena",
            "ordblks",
            "smblks",
            "hblks",
            "hblkhd",
            "usmblks",
            "fsmblks",
            "uordblks",
            "fordblks",
            "keepcost",
        )
    ]


def _malloc_kb() -> dict[str, int] | None:
    """glibc's own account: in use (uordblks + hblkhd) and free but kept (fordblks), KB."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        mallinfo2 = libc.mallinfo2
    except (OSError, AttributeError):
        return None  # not glibc, or older than 2.33
    mallinfo2.restype = _MallInfo2
    info = mallinfo2()
    return {
        "in_use_kb": (info.uordblks + info.hblkhd) // 1024,
        "free_kept_kb": info.fordblks // 1024,
        "mmapped_kb": info.hblkhd // 1024,
    }


def _counting_save(self, *objs, **kwargs):
    events = answers = 0
    for obj in objs:
        for event in getattr(obj, "pending_events", ()):
            events += 1
            if isinstance(event, Room.AnswerSubmitted):
                answers += 1
    started = time.perf_counter()
    try:
        result = _original_save(self, *objs, **kwargs)
    except BaseException:
        with _lock:
            _counts["failed_saves"] += 1
        raise
    ended = time.perf_counter()
    elapsed = ended - started
    with _lock:
        c = _counts
        c["saves"] += 1
        c["events"] += events
        c["save_s"] += elapsed
        c["max_events_per_save"] = max(c["max_events_per_save"], events)
        if answers:
            c["answer_saves"] += 1
            c["answer_events"] += answers
            c["max_answers_per_save"] = max(c["max_answers_per_save"], answers)
            now = time.monotonic()
            _answer_commits.append((round(now - elapsed, 4), round(now, 4), answers))
            del _answer_commits[:-ANSWER_COMMITS_KEPT]
    return result


_rss_apart: dict[str, int] = {}


def _rss_kb() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def _take_rss_apart(signum, frame) -> None:  # type: ignore[no-untyped-def]
    import gc

    _rss_apart["before_kb"] = _rss_kb()
    _rss_apart["garbage_objects"] = gc.collect()
    _rss_apart["after_gc_kb"] = _rss_kb()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        return
    _rss_apart["after_trim_kb"] = _rss_kb()


def _dump(signum, frame) -> None:
    target = os.environ.get("QUIZ_BENCH_PROBE_FILE")
    if not target:
        return
    with _lock:
        _counts["dumps"] += 1
        snapshot = dict(_counts)
        snapshot["answer_commits"] = list(_answer_commits)
        snapshot["last_enqueue_at"] = _last_enqueue_at[0]
    snapshot["gc"] = _gc_pauses.snapshot()
    snapshot["held_bytes"] = dict(_held)
    snapshot["malloc"] = _malloc_kb()
    snapshot["rss_apart"] = dict(_rss_apart)
    aside = target + ".tmp"
    with open(aside, "w", encoding="utf-8") as f:
        json.dump(snapshot, f)
    os.replace(aside, target)


if __name__ == "__main__":
    EventStore.save = _counting_save
    SocketSession.enqueue = _timed_enqueue
    SocketSession.__init__ = _tracked_session_init
    signal.signal(signal.SIGUSR1, _dump)
    signal.signal(signal.SIGUSR2, _take_rss_apart)
    _gc_pauses.install()
    main()
