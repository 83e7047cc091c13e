"""How a typed answer is compared with the accepted ones.

Two texts match when they are equal after: Unicode NFKC (full-width letters,
ligatures and the like become their plain form), case folding (``Straße`` and
``STRASSE`` match), and trimming with every run of spaces made one space. A
question may also ignore accents: a letter with a combining mark (``é``,
``ñ``) then matches the bare letter; letters Unicode does not write as a letter
plus a mark (``ø``, ``ł``) stay themselves.
"""

from __future__ import annotations

import unicodedata


def normalise_text(text: str, *, ignore_accents: bool = False) -> str:
    """The form in which typed answers are compared."""
    # Case folding can produce characters NFKC would change again, so NFKC
    # runs on both sides of it.
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())
    if ignore_accents:
        decomposed = unicodedata.normalize("NFD", folded)
        folded = unicodedata.normalize("NFC", "".join(c for c in decomposed if not unicodedata.combining(c)))
    # str.split() with no argument splits on every Unicode space and drops empty parts.
    return " ".join(folded.split())
