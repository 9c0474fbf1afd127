"""Proactive fan-out through the outbox: limits, retries with Retry-After, 403 -> email, crash recovery."""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from teams_app.adapters.bot.hosting import BotConnectorTransport, authentication
from teams_app.adapters.bot.store import SENT, Outbox
from teams_app.bootstrap.bot import build_sender
from teams_app.domain.model import Meeting, MeetingStatus, Profile, Program
from teams_app.service.use_cases import ParticipantInput
from tests.bot.conftest import TENANT, BotHarness, User, make_user, start_harness, teams_activity


@pytest.fixture
async def paced(tmp_path: Path) -> AsyncIterator[BotHarness]:
    h = await start_harness(tmp_path, bot={"dev_mode": True, "per_conversation_rps": 2, "per_tenant_rps": 200})
    try:
        yield h
    finally:
        await h.client.close()
        await h.connector.close()


async def people(h: BotHarness, program: Program, numbers: range, languages: tuple[str, ...] = ("en",)) -> list[User]:
    users = [make_user(n) for n in numbers]
    for user in users:
        await h.app.service.enroll(program.id, ParticipantInput(
            email=user.email, display_name=user.name, aad_object_id=user.aad, tenant_id=TENANT,
            profile=Profile(time_zone="Europe/Berlin", languages=languages)), consent=True)
        # Talking to the bot once stores the conversation reference proactive messages need.
        status, _ = await h.post(teams_activity(user, h.connector.url, text="progress"))
        assert status == 200
    return users


def intro_counts(h: BotHarness, users: list[User]) -> Counter[str]:
    by_conversation = Counter(s.conversation_id for s in h.connector.sent if s.activity.get("attachments"))
    return Counter({u.aad: by_conversation[u.conversation_id] for u in users})


async def test_429_retry_after_5xx_and_403_every_reachable_person_gets_exactly_one(harness: BotHarness) -> None:
    program = await harness.app.service.create_program("Pairs", "peer_pairs", "weekly")
    users = await people(harness, program, range(100, 112))
    loner = (await people(harness, program, range(200, 201), languages=("fr",)))[0]  # no shared language
    harness.connector.sent.clear()
    c = harness.connector
    c.scripted[users[0].conversation_id] = [(429, {"Retry-After": "1"})]
    c.scripted[users[1].conversation_id] = [(503, {}), (502, {}), (504, {}), (412, {})]
    c.forbidden = {users[2].conversation_id, users[3].conversation_id}

    result = await harness.app.service.run_round(program.id)
    assert len(result.matches) == 6 and [pid for pid, _ in result.unmatched] != []
    await harness.sender.drain(timeout_s=30)

    counts = intro_counts(harness, users)
    reachable = [u for u in users if u.conversation_id not in c.forbidden]
    assert all(counts[u.aad] == 1 for u in reachable), counts
    assert counts[users[2].aad] == counts[users[3].aad] == 0
    mailed = Counter(m["to"][0] for m in harness.mailer.sent)
    assert mailed == Counter({users[2].email: 1, users[3].email: 1, loner.email: 0}) - Counter()
    for blocked in users[2:4]:
        person = await harness.app.service.find_participant(aad_object_id=blocked.aad)
        assert person is not None and person.teams_reachable is False

    # The person nobody could be matched with is told kindly, in Teams.
    loner_texts = [m.get("text", "") for m in c.messages_to(loner.conversation_id)]
    assert any("priority in the next round" in t for t in loner_texts)

    # Retry-After was honoured: the retry came at least 1 s after the 429.
    throttled_at = next(t for cid, status, t in c.rejected if cid == users[0].conversation_id and status == 429)
    delivered_at = next(s.at for s in c.sent if s.conversation_id == users[0].conversation_id)
    assert delivered_at - throttled_at >= 1.0
    statuses = {n.status for n in await Outbox(harness.app.engine).all()}
    assert statuses == {SENT}

    # A later message to an unreachable person goes straight to email.
    ids = {u.aad: (await harness.app.service.find_participant(aad_object_id=u.aad)).id for u in users}  # type: ignore[union-attr]
    match = next(m for m in result.matches if ids[users[2].aad] in m.participant_ids)
    start = harness.clock.now() + timedelta(days=1)
    await harness.app.service.record_meeting(Meeting(match.id, MeetingStatus.SCHEDULED, start,
                                                     start + timedelta(minutes=30), "https://teams.example/join/1"))
    await harness.sender.drain(timeout_s=30)
    assert sum(1 for m in harness.mailer.sent if m["to"] == [users[2].email]) == 2
    partner = next(u for u in users if u.aad != users[2].aad and ids[u.aad] in match.participant_ids)
    # The partner hears about the meeting where they are reachable (Teams, or email if also blocked).
    updates = [str(s.activity) for s in c.sent if s.conversation_id == partner.conversation_id]
    updates += [m["text"] for m in harness.mailer.sent if m["to"] == [partner.email]]
    assert sum("https://teams.example/join/1" in u for u in updates) == 1


async def test_crash_mid_fanout_loses_nothing_and_repeats_nothing(harness: BotHarness) -> None:
    program = await harness.app.service.create_program("Pairs", "peer_pairs", "weekly")
    users = await people(harness, program, range(300, 340))
    harness.connector.sent.clear()
    harness.connector.delay_s = 0.01  # sends are in flight when the crash comes
    await harness.app.service.run_round(program.id)

    sender = harness.sender
    task = asyncio.create_task(sender.run(asyncio.Event()))

    def crash_half_way(_: object) -> None:
        if len(harness.connector.sent) == 15 and not task.done():
            task.cancel()

    harness.connector.on_send = crash_half_way
    with pytest.raises(asyncio.CancelledError):
        await task
    harness.connector.on_send = None
    delivered_before = len(harness.connector.sent)
    assert 15 <= delivered_before < len(users)

    # A new sender (a restarted process) finishes the job.
    auth = authentication(harness.app.settings.bot)
    transport = BotConnectorTransport(auth, "")
    fresh = build_sender(harness.app, transport, harness.mailer, poll_interval_s=0.2)
    await fresh.drain(timeout_s=30)
    await transport.close()
    counts = intro_counts(harness, users)
    assert all(counts[u.aad] == 1 for u in users), counts


@pytest.fixture
async def any_db(tmp_path: Path, db_url: str) -> AsyncIterator[BotHarness]:
    """The harness on SQLite and on PostgreSQL (the lead's db_url fixture)."""
    h = await start_harness(tmp_path, bot={"dev_mode": True, "per_conversation_rps": 50, "per_tenant_rps": 500},
                            db_url=db_url)
    try:
        yield h
    finally:
        await h.client.close()
        await h.connector.close()
        await h.app.close()


async def test_a_sender_that_died_after_claiming_is_taken_over_when_its_lease_expires(any_db: BotHarness) -> None:
    harness = any_db
    program = await harness.app.service.create_program("Pairs", "peer_pairs", "weekly")
    users = await people(harness, program, range(400, 406))
    harness.connector.sent.clear()
    await harness.app.service.run_round(program.id)
    outbox = Outbox(harness.app.engine)
    claimed = await outbox.claim(harness.clock.now(), 100, timedelta(minutes=2))  # ... and then it died
    assert len(claimed) == len(users)
    assert await outbox.claim(harness.clock.now(), 100, timedelta(minutes=2)) == []  # leased: nobody else
    harness.clock.advance(timedelta(minutes=3))
    await harness.sender.drain(timeout_s=30)
    assert all(n == 1 for n in intro_counts(harness, users).values())


async def test_per_conversation_limit_spaces_messages_to_one_person(paced: BotHarness) -> None:
    program = await paced.app.service.create_program("Pairs", "peer_pairs", "weekly")
    users = await people(paced, program, range(500, 502))
    paced.connector.sent.clear()
    result = await paced.app.service.run_round(program.id)
    start = paced.clock.now() + timedelta(days=1)
    for hour in range(2):  # two reschedules: three messages for each person
        await paced.app.service.record_meeting(Meeting(
            result.matches[0].id, MeetingStatus.SCHEDULED, start + timedelta(hours=hour),
            start + timedelta(hours=hour, minutes=30), f"https://teams.example/join/{hour}"))
    await paced.sender.drain(timeout_s=30)
    for user in users:
        times = [s.at for s in paced.connector.sent if s.conversation_id == user.conversation_id]
        assert len(times) == 3
        gaps = [b - a for a, b in itertools.pairwise(times)]
        assert min(gaps) >= 0.45, gaps  # 2 per second per conversation


async def test_unrecoverable_answers_fail_without_retrying_forever(harness: BotHarness) -> None:
    program = await harness.app.service.create_program("Pairs", "peer_pairs", "weekly")
    users = await people(harness, program, range(600, 602))
    harness.connector.sent.clear()
    harness.connector.scripted[users[0].conversation_id] = [(400, {})]
    harness.connector.scripted[users[1].conversation_id] = [(503, {})] * 20  # longer than the retry budget
    await harness.app.service.run_round(program.id)
    await harness.sender.drain(timeout_s=30)
    rows = {n.participant_id: n for n in await Outbox(harness.app.engine).all()}
    assert {n.status for n in rows.values()} == {"failed"}
    errors = sorted(n.last_error for n in rows.values())
    assert "HTTP 400" in errors[0] and "HTTP 503" in errors[1]
    assert max(n.attempts for n in rows.values()) == 8


async def test_uninstall_switches_to_email_and_writing_again_switches_back(harness: BotHarness) -> None:
    program = await harness.app.service.create_program("Pairs", "peer_pairs", "weekly")
    user = (await people(harness, program, range(700, 701)))[0]
    url = harness.connector.url
    await harness.post(teams_activity(user, url, type_="installationUpdate", action="remove"))
    person = await harness.app.service.find_participant(aad_object_id=user.aad)
    assert person is not None and person.teams_reachable is False
    await harness.post(teams_activity(user, url, text="progress"))
    person = await harness.app.service.find_participant(aad_object_id=user.aad)
    assert person is not None and person.teams_reachable is True
