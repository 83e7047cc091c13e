"""The log lines' fields: a cluster node's name on every JSON line (logs gathered from
several nodes must say which one wrote each), never on a single server's."""

from __future__ import annotations

import json
import logging

import pytest

from quiz_actors import logs


@pytest.fixture
def restored_logging():
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)


@pytest.mark.parametrize("node", ["node2", None])
def test_json_lines_name_the_cluster_node(capsys, restored_logging, node):
    logs.configure("INFO", "json", node)
    with logs.bound(room_id="r1"):
        logging.getLogger("quiz_actors.test").info("room %s: taken over", "r1")
    line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert line["event"] == "room r1: taken over" and line["room_id"] == "r1"
    assert line.get("node") == node
