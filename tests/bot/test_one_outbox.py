"""One notification outbox, end to end through the real ``/api/messages`` and the local Bot Connector.

- An assessment reminder is queued in the transaction that marks it sent: when its first delivery fails
  (the Bot Connector answers 503), the sender retries it and the person still gets it.
- Reschedule and cancel from a card are use cases: domain events, partner notices and learning records in
  the xAPI outbox, all from one invoke.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from lrs_bridge.outbox import outbox_table
from lrs_bridge.vocabulary import Extensions, Verbs
from teams_app.adapters.db.bot_tables import bot_notifications
from teams_app.domain import events as ev
from teams_app.domain.notifications import NotificationKind
from teams_app.service.ports import UnitOfWork
from teams_app.service.use_cases import ParticipantInput
from tests.bot.conftest import BotHarness, card_action, make_user, teams_activity
from tests.bot.test_conversation import card_of, card_text, join


async def round_of_two(harness: BotHarness, first_n: int) -> tuple[Any, Any, str]:
    await harness.app.service.create_program("Pairs", "peer_pairs", "weekly")
    first, second = make_user(first_n), make_user(first_n + 1)
    for user in (first, second):
        await join(harness, user)
    await harness.post(teams_activity(make_user(1), harness.connector.url, text="round run Pairs"))
    await harness.sender.drain(timeout_s=20)
    match_id = card_of(harness.replies(first)[-1])["actions"][0]["data"]["match_id"]
    return first, second, match_id


async def test_a_reminder_whose_first_delivery_fails_is_retried_and_arrives(harness: BotHarness) -> None:
    first, second, _ = await round_of_two(harness, 70)
    opened = await harness.app.assessment.open_assessment("Pairs", deadline=harness.clock.now() + timedelta(days=3),
                                                          reminder_hours=(24,))
    await harness.sender.drain(timeout_s=20)
    harness.connector.scripted[first.conversation_id].append((503, {}))  # the next send to `first` fails once
    harness.clock.advance(timedelta(days=2, hours=1))  # inside the 24 h reminder window

    reminded = await harness.app.assessment.send_reminders()
    assert {e.reviewer_id for e in reminded} == {r.reviewer_id for r in opened.reviews}
    await harness.sender.drain(timeout_s=30)

    assert [status for cid, status, _ in harness.connector.rejected if cid == first.conversation_id] == [503]
    async with harness.app.engine.connect() as conn:
        rows = (await conn.execute(sa.select(bot_notifications).where(
            bot_notifications.c.kind == NotificationKind.REVIEW_REMINDER.value))).all()
    assert len(rows) == 2 and {r.status for r in rows} == {"sent"}
    person = await harness.app.service.find_participant(aad_object_id=first.aad)
    assert person is not None
    (retried,) = [r for r in rows if r.participant_id == person.id]
    assert retried.attempts == 2 and retried.channel == "teams"  # failed once, delivered on the retry
    assert harness.mailer.sent == []  # by Teams, not given up to the email fallback
    for user in (first, second):  # the review request, then the reminder: both the rubric card to fill in
        rubric_cards = [a for a in harness.replies(user) if a.get("attachments") and any(
            action.get("verb") == "assessment.submit" for action in card_of(a).get("actions", []))]
        assert len(rubric_cards) == 2, user.name


async def test_reschedule_and_cancel_from_a_card_record_events_and_learning_records(harness: BotHarness) -> None:
    seen: list[ev.Event] = []

    async def record(event: ev.Event, uow: UnitOfWork) -> None:
        seen.append(event)

    harness.app.bus.in_transaction(ev.MeetingRescheduleRequested, record)
    harness.app.bus.in_transaction(ev.MeetingCancelled, record)
    first, second, match_id = await round_of_two(harness, 80)
    url = harness.connector.url

    status, body = await harness.post(card_action(first, url, "match.reschedule", {"match_id": match_id}))
    assert status == 200 and "Your partner has been told" in card_text(body["value"])
    status, body = await harness.post(card_action(first, url, "match.cancel", {"match_id": match_id}))
    assert status == 200 and "Your partner has been told" in card_text(body["value"])
    # Not this person's match, or a match that does not exist: a polite card, no event.
    stranger = make_user(89)
    await join(harness, stranger)
    status, body = await harness.post(card_action(stranger, url, "match.cancel", {"match_id": match_id}))
    assert status == 200 and "Your partner has been told" not in card_text(body["value"])

    assert [type(e) for e in seen] == [ev.MeetingRescheduleRequested, ev.MeetingCancelled]
    assert all(e.match_id == match_id for e in seen)  # type: ignore[attr-defined]
    async with harness.app.engine.connect() as conn:
        statements = [json.loads(p) for p in (await conn.execute(sa.select(outbox_table.c.payload))).scalars()]
    changes = [s for s in statements if s["verb"]["id"] in (Verbs.REQUESTED_RESCHEDULE, Verbs.CANCELLED)]
    assert sorted(s["verb"]["id"] for s in changes) == sorted([Verbs.REQUESTED_RESCHEDULE, Verbs.CANCELLED])
    assert {s["actor"]["mbox"] for s in changes} == {f"mailto:{first.email}"}
    assert all(match_id in s["object"]["id"] and "result" not in s for s in changes)  # a result is the actor's
    (cancelled,) = [s for s in changes if s["verb"]["id"] == Verbs.CANCELLED]
    assert cancelled["context"]["extensions"][Extensions.MEETING_CALLED_OFF] is False  # none was booked to call off
    await harness.sender.drain(timeout_s=20)
    said = "\n".join(str(a.get("text") or "") for a in harness.replies(second))
    assert "asked to find a new time" in said and "can't make your Pairs session" in said


async def test_a_review_card_shows_the_state_when_it_is_sent_not_when_it_was_queued(harness: BotHarness) -> None:
    first, second, _ = await round_of_two(harness, 75)
    await harness.app.assessment.open_assessment("Pairs", deadline=harness.clock.now() + timedelta(days=3))
    # Queued, not yet sent: the reviewee changes their name in between.
    reviewee = await harness.app.service.find_participant(aad_object_id=second.aad)
    assert reviewee is not None
    await harness.app.service.register(ParticipantInput(reviewee.email, "Renamed Person",
                                                        aad_object_id=reviewee.aad_object_id))
    await harness.sender.drain(timeout_s=20)
    sent = [card_of(a) for a in harness.replies(first) if a.get("attachments")
            and any(x.get("verb") == "assessment.submit" for x in card_of(a).get("actions", []))]
    assert len(sent) == 1
    assert "Renamed Person" in json.dumps(sent[0]) and second.name not in json.dumps(sent[0])
    async with harness.app.engine.connect() as conn:
        queued = (await conn.execute(sa.select(bot_notifications.c.payload).where(
            bot_notifications.c.participant_id != reviewee.id,
            bot_notifications.c.kind == NotificationKind.REVIEW_REQUESTED.value))).scalar_one()
    assert second.name in json.dumps(queued)  # the row keeps what was queued; the card was rendered at send time


async def test_an_intro_shows_the_partner_as_they_are_when_it_is_sent(harness: BotHarness) -> None:
    await harness.app.service.create_program("Pairs", "peer_pairs", "weekly")
    first, second = make_user(85), make_user(86)
    for user in (first, second):
        await join(harness, user)
    await harness.sender.drain(timeout_s=20)
    await harness.app.service.run_round("Pairs")  # intros queued with the names as they are now
    partner = await harness.app.service.find_participant(aad_object_id=second.aad)
    assert partner is not None
    await harness.app.service.register(ParticipantInput(partner.email, "Second Renamed",
                                                        aad_object_id=partner.aad_object_id))
    await harness.sender.drain(timeout_s=20)
    intro = json.dumps(card_of(harness.replies(first)[-1]))
    assert "Second Renamed" in intro and second.name not in intro
