"""The email channel (HTML replies with a subject, text commands, resends handled once) and team scope."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from teams_app.adapters.bot.cards import VERB_CONSENT, VERB_PROFILE
from tests.bot.conftest import BOT_ID, TENANT, BotHarness, card_action, make_user, teams_activity

TEAM_CHANNEL = "19:general-channel@thread.tacv2"


def email_activity(service_url: str, sender: str, text: str, activity_id: str) -> dict[str, Any]:
    """What Azure Bot Service's email channel posts for an incoming mail."""
    return {
        "type": "message", "id": activity_id, "timestamp": datetime.now(UTC).isoformat(),
        "serviceUrl": service_url, "channelId": "email",
        "from": {"id": sender, "name": sender.split("@")[0]},
        "conversation": {"id": f"email-thread-{sender}", "isGroup": False},
        "recipient": {"id": "peercoach@contoso.example", "name": "peercoach"},
        "text": text, "textFormat": "plain", "locale": "en-US",
        "channelData": {"subject": "Re: peer coaching", "importance": "normal",
                        "htmlBody": f"<html><body><p>{text}</p></body></html>"},
    }


async def test_email_commands_get_html_replies_with_a_subject(harness: BotHarness) -> None:
    program = await harness.app.service.create_program("Pairs", "peer_pairs", "weekly")
    url = harness.connector.url
    sender = "erin@example.com"
    assert (await harness.post(email_activity(url, sender, "help\r\n\r\n> quoted older mail", "mail-1")))[0] == 200
    assert (await harness.post(email_activity(url, sender, "join", "mail-2")))[0] == 200
    assert (await harness.post(email_activity(url, sender, "pause until 2030-02-01", "mail-3")))[0] == 200
    replies = harness.connector.messages_to(f"email-thread-{sender}")
    assert len(replies) == 3
    for reply in replies:
        data = reply["channelData"]
        assert data["subject"] and data["htmlBody"].startswith("<!DOCTYPE html>") and data["importance"] == "normal"
        assert "attachments" not in reply  # cards are not interactive by email
        assert "**" not in data["htmlBody"] and "**" not in reply["text"]
    assert "<strong>join</strong>" in replies[0]["channelData"]["htmlBody"]
    assert replies[1]["channelData"]["subject"] == "Join Pairs"
    person = await harness.app.service.find_participant(email=sender)
    assert person is not None  # registered, so a consent link can name them; not enrolled before consent
    status = await harness.app.service.status(program.id)
    assert status.enrolled == 0 and status.paused == 0
    assert "not taking part" in replies[2]["text"]


async def test_a_mail_resent_by_the_channel_is_handled_once(harness: BotHarness) -> None:
    program = await harness.app.service.create_program("Pairs", "peer_pairs", "weekly")
    url = harness.connector.url
    mail = email_activity(url, "fred@example.com", "join", "mail-resent-1")
    assert (await harness.post(mail))[0] == 200
    assert (await harness.post(mail))[0] == 200  # the channel resends after 15 s without a 200
    assert len(harness.connector.messages_to("email-thread-fred@example.com")) == 1
    assert (await harness.app.service.status(program.id)).enrolled == 0  # 'join' by email asks for consent first


async def test_email_leave_with_erase(harness: BotHarness) -> None:
    program = await harness.app.service.create_program("Pairs", "peer_pairs", "weekly")
    url = harness.connector.url
    from teams_app.service.use_cases import ParticipantInput

    await harness.app.service.enroll(program.id, ParticipantInput(email="gus@example.com", display_name="Gus"),
                                     consent=True)
    await harness.post(email_activity(url, "gus@example.com", "leave erase", "m-2"))
    assert await harness.app.service.find_participant(email="gus@example.com") is None
    assert (await harness.app.service.status(program.id)).enrolled == 0  # erased with the person
    replies = harness.connector.messages_to("email-thread-gus@example.com")
    assert "erased" in replies[-1]["text"]


def channel_activity(user: Any, service_url: str, **kw: Any) -> dict[str, Any]:
    activity = teams_activity(user, service_url, conversation_type="channel", conversation_id=TEAM_CHANNEL, **kw)
    activity["channelData"].update({"team": {"id": "19:team@thread.tacv2"}, "channel": {"id": TEAM_CHANNEL}})
    return activity


async def test_team_install_welcomes_the_channel_and_join_from_channel_opens_a_personal_chat(
        harness: BotHarness) -> None:
    await harness.app.service.create_program("Circles", "circle", "monthly")
    installer = make_user(30)
    url = harness.connector.url
    await harness.post(channel_activity(installer, url, type_="installationUpdate", action="add"))
    channel_posts = harness.connector.messages_to(TEAM_CHANNEL)
    assert len(channel_posts) == 1
    welcome = channel_posts[0]["attachments"][0]["content"]
    assert [a["verb"] for a in welcome["actions"]] == [VERB_CONSENT]

    member = make_user(31)
    harness.enroll_roster(member)
    await harness.post(channel_activity(member, url, text="<at>peercoach</at> join"))
    assert len(harness.connector.messages_to(TEAM_CHANNEL)) == 2  # the consent card, in the channel

    status, body = await harness.post(card_action(member, url, VERB_CONSENT, {"consent": True},
                                                  conversation_type="channel", conversation_id=TEAM_CHANNEL))
    assert status == 200 and "Check your chat with me" in str(body["value"])
    created = harness.connector.created[-1]
    assert created["members"][0]["id"] == member.teams_id and created["channelData"]["tenant"]["id"] == TENANT
    assert created["bot"]["id"] == BOT_ID
    private = [s.activity for s in harness.connector.sent if s.conversation_id.startswith("a:created-")]
    assert private and [a["verb"] for a in private[-1]["attachments"][0]["content"]["actions"]] == [VERB_PROFILE]


async def test_a_circle_is_posted_in_its_group_chat_and_announced_without_names_in_the_named_channel(
        harness: BotHarness) -> None:
    url = harness.connector.url
    await harness.post(channel_activity(make_user(40), url, type_="installationUpdate", action="add"))
    other_team = "19:another-team@thread.tacv2"  # the bot is installed here too: it hears nothing about circles
    await harness.post(teams_activity(make_user(39), url, type_="installationUpdate", action="add",
                                      conversation_type="channel", conversation_id=other_team))
    program = await harness.app.service.create_program("Circles", "circle", "monthly", tenant_id=TENANT,
                                                       announcement_channel=TEAM_CHANNEL)
    from teams_app.domain.model import Profile
    from teams_app.service.use_cases import ParticipantInput

    users = [make_user(n) for n in range(41, 47)]
    for user in users:
        harness.enroll_roster(user)
        await harness.app.service.enroll(program.id, ParticipantInput(
            email=user.email, display_name=user.name, aad_object_id=user.aad, tenant_id=TENANT,
            profile=Profile(time_zone="Europe/Berlin")), consent=True)
    # The circle made a group chat and added the bot; the bot reads its roster. A second chat has an outsider.
    circle_chat, bigger_chat = "19:circle-chat@thread.v2", "19:bigger-chat@thread.v2"
    outsider = make_user(48)
    harness.enroll_roster(outsider)
    harness.connector.chat_members[circle_chat] = [u.teams_id for u in users]
    harness.connector.chat_members[bigger_chat] = [u.teams_id for u in users] + [outsider.teams_id]
    for chat in (circle_chat, bigger_chat):
        await harness.post(teams_activity(users[0], url, type_="conversationUpdate", conversation_type="groupChat",
                                          conversation_id=chat, membersAdded=[{"id": BOT_ID}]))
    result = await harness.app.service.run_round(program.id)
    assert len(result.matches) == 1  # six people: one circle (3-8)
    await harness.sender.drain(timeout_s=20)

    names = [u.name for u in users]
    announced = [a.get("text", "") for a in harness.connector.messages_to(TEAM_CHANNEL)][1:]  # after the welcome
    assert sum("Round 1 of Circles has started" in p for p in announced) == 1
    assert not any(name in str(a) for a in harness.connector.messages_to(TEAM_CHANNEL) for name in names)
    assert harness.connector.messages_to(other_team)[1:] == []
    in_chat = [str(a.get("text", "")) for a in harness.connector.messages_to(circle_chat)]
    circle_posts = [p for p in in_chat if "Your learning circle in Circles" in p]
    assert len(circle_posts) == 1 and all(name in circle_posts[0] for name in names)
    assert "The facilitator keeps time" in circle_posts[0]
    assert not any("Your learning circle" in str(a.get("text", ""))
                   for a in harness.connector.messages_to(bigger_chat))
    # People who never talked to the bot have no Teams conversation yet: their intro goes by email.
    assert len(harness.mailer.sent) == 6


async def test_someone_leaving_the_group_chat_stops_circle_posts_there(harness: BotHarness) -> None:
    url = harness.connector.url
    users = [make_user(n) for n in range(51, 54)]
    chat = "19:small-chat@thread.v2"
    for user in users:
        harness.enroll_roster(user)
    harness.connector.chat_members[chat] = [u.teams_id for u in users]
    await harness.post(teams_activity(users[0], url, type_="conversationUpdate", conversation_type="groupChat",
                                      conversation_id=chat, membersAdded=[{"id": BOT_ID}]))
    from teams_app.adapters.bot.store import ConversationStore
    from teams_app.domain.model import stable_id

    store = ConversationStore(harness.app.engine)
    ref_id = stable_id("conversation", "msteams", chat)
    assert await store.members(ref_id) == sorted(u.aad for u in users)
    harness.connector.chat_members[chat] = [u.teams_id for u in users[:2]]
    await harness.post(teams_activity(users[0], url, type_="conversationUpdate", conversation_type="groupChat",
                                      conversation_id=chat, membersRemoved=[{"id": users[2].teams_id}]))
    assert await store.members(ref_id) == sorted(u.aad for u in users[:2])


async def test_a_group_chat_whose_roster_cannot_be_read_gets_no_roster(harness: BotHarness) -> None:
    from teams_app.adapters.bot.store import ConversationStore
    from teams_app.domain.model import stable_id

    user = make_user(60)
    chat = "19:unreadable@thread.v2"  # the connector answers 404 for its members
    status, _ = await harness.post(teams_activity(user, harness.connector.url, type_="conversationUpdate",
                                                  conversation_type="groupChat", conversation_id=chat,
                                                  membersAdded=[{"id": BOT_ID}]))
    assert status in (200, 201)
    store = ConversationStore(harness.app.engine)
    assert await store.members(stable_id("conversation", "msteams", chat)) == []
    assert await store.get(stable_id("conversation", "msteams", chat)) is not None  # the chat itself is known
