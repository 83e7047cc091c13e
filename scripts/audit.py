#!/usr/bin/env python3
"""Audit-log queries: events by room, user, type and time; game reports; user histories.
See docs/replay-and-audit.md. The same as the ``quiz-audit`` console script.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # runs from a checkout, installed or not

from quiz_actors.tools.audit_cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
