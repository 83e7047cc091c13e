"""Display names: normalised and checked the same way everywhere.

A name is what other players see, so it must show what it is and show
something. Format characters (Unicode category Cf: zero-width spaces,
bidirectional controls such as U+202E, soft hyphens) and the few letters that
draw nothing (Hangul fillers, the blank Braille pattern) are refused, naming
the character: they are how a second "Ann" is made, or a name that reads
backwards. (Earlier releases quietly took them out: a name stored then is
already clean.) Two joiners are allowed where scripts and emoji need them:
U+200D (zero-width joiner) inside an emoji sequence, U+200C (zero-width
non-joiner) between two letters of scripts such as Persian.

Whether a name looks like another one is ``lookalikes.lookalike_key``'s to say.
"""

from __future__ import annotations

import unicodedata

MAX_NAME_LENGTH = 24

ZWNJ, ZWJ = "\u200c", "\u200d"
# Letters and symbols that draw nothing, though they are not format characters.
INVISIBLE = frozenset("\u115f\u1160\u3164\uffa0\u2800")
# Categories of characters that show nothing on their own: format, controls,
# combining marks, separators (spaces, line and paragraph separators).
SHOWS_NOTHING = frozenset({"Cf", "Cc", "Mn", "Me", "Zs", "Zl", "Zp"})
# What may stand on either side of a kept U+200D: emoji, skin tones, VS16 (U+FE0F).
EMOJI_PARTS = frozenset({"So", "Sk", "Mn"})


class NameInvalid(ValueError):
    pass


def normalise_name(raw: str) -> str:
    """Trim and NFC-normalise a name, or raise ``NameInvalid`` saying why."""
    name = unicodedata.normalize("NFC", raw).strip()
    hidden = _first_invisible(name)
    if hidden is not None:
        raise NameInvalid(
            f"A name must not contain invisible or text-direction characters: it has "
            f"U+{ord(hidden):04X} ({unicodedata.name(hidden, 'unnamed')})"
        )
    if not any(_is_visible(ch) for ch in name):
        raise NameInvalid("A name must have at least one visible character")
    if len(name) > MAX_NAME_LENGTH:
        raise NameInvalid(f"A name must be at most {MAX_NAME_LENGTH} characters")
    if any(unicodedata.category(ch) in ("Cc", "Cs", "Co", "Cn") for ch in name):
        raise NameInvalid("A name must not contain control or unassigned characters")
    return name


def name_key(name: str) -> str:
    """What two names must not share to count as different (case-insensitive)."""
    return name.casefold()


def _is_visible(ch: str) -> bool:
    return unicodedata.category(ch) not in SHOWS_NOTHING and ch not in INVISIBLE


def _first_invisible(name: str) -> str | None:
    for i, ch in enumerate(name):
        if ch in INVISIBLE or (unicodedata.category(ch) == "Cf" and not _joiner_needed(name, i)):
            return ch
    return None


def _joiner_needed(name: str, i: int) -> bool:
    """A joiner that changes how its neighbours are drawn; any other is invisible."""
    if i == 0 or i == len(name) - 1 or name[i] not in (ZWJ, ZWNJ):
        return False
    before, after = unicodedata.category(name[i - 1]), unicodedata.category(name[i + 1])
    if name[i] == ZWJ:
        return before in EMOJI_PARTS and after in EMOJI_PARTS
    return before == "Lo" and after == "Lo"
