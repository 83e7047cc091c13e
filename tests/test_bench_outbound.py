"""scripts/bench_outbound.py must not rot: a smoke run (50 members, two rounds, seconds).

The script times a baseline, a question broadcast and a reveal to real sockets
with the room's real code. It broke once when that code changed (``Game`` took
a new argument) and nobody noticed for a session: this checks that it still runs
and prints its table. It asserts nothing about how long anything took.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "bench_outbound.py"
RUN_LIMIT_S = 120  # a bound on a hung run, not a performance check


def test_a_small_broadcast_and_reveal_reach_every_socket() -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--members", "50", "--rounds", "2"],
        capture_output=True,
        text=True,
        timeout=RUN_LIMIT_S,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "50 members, 2 rounds" in done.stdout, done.stdout
    for row in ("baseline", "broadcast", "reveal"):
        assert re.search(rf"^{row} +[\d.]+ \(", done.stdout, re.MULTILINE), done.stdout
