"""How long a big room's membership changes wait to travel together (actors/room/timers.py)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from quiz_actors.actors.room.timers import fanout_window
from quiz_actors.settings import Settings


def test_the_window_is_the_setting_up_to_a_few_thousand_members():
    settings = Settings()
    assert fanout_window(settings, 100) == settings.fanout_window_s == 0.25
    assert fanout_window(settings, 2_500) == 0.25


def test_the_window_grows_with_a_room_of_thousands_up_to_a_second():
    settings = Settings()
    assert fanout_window(settings, 5_000) == pytest.approx(0.5)
    assert fanout_window(settings, 10_000) == pytest.approx(1.0)
    assert fanout_window(settings, 40_000) == 1.0


def test_a_longer_window_set_by_the_operator_stands():
    assert fanout_window(replace(Settings(), fanout_window_s=2.0), 10_000) == 2.0
