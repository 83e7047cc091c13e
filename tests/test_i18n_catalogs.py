"""The language catalogs (quiz_actors/server/static/i18n-*.json, docs/i18n.md) agree.

Every catalog has the same keys as the English one, no empty text, and the same
{placeholders} in each text. Plural forms ("points.one", "points.other", …)
are per language (CLDR categories): a catalog must have the "other" form of
every plural the English one has, and may have the categories its language
uses; the placeholders of every form match English's "other".
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

STATIC = Path(__file__).resolve().parents[1] / "quiz_actors" / "server" / "static"
CATEGORIES = ("zero", "one", "two", "few", "many", "other")
PLACEHOLDER = re.compile(r"\{(\w+)\}")
LANGUAGES = sorted(p.stem.removeprefix("i18n-") for p in STATIC.glob("i18n-*.json"))


def catalog(language: str) -> dict[str, str]:
    loaded: dict[str, str] = json.loads((STATIC / f"i18n-{language}.json").read_text("utf-8"))
    return loaded


def split(key: str) -> tuple[str, str | None]:
    base, _, last = key.rpartition(".")
    return (base, last) if last in CATEGORIES else (key, None)


def test_english_german_and_spanish_are_there_and_the_script_offers_each():
    assert LANGUAGES == ["de", "en", "es"]
    script = (STATIC / "i18n.js").read_text("utf-8")
    offered = re.search(r"export const LANGUAGES = \{([^}]*)\}", script)
    assert offered is not None
    assert sorted(re.findall(r"(\w+):", offered.group(1))) == LANGUAGES


@pytest.mark.parametrize("language", [lang for lang in LANGUAGES if lang != "en"])
def test_a_catalog_has_every_english_key_and_placeholder(language):
    english, other = catalog("en"), catalog(language)
    plain = {k for k in english if split(k)[1] is None}
    assert {k for k in other if split(k)[1] is None} == plain
    plurals = {split(k)[0] for k in english if split(k)[1] is not None}
    assert {split(k)[0] for k in other if split(k)[1] is not None} == plurals
    for base in plurals:
        assert f"{base}.other" in other, f"{language}: {base}.other is missing"
    for key, text in other.items():
        base, form = split(key)
        source = english[key] if form is None else english[f"{base}.other"]
        assert text.strip(), f"{language}: {key} is empty"
        assert set(PLACEHOLDER.findall(text)) == set(PLACEHOLDER.findall(source)), (language, key, text)


def test_english_has_no_empty_text_and_the_pages_use_only_known_keys():
    english = catalog("en")
    assert all(text.strip() for text in english.values())
    used: set[str] = set()
    for page in STATIC.glob("*.html"):
        used.update(re.findall(r'data-i18n="([\w.]+)"', page.read_text("utf-8")))
        used.update(
            re.findall(r":([\w.]+)", " ".join(re.findall(r'data-i18n-attr="([^"]*)"', page.read_text())))
        )
    for script in STATIC.glob("*.js"):
        used.update(re.findall(r'\bt\("([\w.]+)"', script.read_text("utf-8")))
        used.update(f"{k}.other" for k in re.findall(r'\btn\("([\w.]+)"', script.read_text("utf-8")))
    assert used, "no page uses the catalog"
    assert sorted(used - set(english)) == []
