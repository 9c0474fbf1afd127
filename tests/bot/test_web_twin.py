"""Web twins of cards over HTTP: the real web app on a real port, emails from the real outbox sender.

An email-only person's review request links to the rubric card's twin; the page takes an invalid then a valid
review through the bot's own card action handler; replay, another browser session, a POST with only the URL,
a changed or expired link, and verbs of another card are refused; match cards show their current state.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession, CookieJar

from teams_app.adapters.bot import cards
from teams_app.adapters.web.links import LinkSigner
from teams_app.adapters.web.pages import COOKIE
from teams_app.domain.assessment.lifecycle import ReviewStatus
from teams_app.domain.model import Profile
from teams_app.domain.notifications import TwinCard
from teams_app.service.ports import NoCardLinks
from teams_app.service.use_cases import ParticipantInput
from tests.bot.conftest import FakeMailer
from tests.bot.twin_support import (
    RATINGS,
    EmailPair,
    TwinApp,
    email_pair,
    link_in,
    mail_to,
    page_state,
    start_twin_app,
)


@pytest.fixture
def mailer() -> FakeMailer:
    return FakeMailer()


@pytest.fixture
async def twin(tmp_path: Path, mailer: FakeMailer) -> AsyncIterator[TwinApp]:
    t = await start_twin_app(tmp_path, mailer)
    try:
        yield t
    finally:
        await t.close()


@pytest.fixture
async def pair(twin: TwinApp) -> EmailPair:
    return await email_pair(twin)


async def open_page(session: ClientSession, link: str) -> tuple[int, str]:
    async with session.get(link) as response:
        return response.status, await response.text()


async def act(session: ClientSession, link: str, verb: str, data: dict[str, Any], action: str,
              proof: str) -> tuple[int, dict[str, Any]]:
    async with session.post(f"{link}/action", json={"verb": verb, "data": data, "action": action,
                                                    "proof": proof}) as response:
        return response.status, await response.json()


def browser() -> ClientSession:
    return ClientSession(cookie_jar=CookieJar(unsafe=True))  # a browser of its own: its own cookies


def signer(t: TwinApp) -> LinkSigner:
    found = t.app.link_signer
    assert found is not None
    return found


async def test_review_email_links_to_a_twin_that_takes_an_invalid_then_a_valid_review(
        twin: TwinApp, pair: EmailPair, mailer: FakeMailer) -> None:
    mail = mail_to(mailer.sent, "ada@example.com", "Please review Ben Becker")
    assert "Ben Becker" in mail["text"] and "Europe" not in mail["subject"]
    assert "Central European Standard Time" in mail["text"], "the deadline in Ada's zone"
    link = link_in(mail["text"])
    assert link in mail["html"] and "ada" not in link.lower() and "ben" not in link.lower()
    review_id = pair.review_of(pair.ada)
    async with browser() as session:
        status, page = await open_page(session, link)
        assert status == 200
        action, proof, card = page_state(page)
        assert "Peer review of Ben Becker" in json.dumps(card)
        status, answer = await act(session, link, "assessment.submit",
                                   {"review_id": review_id, "assessment_id": pair.opened.assessment.id,
                                    "ratings.active-listening": "3"}, action, proof)
        assert status == 200
        assert "Please check the fields marked below." in json.dumps(answer["card"])
        assert "Choose a level for 'Powerful questions'" in json.dumps(answer["card"])
        task = await twin.app.assessment.get_task(review_id, pair.ada.id)
        assert task.review.status is not ReviewStatus.SUBMITTED
        status, answer = await act(session, link, "assessment.submit", {
            "review_id": review_id, "assessment_id": pair.opened.assessment.id, **RATINGS,
            "comment": "Clear questions"}, answer["action"], answer["proof"])
        assert status == 200, answer
    task = await twin.app.assessment.get_task(review_id, pair.ada.id)
    assert task.review.status is ReviewStatus.SUBMITTED and task.review.comment == "Clear questions"
    assert task.review.ratings["goal-setting"] == 4


async def test_german_review_email_is_german_with_the_deadline_in_bens_zone(
        twin: TwinApp, pair: EmailPair, mailer: FakeMailer) -> None:
    mail = mail_to(mailer.sent, "ben@example.com", "Ada Lovelace")
    assert mail["subject"].startswith("Bitte schätze Ada Lovelace ein")
    assert "Mitteleuropäische Normalzeit" in mail["text"] and "Hallo Ben Becker," in mail["text"]
    async with browser() as session:
        status, page = await open_page(session, link_in(mail["text"]))
    assert status == 200 and '<html lang="de">' in page
    assert "Peer-Einschätzung für Ada Lovelace" in json.dumps(page_state(page)[2], ensure_ascii=False)


async def test_a_replayed_action_is_refused_and_the_card_as_it_is_now_comes_back(
        twin: TwinApp, pair: EmailPair, mailer: FakeMailer) -> None:
    link = link_in(mail_to(mailer.sent, "ada@example.com", "Please review")["text"])
    review_id = pair.review_of(pair.ada)
    data = {"review_id": review_id, "assessment_id": pair.opened.assessment.id, **RATINGS}
    async with browser() as session:
        action, proof, _card = page_state((await open_page(session, link))[1])
        assert (await act(session, link, "assessment.submit", data, action, proof))[0] == 200
        status, answer = await act(session, link, "assessment.withdraw", data, action, proof)
        assert status == 409 and answer["title"] == "Already sent"
        assert "Update review" in json.dumps(answer["card"]), "the current card, not the spent one"
    task = await twin.app.assessment.get_task(review_id, pair.ada.id)
    assert task.review.status is ReviewStatus.SUBMITTED, "the replayed withdraw did nothing"


async def test_a_post_with_only_the_url_or_another_sessions_cookie_cannot_act(
        twin: TwinApp, pair: EmailPair, mailer: FakeMailer) -> None:
    link = link_in(mail_to(mailer.sent, "ada@example.com", "Please review")["text"])
    data = {"review_id": pair.review_of(pair.ada), "assessment_id": pair.opened.assessment.id, **RATINGS}
    async with browser() as ada, browser() as other:
        action, proof, _card = page_state((await open_page(ada, link))[1])
        # Only the URL (and even the page's proof, copied): no session cookie of that page.
        status, answer = await act(other, link, "assessment.submit", data, action, proof)
        assert status == 403 and "only in the browser where the link was opened" in answer["message"]
        # Another browser opens the link itself, but Ada acted first: the link is hers now.
        assert (await act(ada, link, "assessment.submit", data, action, proof))[0] == 200
        other_action, other_proof, _card = page_state((await open_page(other, link))[1])
        status, answer = await act(other, link, "assessment.withdraw", data, other_action, other_proof)
        assert status == 403 and "another browser" in answer["message"]
        # A forged cookie with the other's proof is still not Ada's session.
        other.cookie_jar.update_cookies({COOKIE: "A" * 32})
        status, _answer = await act(other, link, "assessment.withdraw", data, other_action, other_proof)
        assert status == 403
    task = await twin.app.assessment.get_task(pair.review_of(pair.ada), pair.ada.id)
    assert task.review.status is ReviewStatus.SUBMITTED


async def test_a_changed_link_says_it_is_not_valid_and_an_expired_one_how_to_get_a_new_one(
        twin: TwinApp, pair: EmailPair, mailer: FakeMailer) -> None:
    link = link_in(mail_to(mailer.sent, "ada@example.com", "Please review")["text"])
    body, mac = link.rsplit("/", 1)[1].split(".")
    forged = link.rsplit("/", 1)[0] + "/" + body[:-2] + ("AA" if body[-2:] != "AA" else "BB") + "." + mac
    async with browser() as session:
        status, page = await open_page(session, forged)
        assert status == 404 and "This link is not valid" in page
        status, answer = await act(session, forged, "assessment.submit", {}, "x", "y")
        assert status == 404 and answer["title"] == "This link is not valid"
        action, proof, _card = page_state((await open_page(session, link))[1])
        twin.clock.advance(timedelta(hours=49))
        status, page = await open_page(session, link)
        assert status == 410 and "This link has expired" in page and "say &#x27;help&#x27;" in page
        status, answer = await act(session, link, "assessment.submit", {"review_id": pair.review_of(pair.ada),
                                                                          **RATINGS}, action, proof)
        assert status == 410 and answer["title"] == "This link has expired"


async def test_a_link_acts_only_on_its_own_card_and_subject(twin: TwinApp, pair: EmailPair,
                                                             mailer: FakeMailer) -> None:
    link = link_in(mail_to(mailer.sent, "ada@example.com", "Please review")["text"])
    bens_review = pair.review_of(pair.ben)
    async with browser() as session:
        action, proof, _card = page_state((await open_page(session, link))[1])
        status, answer = await act(session, link, "assessment.submit", {
            "review_id": bens_review, "assessment_id": pair.opened.assessment.id, **RATINGS}, action, proof)
        assert status == 200 and "This card is out of date" in json.dumps(answer["card"])
        status, answer = await act(session, link, cards.VERB_LEAVE_ERASE, {"program_id": "x"},
                                   answer["action"], answer["proof"])
        assert status == 200 and "This card is out of date" in json.dumps(answer["card"])
    assert (await twin.app.assessment.get_task(bens_review, pair.ben.id)).review.status is not ReviewStatus.SUBMITTED
    assert await twin.app.assessment.participant(pair.ada.id) is not None, "not erased"


async def test_intro_and_check_in_twins_follow_the_match_card_forward_only(twin: TwinApp, pair: EmailPair) -> None:
    match_id = (await twin.app.service.my_matches(pair.ada.id))[0].match.id
    links = signer(twin)
    intro = links.link(pair.ada.id, TwinCard.INTRO, match_id)
    check_in = links.link(pair.ada.id, TwinCard.CHECK_IN, match_id)
    assert intro and check_in
    async with browser() as session:
        action, proof, card = page_state((await open_page(session, intro))[1])
        assert cards.verbs_of(card) == [cards.VERB_MET, cards.VERB_RESCHEDULE, cards.VERB_CANCEL]
        assert "Ben Becker" in json.dumps(card)
        status, answer = await act(session, intro, cards.VERB_MET, {"match_id": match_id}, action, proof)
        assert status == 200 and cards.verbs_of(answer["card"]) == [cards.VERB_CHECKIN]
        action, proof, card = page_state((await open_page(session, check_in))[1])
        assert cards.verbs_of(card) == [cards.VERB_CHECKIN]
        status, answer = await act(session, check_in, cards.VERB_CHECKIN, {"match_id": match_id, "met": "yes"},
                                   action, proof)
        assert "Tell us how useful it was, from 1 to 5." in json.dumps(answer["card"])
        status, answer = await act(session, check_in, cards.VERB_CHECKIN, {
            "match_id": match_id, "met": "yes", "usefulness": "4", "learned": "Ask first"},
            answer["action"], answer["proof"])
        assert "Your check-in is saved" in json.dumps(answer["card"])
        _action, _proof, card = page_state((await open_page(session, intro))[1])
        assert "Your check-in is saved" in json.dumps(card) and cards.verbs_of(card) == [], "no older card"


async def test_profile_twin_saves_the_profile_and_consent_twin_knows_who_takes_part(
        twin: TwinApp, pair: EmailPair) -> None:
    links = signer(twin)
    program = (await twin.app.service.list_programs())[0]
    profile = links.link(pair.ada.id, TwinCard.PROFILE, program.id)
    consent = links.link(pair.ada.id, TwinCard.CONSENT, program.id)
    assert profile and consent
    async with browser() as session:
        action, proof, card = page_state((await open_page(session, profile))[1])
        values = {i["id"]: i.get("value", "") for i in card["body"] if isinstance(i, dict) and "id" in i}
        status, answer = await act(session, profile, cards.VERB_PROFILE, {
            **values, "enrolling": False, "department": "Research", "time_zone": "Europe/Berlin"}, action, proof)
        assert status == 200 and "Profile saved" in json.dumps(answer["card"]), answer
        _action, _proof, card = page_state((await open_page(session, consent))[1])
        assert "You are already taking part" in json.dumps(card) and cards.verbs_of(card) == []
    person = await twin.app.assessment.participant(pair.ada.id)
    assert person is not None and person.profile.department == "Research"


async def test_feedback_email_links_to_the_feedback_twin(twin: TwinApp, pair: EmailPair, mailer: FakeMailer) -> None:
    for review in pair.opened.reviews:
        await twin.app.assessment.submit_review(review.id, review.reviewer_id, {
            k.removeprefix("ratings."): int(v) for k, v in RATINGS.items()}, comment="Clear questions")
    twin.clock.advance(timedelta(days=4))
    await twin.app.assessment.release_results(pair.opened.assessment.id)
    await twin.sender.drain(timeout_s=20)
    mail = mail_to(mailer.sent, "ada@example.com", "Your peer feedback")
    link = link_in(mail["text"])
    assert link in mail["html"] and "Open your feedback" in mail["text"]
    async with browser() as session:
        status, page = await open_page(session, link)
    assert status == 200 and "Clear questions" in json.dumps(page_state(page)[2])


async def test_pages_forbid_outside_scripts_and_referrers_and_serve_the_vendored_renderer(
        twin: TwinApp, pair: EmailPair, mailer: FakeMailer) -> None:
    link = link_in(mail_to(mailer.sent, "ada@example.com", "Please review")["text"])
    async with browser() as session:
        async with session.get(link) as response:
            page = await response.text()
            assert "script-src 'self'" in response.headers["Content-Security-Policy"]
            assert response.headers["Referrer-Policy"] == "no-referrer"
            assert response.headers["Cache-Control"] == "no-store"
            cookie = response.cookies[COOKIE]
            assert cookie["httponly"] and cookie["samesite"] == "Lax" and cookie["path"] == "/twin"
        assert "<script>" not in page and "http" not in page.split("<body>")[1].split("twin-card")[0]
        async with session.get(f"{twin.base_url}/twin/static/adaptivecards.min.js") as response:
            assert response.status == 200 and b"AdaptiveCards" in await response.read()
        async with session.get(f"{twin.base_url}/twin/static/package.json") as response:
            assert response.status == 404


async def test_bad_action_bodies_are_answered_with_400(twin: TwinApp, pair: EmailPair, mailer: FakeMailer) -> None:
    link = link_in(mail_to(mailer.sent, "ada@example.com", "Please review")["text"])
    async with browser() as session:
        await open_page(session, link)
        bodies = (b"not json", b"[1, 2]", json.dumps({"verb": 3}).encode(),
                  json.dumps({"verb": "x", "data": []}).encode())
        for body in bodies:
            async with session.post(f"{link}/action", data=body,
                                    headers={"Content-Type": "application/json"}) as response:
                assert response.status == 400, body
        async with session.post(f"{link}/action", data=b"x" * (70 * 1024)) as response:
            assert response.status == 413


async def test_without_a_key_there_are_no_links_and_no_twin_routes(tmp_path: Path, mailer: FakeMailer) -> None:
    t = await start_twin_app(tmp_path, mailer, web_twin={"signing_key": ""})
    try:
        assert isinstance(t.app.card_links, NoCardLinks) and t.app.link_signer is None
        pair = await email_pair(t)
        mail = mail_to(mailer.sent, "ada@example.com", "Please review")
        assert "/twin/" not in mail["text"] and "in your chat with me in Teams" in mail["text"]
        assert pair.opened.reviews
        async with browser() as session:
            async with session.get(f"{t.base_url}/twin/anything") as response:
                assert response.status == 404
    finally:
        await t.close()


async def test_reminder_email_is_complete_and_links_to_the_review_as_it_is_now(
        twin: TwinApp, pair: EmailPair, mailer: FakeMailer) -> None:
    twin.clock.advance(timedelta(days=1, hours=1))  # 47 hours before the deadline: the first reminder is due
    assert await twin.app.assessment.send_reminders()
    await twin.sender.drain(timeout_s=20)
    mail = mail_to(mailer.sent, "ada@example.com", "Reminder: your review of Ben Becker is due")
    assert "Central European Standard Time" in mail["subject"] and "Hi Ada Lovelace," in mail["text"]
    assert "Open the review" in mail["html"] and mail["html"].startswith("<!DOCTYPE html>")
    german = mail_to(mailer.sent, "ben@example.com", "Erinnerung: Deine Einschätzung für Ada Lovelace")
    assert "Mitteleuropäische Normalzeit" in german["subject"]
    async with browser() as session:
        status, page = await open_page(session, link_in(mail["text"]))
    assert status == 200 and "Submit review" in json.dumps(page_state(page)[2])


async def test_a_person_who_has_not_consented_joins_through_the_consent_twin(twin: TwinApp) -> None:
    """The email join path: a known person (no enrollment) opens the consent twin, consents, fills the profile."""
    program = await twin.app.service.create_program("Circles", "peer_pairs", "weekly")
    person = await twin.app.service.register(ParticipantInput(
        email="grace@example.com", display_name="Grace Hopper", locale="en",
        profile=Profile(time_zone="America/New_York")))
    link = signer(twin).link(person.id, TwinCard.CONSENT, program.id)
    assert link is not None
    async with browser() as session:
        action, proof, card = page_state((await open_page(session, link))[1])
        assert cards.verbs_of(card) == [cards.VERB_CONSENT] and "What I store" in json.dumps(card)
        status, answer = await act(session, link, cards.VERB_CONSENT, {"consent": True}, action, proof)
        form = answer["card"]
        assert status == 200 and cards.verbs_of(form) == [cards.VERB_PROFILE]
        assert "America/New_York" in json.dumps(form), "the profile form starts at the person's zone"
        (submit,) = [a for a in form["actions"] if a.get("verb") == cards.VERB_PROFILE]
        status, answer = await act(session, link, cards.VERB_PROFILE, {
            **submit["data"], "time_zone": "America/New_York", "working_hours": "09:00-17:00", "languages": "en",
            "department": "Navy"}, answer["action"], answer["proof"])
        assert status == 200 and "You have joined Circles" in json.dumps(answer["card"]), answer
        _action, _proof, card = page_state((await open_page(session, link))[1])
        assert "You are already taking part" in json.dumps(card)
    progress = await twin.app.service.progress(person.id)
    assert program.id in progress.programs
    joined = await twin.app.assessment.participant(person.id)
    assert joined is not None and joined.email == "grace@example.com" and joined.display_name == "Grace Hopper"


async def test_a_link_of_a_person_who_left_and_was_erased_shows_that_the_card_is_gone(
        twin: TwinApp, pair: EmailPair, mailer: FakeMailer) -> None:
    link = link_in(mail_to(mailer.sent, "ada@example.com", "Please review")["text"])
    async with browser() as session:
        action, proof, _card = page_state((await open_page(session, link))[1])
        await twin.app.service.leave(pair.opened.assessment.program_id, pair.ada.id, erase=True)
        status, page = await open_page(session, link)
        assert status == 410 and "This card is not available" in page
        status, answer = await act(session, link, "assessment.withdraw",
                                   {"review_id": pair.review_of(pair.ada)}, action, proof)
        assert status == 410 and answer["title"] == "This card is not available"
