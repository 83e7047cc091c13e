"""The one table: a row per measure, a column per cluster size."""

from __future__ import annotations

import statistics
from collections.abc import Callable
from typing import Any

Cell = Callable[[dict[str, Any], dict[str, Any]], str]  # (this size's result, 1 node's) -> text


def _get(result: dict[str, Any], path: str) -> Any:
    value: Any = result
    for key in path.split("."):
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


def _failed(result: dict[str, Any], scenario: str) -> str | None:
    part = result.get(scenario)
    if part is None:
        return "–"
    if isinstance(part, dict) and "failed" in part:
        return "FAILED"
    return None


def cell(scenario: str, text: Callable[[dict[str, Any]], str]) -> Cell:
    def render(result: dict[str, Any], one: dict[str, Any]) -> str:
        return _failed(result, scenario) or text(result[scenario])

    return render


def cpu_vs_one(scenario: str) -> Cell:
    """The nodes' CPU per 1,000 acknowledged answers, and how far from one node's."""

    def render(result: dict[str, Any], one: dict[str, Any]) -> str:
        mine, base = _get(result, f"{scenario}.cpu_per_1000"), _get(one, f"{scenario}.cpu_per_1000")
        if mine is None:
            return _failed(result, scenario) or "–"
        if not base:
            return f"{mine:.2f}"
        return f"{mine:.2f} ({(mine / base - 1) * 100:+.0f} %)"

    return render


def times(runs: list[dict[str, Any]]) -> str:
    done = [r["back_s"] for r in runs if "back_s" in r]
    failed = len(runs) - len(done)
    if not done:
        return f"{failed} failed" if failed else "–"
    text = f"{statistics.median(done):.2f} / {max(done):.2f} ({len(done)} runs"
    return text + (f", {failed} FAILED)" if failed else ")")


def fault_row(kind: str) -> Cell:
    def render(result: dict[str, Any], one: dict[str, Any]) -> str:
        runs = [r for r in result.get("faults", []) if r.get("kind") == kind]
        return times(runs) if runs else "–"

    return render


def integrity(result: dict[str, Any], one: dict[str, Any]) -> str:
    runs = [r for r in result.get("faults", []) if "acked" in r]
    if not runs:
        return "–"
    acked, stored = sum(r["acked"] for r in runs), sum(r["stored"] for r in runs)
    lost, twice = sum(r["lost"] for r in runs), sum(r["twice"] for r in runs)
    moved = sum(r["moved"] and r["same_question"] for r in runs)
    return f"{acked} / {stored}: {lost} lost, {twice} twice; same question {moved}/{len(runs)}"


ROWS: list[tuple[str, Cell]] = [
    (
        "rooms × players served",
        cell("load", lambda r: f"{r['rooms']} × {r['players'] // r['rooms']} = {r['players']}"),
    ),
    (
        "nodes serving rooms, redirects / join",
        cell("load", lambda r: f"{r['nodes_serving']}, {r['redirects_per_join']:.2f}"),
    ),
    (
        "answers acked / stored (distinct)",
        cell("load", lambda r: f"{r['acks']} / {r['stored']} ({r['distinct']})"),
    ),
    ("node CPU s / 1,000 acked answers (vs 1 node)", cpu_vs_one("load")),
    (
        "load: answers/s; cores busy: nodes / HAProxy / clients",
        cell(
            "load",
            lambda r: (
                f"{r['answers_per_s']:.0f}; {r['cores_nodes']:.2f} / {r['cores_haproxy']:.2f} / "
                f"{r['cores_clients']:.2f}"
            ),
        ),
    ),
    ("paced: node CPU s / 1,000 acked answers (vs 1 node)", cpu_vs_one("paced")),
    (
        "paced: answers/s; cores busy: nodes / HAProxy / clients",
        cell(
            "paced",
            lambda r: (
                f"{r['answers_per_s']:.0f}; {r['cores_nodes']:.2f} / {r['cores_haproxy']:.2f} / "
                f"{r['cores_clients']:.2f}"
            ),
        ),
    ),
    ("HAProxy CPU s / 1,000 acked answers", cell("load", lambda r: f"{r['haproxy_cpu_per_1000']:.2f}")),
    (
        "save ceiling: commits/s (answers/s), at rooms",
        cell(
            "ceiling",
            lambda r: (
                f"{r['commits_per_s']:.0f} ({r['answers_per_s']:.0f}), {r['at_rooms']}"
                + (" still rising" if r["still_rising"] else "")
            ),
        ),
    ),
    (
        "at the ceiling, cores busy: nodes / HAProxy / clients; nodes waiting for a CPU",
        cell(
            "ceiling",
            lambda r: (
                "{cores_nodes:.2f} / {cores_haproxy:.2f} / {cores_clients:.2f}; {nodes_waiting_for_cpu:.2f}"
            ).format(**r["cores_at_best"]),
        ),
    ),
    (
        "at the ceiling, saves in PostgreSQL: running / waiting for the lock",
        cell(
            "ceiling",
            lambda r: (
                "{saves_in_flight_mean:.2f} / {waiting_for_lock_mean:.2f}".format(
                    **r["postgres_saves_at_best"]
                )
                if r["postgres_saves_at_best"]
                else "–"
            ),
        ),
    ),
    (
        "broadcast, last client ms: HAProxy / direct",
        cell("broadcast", lambda r: f"{r['haproxy']['median_ms']:.1f} / {r['direct']['median_ms']:.1f}"),
    ),
    ("HAProxy adds to a broadcast: last client", cell("broadcast", lambda r: f"{r['added_pct']:+.1f} %")),
    (
        "HAProxy adds to a broadcast: CPU ms per broadcast, nodes + HAProxy / direct",
        cell(
            "broadcast",
            lambda r: (
                f"{r['haproxy']['cpu_ms']:.1f} + {r['haproxy']['haproxy_cpu_ms']:.1f} / "
                f"{r['direct']['cpu_ms']:.1f}"
                + (f" ({r['added_cpu_pct']:+.0f} %)" if r["added_cpu_pct"] is not None else "")
            ),
        ),
    ),
    (
        "HAProxy's health checks failed / nodes marked down, before the fault runs",
        cell("health", lambda r: f"{r['checks_failed']} / {r['marked_down']}"),
    ),
    ("failover after kill -9 s: median / worst", fault_row("kill")),
    ("failover after SIGSTOP s: median / worst", fault_row("stop")),
    ("drain (SIGTERM → all served elsewhere) s", fault_row("drain")),
    ("fault runs: acked / stored answers", integrity),
]


def render(results: list[dict[str, Any]]) -> str:
    one = next((r for r in results if r["nodes"] == 1), {})
    lines = [
        "| measure | "
        + " | ".join(f"{r['nodes']} node{'s' if r['nodes'] > 1 else ''}" for r in results)
        + " |",
        "|---" * (len(results) + 1) + "|",
    ]
    for label, render_cell in ROWS:
        lines.append(f"| {label} | " + " | ".join(render_cell(r, one) for r in results) + " |")
    return "\n".join(lines)
