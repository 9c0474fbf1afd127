"""Words over HTTP: the welcome remembered in the database, German commands, proposed meetings by email."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from teams_app.domain.model import Meeting, MeetingStatus
from tests.bot.conftest import BotHarness, make_user, start_harness, teams_activity
from tests.bot.test_conversation import card_of, join, texts

BOT = {"dev_mode": True, "admins": ["aad-0001"], "per_conversation_rps": 50, "per_tenant_rps": 500}


async def test_the_welcome_is_shown_once_per_person_and_conversation_even_after_a_restart(tmp_path: Path) -> None:
    user = make_user(200)
    for _restart in range(2):
        h = await start_harness(tmp_path, bot=BOT)
        try:
            if not _restart:
                await h.app.service.create_program("Pairs", "peer_pairs", "weekly")
            for type_, extra in (("conversationUpdate", {"membersAdded": [{"id": "28:peercoach-bot"}]}),
                                 ("installationUpdate", {"action": "add"})):
                assert (await h.post(teams_activity(user, h.connector.url, type_=type_, **extra)))[0] == 200
            welcomes = len(h.replies(user))
        finally:
            await h.client.close()
            await h.connector.close()
        assert welcomes == (0 if _restart else 1)


async def test_german_commands_are_understood_and_help_answers_in_german(harness: BotHarness) -> None:
    user = make_user(210)
    await harness.app.service.create_program("Paare", "peer_pairs", "fortnightly")
    for text in ("hilfe", "meine matches", "fortschritt"):
        await harness.post(teams_activity(user, harness.connector.url, text=text, locale="de-DE"))
    said = texts(harness.replies(user))
    assert "**meine matches**" in said and "**fortsetzen**" in said  # help lists the German words
    assert "nicht verstanden" not in said
    admin = make_user(1)
    await harness.post(teams_activity(admin, harness.connector.url, text="program list"))
    listed = texts(harness.replies(admin))
    assert "peer coaching in pairs, every two weeks" in listed and "peer_pairs" not in listed


async def test_a_proposed_meeting_is_called_proposed_and_mailed_with_its_invitation(harness: BotHarness) -> None:
    await harness.app.service.create_program("Pairs", "peer_pairs", "weekly")
    first, second = make_user(220), make_user(221)
    for user in (first, second):
        await join(harness, user)
    result = await harness.app.service.run_round("Pairs")
    await harness.sender.drain(timeout_s=20)
    person = await harness.app.service.find_participant(aad_object_id=second.aad)
    assert person is not None
    await harness.app.service.set_teams_reachable(person.id, False)  # the second is reached by email
    start = harness.clock.now() + timedelta(days=2)
    await harness.app.service.record_meeting(Meeting(  # what the calendar without Graph returns: a proposal
        result.matches[0].id, MeetingStatus.SCHEDULED, start, start + timedelta(minutes=30),
        external_id=f"{result.matches[0].id}@peercoach"))
    await harness.sender.drain(timeout_s=20)
    edited = [u.activity for u in harness.connector.updates if u.conversation_id == first.conversation_id][-1]
    text = str(card_of(edited))
    assert "Proposed time" in text and "Meeting booked" not in text
    assert "Central European Standard Time" in text  # their profile's zone (Europe/Berlin), by name
    assert "Proposed time" in harness.replies(first)[-1]["text"]
    mail = [m for m in harness.mailer.sent if m["to"] == [second.email]][-1]
    assert "booked" not in mail["text"].lower().replace("nothing is booked", "")
    (name, content_type, body), = mail["attachments"]
    assert name == "invite.ics" and content_type.startswith("text/calendar") and b"BEGIN:VEVENT" in body
