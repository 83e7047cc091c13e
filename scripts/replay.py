#!/usr/bin/env python3
"""Replay one room's events: timeline, state at a seq or time, --check. See docs/replay-and-audit.md.

The same as the ``quiz-replay`` console script.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # runs from a checkout, installed or not

from quiz_actors.tools.replay_cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
