"""Cluster mode (issue 19): its settings, and three nodes starting at the same moment."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time

import psycopg
import pytest

from quiz_actors.settings import Settings
from tests.cluster_nodes import Cluster, connect, fresh_schema
from tests.conftest import POSTGRES_URL

pytestmark = pytest.mark.postgres


@pytest.fixture
def cluster_store(postgres_problem):
    yield from fresh_schema(postgres_problem)


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


async def test_three_nodes_started_at_once_on_an_empty_schema_share_one_secret_catalog_and_samples(
    cluster_store, http
):
    store, schema = cluster_store
    cluster = Cluster(store)
    started = time.monotonic()
    cluster.start_all()  # the same moment, on a schema with no table yet
    try:
        await asyncio.gather(*(cluster.wait_ready(http, name, timeout=45) for name in cluster.names))
        print(f"three nodes ready in {time.monotonic() - started:.2f} s")
        with psycopg.connect(POSTGRES_URL) as conn:
            topics = dict(
                conn.execute(f"SELECT topic, count(*) FROM {schema}.quiz_events GROUP BY topic").fetchall()
            )
        assert topics["quiz_actors.domain.secret:ServerSecret.SecretGenerated"] == 1
        assert topics["quiz_actors.domain.quiz:QuizCatalog.CatalogOpened"] == 1
        samples = topics["quiz_actors.domain.quiz:Quiz.QuizUploaded"]
        assert samples == 4  # quiz_actors/samples: one copy of each
        assert topics["quiz_actors.domain.quiz:QuizCatalog.QuizListed"] == samples
        # Every node lists them all, and a token issued by one is good on the others.
        listings = []
        for name in cluster.names:
            async with http.get(cluster.base(name) + "/api/quizzes") as response:
                listings.append(sorted(q["quiz_id"] for q in (await response.json())["quizzes"]))
        assert len(listings[0]) == samples and listings.count(listings[0]) == 3
        first = await connect(http, cluster.ws("node1"))
        again = await connect(http, cluster.ws("node3"), first.token)
        assert again.user_id == first.user_id
    finally:
        cluster.stop_all()
