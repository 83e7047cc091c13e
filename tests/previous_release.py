"""The store written by the release before question types (tests/data/README.md),
and what its maker recorded about it: shared by the tests that load and play on in it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from eventstore import EventStore
from quiz_actors.clock import ManualClock
from quiz_actors.domain.room import Room

DATA = Path(__file__).resolve().parent / "data"
OLD_STORE = DATA / "previous-release.sqlite3"
FACTS = json.loads((DATA / "previous-release.json").read_text(encoding="utf-8"))


def copy_of_old_store(folder: Path) -> str:
    """A copy of the old store in ``folder`` (the tests write to it), as a store URL."""
    copy = folder / "events.sqlite3"
    shutil.copyfile(OLD_STORE, copy)
    return f"sqlite:///{copy}"


def clock_after_old_server() -> ManualClock:
    # Carry on a second after the old server stopped, so no room is overdue for cleanup.
    return ManualClock(start_ms=FACTS["clock_ms"] + 1000)


def user(name: str) -> str:
    return str(FACTS["users"][name]["user_id"])


def token(name: str) -> str:
    return str(FACTS["users"][name]["token"])


def rooms_in(store: EventStore) -> dict[str, Room]:
    """Every room in the store by code, each rebuilt as the server rebuilds it."""
    ids = [n.originator_id for n in store.iter_notifications() if n.originator_version == 1]
    rooms = [store.load(i) for i in ids]
    return {room.code: room for room in rooms if isinstance(room, Room)}
