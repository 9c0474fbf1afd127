"""The German catalog covers every extracted msgid with matching {placeholders}; emails follow the locale."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from teams_app.adapters.email.templates import render_email
from teams_app.domain.model import GROW, Role
from teams_app.i18n import LOCALES, translator

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "teams_app"
_PLACEHOLDER = re.compile(r"\{(\w*)[^{}]*\}")


def _extraction_settings() -> tuple[list[tuple[str, str]], dict[str, None]]:
    """babel.cfg's method map (re-rooted at teams_app/) and keywords, so the test extracts what pybabel does."""
    with (ROOT / "babel.cfg").open(encoding="utf-8") as handle:
        method_map, options_map = parse_mapping_cfg(handle)
    prefix = f"{PACKAGE}/"
    assert method_map and all(pattern.startswith(prefix) for pattern, _ in method_map), method_map
    keywords: dict[str, None] = {}
    for options in options_map.values():
        # Babel >= 2.16 parses the option into {name: spec}; older versions leave the raw "a b c" string
        names = options.get("keywords") or ""
        keywords.update({name: None for name in (names.split() if isinstance(names, str) else names)})
    assert keywords, "babel.cfg names no keywords"
    return [(pattern.removeprefix(prefix), method) for pattern, method in method_map], keywords


def _extracted() -> dict[str, list[str]]:
    """msgid -> where it is used."""
    method_map, keywords = _extraction_settings()
    found: dict[str, list[str]] = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
            ROOT / PACKAGE, method_map, keywords=keywords):
        for msgid in (message,) if isinstance(message, str) else message:
            if msgid:
                found.setdefault(msgid, []).append(f"{PACKAGE}/{filename}:{lineno}")
    return found


def _german() -> Catalog:
    with (LOCALES / "de" / "LC_MESSAGES" / "peercoach.po").open("rb") as handle:
        return read_po(handle, locale="de")


def _placeholders(text: str) -> list[str]:
    return sorted(_PLACEHOLDER.findall(text))


def _untranslated(catalog: Catalog, msgids: dict[str, list[str]]) -> list[str]:
    missing = []
    for msgid, where in sorted(msgids.items()):
        message = catalog.get(msgid)
        if message is None or not message.string or message.fuzzy:
            missing.append(f"{msgid!r} ({', '.join(where)})")
    return missing


def test_extraction_finds_the_bot_assessment_and_email_strings() -> None:
    msgids = _extracted()
    assert len(msgids) > 150
    for expected in ("Welcome to peer coaching", "Submit review", "Hi {name},", "Open peercoach in Teams"):
        assert expected in msgids
    # template keys are not msgids: the email templates translate English source strings
    assert "intro.subject" not in msgids


def test_every_extracted_msgid_has_a_german_translation() -> None:
    missing = _untranslated(_german(), _extracted())
    assert not missing, "msgids without German translation:\n" + "\n".join(missing)


def test_values_translated_at_display_time_have_german_translations() -> None:
    # roles and GROW prompts are data, shown through _(value), so extraction cannot see them
    dynamic = {role.value: ["teams_app/domain/model.py:Role"] for role in Role}
    dynamic.update({prompt: ["teams_app/domain/model.py:GROW"] for prompt in GROW.prompts()})
    missing = _untranslated(_german(), dynamic)
    assert not missing, "values without German translation:\n" + "\n".join(missing)


def test_translations_keep_the_placeholders_of_their_msgid() -> None:
    wrong = [f"{m.id!r}: {_placeholders(str(m.id))} vs {_placeholders(str(m.string))}"
             for m in _german() if m.id and m.string and _placeholders(str(m.id)) != _placeholders(str(m.string))]
    assert not wrong, "placeholders differ:\n" + "\n".join(wrong)


def test_placeholder_check_catches_a_renamed_placeholder() -> None:
    assert _placeholders("Hallo {name}, {n:d} Treffen") == ["n", "name"]
    assert _placeholders("Hallo {nom},") != _placeholders("Hi {name},")


INTRO = {"name": "Ann", "program": "Pilot", "partners": ["Ben", "Cleo"], "bot_app_id": "bot-1",
         "meeting_start": datetime(2026, 3, 30, 7, 0, tzinfo=UTC), "time_zone": "Europe/Berlin",
         "join_url": "https://teams.microsoft.com/l/meetup-join/1"}


def test_intro_email_for_de_is_german() -> None:
    subject, html, text = render_email("intro", INTRO, "de")
    assert subject == "Pilot: Lerne Ben und Cleo kennen"
    assert text.startswith("Hallo Ann,")
    assert "Für die nächste Runde von Pilot bist du mit Ben und Cleo zusammengebracht worden." in text
    assert "Montag" in text and "Am Teams-Meeting teilnehmen: https://teams.microsoft.com/l/meetup-join/1" in text
    assert "peercoach in Teams öffnen" in html and '<html lang="de">' in html
    for english in ("Hi Ann", "You have been matched", "Join the Teams meeting", "Open peercoach", "You get this"):
        assert english not in text


def test_intro_email_for_en_is_english() -> None:
    subject, html, text = render_email("intro", INTRO, "en")
    assert subject == "Pilot: meet Ben and Cleo"
    assert text.startswith("Hi Ann,")
    assert "You have been matched with Ben and Cleo for the next round of Pilot." in text
    assert "Monday" in text and "Open peercoach in Teams" in html
    assert "Hallo" not in text and "Montag" not in text


@pytest.mark.parametrize("kind", ["reminder", "check_in", "assessment", "manager_digest"])
def test_every_email_kind_is_german_for_de_at(kind: str) -> None:
    payload = {**INTRO, "people": [{"name": "Ben", "meetings": 2, "check_ins": 1}]}
    subject, _, text = render_email(kind, payload, "de-AT")
    english, _, english_text = render_email(kind, payload, "en")
    assert subject != english and text.startswith("Hallo Ann,")
    assert "Du bekommst diese E-Mail, weil du an Pilot teilnimmst." in text
    assert english_text != text


def test_translator_falls_back_to_english_for_unknown_locales() -> None:
    assert translator("fr-FR")("Open peercoach in Teams") == "Open peercoach in Teams"
    assert translator("de_CH")("Open peercoach in Teams") == "peercoach in Teams öffnen"
