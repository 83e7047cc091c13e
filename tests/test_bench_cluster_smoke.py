"""The cluster benchmark must not rot: a smoke run of scripts/bench_cluster.py (--quick,
1 and 2 nodes, a few players, one run of each fault; well under a minute).

It runs the real command as a subprocess, as a person would, and checks that the
JSON holds every scenario with numbers in it and that the table has every row.
It asserts nothing about how fast anything was: issue 19's targets are read from a
full run (docs/benchmark.md, "Cluster"), never checked by timed assertions here.
"""

from __future__ import annotations

import json
import numbers
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cluster_nodes import fresh_schema
from tests.conftest import POSTGRES_URL

pytestmark = pytest.mark.postgres

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "scripts" / "bench_cluster.py"
RUN_LIMIT_S = 300  # a bound on a hung run, not a performance check: the smoke run takes ~25 s

# (where in one size's result, a number that must be there) for every scenario
EVERY_SIZE = [
    ("load", "players"),
    ("load", "acks"),
    ("load", "stored"),
    ("load", "cpu_per_1000"),
    ("load", "haproxy_cpu_per_1000"),
    ("load", "redirects_per_join"),
    ("paced", "acks"),
    ("paced", "cpu_per_1000"),
    ("paced", "spread_s"),
    ("ceiling", "commits_per_s"),
    ("ceiling", "answers_per_s"),
    ("ceiling", "at_rooms"),
    ("broadcast", "haproxy", "median_ms"),
    ("broadcast", "direct", "median_ms"),
    ("broadcast", "added_pct"),
    ("broadcast", "haproxy", "cpu_ms"),
    ("broadcast", "haproxy", "haproxy_cpu_ms"),
    ("broadcast", "direct", "cpu_ms"),
    ("load", "nodes_waiting_for_cpu"),
    ("load", "postgres_saves", "saves_in_flight_mean"),
    ("load", "postgres_saves", "waiting_for_lock_mean"),
    ("ceiling", "cores_at_best", "cores_nodes"),
]
FAULT_NUMBERS = ("back_s", "acked", "stored", "distinct", "lost", "twice")
FAULT_KINDS = {"kill", "stop", "drain"}
TABLE_LABELS = [
    "rooms × players served",
    "node CPU s / 1,000 acked answers",
    "paced: node CPU s / 1,000 acked answers",
    "save ceiling",
    "cores busy",
    "waiting for the lock",
    "CPU ms per broadcast",
    "HAProxy adds to a broadcast",
    "failover after kill -9",
    "failover after SIGSTOP",
    "drain (SIGTERM",
    "fault runs: acked / stored answers",
]


def _number(data, path, where: str):
    value = data
    for key in path:
        missing = f"{where}: no {'.'.join(path)} in {json.dumps(data)[:2000]}"
        assert isinstance(value, dict) and key in value, missing
        value = value[key]
    assert isinstance(value, numbers.Number) and not isinstance(value, bool), (where, path, value)
    return value


@pytest.fixture
def database(postgres_problem):
    """The benchmark makes a schema of its own per size; this only checks PostgreSQL is there."""
    for _ in fresh_schema(postgres_problem):  # fails or skips as the cluster tests do
        pass
    return POSTGRES_URL


def test_quick_cluster_benchmark_reports_every_scenario_with_numbers(tmp_path, database):
    if shutil.which("haproxy") is None:
        if os.environ.get("QUIZ_REQUIRE_DEPLOY_TOOLS") == "1":
            pytest.fail("HAProxy is required here (QUIZ_REQUIRE_DEPLOY_TOOLS=1) but is not installed")
        pytest.skip("HAProxy is not installed (.ci/run installs it)")
    out = tmp_path / "bench-cluster.json"
    run = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--nodes", "1", "2", "--store", database, "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=RUN_LIMIT_S,
    )
    exited = f"bench_cluster.py exited {run.returncode}\n{run.stdout}\n{run.stderr[-4000:]}"
    assert run.returncode == 0, exited
    report = json.loads(out.read_text())

    sizes = {result["nodes"]: result for result in report["results"]}
    assert set(sizes) == {1, 2}
    for size, result in sizes.items():
        for scenario in ("load", "paced", "ceiling", "broadcast"):
            assert "failed" not in result[scenario], (size, result[scenario])
        for path in EVERY_SIZE:
            _number(result, path, f"{size} nodes")
        assert result["load"]["players"] > 0 and result["ceiling"]["steps"]
        assert result["paced"]["acks"] == result["load"]["acks"]  # the same answers, spread
        assert result["paced"]["spread_s"] > 0 == result["load"]["spread_s"]
    assert "faults" not in sizes[1]  # one node has nowhere to fail over to
    faults = sizes[2]["faults"]
    assert {run["kind"] for run in faults} == FAULT_KINDS
    for fault in faults:
        assert "failed" not in fault, fault
        for key in FAULT_NUMBERS:
            _number(fault, (key,), f"2 nodes {fault['kind']}")
        assert isinstance(fault["same_question"], bool) and isinstance(fault["moved"], bool), fault

    for key in ("load_average_before", "load_average_after"):
        assert len(report["meta"][key]) == 3
    table = run.stdout
    assert report["table"] in table
    assert "load average" in table
    for label in TABLE_LABELS:
        assert label in table, f"{label!r} missing from the table:\n{table}"
    assert "FAILED" not in table, table
