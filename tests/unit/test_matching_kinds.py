"""Odd counts, mentoring capacity, new-hire buddies, circles, history, fairness and determinism."""

from __future__ import annotations

from datetime import timedelta

from teams_app.domain.matching import MatchHistory, plan_matches
from teams_app.domain.model import ProgramKind, Role
from tests.unit.matching_helpers import TODAY, candidates, check_plan, groups_of, person, program


def _roles(plan, role: Role) -> set[str]:  # type: ignore[no-untyped-def]
    return {m.participant_id for match in plan.matches for m in match.members if m.role is role}


def test_odd_count_makes_one_trio_and_nobody_is_left_out() -> None:
    people = candidates(*(person(f"p{i}", dept=f"D{i % 3}") for i in range(7)))
    prog = program()
    plan = plan_matches(prog, people, MatchHistory(), 11, TODAY)
    check_plan(plan, prog, people, MatchHistory())
    assert sorted(len(m.members) for m in plan.matches) == [2, 2, 3]
    assert plan.unmatched == ()
    assert plan.quality["trios"] == 1 and plan.quality["people_in_trios"] == 3
    trio = next(m for m in plan.matches if len(m.members) == 3)
    assert set(plan.needs_priority) >= {m.participant_id for m in trio.members}


def test_person_with_fairness_credit_is_not_put_in_the_trio() -> None:
    people_list = [person(f"p{i}") for i in range(5)]
    for seed in range(8):
        plan = plan_matches(program(), candidates(*people_list, priority={"p3": 2}), MatchHistory(), seed, TODAY)
        trio = next(m for m in plan.matches if len(m.members) == 3)
        assert "p3" not in {m.participant_id for m in trio.members}


def test_single_person_gets_a_bye_with_a_reason() -> None:
    plan = plan_matches(program(), candidates(person("solo")), MatchHistory(), 1, TODAY)
    assert plan.matches == ()
    assert plan.unmatched[0][0] == "solo" and "priority" in plan.unmatched[0][1]


def test_mentor_capacity_gives_each_mentor_up_to_c_mentees() -> None:
    mentors = [person(f"m{i}", pref="mentor", seniority=4) for i in range(2)]
    mentees = [person(f"e{i}", pref="mentee", seniority=2) for i in range(5)]
    people = candidates(*mentors, *mentees)
    prog = program(ProgramKind.MENTORING, mentor_capacity=2)
    plan = plan_matches(prog, people, MatchHistory(), 3, TODAY)
    check_plan(plan, prog, people, MatchHistory())
    assert sorted(len(m.members) for m in plan.matches) == [3, 3]
    assert _roles(plan, Role.MENTOR) == {"m0", "m1"}
    assert len(_roles(plan, Role.MENTEE)) == 4
    (left, reason), = plan.unmatched
    assert left.startswith("e") and "mentor" in reason
    assert all("2 levels more senior" in " ".join(map(str, m.reasons)) for m in plan.matches)


def test_mentoring_splits_either_preferences_by_seniority() -> None:
    people = candidates(person("senior", seniority=5), person("mid", seniority=3), person("j1", seniority=1),
                        person("j2", seniority=1))
    prog = program(ProgramKind.MENTORING, mentor_capacity=1)
    plan = plan_matches(prog, people, MatchHistory(), 3, TODAY)
    check_plan(plan, prog, people, MatchHistory())
    assert _roles(plan, Role.MENTOR) == {"senior", "mid"}
    assert _roles(plan, Role.MENTEE) == {"j1", "j2"}
    by_group = groups_of(plan)
    assert frozenset(("mid", "j1")) in by_group or frozenset(("mid", "j2")) in by_group  # gap 2 beats gap 4


def test_new_hires_get_a_tenured_buddy() -> None:
    recent = TODAY - timedelta(days=10)
    people = candidates(person("new1", start=recent), person("new2", start=recent),
                        person("old1", start=TODAY - timedelta(days=900)), person("old2"), person("old3"))
    prog = program(ProgramKind.BUDDY, new_hire_days=60)
    plan = plan_matches(prog, people, MatchHistory(), 3, TODAY)
    check_plan(plan, prog, people, MatchHistory())
    assert _roles(plan, Role.NEW_HIRE) == {"new1", "new2"}
    assert len(_roles(plan, Role.BUDDY)) == 2
    assert len(plan.unmatched) == 1 and plan.unmatched[0][0].startswith("old")


def test_circles_have_allowed_sizes_mixed_departments_and_no_conflicts() -> None:
    people = candidates(*(person(f"p{i:02d}", dept=f"D{i % 4}") for i in range(22)),
                        person("es1", langs=("es",)), person("es2", langs=("es",)), person("es3", langs=("es",)))
    prog = program(ProgramKind.CIRCLE, group_min=3, group_max=5)
    plan = plan_matches(prog, people, MatchHistory(), 9, TODAY)
    check_plan(plan, prog, people, MatchHistory())
    assert len(plan.matches) == 6 and plan.unmatched == ()  # the Spanish trio, then 22 people as 5+5+4+4+4
    assert frozenset(("es1", "es2", "es3")) in groups_of(plan)
    mixed = [m for m in plan.matches if not {m.participant_id for m in m.members} & {"es1", "es2", "es3"}]
    assert all(any("departments" in str(r) for r in m.reasons) for m in mixed)
    assert all(sum(x.role is Role.FACILITATOR for x in m.members) == 1 for m in plan.matches)


def test_circle_with_too_few_people_tells_everyone_why() -> None:
    prog = program(ProgramKind.CIRCLE, group_min=4, group_max=6)
    plan = plan_matches(prog, candidates(person("a"), person("b"), person("c")), MatchHistory(), 1, TODAY)
    assert plan.matches == () and len(plan.unmatched) == 3
    assert all("at least 4" in reason for _, reason in plan.unmatched)


def test_forced_pair_stays_together_in_a_circle() -> None:
    people = candidates(*(person(f"p{i}") for i in range(9)))
    history = MatchHistory(forced=(frozenset(("p1", "p7")),))
    prog = program(ProgramKind.CIRCLE, group_min=3, group_max=3)
    plan = plan_matches(prog, people, history, 2, TODAY)
    check_plan(plan, prog, people, history)
    assert any({"p1", "p7"} <= g for g in groups_of(plan))


def test_no_repeat_within_history_window_when_an_alternative_exists() -> None:
    a = person("a", dept="A", offers=("SQL",), wants=("Go",))
    b = person("b", dept="B", offers=("Go",), wants=("SQL",))
    people = candidates(a, b, person("c", dept="A"), person("d", dept="A"))
    history = MatchHistory(rounds_ago={frozenset(("a", "b")): 2})
    prog = program(history_rounds=3)
    plan = plan_matches(prog, people, history, 1, TODAY)
    assert frozenset(("a", "b")) not in groups_of(plan)
    assert plan.quality["repeats"] == 0
    # Outside the window the strong pair is allowed again, but it is still a repeat of an old match.
    old = MatchHistory(rounds_ago={frozenset(("a", "b")): 4})
    plan = plan_matches(prog, people, old, 1, TODAY)
    assert frozenset(("a", "b")) not in groups_of(plan)  # meeting someone new comes first


def test_unavoidable_repeat_is_made_and_explained() -> None:
    people = candidates(person("a"), person("b"))
    history = MatchHistory(rounds_ago={frozenset(("a", "b")): 1})
    plan = plan_matches(program(), people, history, 1, TODAY)
    (match,) = plan.matches
    assert plan.quality["repeats"] == 1
    assert "You met 1 round ago, but no one else who fits was available." in [str(r) for r in match.reasons]


def test_everyone_meets_someone_new_every_round_in_a_small_group() -> None:
    people = candidates(*(person(f"p{i:02d}", dept=f"D{i % 3}") for i in range(12)))
    prog = program(history_rounds=10)
    met: dict[frozenset[str], int] = {}
    for round_no in range(1, 8):
        history = MatchHistory(rounds_ago={pair: round_no - r for pair, r in met.items()})
        plan = plan_matches(prog, people, history, round_no, TODAY)
        check_plan(plan, prog, people, history)
        assert plan.quality["repeats"] == 0, round_no
        for g in groups_of(plan):
            met[g] = round_no


def test_same_inputs_and_seed_give_the_same_plan_and_seed_matters() -> None:
    people = candidates(*(person(f"p{i:02d}", dept=f"D{i % 5}", offers=(f"s{i % 4}",), wants=(f"s{(i + 1) % 4}",))
                          for i in range(40)))
    prog = program()
    first = plan_matches(prog, people, MatchHistory(), 42, TODAY)
    again = plan_matches(prog, list(reversed(people)), MatchHistory(), 42, TODAY)
    assert first == again
    others = {tuple(sorted(tuple(sorted(g)) for g in groups_of(plan_matches(prog, people, MatchHistory(), s, TODAY))))
              for s in range(5)}
    assert len(others) > 1


def test_quality_report_is_flat_and_complete() -> None:
    plan = plan_matches(program(), candidates(*(person(f"p{i}", dept=f"D{i}") for i in range(5))), MatchHistory(),
                        1, TODAY)
    for key in ("total_score", "upper_bound", "fraction_of_bound", "cross_department_share", "repeats",
                "violations", "trios", "people_in_trios", "byes"):
        assert isinstance(plan.quality[key], float), key
    assert 0 < plan.quality["fraction_of_bound"] <= 1.0
