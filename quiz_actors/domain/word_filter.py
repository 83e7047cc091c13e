"""The room's word filter: names with a rude word in them are refused.

The words are the LDNOOBW lists for English, German and Spanish (vendored in
``rude_words/``, CC BY 4.0). A name is checked in the disguises players use:
any case, accents and look-alike letters from other scripts, digits and
symbols for letters (4→a, 3→e, 1→i, 0→o, 5→s, 7→t, @→a, $→s, !→i; digits
only in a word that is mostly letters, so "Player 455" is a number), letters
said three times or more ("fuuuck", "shiiit"), and single letters spelt out with
spaces or punctuation between them ("F.u.c.k", "s h 1 t": a run of one-letter
words is read as one word).

The Scunthorpe problem decides how a listed word is looked for:

* Every listed word or phrase matches the name's words whole: "Ass" is refused,
  "Cassidy", "Essex" and "Matsushita" are not. A phrase matches the same words
  in a row ("beaver cleaver" in "Beaver Cleaver Jr").
* Only listed words of six letters or more are also searched inside a word of
  the name ("xxbullshitxx"): shorter ones are inside too many names ("penis" in
  Penistone, "orina" in Corina, "verga" in Vergara, "negro" in Montenegro).
  Where a long word is part of an ordinary word ("rapist" in therapist,
  "cialis" in specialist), that word is named in ``INNOCENT_INSIDE``.
* A word is never searched across the name's words: "Clever Gazelle" does not
  hold the Spanish "verga".
"""

from __future__ import annotations

import json
import re
import unicodedata
from functools import cache
from importlib import resources

from quiz_actors.domain.lookalikes import skeleton

LANGUAGES = ("en", "de", "es")
SEARCHED_INSIDE_FROM = 6  # letters: shorter listed words only match a whole word of the name
SYMBOLS = str.maketrans({"@": "a", "$": "s", "!": "i"})
DIGITS = str.maketrans({"4": "a", "3": "e", "1": "i", "0": "o", "5": "s", "7": "t"})
SEPARATORS = re.compile(r"[\W_]+")
# Ordinary words and names holding a long listed word: inside them it is not searched
# (the word on its own, or beside another word, is still refused).
INNOCENT_INSIDE = (
    "therapist", "snigger", "sexual", "cialis", "cummings", "scraping", "draping",
    "trimming", "brimming", "thumping", "maricarmen", "maricel", "maricruz",
)  # fmt: skip


def load() -> None:
    """Read the lists and the look-alike table now (about a second), not at a room's first join."""
    _patterns()


def rude_word_in(name: str) -> str | None:
    """The listed word ``name`` holds in some disguise (as the name writes it, plain), or None."""
    whole, inside = _patterns()
    words = plain_words(name)
    found = whole.search(f" {' '.join(words)} ")
    if found:
        return found.group(1)
    for word in words:
        for innocent in INNOCENT_INSIDE:
            word = word.replace(innocent, " ")
        found = inside.search(word)
        if found:
            return found.group(0)
    return None


def plain_words(text: str) -> list[str]:
    """The words of ``text`` undisguised: lower case, Latin letters without accents,
    digits read as letters in a word that is mostly letters, and a run of
    one-character words ("s h 1 t") read as one word."""
    parts = [p for p in (_plain(part) for part in SEPARATORS.split(_undisguised(text))) if p]
    words: list[str] = []
    spelt = ""  # single characters in a row, joined
    for part in parts + [""]:
        if len(part) == 1:
            spelt += part
            continue
        if spelt:
            words.append(spelt)
            spelt = ""
        if part:
            words.append(part)
    return [_as_letters(word) for word in words]


def _undisguised(text: str) -> str:
    """Look-alikes from other scripts to Latin, lower case, no accents, symbols back to letters.
    (ASCII stays as it is: the skeleton would turn "1" into "l" and "m" into "rn".)"""
    latin = "".join(ch if ch.isascii() else skeleton(ch) for ch in text)
    # Accents off before the name is cut into words: a combining mark is not a letter.
    decomposed = unicodedata.normalize("NFKD", latin.casefold())
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    # Symbols last: NFKD is what turns a full-width "＄" or "＠" into the "$" or "@" read here.
    return plain.translate(SYMBOLS)


def _as_letters(word: str) -> str:
    """Digits read as letters, in a word that is mostly letters: "sh1t", "5H1T" are
    words, while "455" and "P15" are numbers and stay so."""
    letters = sum(ch.isalpha() for ch in word)
    return word.translate(DIGITS) if letters >= len(word) - letters else word


def _plain(word: str) -> str:
    """Letters and digits only."""
    return "".join(ch for ch in word if ch.isalnum())


def _said_longer(word: str) -> str:
    """A pattern for ``word`` with any of its letters said three times or more: "fuck"
    also matches "fuuuck". Twice is not enough: ordinary words double their letters
    ("Moose" is not the German "Möse"), and "Bob" is not "boob"."""
    pattern = ""
    for run in re.finditer(r"(.)\1*", word):
        letter, times = re.escape(run.group(1)), len(run.group(0))
        pattern += f"{letter}{{{times},}}" if times >= 2 else f"(?:{letter}|{letter}{{3,}})"
    return pattern


@cache
def _patterns() -> tuple[re.Pattern[str], re.Pattern[str]]:
    """(every listed word or phrase, matched on whole words of " word word ";
    the long words, searched inside a word). One pattern each: ~20 times faster than a loop."""
    entries: set[tuple[str, ...]] = set()
    for language in LANGUAGES:
        listed = resources.files("quiz_actors.domain").joinpath(f"rude_words/{language}.json")
        for entry in json.loads(listed.read_text("utf-8")):
            words = tuple(plain_words(entry))
            if words:
                entries.add(words)
    # Longest first, so the longest listed word is the one reported.
    ordered = sorted(entries, key=lambda words: -len(" ".join(words)))
    whole = "|".join(" ".join(_said_longer(w) for w in words) for words in ordered)
    inside = "|".join(
        _said_longer(words[0])
        for words in ordered
        if len(words) == 1 and len(words[0]) >= SEARCHED_INSIDE_FROM
    )
    return re.compile(f"(?<= )({whole})(?= )"), re.compile(inside)
