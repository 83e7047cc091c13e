"""Display names: normalised and checked the same way everywhere."""

from __future__ import annotations

import unicodedata

MAX_NAME_LENGTH = 24


class NameInvalid(ValueError):
    pass


def normalise_name(raw: str) -> str:
    """Trim and NFC-normalise a name, or raise ``NameInvalid`` saying why."""
    name = unicodedata.normalize("NFC", raw).strip()
    if not name:
        raise NameInvalid("A name must have at least one visible character")
    if len(name) > MAX_NAME_LENGTH:
        raise NameInvalid(f"A name must be at most {MAX_NAME_LENGTH} characters")
    if any(unicodedata.category(ch) in ("Cc", "Cs", "Co", "Cn") for ch in name):
        raise NameInvalid("A name must not contain control or unassigned characters")
    return name


def name_key(name: str) -> str:
    """What two names must not share to count as different (case-insensitive)."""
    return name.casefold()
