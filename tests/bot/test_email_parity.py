"""Email parity: every notification reaches an email-only person as a complete email, and email commands
mirror the chat ones (issue 18, item 2).

Notices go through the real outbox and sender to a fake Mailer; commands are email-channel activities posted
to the real ``/api/messages``. Links to web twins come from a small fake ``CardLinks``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from aiosmtpd.controller import Controller

from teams_app.adapters.bot.cards import (
    VERB_CONSENT,
    VERB_PROFILE,
    intro_card,
    notification_text,
    say_reason,
    state_card,
)
from teams_app.adapters.bot.email_render import program_email_renderer
from teams_app.adapters.bot.store import MatchCards
from teams_app.adapters.clock import RunningClock
from teams_app.adapters.email import SmtpMailer
from teams_app.bootstrap import bootstrap
from teams_app.bootstrap.bot import bot_installer
from teams_app.config import Settings
from teams_app.devstack import free_port
from teams_app.domain.matching.circles import CONTINUES, LEFT
from teams_app.domain.matching.explain import GROUP_DEPARTMENTS, LAST_MET
from teams_app.domain.matching.population import OFFERS, SENIOR
from teams_app.domain.model import Participant, Profile
from teams_app.domain.notifications import CardState, Notice, NotificationKind, TwinCard
from teams_app.domain.reasons import Reason, reason_json
from teams_app.entrypoints.web import create_web_app
from teams_app.i18n import translator
from teams_app.service.use_cases import ParticipantInput
from teams_app.simulation.connector import LocalConnector
from tests.bot.conftest import BotHarness, FakeMailer
from tests.fixtures.smtp import Inbox


class FakeLinks:
    """Satisfies the CardLinks port: a token per (person, card, subject), remembered so tests can read it."""

    def __init__(self) -> None:
        self.made: dict[str, tuple[str, TwinCard, str]] = {}

    def link(self, person_id: str, card: TwinCard, subject: str = "") -> str | None:
        token = hashlib.sha256(f"{person_id}/{card}/{subject}".encode()).hexdigest()[:16]
        self.made[token] = (person_id, card, subject)
        return f"https://bot.example/twin/{token}"

    def of(self, text: str) -> list[tuple[str, TwinCard, str]]:
        return [made for token, made in self.made.items() if f"/twin/{token}" in text]


async def start(tmp_path: Path, mailer: Any) -> tuple[BotHarness, FakeLinks]:
    connector = await LocalConnector().start()
    settings = Settings(db={"url": f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"},
                        bot={"dev_mode": True, "per_conversation_rps": 50, "per_tenant_rps": 500},
                        scheduler={"enabled": False})
    clock = RunningClock(datetime(2026, 11, 23, 9, 0, tzinfo=UTC))
    app = bootstrap(settings, clock=clock)
    links = FakeLinks()
    app.card_links = links  # what bootstrap/bot.py wires into the email renderer and the commands
    web_app = create_web_app(app, installers=(bot_installer(mailer=mailer, sender_options={
        "base_backoff_s": 0.05, "max_backoff_s": 0.5, "poll_interval_s": 0.2}),), run_background=False)
    client = TestClient(TestServer(web_app, host="127.0.0.1"))
    await client.start_server()
    return BotHarness(app, client, connector, mailer, clock), links


@pytest.fixture
async def parity(tmp_path: Path) -> AsyncIterator[tuple[BotHarness, FakeLinks]]:
    h, links = await start(tmp_path, FakeMailer())
    try:
        yield h, links
    finally:
        await h.client.close()
        await h.connector.close()


def email_activity(service_url: str, sender: str, text: str, *, name: str = "", locale: str = "en-US",
                   n: list[int] = [0]) -> dict[str, Any]:  # noqa: B006 - a counter for unique activity ids
    n[0] += 1
    return {
        "type": "message", "id": f"mail-{n[0]}", "timestamp": datetime.now(UTC).isoformat(),
        "serviceUrl": service_url, "channelId": "email", "from": {"id": sender, "name": name},
        "conversation": {"id": f"email-thread-{sender}", "isGroup": False},
        "recipient": {"id": "peercoach@contoso.example", "name": "peercoach"},
        "text": text, "textFormat": "plain", "locale": locale,
        "channelData": {"subject": "Re: peer coaching", "htmlBody": f"<p>{text}</p>"},
    }


def email_invoke(service_url: str, sender: str, verb: str, data: dict[str, Any], name: str) -> dict[str, Any]:
    """A card action as the web twin posts it for an email-only person (the email channel's identity)."""
    activity = email_activity(service_url, sender, "", name=name)
    activity.update(type="invoke", name="adaptiveCard/action",
                    value={"action": {"type": "Action.Execute", "verb": verb, "data": data}})
    del activity["text"]
    return activity


async def email_only(h: BotHarness, email: str, name: str, *, locale: str = "en", time_zone: str = "Europe/Berlin",
                     offers: str = "", wants: str = "", program_id: str = "") -> Participant:
    """A person Teams cannot reach (never talked to the bot in Teams): their notices go by email."""
    data = ParticipantInput(email=email, display_name=name, locale=locale, profile=Profile.build(
        time_zone=time_zone, working_hours="09:00-17:00", languages="en, de", skills_offered=offers,
        skills_wanted=wants))
    if program_id:
        return await h.app.service.enroll(program_id, data, consent=True)
    return await h.app.service.register(data)


async def queue(h: BotHarness, person: Participant, kind: NotificationKind, payload: Mapping[str, Any]) -> None:
    async with h.app.uow_factory() as uow:
        await uow.notifications.add([Notice.to(person, f"test/{kind}", kind, payload)], h.clock.now())
        await uow.commit()
    h.sender.wake()


def mails_to(h: BotHarness, address: str) -> list[dict[str, Any]]:
    return [m for m in h.mailer.sent if address in m["to"]]


START = datetime(2026, 11, 26, 14, 0, tzinfo=UTC)
PARTNER = {"name": "Alex Wilber", "email": "alex@example.com", "role": "peer"}
RUBRIC_CARD = {"type": "AdaptiveCard", "version": "1.5", "body": [
    {"type": "TextBlock", "text": "Peer review of Alex Wilber: Coaching skills"},
    {"type": "TextBlock", "text": "How well your peer coached you."},
    {"type": "TextBlock", "text": "Due 2026-11-30 17:00 (UTC). You can change your answers until then."},
    {"type": "Container", "items": [{"type": "TextBlock", "text": "Listening"}]},
    {"type": "Input.ChoiceSet", "id": "ratings.listening", "choices": []},
]}
PAYLOADS: dict[NotificationKind, dict[str, Any]] = {
    NotificationKind.INTRO: {"match_id": "m-gone-1", "program_id": "p", "program": "Pairs", "round": 2,
                             "role": "peer", "partners": [PARTNER], "reasons": ["first time you are matched"],
                             "prompts": ["What is your goal?"], "meeting": None},
    NotificationKind.MEETING_UPDATE: {"match_id": "m-gone-2", "program_id": "p", "program": "Pairs",
                                      "partners": [PARTNER], "meeting": {
                                          "start": START.isoformat(), "join_url": "", "booked": False,
                                          "end": (START + timedelta(minutes=30)).isoformat()}},
    NotificationKind.CHECKIN: {"match_id": "m-gone-3", "program": "Pairs", "partners": [PARTNER]},
    NotificationKind.CHECKIN_REMINDER: {"match_id": "m-gone-4", "program": "Pairs", "partners": [PARTNER]},
    NotificationKind.UNMATCHED: {"program_id": "p", "program": "Pairs", "reason": "an odd number of people"},
    NotificationKind.PARTNER_RESCHEDULE: {"match_id": "m-gone-5", "program": "Pairs", "name": "Alex Wilber"},
    NotificationKind.PARTNER_CANCEL: {"match_id": "m-gone-6", "program": "Pairs", "name": "Alex Wilber"},
    NotificationKind.REVIEW_REQUESTED: {"card": RUBRIC_CARD, "assessment_id": "a-1", "review_id": "r-gone-1",
                                        "deadline": "2026-11-30T17:00:00+00:00", "self_assessment": False},
    NotificationKind.REVIEW_REMINDER: {"card": RUBRIC_CARD, "assessment_id": "a-1", "review_id": "r-gone-2",
                                       "deadline": "2026-11-30T17:00:00+00:00", "reminder_number": 1},
    NotificationKind.FEEDBACK: {"card": {"body": []}, "assessment_id": "a-1", "email": {
        "subject": "Your peer feedback: Coaching skills", "html": "<html></html>",
        "text": "Based on 3 peer reviews.\nStrengths: Listening\n\n- Listening: strong (3.7/4)"}},
    NotificationKind.FEEDBACK_WITHHELD: {"card": {"body": []}, "assessment_id": "a-2", "email": {
        "subject": "Your peer feedback: Coaching skills", "html": "<html></html>",
        "text": "No feedback was submitted for you this time."}},
    NotificationKind.THANKS: {"card": {"type": "AdaptiveCard", "body": [
        {"type": "TextBlock", "text": "Thank you for your reviews!"},
        {"type": "TextBlock", "text": "You wrote 2 reviews this round."}]}, "reviews_in_program": 2},
    NotificationKind.MESSAGE: {"subject": "Round 3 is delayed", "text": "We start **next week**."},
}
TWINS = {NotificationKind.INTRO: (TwinCard.INTRO, "m-gone-1"), NotificationKind.MEETING_UPDATE: (TwinCard.INTRO,
                                                                                                 "m-gone-2"),
         NotificationKind.CHECKIN: (TwinCard.CHECK_IN, "m-gone-3"),
         NotificationKind.CHECKIN_REMINDER: (TwinCard.CHECK_IN, "m-gone-4"),
         NotificationKind.PARTNER_RESCHEDULE: (TwinCard.INTRO, "m-gone-5"),
         NotificationKind.REVIEW_REQUESTED: (TwinCard.REVIEW, "r-gone-1"),
         NotificationKind.REVIEW_REMINDER: (TwinCard.REVIEW, "r-gone-2"),
         NotificationKind.FEEDBACK: (TwinCard.FEEDBACK, "a-1"), NotificationKind.FEEDBACK_WITHHELD: (TwinCard.FEEDBACK,
                                                                                                      "a-2")}
PERSONAL_KINDS = [k for k in NotificationKind if not k.to_channel]


def test_every_kind_a_person_can_get_has_a_payload_here() -> None:
    assert set(PAYLOADS) == set(PERSONAL_KINDS)


@pytest.mark.parametrize("kind", PERSONAL_KINDS)
@pytest.mark.parametrize("locale", ["en", "de"])
async def test_every_notification_reaches_an_email_only_person_as_a_complete_email(
        parity: tuple[BotHarness, FakeLinks], kind: NotificationKind, locale: str) -> None:
    h, links = parity
    person = await email_only(h, "megan@example.com", "Megan Bowen", locale=locale)
    await queue(h, person, kind, PAYLOADS[kind])
    await h.sender.drain(timeout_s=20)
    (mail,) = mails_to(h, "megan@example.com")
    assert mail["subject"].strip() and "**" not in mail["subject"]
    assert mail["html"].startswith("<!DOCTYPE html>") and f'lang="{locale}"' in mail["html"]
    assert "<body" in mail["html"] and "<p>" in mail["html"] and "**" not in mail["html"]
    greeting = "Hallo Megan Bowen," if locale == "de" else "Hi Megan Bowen,"
    assert mail["text"].startswith(greeting) and "**" not in mail["text"]
    body = mail["text"].split("\n\n")[1:-1]
    assert body and all(part.strip() for part in body)  # something to read between greeting and footer
    footer = "Du bekommst diese E-Mail" if locale == "de" else "You get this email"
    assert footer in mail["text"] and footer in mail["html"]
    if kind in TWINS:
        assert links.of(mail["text"]) == [(person.id, *TWINS[kind])]
        assert 'href="https://bot.example/twin/' in mail["html"]


async def test_german_reader_gets_german_text_and_times_in_their_zone(parity: tuple[BotHarness, FakeLinks]) -> None:
    h, _links = parity
    person = await email_only(h, "megan@example.com", "Megan Bowen", locale="de", time_zone="America/New_York")
    await queue(h, person, NotificationKind.MEETING_UPDATE, PAYLOADS[NotificationKind.MEETING_UPDATE])
    await h.sender.drain(timeout_s=20)
    (mail,) = mails_to(h, "megan@example.com")
    assert "Vorgeschlagener Termin für dein Treffen mit Alex Wilber" in mail["text"]
    assert "09:00" in mail["text"]  # 14:00 UTC in New York
    assert "14:00" not in mail["text"]


async def test_a_proposed_time_comes_with_an_ics_and_says_so(parity: tuple[BotHarness, FakeLinks]) -> None:
    h, _links = parity
    person = await email_only(h, "megan@example.com", "Megan Bowen")
    await queue(h, person, NotificationKind.INTRO, {**PAYLOADS[NotificationKind.INTRO], "meeting": {
        "start": START.isoformat(), "end": (START + timedelta(minutes=30)).isoformat(), "join_url": "",
        "booked": False}})
    await h.sender.drain(timeout_s=20)
    (mail,) = mails_to(h, "megan@example.com")
    ((filename, content_type, ics),) = mail["attachments"]
    assert filename == "invite.ics" and content_type.startswith("text/calendar")
    assert b"DTSTART:20261126T140000Z" in ics and b"alex@example.com" in ics
    assert "add the attached invitation" in mail["text"] and "Nothing is booked yet" in mail["text"]
    # in the reader's zone (Europe/Berlin)
    assert "2026 3:00" in mail["text"] and "(Central European Standard Time)" in mail["text"]


async def test_a_booked_meeting_email_carries_no_ics_and_claims_only_the_booking(
        parity: tuple[BotHarness, FakeLinks]) -> None:
    h, _links = parity
    person = await email_only(h, "megan@example.com", "Megan Bowen")
    await queue(h, person, NotificationKind.MEETING_UPDATE, {**PAYLOADS[NotificationKind.MEETING_UPDATE], "meeting": {
        "start": START.isoformat(), "end": (START + timedelta(minutes=30)).isoformat(), "join_url": "",
        "booked": True}})
    await h.sender.drain(timeout_s=20)
    (mail,) = mails_to(h, "megan@example.com")
    assert mail["attachments"] == []
    assert "is booked for" in mail["text"] and "calendar invitation comes in its own email" in mail["text"]
    assert "attached" not in mail["text"] and "Join the Teams meeting" not in mail["text"]  # no join link known


async def test_a_proposed_time_without_an_end_has_no_ics_and_does_not_mention_one(
        parity: tuple[BotHarness, FakeLinks]) -> None:
    h, _links = parity
    person = await email_only(h, "megan@example.com", "Megan Bowen")
    await queue(h, person, NotificationKind.MEETING_UPDATE, {**PAYLOADS[NotificationKind.MEETING_UPDATE], "meeting": {
        "start": START.isoformat(), "end": None, "join_url": "", "booked": False}})
    await h.sender.drain(timeout_s=20)
    (mail,) = mails_to(h, "megan@example.com")
    assert mail["attachments"] == [] and "attached" not in mail["text"]
    assert "please agree the time together" in mail["text"]


async def test_intro_by_email_speaks_to_the_reader_and_gives_the_partner_address(
        parity: tuple[BotHarness, FakeLinks]) -> None:
    h, links = parity
    program = await h.app.service.create_program("Pairs", "peer_pairs", "weekly")
    megan = await email_only(h, "megan@example.com", "Megan Bowen", offers="negotiation", program_id=program.id)
    alex = await email_only(h, "alex@example.com", "Alex Wilber", wants="negotiation", program_id=program.id)
    await h.app.service.run_round(program.id, seed=1)
    await h.sender.drain(timeout_s=20)
    (to_megan,) = mails_to(h, "megan@example.com")
    (to_alex,) = mails_to(h, "alex@example.com")
    assert "You offer negotiation, which Alex Wilber wants." in to_megan["text"]
    assert "Megan Bowen offers" not in to_megan["text"] and "Megan Bowen" not in to_megan["text"].split("\n", 1)[1]
    assert "Megan Bowen offers negotiation, which you want." in to_alex["text"]
    assert "alex@example.com" in to_megan["text"] and "megan@example.com" in to_alex["text"]
    assert "Alex Wilber" in to_megan["subject"]
    assert [(pid, card) for pid, card, _subject in links.of(to_megan["text"])] == [(megan.id, TwinCard.INTRO)]
    assert [(pid, card) for pid, card, _subject in links.of(to_alex["text"])] == [(alex.id, TwinCard.INTRO)]


async def test_an_intro_arrives_at_a_real_smtp_server_as_text_html_and_ics(tmp_path: Path) -> None:
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    h, _links = await start(tmp_path, SmtpMailer("127.0.0.1", port, sender="peercoach@contoso.example",
                                                 starttls=False, timeout_s=10))
    try:
        person = await email_only(h, "megan@example.com", "Megan Bowen")
        await queue(h, person, NotificationKind.INTRO, {**PAYLOADS[NotificationKind.INTRO], "meeting": {
            "start": START.isoformat(), "end": (START + timedelta(minutes=30)).isoformat(), "join_url": "",
            "booked": False}})
        await h.sender.drain(timeout_s=20)
    finally:
        await h.client.close()
        await h.connector.close()
        controller.stop()
    ((_from, to, message),) = inbox.messages
    assert to == ["megan@example.com"] and message["Subject"] == "Pairs: meet Alex Wilber"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "Alex Wilber (peer): alex@example.com" in text and "https://bot.example/twin/" in text
    assert "<strong>Alex Wilber</strong>" in html and "**" not in html
    (ics,) = [part for part in message.iter_attachments() if part.get_content_type() == "text/calendar"]
    assert b"BEGIN:VEVENT" in ics.get_payload(decode=True)


async def test_a_partner_notice_names_the_partner_not_the_reader(parity: tuple[BotHarness, FakeLinks]) -> None:
    h, _links = parity
    person = await email_only(h, "megan@example.com", "Megan Bowen")
    await queue(h, person, NotificationKind.PARTNER_RESCHEDULE, PAYLOADS[NotificationKind.PARTNER_RESCHEDULE])
    await h.sender.drain(timeout_s=20)
    (mail,) = mails_to(h, "megan@example.com")
    assert mail["subject"] == "Alex Wilber would like to reschedule"
    assert mail["text"].startswith("Hi Megan Bowen,") and "Alex Wilber asked to find a new time" in mail["text"]
    assert "Megan Bowen would like" not in mail["text"]


def test_reasons_about_other_people_stay_third_party_and_the_reader_is_you() -> None:
    _ = translator("en")
    offers = Reason.of(OFFERS, giver="Megan Bowen", skills=("negotiation", "SQL"), taker="Alex Wilber")
    assert say_reason(_, offers, "Lee Gu") == "Megan Bowen offers negotiation and SQL, which Alex Wilber wants."
    assert say_reason(_, offers, "Alex Wilber") == "Megan Bowen offers negotiation and SQL, which you want."
    assert say_reason(_, offers.to_json(), "Megan Bowen") == "You offer negotiation and SQL, which Alex Wilber wants."
    senior = Reason.of(SENIOR, mentor="Megan Bowen", count=2, mentee="Alex Wilber")
    assert say_reason(_, senior, "Megan Bowen") == "You are 2 levels more senior than Alex Wilber."
    assert say_reason(_, senior, "Alex Wilber") == "Megan Bowen is 2 levels more senior than you."
    assert say_reason(_, Reason.of(SENIOR, mentor="Megan Bowen", count=1, mentee="Alex Wilber"), "Lee Gu") == \
        "Megan Bowen is one level more senior than Alex Wilber."
    de = translator("de")
    assert say_reason(de, offers, "Megan Bowen") == "Du bietest negotiation und SQL an, was Alex Wilber lernen möchte."
    assert say_reason(de, offers, "Alex Wilber") == "Megan Bowen bietet negotiation und SQL an, was du lernen möchtest."
    assert say_reason(de, senior, "Alex Wilber") == "Megan Bowen ist 2 Stufen erfahrener als du."
    assert say_reason(de, Reason.of(LAST_MET, count=1)) == "Ihr habt euch zuletzt vor 1 Runde getroffen."


def test_a_pairs_intro_card_keeps_its_role_line() -> None:
    card = intro_card(translator("en"), {"program": "Pairs", "role": "peer", "reasons": [],
                                         "partners": [{"name": "Alex Wilber", "email": "alex@example.com"}]})
    assert "Your role this round: **peer**" in str(card)  # pairs keep their role line; circles say it per session


def test_reasons_stored_as_plain_english_strings_still_display_as_they_are() -> None:
    for _ in (translator("en"), translator("de")):
        assert say_reason(_, "both want to work on public speaking", "Lee Gu") == \
            "Both want to work on public speaking"
        assert say_reason(_, "Megan Bowen offers negotiation, which Alex Wilber wants", "Megan Bowen") == \
            "Megan Bowen offers negotiation, which Alex Wilber wants"
    assert say_reason(translator("de"), {"unknown": 1}) == "{'unknown': 1}"  # a shape no version wrote: as text


class MisfitTranslation:
    """A Translate whose every text names a placeholder no reason has (a translator's typo)."""

    def __call__(self, message: str) -> str:
        return "{typo}"

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return "{typo}"


def test_a_translation_that_does_not_fit_says_the_reason_in_english() -> None:
    assert say_reason(MisfitTranslation(), Reason.of(LAST_MET, count=3)) == "You last met 3 rounds ago."


def test_a_stored_reason_missing_a_value_is_left_out_of_card_and_email() -> None:
    broken = {"t": "{giver} offers {skills}, which {taker} wants.", "p": {"giver": "Ana", "skills": ["SQL"]}}
    assert say_reason(translator("de"), broken, "Lee Gu") == ""
    payload = {"program": "Pairs", "role": "peer", "reasons": [broken, reason_json(Reason.of(LAST_MET, count=3))],
               "partners": [{"name": "Alex Wilber", "email": "alex@example.com"}]}
    card = json.dumps(intro_card(translator("en"), payload))
    assert "You last met 3 rounds ago." in card and "offers" not in card and "- \"" not in card
    _s, _h, text = program_email_renderer()("intro", {**payload, "recipient": {
        "id": "p-1", "email": "ana@example.com", "name": "Ana"}}, "en")
    assert "You last met 3 rounds ago." in text and "offers" not in text


GERMAN_REASONS = [Reason.of(CONTINUES, session=3, total=6), Reason.of(LEFT, count=2),
                  Reason.of(OFFERS, giver="Megan Bowen", skills=("Verhandlung",), taker="Alex Wilber"),
                  Reason.of(LAST_MET, count=3), Reason.of(GROUP_DEPARTMENTS, count=3, names=("A", "B", "C")),
                  "first time you are matched"]
GERMAN_LINES = ["Dein Kreis geht weiter: Sitzung 3 von 6.", "2 Mitglieder haben den Kreis verlassen.",
                "Du bietest Verhandlung an, was Alex Wilber lernen möchte.",
                "Ihr habt euch zuletzt vor 3 Runden getroffen.", "3 Abteilungen: A, B und C.",
                "First time you are matched"]  # the last is an old row's plain string, shown as it was
ENGLISH_REASONS = ("Your circle continues", "members left", "offers", "You last met", "departments:")


def test_the_teams_intro_card_its_fallback_text_and_its_twin_say_reasons_in_the_readers_language() -> None:
    payload = json.loads(json.dumps({"program": "Pairs", "role": "peer", "round": 4,
                                     "reasons": [reason_json(r) for r in GERMAN_REASONS],
                                     "partners": [{"name": "Alex Wilber", "email": "alex@example.com"}]}))
    de = translator("de")
    for shown in (json.dumps(intro_card(de, payload), ensure_ascii=False),
                  json.dumps(state_card(de, CardState.INTRO, payload), ensure_ascii=False),  # the web twin's card
                  notification_text(de, NotificationKind.INTRO, payload)[1]):
        assert all(line in shown for line in GERMAN_LINES), shown
        assert not any(english in shown for english in ENGLISH_REASONS), shown
        assert "Megan Bowen" not in shown
    english = json.dumps(intro_card(translator("en"), payload))
    assert "You offer Verhandlung, which Alex Wilber wants." in english and "Megan Bowen offers" not in english


async def test_a_german_email_only_reader_gets_german_reasons_in_the_intro_email(
        parity: tuple[BotHarness, FakeLinks]) -> None:
    h, _links = parity
    person = await email_only(h, "megan@example.com", "Megan Bowen", locale="de")
    payload = {**PAYLOADS[NotificationKind.INTRO], "reasons": [reason_json(r) for r in GERMAN_REASONS]}
    await queue(h, person, NotificationKind.INTRO, payload)
    await h.sender.drain(timeout_s=20)
    (mail,) = mails_to(h, "megan@example.com")
    assert "Warum ihr beide:" in mail["text"]
    for line in GERMAN_LINES:
        assert line in mail["text"] and line in mail["html"]
    assert not any(english in mail["text"] for english in ENGLISH_REASONS)


def test_circle_intro_names_the_facilitator_or_tells_the_reader_they_facilitate() -> None:
    render = program_email_renderer(links=FakeLinks())
    payload = {"match_id": "c-1", "program": "Circles", "role": "member", "session": 2, "sessions_in_term": 6,
               "facilitator": {"id": "p-lee", "name": "Lee Gu"},
               "partners": [{"name": "Lee Gu", "email": "lee@example.com", "role": "facilitator"},
                            {"name": "Alex Wilber", "email": "alex@example.com", "role": "member"}]}
    _s, html, text = render("intro", {**payload, "recipient": {"id": "p-megan", "email": "megan@example.com",
                                                               "name": "Megan Bowen"}}, "en")
    assert "Session 2 of 6." in text and "Lee Gu facilitates this session." in text
    assert "lee@example.com" in text and "alex@example.com" in text and "Why this group" not in text
    _s, _h, own = render("intro", {**payload, "recipient": {"id": "p-lee", "email": "lee@example.com",
                                                            "name": "Lee Gu"}}, "en")
    assert "You facilitate this session" in own and "Lee Gu facilitates" not in own
    assert "Your role this round" not in text + own  # the facilitator line says each reader's role already
    assert "lee@example.com" not in own  # the reader is not listed among the people they meet
    assert "<strong>Lee Gu</strong>" in html and "**" not in html


def test_without_links_the_email_says_how_to_answer_and_links_nothing() -> None:
    render = program_email_renderer()
    for kind, wanted in ((NotificationKind.INTRO, "write to your partners at the addresses above"),
                         (NotificationKind.REVIEW_REQUESTED, "Reply with 'my reviews'"),
                         (NotificationKind.FEEDBACK, "Reply with 'my feedback'")):
        _s, html, text = render(kind.value, {**PAYLOADS[kind], "recipient": {"id": "p-1", "email": "m@example.com",
                                                                            "name": "Megan"}}, "en")
        assert wanted in text and "href" not in html and "None" not in text


def test_html_is_escaped_and_markdown_becomes_markup() -> None:
    render = program_email_renderer()
    subject, html, text = render("message", {"subject": "<b>Hi</b>", "text": "A **bold** <script>x</script> & co",
                                             "recipient": {"id": "p", "email": "e@example.com", "name": "Tom & Jerry"}},
                                 "en")
    assert subject == "<b>Hi</b>" and "<title>&lt;b&gt;Hi&lt;/b&gt;</title>" in html
    assert "<strong>bold</strong>" in html and "&lt;script&gt;" in html and "<script>" not in html
    assert "Tom &amp; Jerry" in html and "A bold <script>x</script> & co" in text


# -- email-channel commands -------------------------------------------------------------------------------------
async def test_join_by_email_asks_for_consent_and_enrolls_only_after_consent_and_profile(
        parity: tuple[BotHarness, FakeLinks]) -> None:
    h, links = parity
    program = await h.app.service.create_program("Pairs", "peer_pairs", "weekly")
    url = h.connector.url
    assert (await h.post(email_activity(url, "grace@example.com", "join", name="Grace Hopper")))[0] == 200
    (reply,) = h.connector.messages_to("email-thread-grace@example.com")
    grace = await h.app.service.find_participant(email="grace@example.com")
    assert grace is not None and grace.display_name == "Grace Hopper"
    assert reply["channelData"]["subject"] == "Join Pairs"
    assert "What I store" in reply["text"] and links.of(reply["text"]) == [(grace.id, TwinCard.CONSENT, program.id)]
    assert '<a href="https://bot.example/twin/' in reply["channelData"]["htmlBody"]
    assert (await h.app.service.status(program.id)).enrolled == 0  # nothing before consent

    # Not enrolled: nobody sees Grace; a round matches only the enrolled people.
    others = [await email_only(h, f"p{n}@example.com", f"Person {n}", program_id=program.id) for n in range(2)]
    result = await h.app.service.run_round(program.id, seed=1)
    matched = {pid for match in result.matches for pid in match.participant_ids}
    assert grace.id not in matched and matched == {p.id for p in others}

    # The consent twin posts the usual card actions: consent gives the profile form, the profile enrolls.
    status, body = await h.post(email_invoke(url, "grace@example.com", VERB_CONSENT, {"consent": True},
                                             "Grace Hopper"))
    assert status == 200 and VERB_PROFILE in str(body["value"])
    assert (await h.app.service.status(program.id)).enrolled == 2
    status, body = await h.post(email_invoke(url, "grace@example.com", VERB_PROFILE, {
        "program_id": program.id, "time_zone": "Europe/Berlin", "working_hours": "09:00-17:00",
        "languages": "en"}, "Grace Hopper"))
    assert status == 200 and "You have joined Pairs" in str(body["value"])
    assert (await h.app.service.status(program.id)).enrolled == 3
    grace = await h.app.service.find_participant(email="grace@example.com")
    assert grace is not None and grace.display_name == "Grace Hopper" and grace.profile.time_zone == "Europe/Berlin"


async def test_a_from_name_that_is_only_the_address_becomes_a_name(parity: tuple[BotHarness, FakeLinks]) -> None:
    h, _links = parity
    await h.app.service.create_program("Pairs", "peer_pairs", "weekly")
    await h.post(email_activity(h.connector.url, "grace.hopper@example.com", "join", name="grace.hopper"))
    grace = await h.app.service.find_participant(email="grace.hopper@example.com")
    assert grace is not None and grace.display_name == "Grace Hopper"


async def test_profile_by_email_shows_the_profile_and_links_its_twin(parity: tuple[BotHarness, FakeLinks]) -> None:
    h, links = parity
    program = await h.app.service.create_program("Pairs", "peer_pairs", "weekly")
    megan = await email_only(h, "megan@example.com", "Megan Bowen", offers="negotiation", program_id=program.id)
    await h.post(email_activity(h.connector.url, "megan@example.com", "profile", name="Megan Bowen"))
    (reply,) = h.connector.messages_to("email-thread-megan@example.com")
    assert "Your time zone: Europe/Berlin" in reply["text"] and "Skills you can offer: negotiation" in reply["text"]
    assert links.of(reply["text"]) == [(megan.id, TwinCard.PROFILE, program.id)]
    assert "<li>Your time zone: Europe/Berlin</li>" in reply["channelData"]["htmlBody"]


async def test_help_by_email_has_no_markdown_and_every_member_command_answers(
        parity: tuple[BotHarness, FakeLinks]) -> None:
    h, _links = parity
    program = await h.app.service.create_program("Pairs", "peer_pairs", "weekly")
    await email_only(h, "megan@example.com", "Megan Bowen", program_id=program.id)
    commands = ["help", "my matches", "progress", "pause", "resume", "my reviews", "my feedback", "leave"]
    for command in commands:
        assert (await h.post(email_activity(h.connector.url, "megan@example.com", command)))[0] == 200
    replies = h.connector.messages_to("email-thread-megan@example.com")
    assert len(replies) == len(commands)
    for reply in replies:
        html = reply["channelData"]["htmlBody"]
        assert reply["channelData"]["subject"] and html.startswith("<!DOCTYPE html>") and reply["text"].strip()
        assert "**" not in html and "**" not in reply["text"]
    help_html = replies[0]["channelData"]["htmlBody"]
    assert "<strong>join</strong>" in help_html and "<strong>my reviews</strong>" in help_html
    assert "Paused" in replies[3]["text"] and "You have left Pairs" in replies[-1]["text"]


async def test_help_by_email_without_links_does_not_promise_a_consent_step(harness: BotHarness) -> None:
    await harness.post(email_activity(harness.connector.url, "megan@example.com", "help"))
    (reply,) = harness.connector.messages_to("email-thread-megan@example.com")
    assert "I ask for your consent" not in reply["text"] and "join in Teams instead" in reply["text"]
    await harness.app.service.create_program("Pairs", "peer_pairs", "weekly")
    await harness.post(email_activity(harness.connector.url, "megan@example.com", "join"))
    answer = harness.connector.messages_to("email-thread-megan@example.com")[-1]
    assert "needs web links" in answer["text"] and "href" not in answer["channelData"]["htmlBody"]


async def test_review_requests_and_my_reviews_by_email_link_the_review_twin(
        parity: tuple[BotHarness, FakeLinks]) -> None:
    h, links = parity
    program = await h.app.service.create_program("Pairs", "peer_pairs", "weekly")
    megan = await email_only(h, "megan@example.com", "Megan Bowen", locale="de", program_id=program.id)
    await email_only(h, "alex@example.com", "Alex Wilber", program_id=program.id)
    await h.app.service.run_round(program.id, seed=1)
    await h.sender.drain(timeout_s=20)
    h.mailer.sent.clear()
    await h.app.assessment.open_assessment("Pairs", deadline=h.clock.now() + timedelta(days=3))
    await h.sender.drain(timeout_s=20)
    requests = mails_to(h, "megan@example.com")
    assert requests, "no review request by email"
    for mail in requests:  # the defect: "A message from peer coaching" with an empty body
        assert mail["subject"] != "A message from peer coaching" and "Alex Wilber" in mail["subject"] + mail["text"]
        assert "Bitte schreib sie bis" in mail["text"]  # German, the deadline in her zone
        assert [card for _pid, card, _subject in links.of(mail["text"])] == [TwinCard.REVIEW]
    await h.post(email_activity(h.connector.url, "megan@example.com", "my reviews", locale="de-DE"))
    (reply,) = h.connector.messages_to("email-thread-megan@example.com")
    made = links.of(reply["text"])
    assert made and all(pid == megan.id and card is TwinCard.REVIEW for pid, card, _subject in made)
    assert "Öffne Peer-Coaching in Teams" not in reply["text"]  # a link for every review: nothing else to say


async def test_someone_who_only_wrote_join_can_have_their_record_erased(parity: tuple[BotHarness, FakeLinks]) -> None:
    h, _links = parity
    await h.app.service.create_program("Pairs", "peer_pairs", "weekly")
    await h.post(email_activity(h.connector.url, "grace@example.com", "join", name="Grace Hopper"))
    assert await h.app.service.find_participant(email="grace@example.com") is not None
    await h.post(email_activity(h.connector.url, "grace@example.com", "leave erase", name="Grace Hopper"))
    assert await h.app.service.find_participant(email="grace@example.com") is None
    assert "erased" in h.connector.messages_to("email-thread-grace@example.com")[-1]["text"]


async def test_no_check_in_email_after_the_person_checked_in_on_the_twin(parity: tuple[BotHarness, FakeLinks]) -> None:
    h, links = parity
    person = await email_only(h, "megan@example.com", "Megan Bowen")
    await MatchCards(h.app.engine).advance(person.id, "m-gone-4", CardState.CHECKED_IN, h.clock.now())
    await queue(h, person, NotificationKind.CHECKIN_REMINDER, PAYLOADS[NotificationKind.CHECKIN_REMINDER])
    await queue(h, person, NotificationKind.CHECKIN, PAYLOADS[NotificationKind.CHECKIN])  # another match: sent
    await h.sender.drain(timeout_s=20)
    (mail,) = mails_to(h, "megan@example.com")
    assert [subject for _pid, _card, subject in links.of(mail["text"])] == ["m-gone-3"]


CIRCLE_PEOPLE = [("ann@example.com", "Ann Lee", "en"), ("bo@example.com", "Bo Berg", "de"),
          ("cy@example.com", "Cy Diaz", "en"), ("di@example.com", "Di Evans", "en")]


async def test_a_circle_intro_by_email_names_the_session_the_facilitator_and_the_members(
        parity: tuple[BotHarness, FakeLinks]) -> None:
    h, links = parity
    program = await h.app.service.create_program("Circles", "circle", "weekly")
    people = [await email_only(h, email, name, locale=locale, program_id=program.id)
              for email, name, locale in CIRCLE_PEOPLE]
    facilitators = []
    for session in (1, 2):
        h.mailer.sent.clear()
        result = await h.app.service.run_round(program.id, seed=session)
        (circle,) = result.matches
        await h.sender.drain(timeout_s=20)
        (facilitator,) = [m.participant_id for m in circle.members if m.role.value == "facilitator"]
        facilitators.append(facilitator)
        for person in people:
            (mail,) = mails_to(h, person.email)
            text = mail["text"]
            others = [p for p in people if p.id != person.id]
            assert all(p.email in text for p in others) and f"{person.email}" not in text.split("\n", 1)[1]
            if person.locale == "de":
                assert f"Treffen {session} von 6" in text
            else:
                assert f"Session {session} of 6" in text or f"session {session} of 6" in text
            if person.id == facilitator:
                assert ("You facilitate this session" in text) or ("Du moderierst dieses Treffen" in text)
            else:
                name = next(p.display_name for p in people if p.id == facilitator)
                assert name in text
            assert [card for pid, card, _subject in links.of(text)] == [TwinCard.INTRO]
    assert facilitators[0] != facilitators[1]  # the role rotates with the session
