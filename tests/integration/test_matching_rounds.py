"""Rounds through the service with the matching engine, on SQLite and PostgreSQL: the quality report is stored
with the round, and fairness credit goes to exactly the people the engine names (trio, bye, weak match)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from teams_app.adapters.clock import FixedClock
from teams_app.adapters.db.uow import SqlUnitOfWorkFactory
from teams_app.domain.model import MatchingPolicy, Profile
from teams_app.service.use_cases import CoachingService, ParticipantInput


def person(i: int, **profile: object) -> ParticipantInput:
    base: dict[str, object] = {"department": f"dept{i % 3}", "time_zone": "Europe/Berlin", "languages": "en"}
    base.update(profile)
    return ParticipantInput(email=f"person{i}@example.com", display_name=f"Person {i}",
                            profile=Profile.build(**base))  # type: ignore[arg-type]


async def _priorities(engine: AsyncEngine, program_id: str) -> dict[str, int]:
    async with SqlUnitOfWorkFactory(engine)() as uow:
        return {e.participant_id: e.priority for e in await uow.enrollments.for_program(program_id)}


async def test_trio_members_get_priority_and_the_quality_report_is_stored(
        service: CoachingService, engine: AsyncEngine, clock: FixedClock) -> None:
    program = await service.create_program("P", "peer_pairs", "weekly")
    await service.import_participants("P", [person(i) for i in range(5)])
    result = await service.run_round("P", seed=3)
    trio = next(m for m in result.matches if len(m.members) == 3)
    assert {k: result.round.quality[k] for k in ("trios", "people_in_trios", "byes", "violations")} == {
        "trios": 1.0, "people_in_trios": 3.0, "byes": 0.0, "violations": 0.0}
    assert 0 < result.round.quality["fraction_of_bound"] <= 1
    priorities = await _priorities(engine, program.id)
    assert {pid for pid, p in priorities.items() if p} == set(trio.participant_ids)
    clock.advance(timedelta(days=7))
    second = await service.run_round("P", seed=3)
    # After a trio {a, b, c} and a pair {d, e}, any pair + trio of five repeats at least one pair: exactly one.
    assert second.round.quality["repeats"] == 1


async def test_a_mentor_with_two_mentees_earns_nobody_priority(service: CoachingService, engine: AsyncEngine) -> None:
    program = await service.create_program("M", "mentoring", "monthly", policy=MatchingPolicy(mentor_capacity=2))
    await service.import_participants("M", [person(0, seniority=4, role_preference="mentor"),
                                            person(1, seniority=2, role_preference="mentee"),
                                            person(2, seniority=2, role_preference="mentee")])
    result = await service.run_round("M")
    (match,) = result.matches
    assert sorted(m.role.value for m in match.members) == ["mentee", "mentee", "mentor"]
    assert any("2 levels more senior" in str(reason) for reason in match.reasons)
    assert set((await _priorities(engine, program.id)).values()) == {0}
