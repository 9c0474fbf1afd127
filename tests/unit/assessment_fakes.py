"""In-memory fakes of the core repositories and of the assessment repositories (typing.Protocol ports)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Self

from teams_app.domain.assessment import Assessment, AssessmentStatus, AuditEntry, PersonResult, Review
from teams_app.domain.events import Event
from teams_app.domain.model import (
    CheckIn,
    Enrollment,
    Match,
    Meeting,
    MeetingStatus,
    Participant,
    Program,
    Round,
    RoundStatus,
)
from teams_app.domain.notifications import Notice
from teams_app.service.assessment import AssessmentRepository, ReviewRepository
from teams_app.service.ports import (
    CheckInRepository,
    EnrollmentRepository,
    MatchRepository,
    MeetingRepository,
    NotificationQueue,
    PairRuleRepository,
    ParticipantRepository,
    ProgramRepository,
    RoundRepository,
)


class FakeClock:
    def __init__(self, now: datetime | None = None) -> None:
        self.current = now or datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.current

    def advance(self, **delta: float) -> None:
        self.current += timedelta(**delta)


@dataclass
class Store:
    """Everything the fakes hold; committed state is copied back on commit, so a rollback drops changes."""

    programs: dict[str, Program] = field(default_factory=dict)
    participants: dict[str, Participant] = field(default_factory=dict)
    enrollments: dict[tuple[str, str], Enrollment] = field(default_factory=dict)
    rounds: dict[str, Round] = field(default_factory=dict)
    matches: dict[str, Match] = field(default_factory=dict)
    meetings: dict[str, Meeting] = field(default_factory=dict)
    check_ins: dict[tuple[str, str], CheckIn] = field(default_factory=dict)
    pair_rules: list[tuple[str, str, str, str]] = field(default_factory=list)
    assessments: dict[str, Assessment] = field(default_factory=dict)
    audit: list[AuditEntry] = field(default_factory=list)
    results: dict[str, dict[str, PersonResult]] = field(default_factory=dict)
    reviews: dict[str, Review] = field(default_factory=dict)
    notices: dict[str, tuple[Notice, datetime]] = field(default_factory=dict)  # id -> (notice, queued at)
    channels: dict[str, str] = field(default_factory=dict)  # team channel reference id -> tenant id
    channel_ids: dict[str, str] = field(default_factory=dict)  # team channel reference id -> Teams channel id
    group_chats: dict[str, tuple[str, frozenset[str]]] = field(default_factory=dict)  # ref -> (tenant, roster)

    def copy(self) -> Store:
        return Store(**{name: (dict(value) if isinstance(value, dict) else list(value))  # type: ignore[arg-type]
                        for name, value in vars(self).items()})


class FakePrograms:
    def __init__(self, s: Store) -> None:
        self.s = s

    async def add(self, program: Program) -> None:
        self.s.programs[program.id] = program

    async def update(self, program: Program) -> None:
        self.s.programs[program.id] = program

    async def get(self, program_id: str) -> Program | None:
        return self.s.programs.get(program_id)

    async def get_by_name(self, name: str) -> Program | None:
        return next((p for p in self.s.programs.values() if p.name == name), None)

    async def all(self) -> list[Program]:
        return sorted(self.s.programs.values(), key=lambda p: (p.created_at, p.name))

    async def claim_due(self, now: datetime) -> list[Program]:
        due = [p for p in self.s.programs.values() if p.next_round_at and p.next_round_at <= now]
        return sorted(due, key=lambda p: p.next_round_at or now)


class FakeParticipants:
    def __init__(self, s: Store) -> None:
        self.s = s
        self.announced: dict[str, Participant] = {}  # pending: added later in this unit of work

    def pending(self, participants: Sequence[Participant]) -> None:
        self.announced.update((p.id, p) for p in participants)

    async def add(self, participant: Participant) -> None:
        self.s.participants[participant.id] = participant

    async def update(self, participant: Participant) -> None:
        self.s.participants[participant.id] = participant

    async def get(self, participant_id: str) -> Participant | None:
        return self.s.participants.get(participant_id)

    async def get_by_email(self, email: str) -> Participant | None:
        return next((p for p in self.s.participants.values() if p.email == email), None)

    async def get_by_aad(self, aad_object_id: str) -> Participant | None:
        return next((p for p in self.s.participants.values() if p.aad_object_id == aad_object_id), None)

    async def get_many(self, ids: Sequence[str]) -> list[Participant]:
        known = {**self.announced, **self.s.participants}
        return [known[i] for i in dict.fromkeys(ids) if i in known]

    async def get_many_by_email(self, emails: Sequence[str]) -> dict[str, Participant]:
        wanted = set(emails)
        return {p.email: p for p in self.s.participants.values() if p.email in wanted}

    async def add_many(self, participants: Sequence[Participant]) -> None:
        for participant in participants:
            await self.add(participant)

    async def delete(self, participant_id: str) -> None:
        self.s.participants.pop(participant_id, None)


class FakeEnrollments:
    def __init__(self, s: Store) -> None:
        self.s = s

    async def add(self, enrollment: Enrollment) -> None:
        self.s.enrollments[(enrollment.program_id, enrollment.participant_id)] = enrollment

    update = add

    async def get(self, program_id: str, participant_id: str) -> Enrollment | None:
        return self.s.enrollments.get((program_id, participant_id))

    async def get_many(self, program_id: str, participant_ids: Sequence[str]) -> dict[str, Enrollment]:
        return {pid: self.s.enrollments[(program_id, pid)] for pid in participant_ids
                if (program_id, pid) in self.s.enrollments}

    async def add_many(self, enrollments: Sequence[Enrollment]) -> None:
        for enrollment in enrollments:
            await self.add(enrollment)

    def pending(self, enrollments: Sequence[Enrollment]) -> None:
        """Nothing to prepare in memory."""

    async def for_program(self, program_id: str) -> list[Enrollment]:
        return sorted((e for (p, _), e in self.s.enrollments.items() if p == program_id),
                      key=lambda e: e.participant_id)

    async def for_participant(self, participant_id: str) -> list[Enrollment]:
        return sorted((e for (_, pid), e in self.s.enrollments.items() if pid == participant_id),
                      key=lambda e: e.program_id)


class FakeRounds:
    def __init__(self, s: Store) -> None:
        self.s = s

    async def add(self, round_: Round) -> None:
        self.s.rounds[round_.id] = round_

    update = add

    async def get(self, round_id: str) -> Round | None:
        return self.s.rounds.get(round_id)

    async def latest(self, program_id: str) -> Round | None:
        rounds = await self.for_program(program_id)
        return rounds[-1] if rounds else None

    async def for_program(self, program_id: str) -> list[Round]:
        return sorted((r for r in self.s.rounds.values() if r.program_id == program_id), key=lambda r: r.number)


class FakeMatches:
    def __init__(self, s: Store) -> None:
        self.s = s

    async def add(self, match: Match) -> None:
        self.s.matches[match.id] = match

    async def get(self, match_id: str) -> Match | None:
        return self.s.matches.get(match_id)

    def _number(self, match: Match) -> int:
        round_ = self.s.rounds.get(match.round_id)
        return round_.number if round_ else 0

    async def get_many(self, match_ids: Sequence[str]) -> dict[str, Match]:
        return {i: self.s.matches[i] for i in match_ids if i in self.s.matches}

    async def for_round(self, round_id: str) -> list[Match]:
        return sorted((m for m in self.s.matches.values() if m.round_id == round_id), key=lambda m: m.id)

    async def for_participant(self, participant_id: str) -> list[Match]:
        """Newest round first."""
        return sorted((m for m in self.s.matches.values() if participant_id in m.participant_ids),
                      key=lambda m: (-self._number(m), m.id))

    async def recent_for_program(self, program_id: str, since_number: int) -> list[tuple[int, Match]]:
        found = [(self._number(m), m) for m in self.s.matches.values()
                 if m.program_id == program_id and self._number(m) >= since_number]
        return sorted(found, key=lambda item: (item[0], item[1].id))

    async def unbooked(self, limit: int) -> list[Match]:
        open_rounds = {r.id for r in self.s.rounds.values() if r.status is RoundStatus.OPEN}
        waiting = [m for m in self.s.matches.values() if m.round_id in open_rounds and m.id not in self.s.meetings]
        return sorted(waiting, key=lambda m: (self._number(m), m.id))[:limit]


class FakeMeetings:
    def __init__(self, s: Store) -> None:
        self.s = s

    async def upsert(self, meeting: Meeting) -> None:
        self.s.meetings[meeting.match_id] = meeting

    async def get(self, match_id: str) -> Meeting | None:
        return self.s.meetings.get(match_id)

    async def for_round(self, round_id: str) -> dict[str, Meeting]:
        return {k: m for k, m in self.s.meetings.items() if self.s.matches[k].round_id == round_id}

    async def get_many(self, match_ids: Sequence[str]) -> dict[str, Meeting]:
        return {i: self.s.meetings[i] for i in match_ids if i in self.s.meetings}

    async def called_off(self, limit: int) -> list[Meeting]:
        return sorted((m for m in self.s.meetings.values()
                       if m.status is MeetingStatus.CANCELLED and m.external_id), key=lambda m: m.match_id)[:limit]


class FakeCheckIns:
    def __init__(self, s: Store) -> None:
        self.s = s

    async def add(self, check_in: CheckIn) -> None:
        self.s.check_ins[(check_in.match_id, check_in.participant_id)] = check_in

    async def get(self, match_id: str, participant_id: str) -> CheckIn | None:
        return self.s.check_ins.get((match_id, participant_id))

    async def for_match(self, match_id: str) -> list[CheckIn]:
        return sorted((c for (m, _), c in self.s.check_ins.items() if m == match_id), key=lambda c: c.at)

    async def for_round(self, round_id: str) -> list[CheckIn]:
        return sorted((c for (m, _), c in self.s.check_ins.items() if self.s.matches[m].round_id == round_id),
                      key=lambda c: (c.at, c.match_id, c.participant_id))


class FakePairRules:
    def __init__(self, s: Store) -> None:
        self.s = s

    async def add(self, program_id: str, a: str, b: str, rule: str) -> None:
        first, second = sorted((a, b))  # one rule per pair, whichever way round it is given
        self.s.pair_rules = [r for r in self.s.pair_rules if r[:3] != (program_id, first, second)]
        self.s.pair_rules.append((program_id, first, second, rule))

    async def for_program(self, program_id: str) -> list[tuple[str, str, str]]:
        return sorted((a, b, r) for p, a, b, r in self.s.pair_rules if p == program_id)


class FakeAssessments:
    def __init__(self, s: Store) -> None:
        self.s = s

    async def add(self, assessment: Assessment) -> None:
        assert assessment.id not in self.s.assessments
        self.s.assessments[assessment.id] = assessment

    async def update(self, assessment: Assessment) -> None:
        self.s.assessments[assessment.id] = assessment

    async def get(self, assessment_id: str) -> Assessment | None:
        return self.s.assessments.get(assessment_id)

    async def for_program(self, program_id: str) -> list[Assessment]:
        return sorted((a for a in self.s.assessments.values() if a.program_id == program_id),
                      key=lambda a: a.opened_at)

    async def open(self) -> list[Assessment]:
        return [a for a in self.s.assessments.values() if a.status is AssessmentStatus.OPEN]

    async def add_audit(self, entry: AuditEntry) -> None:
        self.s.audit.append(entry)

    async def audit(self, assessment_id: str) -> list[AuditEntry]:
        return [e for e in self.s.audit if e.assessment_id == assessment_id]

    async def save_results(self, assessment_id: str, results: Sequence[PersonResult]) -> None:
        self.s.results[assessment_id] = {r.reviewee_id: r for r in results}

    async def results(self, assessment_id: str) -> dict[str, PersonResult]:
        return dict(self.s.results.get(assessment_id, {}))


class FakeReviews:
    def __init__(self, s: Store) -> None:
        self.s = s

    async def add_many(self, reviews: Sequence[Review]) -> None:
        for review in reviews:
            assert review.id not in self.s.reviews
            self.s.reviews[review.id] = review

    async def update(self, review: Review) -> None:
        assert review.id in self.s.reviews
        self.s.reviews[review.id] = review

    async def get(self, review_id: str) -> Review | None:
        return self.s.reviews.get(review_id)

    async def for_assessment(self, assessment_id: str) -> list[Review]:
        return [r for r in self.s.reviews.values() if r.assessment_id == assessment_id]

    async def for_reviewer(self, reviewer_id: str) -> list[Review]:
        return [r for r in self.s.reviews.values() if r.reviewer_id == reviewer_id]

    async def for_reviewee(self, assessment_id: str, reviewee_id: str) -> list[Review]:
        return [r for r in self.s.reviews.values() if r.assessment_id == assessment_id and r.reviewee_id == reviewee_id]


class FakeNotifications:
    """The notification queue port in memory: queued in the unit of work, kept only on commit."""

    def __init__(self, s: Store) -> None:
        self.s = s

    async def add(self, notices: Sequence[Notice], now: datetime) -> int:
        added = 0
        for notice in notices:
            if notice.id not in self.s.notices:
                self.s.notices[notice.id] = (notice, now)
                added += 1
        return added

    async def queued_at(self, notice_ids: Sequence[str]) -> dict[str, datetime]:
        return {nid: self.s.notices[nid][1] for nid in notice_ids if nid in self.s.notices}

    async def channel_targets(self, tenant_id: str) -> list[str]:
        return sorted(ref for ref, tenant in self.s.channels.items() if not tenant_id or tenant == tenant_id)

    async def named_channel(self, channel_id: str, tenant_id: str) -> list[str]:
        found = [ref for ref, tenant in self.s.channels.items()
                 if (not tenant_id or tenant == tenant_id)
                 and self.s.channel_ids.get(ref, "").split(";", 1)[0] == channel_id]
        return sorted(found, key=lambda ref: (self.s.channel_ids[ref] != channel_id, ref))[:1]

    async def group_chats_of(self, aad_object_ids: Sequence[str], tenant_id: str) -> list[str]:
        wanted = frozenset(a for a in aad_object_ids if a)
        return sorted(ref for ref, (tenant, roster) in self.s.group_chats.items()
                      if wanted and roster == wanted and (not tenant_id or tenant == tenant_id))

    async def forget(self, participant: Participant) -> None:
        self.s.notices = {nid: (n, at) for nid, (n, at) in self.s.notices.items()
                          if n.recipient_id != participant.id}
        if participant.aad_object_id:  # group chat rosters no longer name them
            self.s.group_chats = {ref: (tenant, roster - {participant.aad_object_id})
                                  for ref, (tenant, roster) in self.s.group_chats.items()}

    def of_kind(self, kind: str) -> list[Notice]:
        """Queued notices of one kind, in the order they were queued."""
        return [n for n, _ in self.s.notices.values() if n.kind == kind]


class FakeUnitOfWork:
    # Declared as the ports' types: protocol attributes are invariant, so the fakes are checked against them.
    programs: ProgramRepository
    participants: ParticipantRepository
    enrollments: EnrollmentRepository
    rounds: RoundRepository
    matches: MatchRepository
    meetings: MeetingRepository
    check_ins: CheckInRepository
    pair_rules: PairRuleRepository
    assessments: AssessmentRepository
    reviews: ReviewRepository
    notifications: NotificationQueue

    def __init__(self, committed: Store) -> None:
        self.committed = committed
        self.events: list[Event] = []
        self.flushed: list[Event] = []
        self.commits = 0

    async def __aenter__(self) -> Self:
        self.work = self.committed.copy()
        w = self.work
        self.programs = FakePrograms(w)
        self.participants = FakeParticipants(w)
        self.enrollments = FakeEnrollments(w)
        self.rounds = FakeRounds(w)
        self.matches = FakeMatches(w)
        self.meetings = FakeMeetings(w)
        self.check_ins = FakeCheckIns(w)
        self.pair_rules = FakePairRules(w)
        self.assessments = FakeAssessments(w)
        self.reviews = FakeReviews(w)
        self.notifications = FakeNotifications(w)
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        self.events.clear()

    async def commit(self) -> None:
        for name, value in vars(self.work).items():
            setattr(self.committed, name, value)
        self.commits += 1

    async def rollback(self) -> None:
        self.work = self.committed.copy()


class FakeUowFactory:
    def __init__(self) -> None:
        self.store = Store()

    def __call__(self) -> FakeUnitOfWork:
        return FakeUnitOfWork(self.store)
