"""Fixtures for lrs_bridge tests: ralph LRS (session), a scriptable fake LRS, SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from lrs_bridge.outbox import create_tables
from lrs_bridge.records import (
    AssessmentRef,
    Attended,
    BadgeRef,
    CohortRef,
    Completed,
    CompletedScope,
    Earned,
    Matched,
    MeetingCancelled,
    MeetingRef,
    MeetingScheduled,
    Mentored,
    Person,
    ProgramRef,
    Record,
    Reflected,
    Registered,
    RescheduleRequested,
    Resumed,
    Reviewed,
    Role,
    RoundRef,
    Scored,
    ScoreSource,
    ScoreValue,
    Suspended,
    TalkedWith,
    Unregistered,
    Voided,
)
from tests.fixtures.learning_locker import learning_locker_lrs  # noqa: F401 (pytest fixture)
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

ALICE = Person("alice@example.org", "Alice Adams", "aad-alice", "p-5e1c0a1d")
BOB = Person("bob@example.org", "Bob Brown", "aad-bob", "p-b0b7e3f2")
CARA = Person("cara@example.org", "Cara Chen", "", "p-ca7a9d10")
PROGRAM = ProgramRef("pairs-2026", "Peer coaching 2026")
COHORT = CohortRef("spring", "Spring intake")
ROUND = RoundRef("pairs-2026", 3)
MEETING = MeetingRef("mtg-42", "Peer coaching 2026, round 3: session mtg-42", "A coaching session of one match")


def sample_records(prefix: str | None = None, registration: uuid.UUID | None = None) -> list[Record]:
    """One record of every kind; ``prefix`` makes the event keys (and so statement ids) unique."""
    p = prefix or uuid.uuid4().hex
    reg = registration or uuid.uuid4()
    ts = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
    common = {"timestamp": ts, "program": PROGRAM, "cohort": COHORT, "registration": reg}
    in_round = {**common, "round": ROUND}
    assessment = AssessmentRef("as-7", "Feedback skills")
    return [
        Registered(event_key=f"{p}:registered", actor=ALICE, **common),
        Suspended(event_key=f"{p}:paused", actor=BOB, paused_until=datetime(2026, 5, 1).date(), platform="email",
                  **common),
        Resumed(event_key=f"{p}:resumed", actor=BOB, **common),
        Unregistered(event_key=f"{p}:left", actor=CARA, **common),
        Matched(event_key=f"{p}:matched", actor=ALICE, members=(ALICE, BOB, CARA), role=Role.FACILITATOR,
                skills=("listening",), partner_departments=("Finance", "Sales"), **in_round),
        MeetingScheduled(event_key=f"{p}:scheduled", actor=ALICE, meeting=MEETING,
                         start=datetime(2026, 3, 4, 15, 0, tzinfo=UTC), **in_round),
        RescheduleRequested(event_key=f"{p}:reschedule", actor=BOB, meeting=MEETING, **in_round),
        MeetingCancelled(event_key=f"{p}:cancelled", actor=ALICE, meeting=MEETING, called_off=False, platform="email",
                         **in_round),
        Attended(event_key=f"{p}:attended", actor=BOB, meeting=MEETING, duration=timedelta(minutes=30), **in_round),
        Mentored(event_key=f"{p}:mentored", actor=ALICE, mentee=BOB, meeting=MEETING, **in_round),
        TalkedWith(event_key=f"{p}:talked1", actor=ALICE, peers=(BOB,), **in_round),
        TalkedWith(event_key=f"{p}:talked2", actor=ALICE, peers=(BOB, CARA), meeting=MEETING, **in_round),
        Reflected(event_key=f"{p}:reflected", actor=BOB, meeting=MEETING, usefulness=4,
                  learned="Ask before advising.", next_step="Try GROW with my team.", language="en-GB",
                  **in_round),
        Reflected(event_key=f"{p}:reflected-no-meeting", actor=CARA, met=False, **in_round),
        Reviewed(event_key=f"{p}:reviewed", actor=BOB, assessment=assessment, reviewee=ALICE, **in_round),
        Scored(event_key=f"{p}:scored", actor=ALICE, assessment=assessment, score=ScoreValue(raw=13.5, min=4, max=16),
               reviews=3, interval=(12.0, 15.0), language="de-DE", **in_round),
        Scored(event_key=f"{p}:self-scored", actor=BOB, assessment=assessment, score=ScoreValue(raw=3, min=0, max=4),
               source=ScoreSource.SELF, **in_round),
        Completed(event_key=f"{p}:completed-round", actor=ALICE, scope=CompletedScope.ROUND,
                  duration=timedelta(days=7), **in_round),
        Completed(event_key=f"{p}:completed-program", actor=ALICE, scope=CompletedScope.PROGRAM,
                  duration=timedelta(days=90), **common),
        Earned(event_key=f"{p}:earned", actor=ALICE, badge=BadgeRef("helper", "Helpful peer", "Thanked 5x"),
               reason="Thanked by 5 peers", language="fr", **in_round),
        Voided(event_key=f"{p}:voided", actor=ALICE, voided_event_key=f"{p}:earned", **common),
    ]


@pytest.fixture
def records() -> Iterator[list[Record]]:
    yield sample_records()


__all__ = ["FakeLrs", "RalphLrs", "sample_records"]
