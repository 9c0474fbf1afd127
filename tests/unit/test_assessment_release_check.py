"""Opening checks that everyone can reach the reviews their feedback needs; each program kind's defaults
release feedback to everyone who was reviewed."""

from __future__ import annotations

import pytest

from teams_app.domain.assessment import AllocationMode, ShortReviewee, unreachable
from teams_app.domain.assessment.allocation import Allocation, Assignment
from teams_app.service.assessment import ReleaseUnreachable
from tests.unit.test_assessment_service import Harness, submit_all


def pairs(h: Harness, n: int) -> None:
    h.add_people(n)
    for i in range(0, n, 2):
        h.add_match(f"p{i}", f"p{i + 1}")


async def release(h: Harness, assessment_id: str) -> tuple[list[str], list[str]]:
    await submit_all(h, assessment_id)
    h.clock.advance(days=8)
    summary = await h.service.release_results(assessment_id)
    return sorted(summary.released), sorted(summary.withheld)


@pytest.mark.parametrize("kind", ["peer_pairs", "mentoring", "buddy"])
async def test_pair_kind_defaults_release_feedback_to_everyone(kind: str) -> None:
    h = Harness(kind=kind)
    pairs(h, 6)
    opened = await h.service.open_assessment("prog", deadline=h.deadline)
    assert opened.assessment.mode is AllocationMode.PARTNERS and opened.assessment.threshold == 1
    assert opened.assessment.named_feedback and any("named" in note for note in opened.notes)
    released, withheld = await release(h, opened.assessment.id)
    assert released == [f"p{i}" for i in range(6)] and withheld == []


@pytest.mark.parametrize("kind", ["circle", "action_learning"])
async def test_group_kind_defaults_lower_k_to_the_smallest_circle_and_say_so(kind: str) -> None:
    h = Harness(kind=kind)
    h.add_people(8)
    h.add_match("p0", "p1", "p2")  # gives 2 reviews each: below the program's k=3
    h.add_match("p3", "p4", "p5", "p6", "p7")
    opened = await h.service.open_assessment("prog", deadline=h.deadline)
    assert opened.assessment.mode is AllocationMode.CIRCLE and opened.assessment.threshold == 2
    assert not opened.assessment.named_feedback
    (note,) = opened.notes
    assert "k lowered from 3 to 2" in note and "Anonymity is weaker" in note
    released, withheld = await release(h, opened.assessment.id)
    assert released == [f"p{i}" for i in range(8)] and withheld == []


async def test_circles_big_enough_for_k_keep_the_program_k() -> None:
    h = Harness(kind="circle")
    h.add_people(8)
    h.add_match("p0", "p1", "p2", "p3")
    h.add_match("p4", "p5", "p6", "p7")
    opened = await h.service.open_assessment("prog", deadline=h.deadline)
    assert opened.assessment.threshold == 3 and opened.notes == []
    released, withheld = await release(h, opened.assessment.id)
    assert len(released) == 8 and withheld == []


async def test_explicit_anonymous_pairs_are_refused_with_who_why_and_what_would_work() -> None:
    h = Harness()
    pairs(h, 8)
    with pytest.raises(ReleaseUnreachable) as caught:
        await h.service.open_assessment("prog", deadline=h.deadline, mode="partners", min_reviews=3)
    error = caught.value
    assert [name for name, _ in error.short] == [f"Person {i}" for i in range(8)]
    assert all(s.allocated == 1 and "gives only 1 reviewer" in s.reason for _, s in error.short)
    assert "Person 0: 1 of 3 reviews" in str(error)
    assert any(o.startswith("--mode peers --reviewers 3") for o in error.options)  # 4 teams of 2: it works
    assert any(o.startswith("--named") for o in error.options)
    assert h.uow.store.assessments == {}  # nothing was opened


async def test_the_offered_peer_setting_really_opens_and_releases() -> None:
    h = Harness()
    pairs(h, 8)
    opened = await h.service.open_assessment("prog", deadline=h.deadline, mode="peers", reviewers_per_person=3)
    assert opened.notes == [] and opened.assessment.threshold == 3
    released, withheld = await release(h, opened.assessment.id)
    assert len(released) == 8 and withheld == []


async def test_peers_from_one_team_are_refused_and_no_peer_option_is_offered() -> None:
    h = Harness()
    h.add_people(6, departments=1)
    h.add_match("p0", "p1")
    with pytest.raises(ReleaseUnreachable) as caught:
        await h.service.open_assessment("prog", deadline=h.deadline, mode="peers")
    assert len(caught.value.short) == 6
    assert all("outside your team" in s.reason for _, s in caught.value.short)
    assert [name for name, _ in caught.value.short] == sorted(f"Person {i}" for i in range(6))
    assert not any(o.startswith("--mode peers") for o in caught.value.options)


def test_unreachable_names_the_allocation_reason_or_the_size() -> None:
    allocation = Allocation((Assignment("a", "b"), Assignment("c", "b"), Assignment("b", "a")),
                            unfilled=(("c", "your manager in the match cannot review you"),))
    assert unreachable(allocation, ["a", "b", "c"], 2) == [
        ShortReviewee("a", 1, 2, "their match or circle gives only 1 reviewer"),
        ShortReviewee("c", 0, 2, "your manager in the match cannot review you")]


async def test_peers_asked_for_fewer_than_k_reviewers_are_told_to_ask_for_more() -> None:
    h = Harness()
    pairs(h, 8)
    with pytest.raises(ReleaseUnreachable) as caught:
        await h.service.open_assessment("prog", deadline=h.deadline, mode="peers", reviewers_per_person=2)
    assert all(s.reason == "only 2 reviewers per person were asked for" for _, s in caught.value.short)
    assert caught.value.options[0].startswith("--reviewers 3")
    assert any(o.startswith("--min-reviews 2: k=2, weaker anonymity") for o in caught.value.options)
    opened = await h.service.open_assessment("prog", deadline=h.deadline, mode="peers", reviewers_per_person=2,
                                             min_reviews=2)
    assert opened.assessment.threshold == 2
