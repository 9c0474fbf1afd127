"""The personal-scope conversation, end to end: Teams activity JSON in, botbuilder's replies at the connector."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from teams_app.adapters.bot.cards import VERB_CHECKIN, VERB_CONSENT, VERB_LEAVE_ERASE, VERB_MET, VERB_PROFILE
from teams_app.adapters.db.bot_tables import bot_conversations
from teams_app.bootstrap.bot import BOT_KEY, build_notifier
from tests.bot.conftest import BotHarness, User, card_action, make_user, teams_activity

PROFILE = {"department": "Finance", "time_zone": "Europe/Berlin", "working_hours": "09:00-17:00",
           "languages": "en, de", "skills_offered": "SQL", "skills_wanted": "public speaking",
           "goals": "speak at the all-hands"}


def texts(activities: list[dict[str, Any]]) -> str:
    return "\n".join(str(a.get("text") or "") for a in activities)


def card_of(activity: dict[str, Any]) -> dict[str, Any]:
    attachments = activity.get("attachments") or []
    assert attachments, f"expected a card, got {activity}"
    assert attachments[0]["contentType"] == "application/vnd.microsoft.card.adaptive"
    content: dict[str, Any] = attachments[0]["content"]
    return content


def verbs(card: dict[str, Any]) -> list[str]:
    return [a.get("verb") for a in card.get("actions", [])]


def card_text(card: dict[str, Any]) -> str:
    return " ".join(str(e.get("text", "")) for e in card["body"])


async def join(h: BotHarness, user: User, program_id: str | None = None, **profile: str) -> dict[str, Any]:
    h.enroll_roster(user)
    status, body = await h.post(card_action(user, h.connector.url, VERB_CONSENT, {"consent": True}))
    assert status == 200
    data = {**PROFILE, **profile, "enrolling": True}
    if program_id:
        data["program_id"] = program_id
    status, body = await h.post(card_action(user, h.connector.url, VERB_PROFILE, data))
    assert status == 200
    return dict(body["value"])


async def test_install_sends_welcome_with_consent_button_once(harness: BotHarness) -> None:
    await harness.app.service.create_program("Spring pairs", "peer_pairs", "fortnightly")
    user = make_user(1)
    update = teams_activity(user, harness.connector.url, type_="conversationUpdate",
                            membersAdded=[{"id": "28:peercoach-bot"}])
    install = teams_activity(user, harness.connector.url, type_="installationUpdate", action="add")
    assert (await harness.post(update))[0] == 200
    assert (await harness.post(install))[0] == 200
    replies = harness.replies(user)
    assert len(replies) == 1  # Teams sends both activities for one install: one welcome
    card = card_of(replies[0])
    assert card["version"] == "1.5"
    assert verbs(card) == [VERB_CONSENT]
    assert "Spring pairs" in card_text(card)


async def test_join_validates_profile_on_the_card_then_enrolls(harness: BotHarness) -> None:
    program = await harness.app.service.create_program("Spring pairs", "peer_pairs", "fortnightly")
    user = make_user(2)
    harness.enroll_roster(user)
    await harness.post(teams_activity(user, harness.connector.url, text="join"))
    assert verbs(card_of(harness.replies(user)[-1])) == [VERB_CONSENT]

    status, body = await harness.post(card_action(user, harness.connector.url, VERB_CONSENT, {"consent": True}))
    assert status == 200 and body["type"] == "application/vnd.microsoft.card.adaptive"
    form = body["value"]
    assert verbs(form) == [VERB_PROFILE]
    assert {e.get("id") for e in form["body"]} >= {"time_zone", "working_hours", "languages", "goals"}

    bad = {**PROFILE, "time_zone": "Mars/Olympus", "working_hours": "nine to five", "languages": "",
           "goals": "x" * 2001, "enrolling": True}
    status, body = await harness.post(card_action(user, harness.connector.url, VERB_PROFILE, bad))
    errors = [e["text"] for e in body["value"]["body"] if e.get("color") == "Attention"]
    joined = " ".join(errors)
    assert "Mars/Olympus" in joined and "HH:MM" in joined and "required" in joined and "2000" in joined
    assert verbs(body["value"]) == [VERB_PROFILE]  # re-asked, values kept
    assert any(e.get("value") == "Mars/Olympus" for e in body["value"]["body"])
    assert await harness.app.service.find_participant(aad_object_id=user.aad) is None

    done = await join(harness, user)
    assert "actions" not in done  # the submitted card is replaced: it cannot be submitted twice
    person = await harness.app.service.find_participant(aad_object_id=user.aad)
    assert person is not None and person.email == user.email and person.profile.time_zone == "Europe/Berlin"
    assert (await harness.app.service.status(program.id)).enrolled == 1

    again = await harness.post(card_action(user, harness.connector.url, VERB_PROFILE, {**PROFILE, "enrolling": True,
                                                                                        "program_id": program.id}))
    assert "already" in card_text(again[1]["value"]).lower()


async def test_program_choice_when_several_programs_are_open(harness: BotHarness) -> None:
    first = await harness.app.service.create_program("Pairs", "peer_pairs", "weekly")
    await harness.app.service.create_program("Mentoring", "mentoring", "monthly")
    user = make_user(3)
    harness.enroll_roster(user)
    status, body = await harness.post(card_action(user, harness.connector.url, VERB_CONSENT, {"consent": True}))
    assert status == 200
    choice = [e for e in body["value"]["body"] if e.get("id") == "program_id"]
    assert choice and {c["title"] for c in choice[0]["choices"]} == {"Pairs", "Mentoring"}
    _status, body = await harness.post(card_action(user, harness.connector.url, VERB_PROFILE,
                                                  {**PROFILE, "enrolling": True}))
    assert "Choose a program" in " ".join(e.get("text", "") for e in body["value"]["body"])
    await join(harness, user, program_id=first.id)
    assert (await harness.app.service.status(first.id)).enrolled == 1


async def test_commands_pause_resume_progress_help_and_unknown_text(harness: BotHarness) -> None:
    await harness.app.service.create_program("Pairs", "peer_pairs", "weekly")
    user = make_user(4)
    await join(harness, user)
    url = harness.connector.url
    for text in ("pause until 2030-01-01", "resume", "pause", "resume", "progress", "help", "what is this?",
                 "pause until 01/02/2030", "my matches"):
        assert (await harness.post(teams_activity(user, url, text=text)))[0] == 200
    said = texts(harness.replies(user))
    assert "Paused until 2030-01-01" in said
    assert "Welcome back" in said
    assert "Matches: 0" in said
    assert "**join**" in said  # help
    assert 'I did not understand "what is this?"' in said
    assert "YYYY-MM-DD" in said
    assert "no matches yet" in said


async def test_admin_commands_are_refused_politely_to_others(harness: BotHarness) -> None:
    await harness.app.service.create_program("Pairs", "peer_pairs", "weekly")
    outsider = make_user(7)
    await harness.post(teams_activity(outsider, harness.connector.url, text="round run Pairs"))
    assert "only program administrators" in texts(harness.replies(outsider))
    admin = make_user(1)  # aad-0001 is configured as admin
    url = harness.connector.url
    await harness.post(teams_activity(admin, url, text='program create "Circle one" circle monthly'))
    await harness.post(teams_activity(admin, url, text="program list"))
    await harness.post(teams_activity(admin, url, text="status Pairs"))
    said = texts(harness.replies(admin))
    assert "Created program Circle one" in said
    assert "Pairs (peer coaching in pairs, every week)" in said
    assert "Circle one (learning circles, every month)" in said and "peer_pairs" not in said
    assert "no round yet. Enrolled 0" in said and "round 0" not in said


async def test_round_run_of_a_circle_program_tells_the_admin_circles_term_and_session(harness: BotHarness) -> None:
    await harness.app.service.create_program("Circles", "circle", "weekly", sessions_per_term=3)
    for n in (20, 21, 22):
        await join(harness, make_user(n))
    admin = make_user(1)
    await harness.post(teams_activity(admin, harness.connector.url, text="round run Circles"))
    await harness.post(teams_activity(admin, harness.connector.url, text="round run Circles"))
    said = texts(harness.replies(admin))
    assert "Circles, term 1, session 1 of 3: 1 circle, 0 unmatched. Everyone is being notified." in said
    assert "Circles, term 1, session 2 of 3: 1 circle, 0 unmatched." in said
    assert " match," not in said and "Round 1" not in said  # circles and sessions, not matches and rounds


async def test_the_check_in_card_of_a_circle_says_which_session_and_with_whom(harness: BotHarness) -> None:
    await harness.app.service.create_program("Circles", "circle", "weekly", sessions_per_term=3)
    users = [make_user(n) for n in (20, 21, 22)]
    for user in users:
        await join(harness, user)
    for _ in range(2):
        await harness.post(teams_activity(make_user(1), harness.connector.url, text="round run Circles"))
    await harness.sender.drain(timeout_s=20)
    intros = [card_of(a) for a in harness.replies(users[0]) if a.get("attachments")
              and "Session 1 of 3" in card_text(card_of(a))]
    assert len(intros) == 1  # session 2's card is there too: which one a check-in answers must be said
    match_id = intros[0]["actions"][0]["data"]["match_id"]

    status, body = await harness.post(card_action(users[0], harness.connector.url, VERB_MET, {"match_id": match_id}))
    shown = card_text(body["value"])
    assert status == 200 and verbs(body["value"]) == [VERB_CHECKIN]
    assert "Circles: session 1 of 3" in shown and "session 2" not in shown
    assert f"Your session with {users[1].name}, {users[2].name}" in shown or \
        f"Your session with {users[2].name}, {users[1].name}" in shown
    # A refused answer keeps saying it.
    status, body = await harness.post(card_action(users[0], harness.connector.url, VERB_CHECKIN,
                                                  {"match_id": match_id, "met": "maybe"}))
    assert status == 200
    assert "Circles: session 1 of 3" in card_text(body["value"]) and "Tell us whether you met" in str(body["value"])


async def test_round_intro_card_then_checkin_card_then_reminder(harness: BotHarness) -> None:
    program = await harness.app.service.create_program("Pairs", "peer_pairs", "weekly")
    users = [make_user(n) for n in (10, 11)]
    for user in users:
        await join(harness, user)
    admin = make_user(1)
    await harness.post(teams_activity(admin, harness.connector.url, text="round run Pairs"))
    assert "Round 1 of Pairs: 1 match, 0 unmatched" in texts(harness.replies(admin))  # one match, not "1 matches"
    await harness.sender.drain(timeout_s=20)

    intros = {u.aad: harness.replies(u)[-1] for u in users}
    for user, other in ((users[0], users[1]), (users[1], users[0])):
        card = card_of(intros[user.aad])
        text = card_text(card)
        assert other.name in str(card) and other.email in str(card)
        assert "What would you like to improve?" in text  # the program's coaching prompts
        assert "No meeting is booked yet" in text
        assert verbs(card) == ["match.met", "match.reschedule", "match.cancel"]
    match_id = card_of(intros[users[0].aad])["actions"][0]["data"]["match_id"]

    # "We met" turns the intro card into the check-in card; a bad check-in is re-asked with the problem named.
    status, body = await harness.post(card_action(users[0], harness.connector.url, VERB_MET, {"match_id": match_id}))
    assert verbs(body["value"]) == [VERB_CHECKIN]
    assert f"Your session with {users[1].name}" in card_text(body["value"])  # says which match it answers
    bad = {"match_id": match_id, "met": "yes", "usefulness": "9", "learned": "y" * 2500, "next_step": ""}
    status, body = await harness.post(card_action(users[0], harness.connector.url, VERB_CHECKIN, bad))
    problems = " ".join(e["text"] for e in body["value"]["body"] if e.get("color") == "Attention")
    assert "1 to 5" in problems and "2000" in problems
    good = {"match_id": match_id, "met": "yes", "usefulness": "4", "learned": "ask better questions",
            "next_step": "try it"}
    status, body = await harness.post(card_action(users[0], harness.connector.url, VERB_CHECKIN, good))
    assert status == 200
    assert "actions" not in body["value"] and "saved" in card_text(body["value"])
    _status, body = await harness.post(card_action(users[0], harness.connector.url, VERB_CHECKIN, good))
    assert "already" in card_text(body["value"]).lower()
    assert (await harness.app.service.status(program.id)).checked_in == 1

    # Five days later the reminder scan asks the one who has not checked in, once; two days later it reminds.
    reminders = harness.client.server.app[BOT_KEY]["reminders"]
    harness.clock.advance(timedelta(days=5, minutes=1))
    assert await reminders.scan() == 1
    assert await reminders.scan() == 0
    await harness.sender.drain(timeout_s=20)
    card = card_of(harness.replies(users[1])[-1])
    assert verbs(card) == [VERB_CHECKIN]
    harness.clock.advance(timedelta(days=2, minutes=1))
    assert await reminders.scan() == 1
    await harness.sender.drain(timeout_s=20)
    assert len(harness.replies(users[0])) == 1 + 0  # only the intro: they checked in, so no card or reminder


async def test_leave_and_erase_deletes_personal_data(harness: BotHarness) -> None:
    program = await harness.app.service.create_program("Pairs", "peer_pairs", "weekly")
    user = make_user(20)
    await join(harness, user)
    await harness.post(teams_activity(user, harness.connector.url, text="leave"))
    card = card_of(harness.replies(user)[-1])
    assert verbs(card) == ["leave.keep", "leave.erase"]
    _status, body = await harness.post(card_action(user, harness.connector.url, VERB_LEAVE_ERASE,
                                                  {"program_id": program.id}))
    assert "erased" in card_text(body["value"])
    assert await harness.app.service.find_participant(aad_object_id=user.aad) is None
    # The bot's own copies go too: the conversation reference (name, ids) and queued notifications.
    async with harness.app.engine.connect() as conn:
        refs = (await conn.execute(sa.select(bot_conversations).where(
            bot_conversations.c.aad_object_id == user.aad))).all()
    assert refs == []


async def test_notifier_port_sends_once_per_key_as_card_or_email(harness: BotHarness) -> None:
    await harness.app.service.create_program("Pairs", "peer_pairs", "weekly")
    user = make_user(70)
    await join(harness, user)
    person = await harness.app.service.find_participant(aad_object_id=user.aad)
    assert person is not None
    notifier = build_notifier(harness.app)
    review = {"type": "AdaptiveCard", "version": "1.5", "body": [{"type": "TextBlock", "text": "Review Ada"}]}
    for _ in range(2):
        await notifier.notify(person, "review_request", {"key": "review/1", "card": review, "subject": "Review",
                                                         "text": "Please review Ada"})
    await harness.sender.drain(timeout_s=20)
    cards_sent = [a for a in harness.replies(user) if "Review Ada" in str(a)]
    assert len(cards_sent) == 1
    await harness.app.service.set_teams_reachable(person.id, False)
    unreachable = await harness.app.service.find_participant(aad_object_id=user.aad)
    assert unreachable is not None
    await notifier.notify(unreachable, "review_request", {"key": "review/2", "subject": "Review", "text": "Hi"})
    await harness.sender.drain(timeout_s=20)
    assert harness.mailer.sent[-1]["subject"] == "Review" and harness.mailer.sent[-1]["to"] == [user.email]


async def test_reschedule_and_cant_make_it_tell_the_partner_once(harness: BotHarness) -> None:
    await harness.app.service.create_program("Pairs", "peer_pairs", "weekly")
    first, second = make_user(50), make_user(51)
    for user in (first, second):
        await join(harness, user)
    await harness.post(teams_activity(make_user(1), harness.connector.url, text="round run Pairs"))
    await harness.sender.drain(timeout_s=20)
    match_id = card_of(harness.replies(first)[-1])["actions"][0]["data"]["match_id"]
    url = harness.connector.url
    for _ in range(2):  # pressing twice tells the partner once
        status, body = await harness.post(card_action(first, url, "match.reschedule", {"match_id": match_id}))
        assert status == 200 and "Your partner has been told" in card_text(body["value"])
        await harness.sender.drain(timeout_s=20)
    status, body = await harness.post(card_action(first, url, "match.cancel", {"match_id": match_id}))
    assert "actions" not in body["value"]
    await harness.sender.drain(timeout_s=20)
    said = texts(harness.replies(second))
    assert said.count("Person 50 asked to find a new time for your Pairs session") == 1
    assert said.count("Person 50 can't make your Pairs session this time") == 1
    assert "asked to find a new time" not in texts(harness.replies(first))


async def test_replies_follow_the_activity_locale(harness: BotHarness) -> None:
    await harness.app.service.create_program("Paare", "peer_pairs", "weekly")
    user = make_user(60)
    await harness.post(teams_activity(user, harness.connector.url, text="hilfe?", locale="de-DE"))
    await harness.post(teams_activity(user, harness.connector.url, text="join", locale="de-DE"))
    said = harness.replies(user)
    assert 'Ich habe "hilfe?" nicht verstanden' in said[0]["text"]
    assert verbs(card_of(said[1])) == [VERB_CONSENT]
    assert "Ja, ich möchte teilnehmen" in str(card_of(said[1]))


async def test_a_booked_meeting_updates_the_intro_card_in_place(harness: BotHarness) -> None:
    from teams_app.domain.model import Meeting, MeetingStatus

    await harness.app.service.create_program("Pairs", "peer_pairs", "weekly")
    first, second = make_user(90), make_user(91)
    for user in (first, second):
        await join(harness, user)
    result = await harness.app.service.run_round("Pairs")
    await harness.sender.drain(timeout_s=20)
    start = harness.clock.now() + timedelta(days=2)
    await harness.app.service.record_meeting(Meeting(result.matches[0].id, MeetingStatus.SCHEDULED, start,
                                                     start + timedelta(minutes=30), "https://teams.example/join/9",
                                                     external_id="AAMkAGraphEvent9"))
    await harness.sender.drain(timeout_s=20)
    for user in (first, second):
        edits = [u for u in harness.connector.updates if u.conversation_id == user.conversation_id]
        assert len(edits) == 1 and edits[0].reply_to.startswith("activity-")
        edited = edits[0].activity["attachments"][0]["content"]
        assert "https://teams.example/join/9" in str(edited) and verbs(edited)[0] == "match.met"
        last = harness.replies(user)[-1]
        assert "booked for" in last["text"] and "attachments" not in last


async def test_admin_erasure_also_removes_the_bots_copies(harness: BotHarness) -> None:
    await harness.app.service.create_program("Pairs", "peer_pairs", "weekly")
    user = make_user(95)
    await join(harness, user)
    await harness.app.service.erase(user.email)
    async with harness.app.engine.connect() as conn:
        refs = (await conn.execute(sa.select(bot_conversations).where(
            bot_conversations.c.aad_object_id == user.aad))).all()
    assert refs == []


async def test_rejoining_after_erasure_restores_the_conversation_reference(harness: BotHarness) -> None:
    program = await harness.app.service.create_program("Pairs", "peer_pairs", "weekly")
    user = make_user(96)
    await join(harness, user)
    await harness.post(card_action(user, harness.connector.url, VERB_LEAVE_ERASE, {"program_id": program.id}))
    await join(harness, user)
    async with harness.app.engine.connect() as conn:
        refs = (await conn.execute(sa.select(bot_conversations).where(
            bot_conversations.c.aad_object_id == user.aad))).all()
    assert len(refs) == 1
