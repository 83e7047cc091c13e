"""Cluster mode's settings (issue 19); three nodes starting at once: tests/test_cluster.py."""

from __future__ import annotations

import subprocess
import sys

from quiz_actors.settings import Settings
from tests.conftest import POSTGRES_URL


def test_cluster_mode_refuses_sqlite_in_plain_words(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "quiz_actors", "--cluster", "--store", f"sqlite:///{tmp_path}/e.sqlite3"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode != 0
    assert "--cluster (QUIZ_CLUSTER) needs a PostgreSQL store that every node shares" in result.stderr
    assert not (tmp_path / "e.sqlite3").exists()


def test_cluster_settings_from_options_and_environment():
    settings = Settings.from_command_line(
        ["--cluster", "--node-id", "node2", "--lease-ttl-s", "4", "--lease-renew-s", "1"], environ={}
    )
    assert (settings.cluster, settings.node_name, settings.lease_ttl_s, settings.lease_renew_s) == (
        True,
        "node2",
        4.0,
        1.0,
    )
    assert Settings.from_env({"QUIZ_CLUSTER": "1"}).cluster is True
    assert Settings.from_command_line([], environ={}).cluster is False  # single node unless asked
    too_slow = Settings(store=POSTGRES_URL, cluster=True, lease_ttl_s=2, lease_renew_s=1.5)
    assert any("at most half of --lease-ttl-s" in p for p in too_slow.problems())
    bad_name = Settings(store=POSTGRES_URL, cluster=True, node_id="a b")
    assert any("--node-id (QUIZ_NODE_ID): 'a b' may only hold" in p for p in bad_name.problems())
    assert Settings(store=POSTGRES_URL, cluster=True, node_id="node1").problems() == []
