"""One LRS contract suite, run against two real LRSs: ralph and Learning Locker's statement service.

Deliver and read back equal, batch split, 409 dead-letter, paging, voiding; then a whole program, an
erasure and what the LRS really holds afterwards (actor and result semantics, no version but the LRS's
"1.0.0", no future timestamps, nobody erased named by email or name in a live statement, the audit
passes). Where ralph departs from the xAPI specification, a separate test names the departure and
asserts ralph's actual behaviour, so a fixed ralph makes it fail and the suite gets stricter.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from lrs_bridge.audit import audit, render
from lrs_bridge.client import LrsClient
from lrs_bridge.outbox import enqueue
from lrs_bridge.records import Attended, MeetingRef, ProgramRef, Record, Voided
from lrs_bridge.relay import Relay
from lrs_bridge.statements import SerializedStatement, StatementBuilder
from lrs_bridge.vocabulary import Verbs
from tests.fixtures.learning_locker import LearningLockerLrs
from tests.fixtures.ralph_lrs import RalphLrs
from tests.lrs_bridge.conftest import ALICE, PROGRAM, ROUND, sample_records
from tests.lrs_bridge.test_relay import invalid_statement, rows

BASE = "https://coach.example.org/xapi"
ADDED_BY_LRS = ("stored", "authority", "version")


@dataclass
class Lrs:
    name: str
    endpoint: str
    username: str
    password: str
    agent_objects: bool  # ralph 5.1 refuses Agent/Group statement objects (see its departure test)

    def client(self) -> LrsClient:
        return LrsClient(self.endpoint, username=self.username, password=self.password, timeout_s=15)

    def builder(self, **options: Any) -> StatementBuilder:
        return StatementBuilder(activity_base_iri=BASE, agent_objects=self.agent_objects, **options)


@pytest.fixture(params=["ralph", "learning_locker"])
def lrs(request: pytest.FixtureRequest) -> Iterator[Lrs]:
    if request.param == "ralph":
        ralph: RalphLrs = request.getfixturevalue("ralph_lrs")
        ralph.start()
        yield Lrs("ralph", ralph.endpoint, ralph.username, ralph.password, agent_objects=False)
    else:
        ll: LearningLockerLrs = request.getfixturevalue("learning_locker_lrs")
        ll.start()
        yield Lrs("learning_locker", ll.endpoint, ll.username, ll.password, agent_objects=True)


@pytest.fixture
async def client(lrs: Lrs) -> AsyncIterator[LrsClient]:
    async with lrs.client() as c:
        yield c


async def queue(engine: AsyncEngine, items: list[SerializedStatement]) -> None:
    async with engine.begin() as conn:
        await enqueue(conn, items)


def attended(n: int, registration: uuid.UUID, builder: StatementBuilder) -> list[SerializedStatement]:
    ts = datetime(2026, 4, 1, 12, 0, tzinfo=UTC)
    records: list[Record] = [Attended(event_key=f"{registration}:{i}", timestamp=ts, actor=ALICE, program=PROGRAM,
                                      round=ROUND, registration=registration, meeting=MeetingRef(f"m{i}"))
                             for i in range(n)]
    return [builder.build_serialized(r) for r in records]


def without_lrs_fields(statement: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in statement.items() if k not in ADDED_BY_LRS}


async def test_every_statement_kind_is_delivered_and_reads_back_equal(sqlite_engine: AsyncEngine, lrs: Lrs,
                                                                      client: LrsClient) -> None:
    for mode in ("mbox", "mbox_sha1sum", "account"):
        builder = lrs.builder(actor_identification=mode, account_homepage="https://login.microsoftonline.com/t1")
        records = sample_records()
        items = [builder.build_serialized(r) for r in records]
        await queue(sqlite_engine, items)
        report = await Relay(sqlite_engine, client, batch_size=100).run_once()
        assert (report.delivered, report.dead) == (len(items), 0), report.errors
        voided = {str(builder.statement_id(r.voided_event_key)) for r in records if isinstance(r, Voided)}
        for item in items:
            got = await client.get_statement(item.id)
            if str(item.id) in voided and lrs.name != "ralph":
                assert got is None  # voided: hidden by id (ralph's departure is tested by name below)
                got = await client.get_voided_statement(item.id)
            assert got is not None, f"{item.id} missing"
            assert without_lrs_fields(got) == json.loads(item.payload)
            assert got.get("version", "1.0.0") == "1.0.0"  # we send none; the LRS may fill in 1.0.0


async def test_a_batch_with_one_refused_statement_delivers_the_rest_and_dead_letters_it(
        sqlite_engine: AsyncEngine, lrs: Lrs, client: LrsClient) -> None:
    reg = uuid.uuid4()
    good = attended(10, reg, lrs.builder())
    bad = invalid_statement()
    await queue(sqlite_engine, [*good[:6], bad, *good[6:]])
    report = await Relay(sqlite_engine, client, batch_size=100).run_once()
    assert (report.delivered, report.dead) == (10, 1)
    assert report.posts <= 1 + 2 * 4  # isolated in log2(11) halvings at most
    back = {s["id"] async for s in client.get_statements(registration=reg)}
    assert back == {str(i.id) for i in good}
    state = (await rows(sqlite_engine))[str(bad.id)]
    assert state[0] == "dead" and state[2] in (400, 422) and state[3]


async def test_same_id_with_different_content_is_dead_lettered_with_409(sqlite_engine: AsyncEngine, lrs: Lrs,
                                                                        client: LrsClient) -> None:
    items = attended(3, uuid.uuid4(), lrs.builder())
    other = json.loads(items[2].payload)
    other["verb"]["display"] = {"en": "was present at"}
    assert (await client.post_statements([json.dumps(other)])).ok  # someone else used the id first
    await queue(sqlite_engine, items)
    report = await Relay(sqlite_engine, client).run_once()
    assert (report.delivered, report.dead) == (2, 1)
    state = (await rows(sqlite_engine))[str(items[2].id)]
    assert (state[0], state[2]) == ("dead", 409)


async def test_resending_identical_bytes_is_accepted_and_stored_once(sqlite_engine: AsyncEngine, lrs: Lrs,
                                                                    client: LrsClient) -> None:
    reg = uuid.uuid4()
    items = attended(3, reg, lrs.builder())
    for _ in range(2):
        result = await client.post_statements([i.payload for i in items])
        assert result.ok, result.body
    assert len([s async for s in client.get_statements(registration=reg)]) == 3


async def test_reading_pages_through_more(sqlite_engine: AsyncEngine, lrs: Lrs, client: LrsClient) -> None:
    reg = uuid.uuid4()
    items = attended(25, reg, lrs.builder())
    await queue(sqlite_engine, items)
    await Relay(sqlite_engine, client, batch_size=10).run_once()
    got = [s["id"] async for s in client.get_statements(registration=reg, limit=10)]
    assert sorted(got) == sorted(str(i.id) for i in items)


def voiding_pair(builder: StatementBuilder) -> tuple[SerializedStatement, SerializedStatement]:
    key = f"to-void-{uuid.uuid4()}"
    ts = datetime(2026, 4, 2, 9, 0, tzinfo=UTC)
    target = builder.build_serialized(Attended(event_key=key, timestamp=ts, actor=ALICE, program=PROGRAM,
                                               meeting=MeetingRef("m-void")))
    void = builder.build_serialized(Voided(event_key=f"void/{key}", timestamp=ts, actor=ALICE, program=PROGRAM,
                                           voided_event_key=key))
    return target, void


@pytest.mark.parametrize("lrs", ["learning_locker"], indirect=True)
async def test_a_voided_statement_answers_404_by_id_and_comes_back_by_voided_statement_id(
        lrs: Lrs, client: LrsClient) -> None:
    target, void = voiding_pair(lrs.builder())
    assert (await client.post_statements([target.payload])).ok
    assert (await client.post_statements([void.payload])).ok
    assert await client.get_statement(target.id) is None  # xAPI 1.0.3 Communication 2.1.3: 404 by id
    back = await client.get_voided_statement(target.id)
    assert back is not None and without_lrs_fields(back) == json.loads(target.payload)
    assert await client.get_statement(void.id) is not None  # the voiding statement itself stays


@pytest.mark.parametrize("lrs", ["ralph"], indirect=True)
async def test_ralph_departs_from_xapi_voiding_it_returns_voided_statements_by_id_and_lacks_voided_statement_id(
        lrs: Lrs, client: LrsClient) -> None:
    target, void = voiding_pair(lrs.builder())
    assert (await client.post_statements([target.payload])).ok
    assert (await client.post_statements([void.payload])).ok
    assert await client.get_statement(target.id) is not None  # the spec says 404
    assert await client.get_voided_statement(target.id) is None  # the spec says: the voided statement


@pytest.mark.parametrize("lrs", ["ralph"], indirect=True)
async def test_ralph_departs_from_xapi_it_refuses_agent_statement_objects(lrs: Lrs, client: LrsClient) -> None:
    talked = next(r for r in sample_records() if type(r).__name__ == "TalkedWith")
    statement = StatementBuilder(activity_base_iri=BASE, agent_objects=True).build_serialized(talked)
    assert json.loads(statement.payload)["object"]["objectType"] == "Agent"  # allowed by xAPI Data 2.4.4
    result = await client.post_statements([statement.payload])
    assert result.status == 422 and "id" in result.body


@pytest.mark.parametrize("lrs", ["learning_locker"], indirect=True)
async def test_learning_locker_accepts_agent_statement_objects(lrs: Lrs, client: LrsClient) -> None:
    talked = next(r for r in sample_records() if type(r).__name__ == "TalkedWith")
    statement = StatementBuilder(activity_base_iri=BASE, agent_objects=True).build_serialized(talked)
    assert (await client.post_statements([statement.payload])).ok


async def test_audit_reads_the_lrs_and_what_we_sent_conforms(sqlite_engine: AsyncEngine, lrs: Lrs,
                                                            client: LrsClient) -> None:
    builder = lrs.builder()
    program = ProgramRef(f"audit-{uuid.uuid4().hex[:8]}", "Audited program")
    records = [replace(r, program=program, round=replace(r.round, program_id=program.id) if r.round else None)
               for r in sample_records() if type(r).__name__ != "Unregistered"]
    items = [builder.build_serialized(r) for r in records]
    await queue(sqlite_engine, items)
    assert (await Relay(sqlite_engine, client, batch_size=100).run_once()).dead == 0
    report = await audit(client, program_iri=builder.program_activity(program).id)
    ours = {str(i.id) for i in items}
    assert report.statements >= len(ours) - 1  # the voided one is hidden where the LRS implements voiding
    assert report.ok, render(report)
    assert report.template_conformance == 1.0 and report.registrations == 1


async def test_what_the_lrs_holds_after_a_program_and_an_erasure(tmp_path: Path, lrs: Lrs,
                                                                 client: LrsClient) -> None:
    """A real program through the service, delivered, one person erased, delivered again: read it all back."""
    from teams_app.adapters.clock import FixedClock
    from teams_app.adapters.db.migrate import upgrade
    from teams_app.adapters.db.uow import SqlUnitOfWorkFactory, make_engine
    from teams_app.adapters.xapi import XapiRecorder
    from teams_app.domain.model import Profile
    from teams_app.service.messagebus import MessageBus
    from teams_app.service.use_cases import CoachingService, ParticipantInput

    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'app.db'}")
    await upgrade(engine)
    # Simulated time ends in the present: the clock starts three weeks ago.
    clock = FixedClock(datetime.now(UTC).replace(microsecond=0) - timedelta(days=21))
    bus = MessageBus()
    builder = lrs.builder()  # the real clock: nothing may be dated after the moment it is made
    XapiRecorder(builder, "system@peercoach.example").register(bus)
    service = CoachingService(SqlUnitOfWorkFactory(engine), bus, clock)
    tag = uuid.uuid4().hex[:6]
    program = await service.create_program(f"Pairs {tag}", "peer_pairs", "weekly")
    people = [ParticipantInput(f"{tag}.p{i}@example.com", f"Person{tag} {i}",
                               Profile.build(time_zone="Europe/Berlin", department=f"d{i % 2}", seniority=2))
              for i in range(4)]
    await service.import_participants(program.name, people)
    for _ in range(2):
        for match in (await service.run_round(program.name)).matches:
            for pid in match.participant_ids:
                await service.record_check_in(match.id, pid, met=True, usefulness=4, learned="listen")
        clock.advance(timedelta(days=7))
    relay = Relay(engine, client, batch_size=50)
    assert (await relay.run_once()).dead == 0
    erased = people[0]
    roster = {p.email: p for p in await service.roster(program.name)}
    await service.leave(program.name, roster[erased.email].id, erase=True)
    assert (await relay.run_once()).dead == 0
    await engine.dispose()

    program_iri = builder.program_activity(ProgramRef(program.id, program.name)).id
    everything = [s async for s in client.get_statements(ascending=True)]
    voided_ids = {s["object"]["id"] for s in everything if s["verb"]["id"].endswith("/voided")}
    ours = [s for s in everything if program_iri in json.dumps(s)]
    live = [s for s in ours if s["id"] not in voided_ids]
    assert (live and len(live) < len(ours)) or lrs.name != "ralph"
    now = datetime.now(UTC) + timedelta(seconds=5)
    for statement in live:
        text = json.dumps(statement)
        assert erased.email not in text and erased.display_name not in text, statement["verb"]["id"]
        assert statement.get("version", "1.0.0") == "1.0.0"
        assert datetime.fromisoformat(statement["timestamp"]) <= now
        if "result" in statement:  # a result only ever describes the actor
            assert "score" not in statement["result"] or statement["verb"]["id"].endswith("/scored")
        for member in statement.get("context", {}).get("team", {}).get("member", []):
            assert set(member) <= {"objectType", "account"}  # others by pseudonym only
    for person in people[1:]:  # the others are still there, under their own name
        assert any(person.email in json.dumps(s["actor"]) for s in live)
    if lrs.name == "learning_locker":  # voided statements are not returned at all
        assert not any(erased.email in json.dumps(s) for s in everything if s["verb"]["id"] != Verbs.VOIDED)
    report = await audit(client, program_iri=program_iri)
    assert report.template_conformance == 1.0 and report.spec_violations == 0, render(report)
