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


async def test_demo_colleagues_answer_after_their_real_partner_and_once(service: CoachingService) -> None:
    await seed_demo(service)
    me = await service.enroll(DEMO_PROGRAM, ParticipantInput(email="alexw@example.com", display_name="Alex Wilber"),
                              consent=True)
    result = await service.run_round(DEMO_PROGRAM, seed=1)
    assert sum(len(m.members) for m in result.matches) == 4
    # The all-demo match answers at once; the one with Alex waits for Alex.
    assert await answer_demo_check_ins(service) == 2
    (mine,) = await service.my_matches(me.id)
    assert not mine.checked_in
    assert await answer_demo_check_ins(service) == 0
    await service.record_check_in(mine.match.id, me.id, met=True, usefulness=4, learned="x", next_step="y")
    assert await answer_demo_check_ins(service) == 1
    assert await answer_demo_check_ins(service) == 0  # answered once
