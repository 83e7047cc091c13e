"""The room actor and its parts, one concern each.

* ``actor.py``: ``RoomActor``, the single writer of one room: its state
  (``Loaded`` or ``Recovering``), recovery by replay, and the handler tables
  that route each message to the part below that owns it.
* ``saving.py``: commits, the group commit's queue, snapshots.
* ``membership.py``: joins, leaving, kicks, locks, the room closing.
* ``game.py``: start/next/end, answers, questions closing, their broadcasts.
* ``audience.py``: the attached connections and how messages reach them.
* ``timers.py``: every timer the room arms, and whether it is pending.
"""

from quiz_actors.actors.room.actor import RoomActor

__all__ = ["RoomActor"]
