"""Match reasons as values: English with str(), stored as JSON, older plain strings kept as they are."""

from __future__ import annotations

import json

import pytest

from teams_app.domain.matching.circles import JOINED
from teams_app.domain.matching.explain import SHARED_TIME
from teams_app.domain.matching.population import OFFERS
from teams_app.domain.reasons import Reason, reason_json


def test_a_reason_says_itself_in_english_with_lists_and_plurals() -> None:
    offers = Reason.of(OFFERS, giver="Ana", skills=("SQL", "Python", "Go"), taker="Bo")
    assert str(offers) == "Ana offers SQL, Python and Go, which Bo wants."
    assert str(Reason.of(JOINED, count=1)) == "1 new member joined the circle."
    assert str(Reason.of(JOINED, count=3)) == "3 new members joined the circle."
    assert str(Reason.of(SHARED_TIME, hours="1.5")) == "1.5 h of shared working time."


def test_a_plural_reason_without_a_whole_count_is_refused() -> None:
    with pytest.raises(ValueError, match="count"):
        Reason.of(JOINED)
    with pytest.raises(ValueError, match="count"):
        Reason.of(JOINED, count="2")


def test_the_stored_form_round_trips_through_json_whatever_the_key_order() -> None:
    reason = Reason.of(OFFERS, giver="Ana", skills=("SQL",), taker="Bo")
    stored = json.loads(json.dumps(reason_json(reason)))
    assert stored == {"t": OFFERS, "p": {"giver": "Ana", "skills": ["SQL"], "taker": "Bo"}}
    assert Reason.from_json(stored) == reason
    assert Reason.from_json({"t": OFFERS, "p": {"taker": "Bo", "skills": ["SQL"], "giver": "Ana"}}) == reason
    plural = Reason.of(JOINED, count=2)
    assert reason_json(plural)["pl"] == "{count} new members joined the circle."
    assert Reason.from_json(json.loads(json.dumps(reason_json(plural)))) == plural


def test_plain_strings_and_unknown_shapes_load_as_text() -> None:
    assert Reason.from_json("both want to work on SQL") == "both want to work on SQL"
    assert reason_json("both want to work on SQL") == "both want to work on SQL"
    assert Reason.from_json(["not", "a", "reason"]) == "['not', 'a', 'reason']"
    assert Reason.from_json({"t": 3}) == "{'t': 3}"
    loaded = Reason.from_json({"t": "{n} x {on}", "p": {"n": True, "on": None}})  # values that are not str/int
    assert loaded == Reason("{n} x {on}", (("n", "True"), ("on", "None")))
