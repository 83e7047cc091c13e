"""The benchmark must not rot: a smoke run of scripts/bench.py (N = 50, SQLite, seconds).

It runs the real command as a subprocess, as a person would, and checks that the
table and the JSON hold every scenario with numbers in it. It asserts nothing
about how fast anything was: the targets of issue 7 are read from a full run
(docs/benchmark.md), never checked by timed assertions here.
"""

from __future__ import annotations

import json
import numbers
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "scripts" / "bench.py"
RUN_LIMIT_S = 300  # a bound on a hung run, not a performance check: the smoke run takes ~15 s
N = "50"

# (where in the JSON, a number that must be there) for every scenario
PER_N = {
    "lobby": [
        ("lobby", "join_to_state", "p50_ms"),
        ("lobby", "join_to_state", "p99_ms"),
        ("lobby", "all_views_complete_s"),
        ("lobby", "server_cpu_s"),
        ("lobby", "frames"),
        ("lobby", "mb"),
    ],
    "broadcast": [("broadcast", "median_ms"), ("broadcast", "worst_ms")],
    "answers": [
        ("answers", "answer_to_accepted", "p50_ms"),
        ("answers", "answer_to_accepted", "p99_ms"),
        ("answers", "answers_per_commit"),
    ],
    "reveal": [("reveal", "median_ms"), ("reveal", "worst_ms")],
    "memory": [("memory", "kb_per_player"), ("memory", "threads")],
}
PER_STORE = {
    "memory": [("memory_many_rooms", "kb_per_player"), ("memory_many_rooms", "threads")],
    "recovery": [
        ("recovery", "events"),
        ("recovery", "activation_ms", "median_ms"),
        ("recovery", "restarts", 0, "second_join_ms"),
    ],
    "idle_rooms": [("idle_rooms", "threads"), ("idle_rooms", "kb_per_room"), ("idle_rooms", "rooms_per_s")],
}
BASELINE = [("median_ms",), ("worst_ms",)]
TABLE_LABELS = [
    "1 lobby",
    "2 broadcast",
    "3 answers",
    "4 reveal",
    "5 memory",
    "6 recovery",
    "8 idle rooms",
    "7 baseline",
    "broadcast ÷ baseline",
    "reveal ÷ baseline",
]


def _dig(data, path):
    for key in path:
        data = data[key]
    return data


def _assert_number(data, path, where: str) -> None:
    try:
        value = _dig(data, path)
    except (KeyError, IndexError, TypeError):
        raise AssertionError(f"{where}: no {'.'.join(map(str, path))} in {json.dumps(data)[:2000]}") from None
    assert isinstance(value, numbers.Number) and not isinstance(value, bool), (where, path, value)


def test_quick_benchmark_reports_every_scenario_with_numbers(tmp_path):
    out = tmp_path / "bench.json"
    run = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--no-progress", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=RUN_LIMIT_S,
    )
    assert run.returncode == 0, f"bench.py exited {run.returncode}\n{run.stdout}\n{run.stderr[-4000:]}"
    report = json.loads(out.read_text())

    room_run = report["runs"]["sqlite"][N]
    assert "failed" not in room_run and "timeout" not in room_run, room_run
    assert room_run["lobby"]["joined"] == int(N), room_run["lobby"]
    for scenario, paths in PER_N.items():
        for path in paths:
            _assert_number(room_run, path, f"sqlite N={N} {scenario}")

    per_store = report["per_store"]["sqlite"]
    for scenario, paths in PER_STORE.items():
        assert "failed" not in per_store.get(paths[0][0], {}), per_store
        for path in paths:
            _assert_number(per_store, path, f"sqlite {scenario}")

    for path in BASELINE:
        _assert_number(report["baseline"][N], path, f"baseline N={N}")

    table = run.stdout
    assert report["table"] in table
    for label in TABLE_LABELS:
        assert label in table, f"{label!r} missing from the table:\n{table}"
    assert "FAILED" not in table and "TIMEOUT" not in table, table
