"""Hard constraints, admin locks and scores of the matching engine, on small hand-checked populations."""

from __future__ import annotations

from dataclasses import replace

from teams_app.domain.matching import MatchHistory, hard_conflict, overlap_hours, plan_matches
from tests.unit.matching_helpers import TODAY, candidates, check_plan, groups_of, person, program


def test_overlap_hours_across_time_zones_and_midnight() -> None:
    berlin = person("a", tz="Europe/Berlin")
    london = person("b", tz="Europe/London")
    tokyo = person("c", tz="Asia/Tokyo")
    new_york = person("d", tz="America/New_York")
    night = person("e", tz="UTC", hours="22:00-06:00")
    assert overlap_hours(berlin, london, TODAY) == 7.0
    assert overlap_hours(tokyo, new_york, TODAY) == 0.0  # 00-08 UTC against 14-22 UTC
    assert overlap_hours(night, person("f", tz="UTC", hours="05:00-13:00"), TODAY) == 1.0  # wraps midnight
    assert overlap_hours(berlin, tokyo, TODAY) == overlap_hours(tokyo, berlin, TODAY)


def test_hard_conflict_names_each_rule() -> None:
    prog = program()
    boss = person("boss")
    report = person("rep", manager="boss@example.org")
    spanish = person("es", langs=("es",))
    tokyo = person("tok", tz="Asia/Tokyo")
    other = person("oth")
    blocked = MatchHistory(blocked=frozenset({frozenset(("oth", "boss"))}))
    assert hard_conflict(boss, report, prog, MatchHistory(), TODAY) == "manager and direct report"
    assert hard_conflict(boss, spanish, prog, MatchHistory(), TODAY) == "no shared language"
    assert hard_conflict(tokyo, person("ny", tz="America/New_York"), prog, MatchHistory(), TODAY) == (
        "too little shared working time")
    assert hard_conflict(other, boss, prog, blocked, TODAY) == "blocked"
    assert hard_conflict(other, boss, prog, MatchHistory(), TODAY) is None
    assert hard_conflict(boss, spanish, program(require_shared_language=False), MatchHistory(), TODAY) is None


def test_language_rule_pairs_speakers_of_the_same_language() -> None:
    people = candidates(person("en1"), person("es1", langs=("es",)), person("en2"), person("es2", langs=("es",)))
    prog = program()
    plan = plan_matches(prog, people, MatchHistory(), 1, TODAY)
    check_plan(plan, prog, people, MatchHistory())
    assert groups_of(plan) == {frozenset(("en1", "en2")), frozenset(("es1", "es2"))}


def test_too_little_shared_time_leaves_both_unmatched_with_a_reason() -> None:
    people = candidates(person("tok", tz="Asia/Tokyo"), person("ny", tz="America/New_York"))
    prog = program(min_overlap_hours=2)
    plan = plan_matches(prog, people, MatchHistory(), 1, TODAY)
    assert plan.matches == ()
    assert {pid for pid, _ in plan.unmatched} == {"tok", "ny"}
    assert all("working time" in reason or "third person" in reason for _, reason in plan.unmatched)
    assert plan.quality["byes"] == 2


def test_manager_and_direct_report_are_never_matched_even_when_best_fit() -> None:
    boss = person("boss", dept="A", offers=("SQL",), wants=("Go",))
    report = person("rep", dept="B", offers=("Go",), wants=("SQL",), manager="BOSS@example.org")
    people = candidates(boss, report, person("x", dept="A"), person("y", dept="A"))
    prog = program()
    plan = plan_matches(prog, people, MatchHistory(), 1, TODAY)
    check_plan(plan, prog, people, MatchHistory())
    assert frozenset(("boss", "rep")) not in groups_of(plan)


def test_blocked_pair_is_never_matched() -> None:
    a = person("a", dept="A", offers=("SQL",), wants=("Go",))
    b = person("b", dept="B", offers=("Go",), wants=("SQL",))
    history = MatchHistory(blocked=frozenset({frozenset(("a", "b"))}))
    people = candidates(a, b, person("c", dept="A"), person("d", dept="A"))
    prog = program()
    plan = plan_matches(prog, people, history, 1, TODAY)
    check_plan(plan, prog, people, history)
    assert frozenset(("a", "b")) not in groups_of(plan)


def test_forced_pair_is_honoured_over_a_better_score() -> None:
    a = person("a", dept="A", offers=("SQL",), wants=("Go",))
    b = person("b", dept="B", offers=("Go",), wants=("SQL",))
    history = MatchHistory(forced=(frozenset(("a", "c")),))
    people = candidates(a, b, person("c", dept="A"), person("d", dept="A"))
    prog = program()
    plan = plan_matches(prog, people, history, 1, TODAY)
    check_plan(plan, prog, people, history)
    assert groups_of(plan) == {frozenset(("a", "c")), frozenset(("b", "d"))}
    locked = next(m for m in plan.matches if {x.participant_id for x in m.members} == {"a", "c"})
    assert "An admin asked for this pair." in [str(r) for r in locked.reasons]


def test_forced_pair_that_breaks_a_hard_constraint_is_skipped_and_counted() -> None:
    history = MatchHistory(forced=(frozenset(("a", "b")),))
    people = candidates(person("a"), person("b", langs=("es",)), person("c"), person("d", langs=("es",)))
    prog = program()
    plan = plan_matches(prog, people, history, 1, TODAY)
    check_plan(plan, prog, people, history)
    assert plan.quality["forced_skipped"] == 1
    assert groups_of(plan) == {frozenset(("a", "c")), frozenset(("b", "d"))}


def test_score_and_reasons_for_a_complementary_cross_department_pair() -> None:
    ana = person("ana", name="Ana", dept="Data", loc="Lisbon", offers=("SQL", "Python"), wants=("Negotiation",),
                 goals=("public speaking",))
    bo = person("bo", name="Bo", dept="Sales", loc="Lisbon", offers=("negotiation",), wants=("sql",),
                goals=("Public Speaking",), tz="Europe/London")
    prog = program()
    plan = plan_matches(prog, candidates(ana, bo), MatchHistory(), 3, TODAY)
    (match,) = plan.matches
    # skills: Bo gets SQL, Ana gets Negotiation (2 x 3.0); departments 2.0; shared goal 1.0; same location 0
    assert match.score == 9.0
    reasons = {str(r) for r in match.reasons}
    assert len(reasons) == len(match.reasons) == 6
    assert {"Ana offers SQL, which Bo wants.", "Bo offers negotiation, which Ana wants.",
            "8 h of shared working time.", "First time you are matched."} < reasons
    assert reasons & {"Both want to work on public speaking.", "Both want to work on Public Speaking."}
    assert reasons & {"Different departments (Data and Sales).", "Different departments (Sales and Data)."}
    assert plan.quality["total_score"] == 9.0
    assert plan.quality["cross_department_share"] == 1.0


def test_best_pairs_are_chosen_over_a_greedy_first_pick() -> None:
    # Greedy from "a" would take "b" (score 6) and leave c-d at 0; the optimum pairs a-c and b-d (5 + 5 = 10).
    prog = program(weight_cross_department=0, weight_cross_location=0, weight_shared_goals=0, weight_skills=1)
    a = person("a", offers=("x", "y", "z"), wants=("p", "q", "r"))
    b = person("b", offers=("p", "q", "r"), wants=("x", "y", "z"))
    c = person("c", offers=("p", "q"), wants=("x", "y", "z"))
    d = person("d", offers=("x", "y", "z"), wants=("p", "q"))
    people = candidates(a, b, c, d)
    plan = plan_matches(prog, people, MatchHistory(), 5, TODAY)
    assert groups_of(plan) == {frozenset(("a", "b")), frozenset(("c", "d"))}
    assert plan.quality["total_score"] == 6 + 5
    assert plan.quality["matches"] == 2


def test_language_and_manager_rules_ignore_letter_case() -> None:
    prog = program()
    built = person("up")
    upper = replace(built, profile=replace(built.profile, languages=("EN",)))  # as stored, not via Profile.build
    lower = person("low", langs=("en",))
    assert upper.profile.languages == ("EN",)
    assert hard_conflict(upper, lower, prog, MatchHistory(), TODAY) is None
    boss = person("boss")
    report = person("rep", manager="Boss@Example.org")
    assert hard_conflict(report, boss, prog, MatchHistory(), TODAY) == "manager and direct report"
    plan = plan_matches(prog, candidates(boss, report, person("x"), person("y")), MatchHistory(), 1, TODAY)
    assert frozenset(("boss", "rep")) not in groups_of(plan)
