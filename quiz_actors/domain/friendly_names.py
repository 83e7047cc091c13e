"""Friendly random names ("Brave Otter"), for a room whose host gives out the names.

A player in such a room gets the first free name on a path through every
adjective-animal pair that starts where their user id's hash says: the same
player gets the same name back if it is free, and two players never share one.
The name is chosen when the join is decided and stored in ``MemberJoined``, so
a replay never chooses again. 64 × 64 = 4,096 pairs, more than a room's
players; past that a number is added ("Brave Otter 2").
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

ADJECTIVES = (
    "Brave", "Calm", "Cheery", "Cosy", "Curious", "Daring", "Eager", "Fancy",
    "Fast", "Fluffy", "Friendly", "Gentle", "Giant", "Glad", "Golden", "Happy",
    "Honest", "Humble", "Jolly", "Kind", "Lively", "Lucky", "Merry", "Mighty",
    "Modest", "Neat", "Nimble", "Noble", "Patient", "Plucky", "Polite", "Proud",
    "Quick", "Quiet", "Rapid", "Ready", "Rosy", "Shiny", "Silly", "Sleepy",
    "Smart", "Snowy", "Sparkly", "Speedy", "Spotty", "Steady", "Sunny", "Swift",
    "Tidy", "Tiny", "Trusty", "Upbeat", "Velvet", "Vivid", "Warm", "Wise",
    "Witty", "Zany", "Zesty", "Bold", "Bright", "Cheerful", "Dapper", "Fearless",
)  # fmt: skip
ANIMALS = (
    "Otter", "Panda", "Fox", "Owl", "Koala", "Badger", "Beaver", "Bison",
    "Camel", "Cheetah", "Dolphin", "Eagle", "Falcon", "Ferret", "Gecko", "Giraffe",
    "Hedgehog", "Heron", "Ibis", "Jaguar", "Kiwi", "Lemur", "Lion", "Llama",
    "Lynx", "Marmot", "Meerkat", "Moose", "Narwhal", "Newt", "Ocelot", "Orca",
    "Panther", "Parrot", "Pelican", "Penguin", "Puffin", "Quail", "Rabbit", "Raven",
    "Robin", "Salmon", "Seal", "Sloth", "Sparrow", "Squirrel", "Stork", "Swan",
    "Tapir", "Tiger", "Toucan", "Turtle", "Walrus", "Whale", "Wombat", "Yak",
    "Zebra", "Alpaca", "Bee", "Crane", "Dingo", "Duck", "Gazelle", "Hare",
)  # fmt: skip
PAIRS = len(ADJECTIVES) * len(ANIMALS)


def friendly_name(user_id: str, taken: Callable[[str], bool]) -> str:
    """The first name on ``user_id``'s path that ``taken`` says is free."""
    start = int.from_bytes(hashlib.sha256(user_id.encode()).digest()[:8], "big")
    for round_ in range(1, 1_000_000):
        for step in range(PAIRS):
            name = _pair((start + step) % PAIRS)
            if round_ > 1:
                name = f"{name} {round_}"
            if not taken(name):
                return name
    raise RuntimeError("no friendly name is free")  # a room never holds a million players


def _pair(n: int) -> str:
    adjective, animal = divmod(n, len(ANIMALS))
    return f"{ADJECTIVES[adjective]} {ANIMALS[animal]}"
