"""The table printed at the end of a run (also in the JSON report as ``table``).

One column per (store, N) for the one-room runs, each computed from that run
and the baseline at that N; then one column per store for the many-rooms
memory run and the recovery run. docs/benchmark.md explains every row.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from typing import Any


def fmt(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        if abs(value) >= 100:
            return f"{value:,.0f}"
        if abs(value) >= 10:
            return f"{value:.1f}"
        return f"{value:.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def pair(a: Any, b: Any) -> str:
    return f"{fmt(a)} / {fmt(b)}"


def ratio(ours: float | None, base: float | None) -> str:
    if ours is None or not base:
        return "—"
    return f"{ours / base:.1f}×"


def _get(d: Any, path: str) -> Any:
    """``d["a"]["b"]`` for the path "a.b"; None where any part is missing (a run that failed)."""
    for key in path.split("."):
        if isinstance(d, list) and key.isdigit() and int(key) < len(d):
            d = d[int(key)]
        elif isinstance(d, dict) and key in d:
            d = d[key]
        else:
            return None
    return d


# A cell of the per-N table is computed from one server run (r) and the baseline at that N (b).
Cell = Callable[[dict[str, Any], dict[str, Any]], str]


def one(path: str) -> Cell:
    return lambda r, b: fmt(_get(r, path))


def two(first: str, second: str) -> Cell:
    return lambda r, b: pair(_get(r, first), _get(r, second))


def over_baseline(path: str) -> Cell:
    return lambda r, b: ratio(_get(r, path), _get(b, "median_ms"))


ROOM_ROWS: list[tuple[str, Cell]] = [
    ("1 lobby    join→state p50 / p99 ms", two("lobby.join_to_state.p50_ms", "lobby.join_to_state.p99_ms")),
    ("           all views hold N+1 after s", one("lobby.all_views_complete_s")),
    ("           server CPU s (fill)", one("lobby.server_cpu_s")),
    ("           frames / MB to players", two("lobby.frames", "lobby.mb")),
    ("2 broadcast median / worst ms", two("broadcast.median_ms", "broadcast.worst_ms")),
    ("7 baseline median / worst ms", lambda r, b: pair(_get(b, "median_ms"), _get(b, "worst_ms"))),
    (
        "           send_str / pre-built frame median ms",
        lambda r, b: pair(_get(b, "send_str.median_ms"), _get(b, "prebuilt.median_ms")),
    ),
    ("           broadcast ÷ baseline", over_baseline("broadcast.median_ms")),
    (
        "  server side: broadcast / baseline ms",
        lambda r, b: pair(_get(r, "broadcast.server_side.median_ms"), _get(b, "server_side.median_ms")),
    ),
    (
        "           broadcast ÷ baseline, server side",
        lambda r, b: ratio(_get(r, "broadcast.server_side.median_ms"), _get(b, "server_side.median_ms")),
    ),
    (
        "3 answers  accepted p50 / p99 ms",
        two("answers.answer_to_accepted.p50_ms", "answers.answer_to_accepted.p99_ms"),
    ),
    ("           answers per commit", one("answers.answers_per_commit")),
    ("           server CPU µs per answer", one("answers.server_cpu_us_per_answer")),
    (
        "8 burst    accepted p50 / p99 / max ms",
        lambda r, b: " / ".join(
            fmt(_get(r, f"burst.answer_to_accepted.{k}")) for k in ("p50_ms", "p99_ms", "max_ms")
        ),
    ),
    (
        "           first ack median / worst ms",
        two("burst.first_ack_ms.median_ms", "burst.first_ack_ms.worst_ms"),
    ),
    (
        "           server side: first commit ended, median / worst ms",
        two("burst.first_commit_ended_ms.median_ms", "burst.first_commit_ended_ms.worst_ms"),
    ),
    (
        "           a load process sending its answers, median / worst ms",
        two("burst.load_sending_ms.median_ms", "burst.load_sending_ms.worst_ms"),
    ),
    (
        "           server CPU µs per answer / answers per commit",
        two("burst.server_cpu_us_per_answer", "burst.answers_per_commit"),
    ),
    ("4 reveal   median / worst ms", two("reveal.median_ms", "reveal.worst_ms")),
    ("           reveal ÷ baseline", over_baseline("reveal.median_ms")),
    (
        "           reveal ÷ baseline, server side",
        lambda r, b: ratio(_get(r, "reveal.server_side.median_ms"), _get(b, "server_side.median_ms")),
    ),
    ("5 memory   KB per player / threads", two("memory.kb_per_player", "memory.threads")),
    (
        "  server full GCs in questions / longest ms",
        two("questions_gc.gen2.count", "questions_gc.gen2.longest_ms"),
    ),
    ("  problems errors / closes / view faults", lambda r, b: problems_cell(r)),
]

# A cell of the per-store table is computed from that store's memory and recovery runs.
STORE_ROWS: list[tuple[str, Callable[[dict[str, Any]], str]]] = [
    (
        "5 memory   players in rooms",
        lambda d: f"{fmt(_get(d, 'memory_many_rooms.players'))} in {fmt(_get(d, 'memory_many_rooms.rooms'))}",
    ),
    (
        "           KB per player / threads",
        lambda d: pair(_get(d, "memory_many_rooms.kb_per_player"), _get(d, "memory_many_rooms.threads")),
    ),
    ("           server RSS MB", lambda d: fmt(_rss_mb(_get(d, "memory_many_rooms.rss_kb")))),
    (
        "8 idle rooms  rooms / threads (before)",
        lambda d: (
            f"{fmt(_get(d, 'idle_rooms.rooms'))} / {fmt(_get(d, 'idle_rooms.threads'))} "
            f"({fmt(_get(d, 'idle_rooms.idle_threads'))})"
        ),
    ),
    (
        "           server RSS MB / KB per room",
        lambda d: pair(_rss_mb(_get(d, "idle_rooms.rss_kb")), _get(d, "idle_rooms.kb_per_room")),
    ),
    ("           rooms created per s", lambda d: fmt(_get(d, "idle_rooms.rooms_per_s"))),
    (
        "6 recovery events / snapshots in room",
        lambda d: pair(_get(d, "recovery.events"), _get(d, "recovery.snapshots")),
    ),
    (
        "           first join→state after restart median / worst ms",
        lambda d: pair(
            _get(d, "recovery.activation_ms.median_ms"), _get(d, "recovery.activation_ms.worst_ms")
        ),
    ),
    (
        "           next join→state ms",
        lambda d: fmt(_median_of(_get(d, "recovery.restarts"), "second_join_ms")),
    ),
]


def problems_cell(r: dict[str, Any]) -> str:
    if "failed" in r:
        return "FAILED"
    if "skipped" in r:
        return "skipped"
    p = r.get("client_problems") or {}
    closes = sum(v for k, v in (p.get("closes") or {}).items() if k not in ("1000", "1001"))
    text = (
        f"{sum((p.get('errors') or {}).values())} / {closes} / "
        f"{p.get('seq_gaps', 0) + p.get('repeated_members', 0)}"
    )
    return text + (" TIMEOUT" if "timeout" in r else "")


def render_table(report: dict[str, Any]) -> str:
    runs, baseline, per_store = report["runs"], report["baseline"], report["per_store"]
    columns = [(store, n) for store in runs for n in runs[store]]
    lines = []
    if columns:
        header = ["scenario / metric"] + [f"{store} N={int(n):,}" for store, n in columns]
        body = [
            [label] + [cell(runs[s][n], baseline.get(n, {})) for s, n in columns] for label, cell in ROOM_ROWS
        ]
        lines += _grid(header, body)
    per_store = {store: runs for store, runs in per_store.items() if runs}
    if per_store:
        header = ["per store"] + list(per_store)
        body = [[label] + [_or_failure(per_store[s], cell) for s in per_store] for label, cell in STORE_ROWS]
        lines += [""] + _grid(header, body)
    meta = report["meta"]
    lines += [
        "",
        f"{meta['date']} · commit {meta['commit']} · {meta['machine']} · "
        f"{meta['load_processes']} load processes · joins at {meta['join_rate_per_s']}/s · "
        f"membership {meta.get('membership', 'full')} · {meta.get('wall_s', '?')} s",
    ]
    for store, why in report.get("skipped", {}).items():
        lines.append(f"{store} skipped: {why}")
    return "\n".join(lines)


def _rss_mb(kb: int | None) -> float | None:
    return None if kb is None else kb / 1024


def _median_of(items: list[dict[str, Any]] | None, key: str) -> float | None:
    values = [i[key] for i in items or [] if i.get(key) is not None]
    return statistics.median(values) if values else None


def _or_failure(d: dict[str, Any], cell: Callable[[dict[str, Any]], str]) -> str:
    for key in ("memory_many_rooms", "recovery", "idle_rooms"):
        sub = d.get(key) or {}
        if "failed" in sub or "skipped" in sub:
            text = cell(d)
            if "—" in text:
                return "FAILED" if "failed" in sub else "skipped"
    return cell(d)


def _grid(header: list[str], body: list[list[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in [header, *body]) for i in range(len(header))]

    def line(row: list[str]) -> str:
        cells = [c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)]
        return "  ".join([row[0].ljust(widths[0]), *cells])

    return [line(header), "  ".join("-" * w for w in widths)] + [line(r) for r in body]
