"""Times in the reader's zone and locale, and plural forms from the catalog."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from teams_app.i18n import format_when, translator


def test_a_moment_is_shown_in_the_readers_zone_with_its_name() -> None:
    moment = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    assert format_when(moment, "Europe/Berlin", "en-US") == \
        "Tuesday, December 1, 2026 9:00\u202fAM (Central European Standard Time)"
    assert format_when(moment, "Europe/Berlin", "de-DE") == \
        "Dienstag, 1. Dezember 2026 09:00 (Mitteleuropäische Normalzeit)"
    assert format_when(moment, "Asia/Kolkata", "en-GB").startswith("Tuesday, 1 December 2026 13:30")


def test_summer_time_is_named_as_summer_time() -> None:
    assert "Central European Summer Time" in format_when(datetime(2026, 7, 1, 8, tzinfo=UTC), "Europe/Berlin", "en")


def test_an_unknown_zone_or_locale_falls_back_to_utc_and_english() -> None:
    text = format_when(datetime(2026, 12, 1, 8, tzinfo=UTC), "Mars/Olympus", "xx-YY")
    assert text.startswith("Tuesday, December 1, 2026 8:00") and "Coordinated Universal Time" in text


def test_a_naive_moment_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        format_when(datetime(2026, 12, 1, 8), "UTC", "en")


def test_plural_forms_come_from_the_catalog() -> None:
    en = translator("en")
    assert en.ngettext("{n} match", "{n} matches", 1).format(n=1) == "1 match"
    assert en.ngettext("{n} match", "{n} matches", 3).format(n=3) == "3 matches"
    assert translator("de").language == "de"
