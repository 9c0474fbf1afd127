"""Property test: no generated population ever yields a hard-constraint violation or a person left out who
could have been placed.

"Could have been placed" is checked against the final plan: an unmatched person in a pair program has no
feasible partner among the other unmatched people and cannot join any pair as a third; in a circle there is no
group with room whose members they all fit; in mentoring and buddy programs no lead with free capacity fits.
"""

from __future__ import annotations

from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from teams_app.domain.matching import Candidate, MatchHistory, hard_conflict, plan_matches
from teams_app.domain.matching.engine import BYE_NO_BUDDY, BYE_NO_MENTEE, BYE_NO_MENTOR, BYE_NO_NEW_HIRE
from teams_app.domain.model import Participant, ProgramKind, Role
from tests.unit.matching_helpers import TODAY, check_plan, person, program

ZONES = ["Europe/Berlin", "America/New_York", "Asia/Tokyo", "UTC"]
LANGS = [("en",), ("es",), ("en", "es"), ("de",)]
SKILLS = ["sql", "go", "sales", "design"]


@st.composite
def populations(draw: st.DrawFn) -> tuple[list[Candidate], MatchHistory, ProgramKind, dict[str, int]]:
    size = draw(st.integers(min_value=0, max_value=16))
    people: list[Participant] = []
    for i in range(size):
        people.append(person(
            f"p{i:02d}", dept=draw(st.sampled_from(["", "A", "B", "C"])), tz=draw(st.sampled_from(ZONES)),
            langs=draw(st.sampled_from(LANGS)), offers=draw(st.lists(st.sampled_from(SKILLS), max_size=2)),
            wants=draw(st.lists(st.sampled_from(SKILLS), max_size=2)), seniority=draw(st.integers(1, 5)),
            pref=draw(st.sampled_from(["either", "mentor", "mentee"])),
            start=TODAY - timedelta(days=draw(st.sampled_from([5, 400]))),
            manager=f"p{draw(st.integers(0, max(size - 1, 0))):02d}@example.org" if draw(st.booleans()) else "",
        ))
    ids = [p.id for p in people]
    pairs = st.tuples(st.sampled_from(ids), st.sampled_from(ids)).map(frozenset) if ids else st.just(frozenset())
    blocked = frozenset(p for p in draw(st.lists(pairs, max_size=4)) if len(p) == 2)
    forced = tuple(p for p in draw(st.lists(pairs, max_size=2)) if len(p) == 2)
    met = {p: draw(st.integers(1, 8)) for p in draw(st.lists(pairs, max_size=6)) if len(p) == 2}
    kind = draw(st.sampled_from(list(ProgramKind)))
    priority = {pid: draw(st.integers(0, 3)) for pid in ids[:3]}
    candidates = [Candidate(p, priority.get(p.id, 0)) for p in people]
    return candidates, MatchHistory(rounds_ago=met, blocked=blocked, forced=forced), kind, priority


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(populations(), st.integers(min_value=0, max_value=2**32))
def test_no_violation_and_nobody_placeable_is_left_out(case, seed: int) -> None:  # type: ignore[no-untyped-def]
    people, history, kind, _ = case
    prog = program(kind, group_min=3, group_max=4, mentor_capacity=2, min_overlap_hours=2)
    plan = plan_matches(prog, people, history, seed, TODAY)
    check_plan(plan, prog, people, history)
    by_id = {c.id: c.participant for c in people}

    def fits(a: str, b: str) -> bool:
        return a != b and hard_conflict(by_id[a], by_id[b], prog, history, TODAY) is None

    left = [pid for pid, _ in plan.unmatched]
    groups = [[m.participant_id for m in match.members] for match in plan.matches]
    if kind is ProgramKind.PEER_PAIRS:
        for pid in left:
            assert not any(fits(pid, other) for other in left), pid
            assert not any(len(g) == 2 and all(fits(pid, m) for m in g) for g in groups), pid
    elif kind.is_group:
        for pid in left:
            assert not any(len(g) < prog.policy.group_max and all(fits(pid, m) for m in g) for g in groups), pid
    else:
        lead_role = Role.MENTOR if kind is ProgramKind.MENTORING else Role.BUDDY
        follower_role = Role.MENTEE if kind is ProgramKind.MENTORING else Role.NEW_HIRE
        free_groups = [[m.participant_id for m in match.members] for match in plan.matches
                       if len(match.members) - 1 < prog.policy.mentor_capacity]
        free_groups += [[pid] for pid, reason in plan.unmatched if reason in (BYE_NO_MENTEE, BYE_NO_NEW_HIRE)]
        waiting = [pid for pid, reason in plan.unmatched if reason in (BYE_NO_MENTOR, BYE_NO_BUDDY)]
        assert all(pid not in {m.participant_id for g in plan.matches for m in g.members} for pid in waiting)
        for pid in waiting:  # mentees / new hires left without a lead: no lead with room fits them
            assert not any(all(fits(pid, m) for m in g) for g in free_groups), pid
        assert all(m.role is follower_role for g in plan.matches for m in g.members if m.role is not lead_role)
    assert plan_matches(prog, people, history, seed, TODAY) == plan  # deterministic
