"""When two names look the same: the Unicode confusables skeleton (UTS #39, section 4).

UTS #39 maps every character that can be mistaken for another to a prototype
("а", Cyrillic, to "a"; "0" to "O"; "I" and "1" to "l"; "m" to "rn"): two
strings look alike when their skeletons are equal. The mapping is Unicode's
confusables.txt. We read it from the ``confusable-homoglyphs`` package, which
ships that file as ``confusables.json`` and is kept up to date with it; the
package lists each pair both ways (source to prototype and back), so the
direction is recovered here (see ``_prototypes``).

A name's look-alike key is also blind to case: the skeleton, case-folded, then
skeletonised again ("ΑNN", with a Greek capital alpha, and "ann" share a key).
"""

from __future__ import annotations

import json
import unicodedata
from functools import cache
from importlib import resources
from typing import Any


def lookalike_key(name: str) -> str:
    """What two names must not share: equal keys look the same on a screen."""
    return skeleton(skeleton(name).casefold())


def skeleton(text: str) -> str:
    """UTS #39 skeleton: NFD, each character to its prototype, NFD again."""
    table = _prototypes()
    decomposed = unicodedata.normalize("NFD", text)
    return unicodedata.normalize("NFD", "".join(table.get(ch, ch) for ch in decomposed))


@cache
def _prototypes() -> dict[str, str]:
    """Each confusable character -> its prototype (one or more characters).

    In confusables.txt a source is one code point and a prototype is never a
    source itself (skeletons are stable), so in the package's two-way listing a
    key with several entries, or a key of more than one character, is a
    prototype; a one-character key with one entry is a source whose entry is
    its prototype. Where two characters list only each other the direction
    is lost; mapping both to the smaller keeps what matters, that they get the
    same skeleton.
    """
    raw = resources.files("confusable_homoglyphs").joinpath("confusables.json").read_text("utf-8")
    listing: dict[str, list[dict[str, Any]]] = json.loads(raw)
    table: dict[str, str] = {}
    for key, entries in listing.items():
        if len(key) != 1 or len(entries) != 1:
            continue  # a prototype
        other = entries[0]["c"]
        if len(other) > 1 or len(listing.get(other, ())) > 1:
            table[key] = other
        elif other < key:
            table[key] = other
    # A prototype that holds a character of such a pair (CJK: "㈰" -> "(日)")
    # must end on the pair's chosen side, as its skeleton would.
    for key, proto in table.items():
        table[key] = "".join(table.get(ch, ch) for ch in proto)
    return table
