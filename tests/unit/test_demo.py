"""The demo `peercoach dev` seeds: a labelled program, the Playground's colleagues, check-ins they answer."""

from __future__ import annotations

from teams_app.service.demo import DEMO_COLLEAGUES, DEMO_PROGRAM, answer_demo_check_ins, seed_demo
from teams_app.service.use_cases import CoachingService, ParticipantInput


async def test_seed_demo_creates_one_labelled_program_with_the_playground_colleagues(
        service: CoachingService) -> None:
    assert await seed_demo(service) is True
    programs = await service.list_programs()
    assert [p.name for p in programs] == [DEMO_PROGRAM]
    assert "demo" in programs[0].description.lower()
    roster = await service.roster(DEMO_PROGRAM)
    assert sorted(p.email for p in roster) == sorted(c.email for c in DEMO_COLLEAGUES)


async def test_seed_demo_leaves_a_database_with_programs_alone(service: CoachingService) -> None:
    await service.create_program("Real pairs", "peer_pairs", "weekly")
    assert await seed_demo(service) is False
    assert [p.name for p in await service.list_programs()] == ["Real pairs"]


async def test_demo_colleagues_answer_their_check_ins_once_and_real_people_are_left_alone(
        service: CoachingService) -> None:
    await seed_demo(service)
    me = await service.enroll(DEMO_PROGRAM, ParticipantInput(email="alexw@example.com", display_name="Alex Wilber"),
                              consent=True)
    result = await service.run_round(DEMO_PROGRAM, seed=1)
    assert sum(len(m.members) for m in result.matches) == 4
    assert await answer_demo_check_ins(service) == 3
    assert await answer_demo_check_ins(service) == 0  # answered once
    mine = await service.my_matches(me.id)
    assert len(mine) == 1 and not mine[0].checked_in
