"""Reviewer allocation: partners, circles, random peers outside the team; no self, no manager<->report."""

from __future__ import annotations

from collections import Counter

import pytest

from teams_app.domain.assessment import AllocationMode, ReviewKind, allocate_reviewers, reporting_conflict
from teams_app.domain.errors import InvalidInput
from teams_app.domain.model import Match, MatchMember, Participant, Profile, Role


def person(i: int, department: str = "", manager: int | None = None) -> Participant:
    return Participant.create(f"p{i}@example.com", f"Person {i}", participant_id=f"p{i:03d}",
                              profile=Profile(department=department),
                              manager_email=f"p{manager}@example.com" if manager is not None else "")


def match(mid: str, *ids: str) -> Match:
    return Match(mid, "r1", "prog", tuple(MatchMember(i, Role.PEER) for i in ids))


def pairs(allocation: object) -> set[tuple[str, str]]:
    return {(a.reviewer_id, a.reviewee_id) for a in allocation.assignments if a.kind is ReviewKind.PEER}  # type: ignore[attr-defined]


def test_partners_review_each_other_and_trios_review_both_partners() -> None:
    people = [person(i) for i in range(5)]
    matches = [match("m1", "p000", "p001"), match("m2", "p002", "p003", "p004")]
    allocation = allocate_reviewers(people, AllocationMode.PARTNERS, seed=1, matches=matches)
    assert pairs(allocation) == {("p000", "p001"), ("p001", "p000"),
                                 ("p002", "p003"), ("p002", "p004"), ("p003", "p002"), ("p003", "p004"),
                                 ("p004", "p002"), ("p004", "p003")}
    assert allocation.unfilled == ()


def test_manager_and_direct_report_never_review_each_other() -> None:
    boss, report, other = person(0), person(1, manager=0), person(2)
    assert reporting_conflict(boss, report) and reporting_conflict(report, boss)
    allocation = allocate_reviewers([boss, report, other], "partners", seed=3,
                                    matches=[match("m1", "p000", "p001", "p002")])
    assert ("p000", "p001") not in pairs(allocation) and ("p001", "p000") not in pairs(allocation)
    assert ("p002", "p000") in pairs(allocation)
    assert {pid for pid, _ in allocation.unfilled} == {"p000", "p001"}


def test_big_circle_is_capped_and_perfectly_balanced() -> None:
    people = [person(i) for i in range(8)]
    allocation = allocate_reviewers(people, AllocationMode.CIRCLE, seed=9, per_person=3,
                                    matches=[match("c1", *(p.id for p in people))])
    given = Counter(a.reviewer_id for a in allocation.assignments)
    received = Counter(a.reviewee_id for a in allocation.assignments)
    assert set(given.values()) == {3} and set(received.values()) == {3}
    assert all(a.reviewer_id != a.reviewee_id for a in allocation.assignments)


def test_random_peers_come_from_other_teams_with_balanced_load() -> None:
    departments = ["sales"] * 20 + ["eng"] * 25 + ["ops"] * 10 + ["hr"] * 5 + ["legal"] * 3
    people = [person(i, d, manager=(i - 1 if i % 7 == 1 else None)) for i, d in enumerate(departments)]
    by_id = {p.id: p for p in people}
    allocation = allocate_reviewers(people, AllocationMode.PEERS, seed=42, per_person=4)
    assert allocation.unfilled == ()
    received = Counter(a.reviewee_id for a in allocation.assignments)
    assert set(received.values()) == {4}
    for a in allocation.assignments:
        reviewer, reviewee = by_id[a.reviewer_id], by_id[a.reviewee_id]
        assert reviewer.id != reviewee.id
        assert reviewer.profile.department != reviewee.profile.department
        assert not reporting_conflict(reviewer, reviewee)
    load = allocation.load()
    assert max(load.values()) - min(load.values()) <= 1
    assert len(load) == len(people)  # everyone reviews someone


def test_allocation_is_deterministic_for_a_seed() -> None:
    people = [person(i, f"d{i % 4}") for i in range(40)]
    first = allocate_reviewers(people, "peers", seed=7, per_person=3)
    again = allocate_reviewers(list(reversed(people)), "peers", seed=7, per_person=3)
    other = allocate_reviewers(people, "peers", seed=8, per_person=3)
    assert first == again
    assert pairs(first) != pairs(other)


def test_one_team_only_cannot_find_outside_reviewers_and_says_so() -> None:
    people = [person(i, "eng") for i in range(4)] + [person(9, "ops")]
    allocation = allocate_reviewers(people, "peers", seed=1, per_person=2)
    unfilled = dict(allocation.unfilled)
    assert set(unfilled) == {"p000", "p001", "p002", "p003"}  # only p009 is outside their team
    assert "only 1 eligible" in unfilled["p000"]
    assert sum(1 for _, reviewee in pairs(allocation) if reviewee == "p009") == 2


def test_people_without_a_department_can_review_anyone_but_themselves() -> None:
    people = [person(i) for i in range(6)]
    allocation = allocate_reviewers(people, "peers", seed=2, per_person=5)
    assert len(pairs(allocation)) == 30 and allocation.unfilled == ()


def test_self_assessment_is_a_separate_assignment() -> None:
    people = [person(0), person(1)]
    allocation = allocate_reviewers(people, "partners", seed=1, matches=[match("m", "p000", "p001")],
                                    self_assessment=True)
    selves = [a for a in allocation.assignments if a.kind is ReviewKind.SELF]
    assert [(a.reviewer_id, a.reviewee_id) for a in selves] == [("p000", "p000"), ("p001", "p001")]
    assert all(a.reviewer_id != a.reviewee_id for a in allocation.assignments if a.kind is ReviewKind.PEER)
    assert allocation.load() == {"p000": 1, "p001": 1}


@pytest.mark.parametrize(("mode", "per_person", "field"), [
    ("everyone", 3, "mode"), ("peers", 0, "reviewers_per_person"), ("peers", 11, "reviewers_per_person")])
def test_bad_allocation_settings_are_rejected(mode: str, per_person: int, field: str) -> None:
    with pytest.raises(InvalidInput) as err:
        allocate_reviewers([person(0)], mode, seed=1, per_person=per_person)
    assert err.value.field == field


def test_large_cohort_is_allocated_exactly_balanced_and_fast() -> None:
    import time

    departments = [f"d{i}" for i in range(7)]
    people = [person(i, departments[min(i % 10, 6)], manager=(i - 1 if i % 9 == 1 else None)) for i in range(3000)]
    started = time.perf_counter()
    allocation = allocate_reviewers(people, "peers", seed=5, per_person=4)
    assert time.perf_counter() - started < 2.0
    assert allocation.unfilled == ()
    assert set(allocation.load().values()) == {4}
    assert set(Counter(a.reviewee_id for a in allocation.assignments).values()) == {4}
    by_id = {p.id: p for p in people}
    assert not any(by_id[a.reviewer_id].profile.department == by_id[a.reviewee_id].profile.department
                   or reporting_conflict(by_id[a.reviewer_id], by_id[a.reviewee_id]) for a in allocation.assignments)


def test_a_dominant_team_is_served_by_the_others_as_evenly_as_possible() -> None:
    people = [person(i, "big" if i % 5 else "small") for i in range(500)]
    allocation = allocate_reviewers(people, "peers", seed=2, per_person=3)
    assert allocation.unfilled == ()
    assert set(Counter(a.reviewee_id for a in allocation.assignments).values()) == {3}
    load = allocation.load()
    small = {load[p.id] for p in people if p.profile.department == "small"}
    big = {load.get(p.id, 0) for p in people if p.profile.department == "big"}
    # 400 "big" people need 1,200 reviews from 100 "small" ones; 100 "small" need 300 from 400 "big" ones.
    assert small == {12} and big == {0, 1}
