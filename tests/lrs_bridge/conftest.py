"""Fixtures for lrs_bridge tests: ralph LRS (session), a scriptable fake LRS, SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from lrs_bridge.outbox import create_tables
from lrs_bridge.records import (
    AssessmentRef,
    Attended,
    BadgeRef,
    CohortRef,
    Commented,
    Completed,
    CompletedScope,
    Earned,
    LeaveKind,
    Matched,
    MeetingRef,
    MeetingScheduled,
    Mentored,
    Person,
    ProgramRef,
    Rated,
    Record,
    Reflected,
    Registered,
    Reviewed,
    Role,
    RoundRef,
    ScoreValue,
    TalkedWith,
    Unregistered,
    Voided,
)
from tests.fixtures.ralph_lrs import RalphLrs, ralph_lrs  # noqa: F401 (pytest fixture)
from tests.lrs_bridge.fake_lrs import FakeLrs


@pytest.fixture
async def fake_lrs() -> AsyncIterator[FakeLrs]:
    lrs = FakeLrs()
    await lrs.start()
    yield lrs
    await lrs.stop()


@pytest.fixture
async def sqlite_engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'outbox.db'}")
    await create_tables(engine)
    yield engine
    await engine.dispose()


@pytest.fixture
async def pg_url(postgres_url: str) -> str:
    """A fresh PostgreSQL database for this test: the suite's one PostgreSQL fixture (tests/conftest.py, which
    honours PEERCOACH_TEST_PG_HOST/PORT/USER/DB and fails, never skips, when the server is down)."""
    return postgres_url


# -- sample records: one of every kind ---------------------------------------------------------------

ALICE = Person("alice@example.org", "Alice Adams", "aad-alice")
BOB = Person("bob@example.org", "Bob Brown", "aad-bob")
CARA = Person("cara@example.org", "Cara Chen", "")
PROGRAM = ProgramRef("pairs-2026", "Peer coaching 2026")
COHORT = CohortRef("spring", "Spring intake")
ROUND = RoundRef("pairs-2026", 3)
MEETING = MeetingRef("mtg-42", "Coaching session")


def sample_records(prefix: str | None = None, registration: uuid.UUID | None = None) -> list[Record]:
    """One record of every kind; ``prefix`` makes the event keys (and so statement ids) unique."""
    p = prefix or uuid.uuid4().hex
    reg = registration or uuid.uuid4()
    ts = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
    common = {"timestamp": ts, "program": PROGRAM, "cohort": COHORT}
    in_round = {**common, "round": ROUND, "registration": reg}
    score = ScoreValue(raw=4, min=1, max=5)
    return [
        Registered(event_key=f"{p}:registered", actor=ALICE, **common),
        Unregistered(event_key=f"{p}:paused", actor=BOB, kind=LeaveKind.PAUSED,
                     paused_until=datetime(2026, 5, 1).date(), **common),
        Matched(event_key=f"{p}:matched", actor=ALICE, members=(ALICE, BOB, CARA), role=Role.FACILITATOR,
                **in_round),
        MeetingScheduled(event_key=f"{p}:scheduled", actor=ALICE, meeting=MEETING,
                         start=datetime(2026, 3, 4, 15, 0, tzinfo=UTC), **in_round),
        Attended(event_key=f"{p}:attended", actor=BOB, meeting=MEETING, **in_round),
        Mentored(event_key=f"{p}:mentored", actor=ALICE, mentee=BOB, meeting=MEETING, **in_round),
        TalkedWith(event_key=f"{p}:talked1", actor=ALICE, peers=(BOB,), **in_round),
        TalkedWith(event_key=f"{p}:talked2", actor=ALICE, peers=(BOB, CARA), meeting=MEETING, **in_round),
        Reflected(event_key=f"{p}:reflected", actor=BOB, meeting=MEETING, usefulness=4,
                  learned="Ask before advising.", next_step="Try GROW with my team.", language="en-GB",
                  **in_round),
        Reflected(event_key=f"{p}:reflected-no-meeting", actor=CARA, met=False, **in_round),
        Reviewed(event_key=f"{p}:reviewed", actor=BOB, assessment=AssessmentRef("as-7", "Feedback skills"),
                 reviewee=ALICE, score=score, comment="Clear and kind.", **in_round),
        Rated(event_key=f"{p}:rated", actor=BOB, assessment=AssessmentRef("as-7"), reviewee=ALICE,
              score=ScoreValue(raw=3, min=0, max=4), criterion="listening", language="de-DE", **in_round),
        Completed(event_key=f"{p}:completed-round", actor=ALICE, scope=CompletedScope.ROUND, **in_round),
        Completed(event_key=f"{p}:completed-program", actor=ALICE, scope=CompletedScope.PROGRAM, **common),
        Commented(event_key=f"{p}:commented", actor=CARA, comment="Great round!", **in_round),
        Commented(event_key=f"{p}:commented-meeting", actor=CARA, comment="Notes attached.", meeting=MEETING,
                  **in_round),
        Earned(event_key=f"{p}:earned", actor=ALICE, badge=BadgeRef("helper", "Helpful peer", "Thanked 5x"),
               reason="Thanked by 5 peers", language="fr", **in_round),
        Voided(event_key=f"{p}:voided", actor=ALICE, voided_event_key=f"{p}:commented", **common),
    ]


@pytest.fixture
def records() -> Iterator[list[Record]]:
    yield sample_records()


__all__ = ["FakeLrs", "RalphLrs", "sample_records"]
