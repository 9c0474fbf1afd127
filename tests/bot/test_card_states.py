"""Cards never go back: a person's match card follows the match's state for them, whatever arrives late.

HTTP level: real invoke activities posted to /api/messages, the sender delivering to the local Bot Connector,
which records every card edit.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from teams_app.adapters.bot.cards import VERB_CANCEL, VERB_CHECKIN, VERB_MET, VERB_RESCHEDULE
from teams_app.adapters.bot.delivery import Transport
from teams_app.adapters.bot.store import MatchCards
from teams_app.adapters.email.calendar import IcsCalendar
from teams_app.bootstrap.bot import BOT_KEY
from teams_app.domain.model import Meeting, MeetingStatus
from teams_app.domain.notifications import CardState
from tests.bot.conftest import BotHarness, User, card_action, make_user
from tests.bot.test_conversation import card_of, card_text, join, verbs


async def matched_pair(h: BotHarness, first: int) -> tuple[User, User, str, MatchCards]:
    await h.app.service.create_program("Pairs", "peer_pairs", "weekly")
    users = make_user(first), make_user(first + 1)
    for user in users:
        await join(h, user)
    result = await h.app.service.run_round("Pairs")
    await h.sender.drain(timeout_s=20)
    return users[0], users[1], result.matches[0].id, MatchCards(h.app.engine)


async def press(h: BotHarness, user: User, verb: str, data: dict[str, Any], cards: MatchCards) -> dict[str, Any]:
    """A button on the intro card, as Teams posts it: the invoke names the card's message in replyToId."""
    card = await cards.get(await person_id(h, user), str(data["match_id"]))
    status, body = await h.post(card_action(user, h.connector.url, verb, data,
                                            replyToId=card.activity_id if card else ""))
    assert status == 200
    return dict(body["value"])


async def person_id(h: BotHarness, user: User) -> str:
    person = await h.app.service.find_participant(aad_object_id=user.aad)
    assert person is not None
    return person.id


def booked(match_id: str, start: Any) -> Meeting:
    return Meeting(match_id, MeetingStatus.SCHEDULED, start, start + timedelta(minutes=30),
                   "https://teams.example/join/1", external_id="AAMkAGraphEvent1")


def edits_of(h: BotHarness, user: User) -> list[dict[str, Any]]:
    return [u.activity for u in h.connector.updates if u.conversation_id == user.conversation_id]


async def test_intro_records_its_message_and_the_intro_state(harness: BotHarness) -> None:
    first, second, match_id, cards = await matched_pair(harness, 100)
    for user in (first, second):
        card = await cards.get(await person_id(harness, user), match_id)
        assert card is not None and card.state is CardState.INTRO and card.version == 1
        assert card.activity_id.startswith("activity-")


async def test_booking_after_we_met_keeps_the_checkin_form_and_sends_a_message(harness: BotHarness) -> None:
    first, second, match_id, cards = await matched_pair(harness, 110)
    start = harness.clock.now() + timedelta(days=2)
    await harness.app.service.record_meeting(booked(match_id, start))
    await harness.sender.drain(timeout_s=20)
    assert len(edits_of(harness, first)) == 1  # while the card is the intro, its meeting line is edited
    form = await press(harness, first, VERB_MET, {"match_id": match_id}, cards)
    assert verbs(form) == [VERB_CHECKIN]
    await harness.app.service.record_meeting(booked(match_id, start + timedelta(hours=3)))  # moved later
    await harness.sender.drain(timeout_s=20)
    assert len(edits_of(harness, first)) == 1  # the check-in form they are filling is left alone
    last = harness.replies(first)[-1]
    assert "booked for" in last["text"] and "attachments" not in last
    # The partner still sees the intro: only its meeting line changes.
    edited = edits_of(harness, second)[-1]["attachments"][0]["content"]
    assert verbs(edited)[0] == VERB_MET and "Meeting booked" in card_text(edited)


async def test_thank_you_card_stays_after_reminder_and_reschedule(harness: BotHarness) -> None:
    first, _second, match_id, cards = await matched_pair(harness, 120)
    await press(harness, first, VERB_MET, {"match_id": match_id}, cards)
    good = {"match_id": match_id, "met": "yes", "usefulness": "4", "learned": "a", "next_step": "b"}
    thanks = await press(harness, first, VERB_CHECKIN, good, cards)
    assert "actions" not in thanks and "saved" in card_text(thanks)
    assert (await cards.get(await person_id(harness, first), match_id)).state is CardState.CHECKED_IN  # type: ignore[union-attr]
    # A stale We met on the old intro shows the thank-you again, not an empty form.
    again = await press(harness, first, VERB_MET, {"match_id": match_id}, cards)
    assert "actions" not in again and "saved" in card_text(again)
    # A meeting that arrives now is news in a message; the thanks card is never edited back.
    start = harness.clock.now() + timedelta(days=1)
    await harness.app.service.record_meeting(booked(match_id, start))
    harness.clock.advance(timedelta(days=8))
    await harness.client.server.app[BOT_KEY]["reminders"].scan()
    await harness.sender.drain(timeout_s=20)
    assert edits_of(harness, first) == []
    assert all(not verbs(card_of(a)) or VERB_MET not in verbs(card_of(a))
               for a in harness.replies(first)[1:] if a.get("attachments"))


async def test_checkin_from_the_separate_card_also_closes_the_intro_card(harness: BotHarness) -> None:
    first, _second, match_id, _cards = await matched_pair(harness, 130)
    good = {"match_id": match_id, "met": "yes", "usefulness": "5", "learned": "", "next_step": ""}
    status, body = await harness.post(card_action(first, harness.connector.url, VERB_CHECKIN, good,
                                                  replyToId="activity-somewhere-else"))
    assert status == 200 and "saved" in card_text(body["value"])
    edited = edits_of(harness, first)[-1]["attachments"][0]["content"]
    assert "actions" not in edited and "saved" in card_text(edited)


async def test_cancel_and_reschedule_are_states_that_do_not_go_back(harness: BotHarness) -> None:
    first, _second, match_id, cards = await matched_pair(harness, 140)
    moved = await press(harness, first, VERB_RESCHEDULE, {"match_id": match_id}, cards)
    assert "actions" not in moved and "new time" in card_text(moved)
    off = await press(harness, first, VERB_CANCEL, {"match_id": match_id}, cards)
    assert "can't make it" in card_text(off)
    stale = await press(harness, first, VERB_RESCHEDULE, {"match_id": match_id}, cards)
    assert "can't make it" in card_text(stale)  # still the cancelled card
    assert (await cards.get(await person_id(harness, first), match_id)).state is CardState.CANCELLED  # type: ignore[union-attr]


async def test_no_booking_after_they_said_they_met_or_cancelled(harness: BotHarness) -> None:
    first, _second, match_id, cards = await matched_pair(harness, 150)
    calendar = IcsCalendar(now=harness.clock.now)
    await press(harness, first, VERB_MET, {"match_id": match_id}, cards)
    assert await harness.app.service.book_open_matches(calendar) == 0
    async with harness.app.uow_factory() as uow:
        meeting = await uow.meetings.get(match_id)
    assert meeting is not None and meeting.status is MeetingStatus.HELD
    # A booking that was already under way when they pressed We met is not recorded either.
    await harness.app.service.record_meeting(booked(match_id, harness.clock.now() + timedelta(days=1)))
    async with harness.app.uow_factory() as uow:
        meeting = await uow.meetings.get(match_id)
    assert meeting is not None and meeting.status is MeetingStatus.CANCELLED  # the Graph event is taken back


async def test_no_booking_after_a_pair_member_cancelled(harness: BotHarness) -> None:
    first, _second, match_id, cards = await matched_pair(harness, 160)
    await press(harness, first, VERB_CANCEL, {"match_id": match_id}, cards)
    assert await harness.app.service.book_open_matches(IcsCalendar(now=harness.clock.now)) == 0


class ClickDuringEdit:
    """A transport whose card edit is overtaken by the person's click: the invoke is handled mid-edit."""

    def __init__(self, inner: Transport, click: Any, conversation_id: str) -> None:
        self._inner = inner
        self._click = click
        self._conversation_id = conversation_id
        self.clicked = False

    async def send(self, reference: Mapping[str, Any], activity: Mapping[str, Any]) -> str:
        return await self._inner.send(reference, activity)

    async def update(self, reference: Mapping[str, Any], activity_id: str, activity: Mapping[str, Any]) -> None:
        if not self.clicked and reference.get("conversation", {}).get("id") == self._conversation_id:
            self.clicked = True
            await self._click()  # the click's answer replaces the card first ...
        await self._inner.update(reference, activity_id, activity)  # ... then the stale edit lands


async def test_a_stale_edit_racing_a_click_is_corrected_to_the_current_state(harness: BotHarness) -> None:
    first, _second, match_id, cards = await matched_pair(harness, 170)
    sender = harness.sender

    async def click() -> None:
        await press(harness, first, VERB_MET, {"match_id": match_id}, cards)

    racing = ClickDuringEdit(sender._transport, click, first.conversation_id)  # the seam where the race happens
    sender._transport = racing
    await harness.app.service.record_meeting(booked(match_id, harness.clock.now() + timedelta(days=2)))
    await sender.drain(timeout_s=20)
    assert racing.clicked
    edits = edits_of(harness, first)
    assert len(edits) == 2
    assert verbs(edits[0]["attachments"][0]["content"])[0] == VERB_MET  # the late intro edit ...
    assert verbs(edits[-1]["attachments"][0]["content"]) == [VERB_CHECKIN]  # ... is replaced by the form
    state = await cards.get(await person_id(harness, first), match_id)
    assert state is not None and state.state is CardState.CHECKIN_OPEN


async def test_concurrent_changes_keep_the_latest_state(harness: BotHarness) -> None:
    _first, _second, match_id, cards = await matched_pair(harness, 180)
    pid = "p-race"
    wanted = [CardState.INTRO, CardState.CHECKIN_OPEN, CardState.RESCHEDULING, CardState.CHECKED_IN,
              CardState.INTRO] * 4
    await asyncio.gather(*(cards.advance(pid, match_id, s, harness.clock.now()) for s in wanted))
    final = await cards.get(pid, match_id)
    assert final is not None and final.state is CardState.CHECKED_IN
    assert (await cards.advance(pid, match_id, CardState.INTRO, harness.clock.now())).state is CardState.CHECKED_IN
