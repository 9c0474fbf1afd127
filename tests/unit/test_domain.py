"""Domain rules: validation with field names, state transitions, cadence, the matcher's guarantees."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from teams_app.domain.errors import InvalidInput, InvalidInputs, InvalidTransition
from teams_app.domain.matching import Candidate, MatchHistory, overlap_hours, plan_matches
from teams_app.domain.model import (
    Cadence,
    CheckIn,
    Enrollment,
    EnrollmentStatus,
    Participant,
    Profile,
    Program,
    Role,
)

TODAY = date(2026, 11, 23)


def fields_of(exc: InvalidInputs) -> set[str]:
    return {p.field for p in exc.problems}


def test_profile_reports_every_bad_field_at_once() -> None:
    with pytest.raises(InvalidInputs) as info:
        Profile.build(time_zone="Mars/Olympus", working_hours="nine to five", seniority=9, languages="",
                      start_date="yesterday")
    assert fields_of(info.value) == {"time_zone", "working_hours", "seniority", "languages", "start_date"}
    assert "IANA time zone" in str(info.value)


def test_profile_normalises_lists_and_languages() -> None:
    profile = Profile.build(time_zone="Asia/Kolkata", languages="EN; de", skills_offered="SQL, sql, Python")
    assert profile.languages == ("en", "de")
    assert profile.skills_offered == ("SQL", "Python")


def test_participant_needs_a_valid_email() -> None:
    with pytest.raises(InvalidInputs) as info:
        Participant.create("not-an-email", "X")
    assert fields_of(info.value) == {"email"}
    created = Participant.create(" Ana@Example.COM ", "")
    assert (created.email, created.display_name) == ("ana@example.com", "Ana")


def test_program_create_names_the_bad_kind_and_cadence() -> None:
    with pytest.raises(InvalidInputs) as info:
        Program.create("", "speed-dating", "hourly")
    assert fields_of(info.value) == {"name", "kind", "cadence"}


def test_monthly_cadence_keeps_a_valid_day() -> None:
    assert Cadence.MONTHLY.next_after(datetime(2026, 1, 31, tzinfo=UTC)) == datetime(2026, 2, 28, tzinfo=UTC)
    assert Cadence.MONTHLY.next_after(datetime(2026, 12, 5, tzinfo=UTC)) == datetime(2027, 1, 5, tzinfo=UTC)


def test_enrollment_transitions() -> None:
    now = datetime(2026, 11, 23, tzinfo=UTC)
    enrollment = Enrollment("p", "a", EnrollmentStatus.ACTIVE, now, now)
    paused = enrollment.pause(date(2026, 12, 1), TODAY)
    assert not paused.is_active_on(TODAY) and paused.is_active_on(date(2026, 12, 1))
    with pytest.raises(InvalidTransition):
        enrollment.resume()
    left = paused.leave()
    with pytest.raises(InvalidTransition):
        left.pause(None, TODAY)


@pytest.mark.parametrize(("usefulness", "text", "field"), [(0, "", "usefulness"), ("x", "", "usefulness"),
                                                            (None, "", "usefulness"), (3, "y" * 2001, "learned")])
def test_check_in_rejects_bad_values(usefulness: object, text: str, field: str) -> None:
    with pytest.raises(InvalidInputs) as info:
        CheckIn.create("m", "p", met=True, usefulness=usefulness, learned=text,  # type: ignore[arg-type]
                       at=datetime(2026, 11, 23, tzinfo=UTC))
    assert field in fields_of(info.value)


def test_check_in_without_meeting_needs_no_score() -> None:
    check_in = CheckIn.create("m", "p", met=False, usefulness=None, at=datetime(2026, 11, 23, tzinfo=UTC))
    assert check_in.usefulness is None


def _people(n: int, **profile: object) -> list[Candidate]:
    return [Candidate(Participant.create(f"p{i}@x.com", f"P{i}", profile=Profile.build(**profile)))  # type: ignore[arg-type]
            for i in range(n)]


def test_matcher_is_deterministic_for_a_seed() -> None:
    program = Program.create("x", "peer_pairs", "weekly")
    people = _people(20, time_zone="Europe/Berlin")
    first = plan_matches(program, people, MatchHistory(), 42, TODAY)
    again = plan_matches(program, list(reversed(people)), MatchHistory(), 42, TODAY)
    assert first == again


def test_matcher_never_pairs_people_without_a_shared_language() -> None:
    program = Program.create("x", "peer_pairs", "weekly")
    english = _people(3, time_zone="UTC", languages="en")
    german = [Candidate(Participant.create(f"d{i}@x.com", f"D{i}", profile=Profile.build(languages="de")))
              for i in range(3)]
    plan = plan_matches(program, english + german, MatchHistory(), 1, TODAY)
    for match in plan.matches:
        ids = {m.participant_id for m in match.members}
        assert ids <= {c.id for c in english} or ids <= {c.id for c in german}
    assert sum(len(m.members) for m in plan.matches) == 6


def test_no_overlap_across_far_time_zones_leaves_the_person_unmatched_with_a_reason() -> None:
    program = Program.create("x", "peer_pairs", "weekly")
    a = Candidate(Participant.create("a@x.com", "A", profile=Profile.build(time_zone="America/Los_Angeles")))
    b = Candidate(Participant.create("b@x.com", "B", profile=Profile.build(time_zone="Asia/Kolkata")))
    assert overlap_hours(a.participant, b.participant, TODAY) < 1
    plan = plan_matches(program, [a, b], MatchHistory(), 1, TODAY)
    assert plan.matches == () and len(plan.unmatched) == 2
    assert "working time" in plan.unmatched[0][1]


def test_manager_and_direct_report_are_never_matched() -> None:
    program = Program.create("x", "peer_pairs", "weekly")
    boss = Candidate(Participant.create("boss@x.com", "Boss"))
    report = Candidate(Participant.create("rep@x.com", "Rep", manager_email="boss@x.com"))
    plan = plan_matches(program, [boss, report], MatchHistory(), 1, TODAY)
    assert plan.matches == ()


def test_circles_respect_size_bounds_and_rotate_the_facilitator() -> None:
    program = Program.create("c", "circle", "weekly")
    people = _people(11)
    plan = plan_matches(program, people, MatchHistory(), 3, TODAY)
    sizes = sorted(len(m.members) for m in plan.matches)
    assert sum(sizes) == 11 and all(3 <= s <= 8 for s in sizes)  # default circles: 3-8 people
    for match in plan.matches:
        assert [m.role for m in match.members].count(Role.FACILITATOR) == 1
    first_facilitator = next(m.participant_id for m in plan.matches[0].members if m.role is Role.FACILITATOR)
    history = MatchHistory(role_counts={first_facilitator: {"facilitator": 1}})
    again = plan_matches(program, people, history, 3, TODAY)
    same_group = next(m for m in again.matches if first_facilitator in {x.participant_id for x in m.members})
    assert same_group.members[[x.participant_id for x in same_group.members].index(first_facilitator)].role \
        is Role.MEMBER


def test_mentoring_gives_the_senior_person_the_mentor_role() -> None:
    program = Program.create("m", "mentoring", "monthly")
    senior = Candidate(Participant.create("s@x.com", "S", profile=Profile.build(seniority=5)))
    junior = Candidate(Participant.create("j@x.com", "J", profile=Profile.build(seniority=1)))
    (match,) = plan_matches(program, [junior, senior], MatchHistory(), 1, TODAY).matches
    roles = {m.participant_id: m.role for m in match.members}
    assert roles == {senior.id: Role.MENTOR, junior.id: Role.MENTEE}


def test_working_hours_parse_error_names_the_format() -> None:
    with pytest.raises(InvalidInputs, match="HH:MM-HH:MM"):
        Profile.build(working_hours="9-5")
    with pytest.raises(InvalidInput):
        from teams_app.domain.model import WorkingHours
        WorkingHours.parse("09:00-09:00")
