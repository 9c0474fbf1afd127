"""Small builders for matching tests: people, programs and checks every plan must pass."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from teams_app.domain.matching import Candidate, MatchHistory, MatchPlan, hard_conflict
from teams_app.domain.model import MatchingPolicy, Participant, Profile, Program, ProgramKind, Role
from teams_app.domain.reasons import Reason

TODAY = date(2026, 11, 23)  # a Monday


def person(pid: str, *, dept: str = "", loc: str = "", tz: str = "UTC", hours: str = "09:00-17:00",
           langs: Iterable[str] = ("en",), offers: Iterable[str] = (), wants: Iterable[str] = (),
           goals: Iterable[str] = (), seniority: int = 2, pref: str = "either", start: date | None = None,
           manager: str = "", name: str = "") -> Participant:
    profile = Profile.build(department=dept, location=loc, time_zone=tz, working_hours=hours,
                            languages=tuple(langs), seniority=seniority, skills_offered=tuple(offers),
                            skills_wanted=tuple(wants), goals=tuple(goals), start_date=start, role_preference=pref)
    return Participant(id=pid, email=f"{pid}@example.org", display_name=name or pid.title(), profile=profile,
                       manager_email=manager)


def program(kind: ProgramKind = ProgramKind.PEER_PAIRS, **policy: object) -> Program:
    return Program.create("Test", kind, "weekly", program_id="prog-1",
                          policy=MatchingPolicy(**policy))  # type: ignore[arg-type]


def candidates(*people: Participant, priority: dict[str, int] | None = None) -> list[Candidate]:
    return [Candidate(p, (priority or {}).get(p.id, 0)) for p in people]


def groups_of(plan: MatchPlan) -> set[frozenset[str]]:
    return {frozenset(m.participant_id for m in match.members) for match in plan.matches}


def check_plan(plan: MatchPlan, prog: Program, people: list[Candidate], history: MatchHistory) -> None:
    """Invariants of every plan: a partition of the people, no hard-constraint violation, sane roles."""
    by_id = {c.id: c.participant for c in people}
    seen: list[str] = [m.participant_id for match in plan.matches for m in match.members]
    seen += [pid for pid, _ in plan.unmatched]
    assert sorted(seen) == sorted(by_id), "every candidate is in exactly one match or told why not"
    for match in plan.matches:
        roles = [m.role for m in match.members]
        ids = [m.participant_id for m in match.members]
        if prog.kind in (ProgramKind.MENTORING, ProgramKind.BUDDY):
            lead_role = Role.MENTOR if prog.kind is ProgramKind.MENTORING else Role.BUDDY
            assert roles.count(lead_role) == 1
            assert len(ids) - 1 <= prog.policy.mentor_capacity
        pairs = [(a, b) for i, a in enumerate(ids) for b in ids[i + 1:]]  # a match is one meeting
        for a, b in pairs:
            assert hard_conflict(by_id[a], by_id[b], prog, history, TODAY) is None, (a, b)
        assert match.reasons and all(isinstance(r, Reason) and str(r) for r in match.reasons)
        if prog.kind.is_group:
            assert prog.policy.group_min <= len(ids) <= prog.policy.group_max
    assert plan.quality["violations"] == 0
