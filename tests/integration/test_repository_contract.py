"""One contract for the repository ports, run against the in-memory fakes and the SQL repositories on SQLite
and PostgreSQL. A fake that drifts from the real thing (ordering, duplicates, replacing a rule) fails here,
so unit tests that use the fakes keep meaning what they say.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from teams_app.adapters.db.assessment_repo import SqlAssessmentUnitOfWorkFactory
from teams_app.adapters.db.migrate import upgrade
from teams_app.adapters.db.uow import make_engine
from teams_app.domain.matching.circles import CONTINUES, LEFT
from teams_app.domain.matching.explain import LAST_MET
from teams_app.domain.matching.population import OFFERS
from teams_app.domain.model import (
    CheckIn,
    Enrollment,
    EnrollmentStatus,
    Match,
    MatchMember,
    Meeting,
    MeetingStatus,
    Participant,
    Program,
    Role,
    Round,
    RoundStatus,
)
from teams_app.domain.notifications import Channel, Notice, NotificationKind, notice_id
from teams_app.domain.reasons import Reason
from teams_app.service.ports import UnitOfWork
from tests.conftest import PostgresDatabase
from tests.unit.assessment_fakes import FakeUowFactory

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
UowFactory = Callable[[], Any]


@pytest.fixture(params=["fake", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def uows(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[UowFactory]:
    if request.param == "fake":
        yield FakeUowFactory()
        return
    database = PostgresDatabase() if request.param == "postgres" else None
    if database is not None:
        await database.create()
    engine = make_engine(database.url if database else f"sqlite+aiosqlite:///{tmp_path / 'contract.db'}")
    try:
        await upgrade(engine)
        yield SqlAssessmentUnitOfWorkFactory(engine)
    finally:
        await engine.dispose()
        if database is not None:
            await database.drop()


def person(n: int, **options: Any) -> Participant:
    return Participant.create(f"p{n}@example.com", f"Person {n}", participant_id=f"00000000-0000-4000-8000-{n:012d}",
                              **options)


async def seed(uows: UowFactory, people: int = 4, *, programs: int = 1) -> list[Participant]:
    """Programs P0.. (created a minute apart, in reverse name order) and people p0..p{n-1}."""
    out = [person(n) for n in range(people)]
    async with uows() as uow:
        for n in range(programs):
            await uow.programs.add(Program.create(f"P{programs - 1 - n}", "peer_pairs", "weekly",
                                                  program_id=f"prog-{programs - 1 - n}",
                                                  created_at=T0 + timedelta(minutes=n)))
        for p in reversed(out):
            await uow.participants.add(p)
        await uow.commit()
    return out


def match(mid: str, round_: Round, *ids: str) -> Match:
    return Match(mid, round_.id, round_.program_id, tuple(MatchMember(i, Role.PEER) for i in ids), 1.0, ("r",))


async def test_programs_all_is_ordered_by_creation_and_a_rollback_keeps_nothing(uows: UowFactory) -> None:
    await seed(uows, 0, programs=3)
    async with uows() as uow:
        assert [p.name for p in await uow.programs.all()] == ["P2", "P1", "P0"]
        await uow.programs.add(Program.create("Gone", "peer_pairs", "weekly", created_at=T0))
        await uow.rollback()
    async with uows() as uow:
        assert await uow.programs.get_by_name("Gone") is None


async def test_get_many_answers_in_the_order_asked_once_each_and_skips_the_unknown(uows: UowFactory) -> None:
    people = await seed(uows, 4)
    ids = [people[2].id, people[0].id, "nobody", people[2].id, people[3].id]
    async with uows() as uow:
        assert [p.id for p in await uow.participants.get_many(ids)] == [people[2].id, people[0].id, people[3].id]
        assert (await uow.participants.get_by_email("p1@example.com")) == people[1]


async def test_enrollments_are_listed_by_participant_and_by_program(uows: UowFactory) -> None:
    people = await seed(uows, 3, programs=2)
    async with uows() as uow:
        for program_id in ("prog-1", "prog-0"):
            for p in reversed(people):
                await uow.enrollments.add(Enrollment(program_id, p.id, EnrollmentStatus.ACTIVE, T0, T0))
        await uow.commit()
    async with uows() as uow:
        assert [e.participant_id for e in await uow.enrollments.for_program("prog-0")] == [p.id for p in people]
        assert [e.program_id for e in await uow.enrollments.for_participant(people[0].id)] == ["prog-0", "prog-1"]


async def test_bulk_participants_are_added_together_and_found_by_email(uows: UowFactory) -> None:
    await seed(uows, 1)
    fresh = [person(n) for n in range(1, 4)]
    async with uows() as uow:
        await uow.participants.add_many(fresh)
        await uow.participants.add_many([])
        await uow.commit()
    async with uows() as uow:
        found = await uow.participants.get_many_by_email(["p3@example.com", "p0@example.com", "nobody@example.com",
                                                          "p3@example.com"])
        assert sorted(found) == ["p0@example.com", "p3@example.com"]
        assert found["p3@example.com"] == fresh[2]
        assert [p.id for p in await uow.participants.get_many([p.id for p in fresh])] == [p.id for p in fresh]


async def test_pending_people_are_found_before_add_many_writes_exactly_the_people_given(uows: UowFactory) -> None:
    await seed(uows, 1)
    fresh = [person(n) for n in range(1, 4)]
    renamed = Participant.create("p9@example.com", "Renamed", participant_id=fresh[1].id)
    async with uows() as uow:
        uow.participants.pending(fresh)
        assert [p.id for p in await uow.participants.get_many([fresh[2].id])] == [fresh[2].id]
        await uow.participants.add_many(fresh)  # the people announced: their rows were converted already
        await uow.commit()
    async with uows() as uow:
        uow.participants.pending([person(7)])
        await uow.participants.add_many([person(8)])  # other people than announced: these are written
        await uow.commit()
    async with uows() as uow:
        found = await uow.participants.get_many_by_email([f"p{n}@example.com" for n in (1, 2, 3, 7, 8)])
        assert sorted(found) == ["p1@example.com", "p2@example.com", "p3@example.com", "p8@example.com"]
        assert found["p2@example.com"] == fresh[1] and renamed.email not in found


async def test_bulk_enrollments_are_added_together_and_read_for_many_people(uows: UowFactory) -> None:
    people = await seed(uows, 4, programs=2)
    async with uows() as uow:
        await uow.enrollments.add_many([Enrollment("prog-0", p.id, EnrollmentStatus.ACTIVE, T0, T0)
                                        for p in people[:3]])
        await uow.enrollments.add(Enrollment("prog-1", people[3].id, EnrollmentStatus.ACTIVE, T0, T0))
        await uow.commit()
    async with uows() as uow:
        found = await uow.enrollments.get_many("prog-0", [people[3].id, people[1].id, "nobody", people[0].id])
        assert sorted(found) == sorted([people[1].id, people[0].id])
        assert found[people[1].id] == Enrollment("prog-0", people[1].id, EnrollmentStatus.ACTIVE, T0, T0)
        assert await uow.enrollments.get_many("prog-1", []) == {}


async def test_rounds_matches_meetings_and_check_ins_keep_their_order(uows: UowFactory) -> None:
    a, b, c, d = await seed(uows, 4)
    r1 = Round("round-1", "prog-0", 1, T0, 1, RoundStatus.COMPLETED)
    r2 = Round("round-2", "prog-0", 2, T0 + timedelta(days=7), 2)
    async with uows() as uow:
        for r in (r2, r1):
            await uow.rounds.add(r)
        for m in (match("m-b", r1, c.id, d.id), match("m-a", r1, a.id, b.id), match("m-d", r2, b.id, d.id),
                  match("m-c", r2, a.id, c.id)):
            await uow.matches.add(m)
        await uow.meetings.upsert(Meeting("m-c", MeetingStatus.SCHEDULED, T0, T0 + timedelta(minutes=30)))
        for cid, pid, at in (("m-b", d.id, 3), ("m-a", b.id, 1), ("m-b", c.id, 1), ("m-a", a.id, 2)):
            await uow.check_ins.add(CheckIn(cid, pid, True, 4, "", "", T0 + timedelta(hours=at)))
        await uow.commit()
    async with uows() as uow:
        assert [r.number for r in await uow.rounds.for_program("prog-0")] == [1, 2]
        assert (await uow.rounds.latest("prog-0")) == r2
        assert [m.id for m in await uow.matches.for_round("round-1")] == ["m-a", "m-b"]
        assert [m.id for m in await uow.matches.for_participant(a.id)] == ["m-c", "m-a"]  # newest round first
        assert [(n, m.id) for n, m in await uow.matches.recent_for_program("prog-0", 1)] == [
            (1, "m-a"), (1, "m-b"), (2, "m-c"), (2, "m-d")]
        assert [(n, m.id) for n, m in await uow.matches.recent_for_program("prog-0", 2)] == [(2, "m-c"), (2, "m-d")]
        assert [m.id for m in await uow.matches.unbooked(10)] == ["m-d"]  # open rounds, no meeting yet
        assert (await uow.matches.get("m-a")) == match("m-a", r1, a.id, b.id)
        assert await uow.matches.get_many(["m-c", "nope", "m-a"]) == {
            "m-c": match("m-c", r2, a.id, c.id), "m-a": match("m-a", r1, a.id, b.id)}
        assert list(await uow.meetings.get_many(["m-a", "m-c"])) == ["m-c"]
        assert list(await uow.meetings.for_round("round-2")) == ["m-c"]
        assert await uow.meetings.for_round("round-1") == {}
        assert [(c.match_id, c.participant_id) for c in await uow.check_ins.for_round("round-1")] == [
            ("m-a", b.id), ("m-b", c.id), ("m-a", a.id), ("m-b", d.id)]  # by time, then match, then person
        assert [c.participant_id for c in await uow.check_ins.for_match("m-b")] == [c.id, d.id]
        assert await uow.meetings.called_off(10) == []
        await uow.meetings.upsert(Meeting("m-b", MeetingStatus.CANCELLED, T0, T0, external_id="evt-b"))
        await uow.meetings.upsert(Meeting("m-a", MeetingStatus.CANCELLED, T0, T0, external_id="evt-a"))
        await uow.meetings.upsert(Meeting("m-d", MeetingStatus.CANCELLED, T0, T0))  # not in a calendar
        assert [m.external_id for m in await uow.meetings.called_off(10)] == ["evt-a", "evt-b"]
        assert [m.match_id for m in await uow.meetings.called_off(1)] == ["m-a"]


async def test_match_reasons_keep_their_template_and_values_and_old_plain_strings_load_as_they_are(
        uows: UowFactory) -> None:
    a, b = await seed(uows, 2)
    r1 = Round("round-1", "prog-0", 1, T0, 1)
    reasons = (Reason.of(CONTINUES, session=3, total=6), Reason.of(LEFT, count=2),
               Reason.of(OFFERS, giver="Zoë Ünal", skills=("SQL", "Verhandlung"), taker="Bo"),
               Reason.of(LAST_MET, count=3),
               "both want to work on public speaking")  # a row stored before reasons were values
    stored = Match("m-r", r1.id, r1.program_id, (MatchMember(a.id, Role.PEER), MatchMember(b.id, Role.PEER)), 2.5,
                   reasons)
    async with uows() as uow:
        await uow.rounds.add(r1)
        await uow.matches.add(stored)
        await uow.commit()
    async with uows() as uow:
        loaded = await uow.matches.get("m-r")
    assert loaded == stored
    assert loaded is not None and [str(r) for r in loaded.reasons] == [
        "Your circle continues: session 3 of 6.", "2 members left the circle.",
        "Zoë Ünal offers SQL and Verhandlung, which Bo wants.", "You last met 3 rounds ago.",
        "both want to work on public speaking"]


async def test_a_pair_rule_is_one_per_pair_whichever_way_round(uows: UowFactory) -> None:
    a, b, c, _ = await seed(uows, 4)
    async with uows() as uow:
        await uow.pair_rules.add("prog-0", b.id, a.id, "block")
        await uow.pair_rules.add("prog-0", c.id, a.id, "force")
        await uow.pair_rules.add("prog-0", a.id, b.id, "forbid")  # replaces the block
        await uow.commit()
    async with uows() as uow:
        assert await uow.pair_rules.for_program("prog-0") == [(a.id, b.id, "forbid"), (a.id, c.id, "force")]


async def test_claim_due_returns_the_due_programs_soonest_first(uows: UowFactory) -> None:
    async with uows() as uow:
        for name, due in (("Later", T0 - timedelta(hours=1)), ("Sooner", T0 - timedelta(days=1)),
                          ("Future", T0 + timedelta(days=1)), ("Never", None)):
            await uow.programs.add(Program.create(name, "peer_pairs", "weekly", created_at=T0, next_round_at=due))
        await uow.commit()
    async with uows() as uow:
        assert [p.name for p in await uow.programs.claim_due(T0)] == ["Sooner", "Later"]


async def test_the_notification_queue_adds_once_and_forgets_an_erased_person(uows: UowFactory) -> None:
    a, b = await seed(uows, 2)
    first = Notice.to(a, "event-1", NotificationKind.INTRO, {"match_id": "m"})
    async with uows() as uow:
        assert await uow.notifications.add([first, Notice.to(b, "event-1", NotificationKind.INTRO, {})], T0) == 2
        assert await uow.notifications.add([first], T0 + timedelta(hours=1)) == 0  # a replay adds nothing
        await uow.commit()
    async with uows() as uow:
        queued = await uow.notifications.queued_at([first.id, "unknown"])
        assert queued == {first.id: T0}
        assert await uow.notifications.channel_targets("") == []
        await uow.notifications.forget(a)
        await uow.commit()
    async with uows() as uow:
        assert await uow.notifications.queued_at([first.id]) == {}
        assert list(await uow.notifications.queued_at([notice_id("event-1", b.id, NotificationKind.INTRO)])) == [
            notice_id("event-1", b.id, NotificationKind.INTRO)]


async def test_a_rolled_back_unit_of_work_queues_no_notice(uows: UowFactory) -> None:
    (a,) = await seed(uows, 1)
    notice = Notice(notice_id("k", a.id, NotificationKind.MESSAGE), a.id, NotificationKind.MESSAGE, {"text": "hi"},
                    Channel.EMAIL)
    uow: UnitOfWork
    async with uows() as uow:
        await uow.notifications.add([notice], T0)
        await uow.rollback()
    async with uows() as uow:
        assert await uow.notifications.queued_at([notice.id]) == {}


async def _conversation(uows: UowFactory, conversation_id: str, kind: str, tenant: str,
                        roster: tuple[str, ...] = ()) -> str:
    """A conversation the bot has seen (and a group chat's roster), stored as the bot stores it."""
    from teams_app.adapters.bot.store import ConversationStore
    from teams_app.domain.model import stable_id

    ref_id = stable_id("conversation", "msteams", conversation_id)
    if isinstance(uows, FakeUowFactory):
        if kind == "channel":
            uows.store.channels[ref_id] = tenant
            uows.store.channel_ids[ref_id] = conversation_id
        else:
            uows.store.group_chats[ref_id] = (tenant, frozenset(roster))
        return ref_id
    store = ConversationStore(uows.engine)
    await store.save(channel_id="msteams", conversation_id=conversation_id, conversation_type=kind, tenant_id=tenant,
                     aad_object_id="", user_key="", team_id="", service_url="http://x/", locale="en",
                     reference={"conversation": {"id": conversation_id}}, now=T0)
    if kind == "groupChat":
        await store.save_members(ref_id, roster)
    return ref_id


async def test_a_circle_post_finds_only_a_group_chat_whose_roster_is_exactly_the_circle(uows: UowFactory) -> None:
    exact = await _conversation(uows, "19:exact@thread.v2", "groupChat", "t1", ("a", "b", "c"))
    await _conversation(uows, "19:more@thread.v2", "groupChat", "t1", ("a", "b", "c", "outsider"))
    await _conversation(uows, "19:fewer@thread.v2", "groupChat", "t1", ("a", "b"))
    await _conversation(uows, "19:other-tenant@thread.v2", "groupChat", "t2", ("a", "b", "c"))
    async with uows() as uow:
        assert await uow.notifications.group_chats_of(["c", "a", "b"], "t1") == [exact]
        assert await uow.notifications.group_chats_of(["a", "b", "c", "d"], "t1") == []
        assert await uow.notifications.group_chats_of([], "t1") == []
        assert len(await uow.notifications.group_chats_of(["a", "b", "c"], "")) == 2  # any tenant
        # Erasing a member takes them out of every roster: the chat is no longer the circle's.
        await uow.notifications.forget(Participant.create("gone@example.com", "Gone", aad_object_id="c"))
        assert await uow.notifications.group_chats_of(["a", "b", "c"], "t1") == []
        assert await uow.notifications.group_chats_of(["a", "b"], "t1") != []


async def test_an_announcement_channel_is_found_by_its_teams_id_and_never_widened(uows: UowFactory) -> None:
    general = await _conversation(uows, "19:general@thread.tacv2", "channel", "t1")
    await _conversation(uows, "19:general@thread.tacv2;messageid=42", "channel", "t1")  # a reply thread
    await _conversation(uows, "19:other@thread.tacv2", "channel", "t1")
    async with uows() as uow:
        assert await uow.notifications.named_channel("19:general@thread.tacv2", "t1") == [general]
        assert await uow.notifications.named_channel("19:general@thread.tacv2", "t2") == []
        assert await uow.notifications.named_channel("19:unknown@thread.tacv2", "t1") == []
        assert await uow.notifications.named_channel("19:general%", "t1") == []  # no wildcards


async def test_a_round_keeps_its_term_and_session(uows: UowFactory) -> None:
    await seed(uows, 1)
    round_ = Round("r-term", "prog-0", 1, T0, 1, RoundStatus.OPEN, {}, term=2, session=3)
    async with uows() as uow:
        await uow.rounds.add(round_)
        await uow.commit()
    async with uows() as uow:
        stored = await uow.rounds.get("r-term")
        assert stored is not None and (stored.term, stored.session) == (2, 3)
