"""Pure pieces of the bot adapter: command parsing, card validation, Retry-After, pacing."""

from __future__ import annotations

from datetime import date

import pytest

from teams_app.adapters.bot import cards
from teams_app.adapters.bot.commands import parse, pause_until
from teams_app.adapters.bot.delivery import TokenBucket
from teams_app.i18n import translator

_ = translator("en")


@pytest.mark.parametrize(("text", "name", "args"), [
    ("<at>peercoach</at> join", "join", ()),
    ("Pause until 2026-12-01", "pause", ("until", "2026-12-01")),
    ("my matches please", "my matches", ("please",)),
    ('program create "Spring pairs" peer_pairs weekly', "program create", ("Spring pairs", "peer_pairs", "weekly")),
    ("help\r\n\r\n> On Monday you wrote: join", "help", ()),
    ("What is this?", "", ()),
    ("", "", ()),
    ("matches", "my matches", ()),
])
def test_parse_commands(text: str, name: str, args: tuple[str, ...]) -> None:
    command = parse(text)
    assert (command.name, command.args) == (name, args)


def test_pause_until_accepts_an_iso_date_and_rejects_others() -> None:
    assert pause_until(("until", "2026-12-01")) == date(2026, 12, 1)
    assert pause_until(()) is None
    with pytest.raises(ValueError):
        pause_until(("01/12/2026",))


def test_profile_card_validation_names_every_problem() -> None:
    with pytest.raises(cards.CardErrors) as caught:
        cards.parse_profile(_, {"time_zone": "", "working_hours": "9-5", "languages": "en",
                                "skills_offered": "s" * 2001}, ["p1", "p2"])
    errors = caught.value.errors
    assert set(errors) == {"program_id", "time_zone", "working_hours", "skills_offered"}
    assert "2001" in errors["skills_offered"]


def test_profile_card_submission_with_the_only_program() -> None:
    submission = cards.parse_profile(_, {"time_zone": "Europe/Berlin", "working_hours": "08:00-16:00",
                                         "languages": "en, de", "goals": "a\nb"}, ["only"])
    assert submission.program_id == "only"
    assert submission.profile.goals == ("a", "b") and submission.profile.languages == ("en", "de")


@pytest.mark.parametrize(("data", "field"), [
    ({"match_id": "m", "met": "maybe"}, "met"),
    ({"match_id": "m", "met": "yes", "usefulness": "0"}, "usefulness"),
    ({"match_id": "m", "met": "yes", "usefulness": "3.5"}, "usefulness"),
    ({"match_id": "m", "met": "yes"}, "usefulness"),
    ({"match_id": "m", "met": "no", "next_step": "n" * 2001}, "next_step"),
])
def test_checkin_validation(data: dict[str, str], field: str) -> None:
    with pytest.raises(cards.CardErrors) as caught:
        cards.parse_checkin(_, data)
    assert field in caught.value.errors


def test_checkin_not_met_needs_no_usefulness() -> None:
    submission = cards.parse_checkin(_, {"match_id": "m", "met": "no", "usefulness": ""})
    assert submission.met is False and submission.usefulness is None


def test_german_cards() -> None:
    de = translator("de-DE")
    card = cards.intro_card(de, {"round": 1, "program": "P", "role": "peer", "partners": [],
                                 "prompts": ["What would you like to improve?"]})
    assert "Was möchtest du verbessern?" in str(card)


def test_token_bucket_paces_and_holds() -> None:
    clock = [100.0]
    bucket = TokenBucket(rate=10, burst=2, now=lambda: clock[0])
    waits = [bucket.reserve() for _ in range(4)]
    assert waits == pytest.approx([0.0, 0.0, 0.1, 0.2])
    clock[0] += 1.0
    assert bucket.reserve() == 0.0
    bucket.hold(5.0)
    assert bucket.reserve() == pytest.approx(4.9)  # held 5 s, minus the burst allowance of one slot


def test_email_rendering_escapes_html() -> None:
    from teams_app.adapters.bot.email_render import program_email_renderer

    subject, html, text = program_email_renderer()("unmatched", {"program": "<b>P</b>", "reason": "x & y"}, "en")
    assert "<b>P</b>" in subject and "&lt;b&gt;" not in subject
    assert "x &amp; y" in html and "x & y" in text and "<b>P</b>" not in html


def test_delivery_verdicts_and_the_retry_policy_give_up_after_max_attempts() -> None:
    import random

    from lrs_bridge.retry import Backoff
    from teams_app.adapters.bot.delivery import DeliveryError, RetryPolicy, Verdict, classify

    assert classify(DeliveryError(429, "slow down", 2.0)) is Verdict.RETRY
    assert classify(DeliveryError(0, "no answer")) is Verdict.RETRY
    assert classify(DeliveryError(403, "blocked")) is Verdict.UNREACHABLE
    assert classify(DeliveryError(400, "bad request")) is Verdict.FAIL
    policy = RetryPolicy(max_attempts=3, backoff=Backoff(base_s=1.0, cap_s=10.0, retry_after_cap_s=10.0))
    rng = random.Random(1)
    first = policy.next_delay(1, 5.0, rng)
    assert first is not None and 5.0 <= first <= 10.0  # never sooner than Retry-After
    assert policy.next_delay(3, None, rng) is None  # dead letter
