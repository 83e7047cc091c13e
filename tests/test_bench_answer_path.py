"""scripts/bench_answer_path.py must not rot: a smoke run (40 players, two bursts, seconds).

It runs the real command as a subprocess and checks that every answer of each
burst was acknowledged (the script waits for every ``answer_accepted``, and a
burst that is not acknowledged fails the run) and that the summary and the
profile were written. It asserts nothing about how much CPU anything took.
"""

from __future__ import annotations

import pstats
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "bench_answer_path.py"
RUN_LIMIT_S = 120  # a bound on a hung run, not a performance check: it takes a few seconds


def run_script(*arguments: str) -> subprocess.CompletedProcess[str]:
    """The script with these arguments; it failed if it did not exit 0."""
    done = subprocess.run(
        [sys.executable, str(SCRIPT), *arguments],
        capture_output=True,
        text=True,
        timeout=RUN_LIMIT_S,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done


def test_a_small_burst_is_acknowledged_and_profiled(tmp_path: Path) -> None:
    profile = tmp_path / "answers.prof"
    done = run_script("--players", "40", "--bursts", "2", "--profile", str(profile))
    assert len(re.findall(r"burst \d: 39 answers", done.stderr)) == 2, done.stderr
    summary = r"players 40: CPU µs per answer to the last ack min / median [\d.]+ / [\d.]+"
    assert re.search(summary, done.stdout), done.stdout
    functions = {f"{path.rsplit('/', 1)[-1]}:{name}" for path, _, name in pstats.Stats(str(profile)).stats}
    # The profile holds both sides of the path: the bridge on the loop, the room on its pool.
    assert {"bridge.py:_forward", "room.py:answer", "saving.py:commit"} <= functions


def test_lone_answers_are_acknowledged_one_at_a_time() -> None:
    done = run_script("--players", "6", "--bursts", "2", "--lone-gap-ms", "1")
    assert len(re.findall(r"burst \d: 5 answers", done.stderr)) == 2, done.stderr
    assert re.search(r"players 6: CPU µs per answer to the last ack", done.stdout), done.stdout
