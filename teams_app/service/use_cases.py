"""Use cases: one method per thing a person, an admin or the scheduler does.

Each opens a unit of work, changes the domain, records events and commits through the message bus, so the
outbox handlers see the events inside the same transaction.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

from teams_app.domain import events as ev
from teams_app.domain.errors import (
    AlreadyEnrolled,
    ConsentRequired,
    InvalidInput,
    InvalidTransition,
    NotEnrolled,
    NotFound,
)
from teams_app.domain.matching import Candidate, MatchHistory, plan_matches
from teams_app.domain.model import (
    CheckIn,
    Enrollment,
    EnrollmentStatus,
    Match,
    Meeting,
    MeetingStatus,
    Participant,
    Profile,
    Program,
    Round,
    RoundStatus,
    new_id,
    stable_id,
)
from teams_app.service.messagebus import MessageBus
from teams_app.service.ports import Clock, UnitOfWork, UnitOfWorkFactory

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ParticipantInput:
    """What an import row or a profile card provides about a person."""

    email: str
    display_name: str = ""
    profile: Profile = field(default_factory=Profile)
    aad_object_id: str = ""
    tenant_id: str = ""
    locale: str = "en"
    manager_email: str = ""


@dataclass(frozen=True)
class RoundResult:
    program: Program
    round: Round
    matches: list[Match]
    unmatched: list[tuple[str, str]]
    participants: dict[str, Participant]
    dry_run: bool = False


@dataclass(frozen=True)
class MatchView:
    """A person's view of one of their matches."""

    program: Program
    round: Round
    match: Match
    partners: list[tuple[Participant, str]]  # (person, role)
    meeting: Meeting | None
    checked_in: bool


class CoachingService:
    def __init__(self, uow_factory: UnitOfWorkFactory, bus: MessageBus, clock: Clock) -> None:
        self._uow = uow_factory
        self._bus = bus
        self._clock = clock

    # -- programs ---------------------------------------------------------------------------------
    async def create_program(self, name: str, kind: str, cadence: str, **options: Any) -> Program:
        now = self._clock.now()
        options.setdefault("next_round_at", None)
        program = Program.create(name, kind, cadence, created_at=now, **options)
        async with self._uow() as uow:
            if await uow.programs.get_by_name(program.name):
                raise InvalidInput("name", f"a program called '{program.name}' already exists")
            await uow.programs.add(program)
            uow.events.append(ev.ProgramCreated(f"program-created/{program.id}", now, program.id))
            await self._bus.commit(uow)
        return program

    async def update_program(self, ref: str, **changes: Any) -> Program:
        now = self._clock.now()
        async with self._uow() as uow:
            program = await self._program(uow, ref)
            updated = program.with_changes(**changes)
            await uow.programs.update(updated)
            uow.events.append(ev.ProgramUpdated(f"program-updated/{program.id}/{now.isoformat()}", now,
                                                program.id))
            await self._bus.commit(uow)
        return updated

    async def get_program(self, ref: str) -> Program:
        async with self._uow() as uow:
            return await self._program(uow, ref)

    async def list_programs(self) -> list[Program]:
        async with self._uow() as uow:
            return await uow.programs.all()

    @staticmethod
    async def _program(uow: UnitOfWork, ref: str) -> Program:
        program = await uow.programs.get(ref) or await uow.programs.get_by_name(ref)
        if program is None:
            raise NotFound("program", ref)
        return program

    # -- people -----------------------------------------------------------------------------------
    async def _upsert_participant(self, uow: UnitOfWork, data: ParticipantInput) -> Participant:
        existing = None
        if data.aad_object_id:
            existing = await uow.participants.get_by_aad(data.aad_object_id)
        if existing is None:
            existing = await uow.participants.get_by_email(data.email.strip().lower())
        fresh = Participant.create(
            data.email, data.display_name, participant_id=existing.id if existing else None,
            tenant_id=data.tenant_id, aad_object_id=data.aad_object_id, locale=data.locale,
            profile=data.profile, manager_email=data.manager_email,
        )
        if existing is None:
            await uow.participants.add(fresh)
            return fresh
        merged = replace(
            existing, email=fresh.email, display_name=fresh.display_name, profile=fresh.profile,
            tenant_id=fresh.tenant_id or existing.tenant_id, locale=fresh.locale or existing.locale,
            aad_object_id=fresh.aad_object_id or existing.aad_object_id,
            manager_email=fresh.manager_email or existing.manager_email,
        )
        await uow.participants.update(merged)
        return merged

    async def enroll(self, program_ref: str, data: ParticipantInput, *, consent: bool) -> Participant:
        """Opt a person into a program. Re-joining after leaving is allowed; joining twice is not."""
        if not consent:
            raise ConsentRequired()
        now = self._clock.now()
        async with self._uow() as uow:
            program = await self._program(uow, program_ref)
            participant = await self._upsert_participant(uow, data)
            await self._enroll(uow, program, participant, now)
            await self._bus.commit(uow)
        return participant

    async def _enroll(self, uow: UnitOfWork, program: Program, participant: Participant, now: datetime) -> None:
        current = await uow.enrollments.get(program.id, participant.id)
        if current is not None and current.status is not EnrollmentStatus.LEFT:
            raise AlreadyEnrolled(program.name)
        enrollment = Enrollment(program.id, participant.id, EnrollmentStatus.ACTIVE, consent_at=now, joined_at=now)
        if current is None:
            await uow.enrollments.add(enrollment)
        else:
            await uow.enrollments.update(enrollment)
        uow.events.append(ev.ParticipantEnrolled(
            f"enrolled/{program.id}/{participant.id}/{now.isoformat()}", now, program.id, participant.id))

    async def import_participants(self, program_ref: str, rows: Sequence[ParticipantInput]) -> tuple[int, int]:
        """Enroll many people in one transaction (consent was collected by whoever produced the file).

        Returns (enrolled, already enrolled). Nothing is written if anything fails.
        """
        now = self._clock.now()
        added = skipped = 0
        async with self._uow() as uow:
            program = await self._program(uow, program_ref)
            for row in rows:
                participant = await self._upsert_participant(uow, row)
                try:
                    await self._enroll(uow, program, participant, now)
                    added += 1
                except AlreadyEnrolled:
                    skipped += 1
            await self._bus.commit(uow)
        return added, skipped

    async def register(self, data: ParticipantInput) -> Participant:
        """Create or refresh a person (from a Teams activity) without enrolling them."""
        async with self._uow() as uow:
            participant = await self._upsert_participant(uow, data)
            await self._bus.commit(uow)
        return participant

    async def find_participant(self, *, aad_object_id: str = "", email: str = "") -> Participant | None:
        async with self._uow() as uow:
            found = None
            if aad_object_id:
                found = await uow.participants.get_by_aad(aad_object_id)
            if found is None and email:
                found = await uow.participants.get_by_email(email.strip().lower())
            return found

    async def update_profile(self, participant_id: str, profile: Profile) -> Participant:
        now = self._clock.now()
        async with self._uow() as uow:
            participant = await uow.participants.get(participant_id)
            if participant is None:
                raise NotFound("participant", participant_id)
            updated = replace(participant, profile=profile)
            await uow.participants.update(updated)
            uow.events.append(ev.ProfileUpdated(f"profile/{participant_id}/{now.isoformat()}", now, participant_id))
            await self._bus.commit(uow)
        return updated

    async def set_teams_reachable(self, participant_id: str, reachable: bool) -> None:
        async with self._uow() as uow:
            participant = await uow.participants.get(participant_id)
            if participant is None or participant.teams_reachable == reachable:
                return
            await uow.participants.update(replace(participant, teams_reachable=reachable))
            await self._bus.commit(uow)

    async def _enrollment(self, uow: UnitOfWork, program: Program, participant_id: str) -> Enrollment:
        enrollment = await uow.enrollments.get(program.id, participant_id)
        if enrollment is None or enrollment.status is EnrollmentStatus.LEFT:
            raise NotEnrolled(program.name)
        return enrollment

    async def pause(self, program_ref: str, participant_id: str, until: date | None) -> Enrollment:
        now = self._clock.now()
        async with self._uow() as uow:
            program = await self._program(uow, program_ref)
            enrollment = await self._enrollment(uow, program, participant_id)
            paused = enrollment.pause(until, now.date())
            await uow.enrollments.update(paused)
            uow.events.append(ev.EnrollmentPaused(
                f"paused/{program.id}/{participant_id}/{now.isoformat()}", now, program.id, participant_id, until))
            await self._bus.commit(uow)
        return paused

    async def resume(self, program_ref: str, participant_id: str) -> Enrollment:
        now = self._clock.now()
        async with self._uow() as uow:
            program = await self._program(uow, program_ref)
            enrollment = await self._enrollment(uow, program, participant_id)
            resumed = enrollment.resume()
            await uow.enrollments.update(resumed)
            uow.events.append(ev.EnrollmentResumed(
                f"resumed/{program.id}/{participant_id}/{now.isoformat()}", now, program.id, participant_id))
            await self._bus.commit(uow)
        return resumed

    async def leave(self, program_ref: str, participant_id: str, *, erase: bool) -> bool:
        """Leave a program. With ``erase`` the person's data is deleted once they are in no other program;
        returns whether it was deleted."""
        now = self._clock.now()
        async with self._uow() as uow:
            program = await self._program(uow, program_ref)
            enrollment = await self._enrollment(uow, program, participant_id)
            await uow.enrollments.update(enrollment.leave())
            uow.events.append(ev.ParticipantLeft(
                f"left/{program.id}/{participant_id}/{now.isoformat()}", now, program.id, participant_id, erase))
            erased = False
            if erase:
                others = [e for e in await uow.enrollments.for_participant(participant_id)
                          if e.program_id != program.id and e.status is not EnrollmentStatus.LEFT]
                if not others:
                    await self._erase(uow, participant_id, "self", now)
                    erased = True
            await self._bus.commit(uow)
        return erased

    async def erase(self, email: str, *, requested_by: str = "admin") -> None:
        """Delete a person's personal data on request (an admin command), whatever programs they are in."""
        now = self._clock.now()
        async with self._uow() as uow:
            participant = await uow.participants.get_by_email(email.strip().lower())
            if participant is None:
                raise NotFound("participant", email)
            for enrollment in await uow.enrollments.for_participant(participant.id):
                if enrollment.status is not EnrollmentStatus.LEFT:
                    await uow.enrollments.update(enrollment.leave())
            await self._erase(uow, participant.id, requested_by, now)
            await self._bus.commit(uow)

    async def _erase(self, uow: UnitOfWork, participant_id: str, requested_by: str, now: datetime) -> None:
        uow.events.append(ev.ParticipantErased(f"erased/{participant_id}", now, participant_id, requested_by))
        await self._bus.flush(uow)  # handlers that need the person's data (the xAPI voiding) run first
        await uow.participants.delete(participant_id)
        logger.info("erased personal data of participant %s (requested by %s)", participant_id, requested_by)

    # -- rounds -----------------------------------------------------------------------------------
    async def run_round(self, program_ref: str, *, seed: int | None = None, dry_run: bool = False) -> RoundResult:
        async with self._uow() as uow:
            program = await self._program(uow, program_ref)
            result = await self._run_round(uow, program, seed, dry_run)
            if dry_run:
                await uow.rollback()
            else:
                await self._bus.commit(uow)
        return result

    async def run_due_rounds(self) -> list[RoundResult]:
        """Start every round that is due; safe with several processes on one PostgreSQL database."""
        from teams_app.service.round_periods import close_ended_rounds  # issue 15: rounds end with their period

        await close_ended_rounds(self._uow, self._bus, self._clock)
        now = self._clock.now()
        results = []
        async with self._uow() as uow:
            for program in await uow.programs.claim_due(now):
                results.append(await self._run_round(uow, program, None, False))
            await self._bus.commit(uow)
        return results

    async def _run_round(self, uow: UnitOfWork, program: Program, seed: int | None, dry_run: bool) -> RoundResult:
        now = self._clock.now()
        today = now.date()
        previous = await uow.rounds.latest(program.id)
        number = (previous.number + 1) if previous else 1
        if seed is None:
            seed = int(stable_id(program.id, number).replace("-", "")[:8], 16)
        enrollments = [e for e in await uow.enrollments.for_program(program.id) if e.is_active_on(today)]
        people = {p.id: p for p in await uow.participants.get_many([e.participant_id for e in enrollments])}
        candidates = [Candidate(people[e.participant_id], e.priority) for e in enrollments
                      if e.participant_id in people]
        history = await self._history(uow, program, number)
        # Seconds of CPU at 10,000 people: off the event loop, so the bot keeps answering Teams meanwhile.
        plan = await asyncio.to_thread(plan_matches, program, candidates, history, seed, today)

        round_ = Round(new_id(), program.id, number, now, seed, RoundStatus.OPEN, dict(plan.quality))
        matches = [
            Match(stable_id(round_.id, "match", index), round_.id, program.id, proposed.members, proposed.score,
                  proposed.reasons, registration=stable_id(program.id, number, *sorted(
                      m.participant_id for m in proposed.members)))
            for index, proposed in enumerate(plan.matches)
        ]
        result = RoundResult(program, round_, matches, list(plan.unmatched), people, dry_run)
        if dry_run:
            return result

        if previous is not None and previous.status is RoundStatus.OPEN:
            await uow.rounds.update(replace(previous, status=RoundStatus.COMPLETED))
            uow.events.append(ev.RoundCompleted(f"round-completed/{previous.id}", now, program.id, previous.id))
        await uow.rounds.add(round_)
        uow.events.append(ev.RoundStarted(f"round-started/{round_.id}", now, program.id, round_.id, number))
        for match in matches:
            await uow.matches.add(match)
            uow.events.append(ev.MatchCreated(f"matched/{match.id}", now, program.id, round_.id, match.id))
        # Fairness: a trio, no match or a weak match this round earns priority next round (the engine says
        # who: plan.needs_priority); a normal match spends it.
        deserving = set(plan.needs_priority)
        for enrollment in enrollments:
            pid = enrollment.participant_id
            priority = enrollment.priority + 1 if pid in deserving else 0
            status = enrollment.status
            paused_until = enrollment.paused_until
            if status is EnrollmentStatus.PAUSED:  # the pause has ended: they are active again
                status, paused_until = EnrollmentStatus.ACTIVE, None
                # issue 15: a pause that ends by its date is a resumption too (xAPI resumed)
                uow.events.append(ev.EnrollmentResumed(f"resumed/{program.id}/{pid}/{now.isoformat()}", now,
                                                       program.id, pid))
            if (priority, status, paused_until) != (enrollment.priority, enrollment.status, enrollment.paused_until):
                await uow.enrollments.update(replace(enrollment, priority=priority, status=status,
                                                     paused_until=paused_until))
        for pid, reason in plan.unmatched:
            uow.events.append(ev.ParticipantUnmatched(f"unmatched/{round_.id}/{pid}", now, program.id, round_.id,
                                                      pid, reason))
        await uow.programs.update(replace(program, next_round_at=program.cadence.next_after(now)))
        return result

    @staticmethod
    async def _history(uow: UnitOfWork, program: Program, number: int) -> MatchHistory:
        rounds_ago: dict[frozenset[str], int] = {}
        role_counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for round_number, match in await uow.matches.recent_for_program(program.id, 1):
            ids = match.participant_ids
            for member in match.members:
                role_counts[member.participant_id][member.role.value] += 1
            for i, a in enumerate(ids):
                for b in ids[i + 1:]:
                    pair = frozenset((a, b))
                    ago = number - round_number
                    rounds_ago[pair] = min(ago, rounds_ago.get(pair, ago))
        blocked: set[frozenset[str]] = set()
        forced: list[frozenset[str]] = []
        for a, b, rule in await uow.pair_rules.for_program(program.id):
            (forced.append if rule == "force" else blocked.add)(frozenset((a, b)))
        return MatchHistory(rounds_ago, {k: dict(v) for k, v in role_counts.items()}, frozenset(blocked),
                            tuple(forced))

    async def add_pair_rule(self, program_ref: str, a_email: str, b_email: str, rule: str) -> None:
        if rule not in ("block", "forbid", "force"):
            raise InvalidInput("rule", "must be block, forbid or force")
        async with self._uow() as uow:
            program = await self._program(uow, program_ref)
            ids = []
            for email in (a_email, b_email):
                person = await uow.participants.get_by_email(email.strip().lower())
                if person is None:
                    raise NotFound("participant", email)
                ids.append(person.id)
            await uow.pair_rules.add(program.id, ids[0], ids[1], rule)
            await self._bus.commit(uow)

    # -- meetings and check-ins -------------------------------------------------------------------
    async def matches_to_book(self, limit: int = 500) -> list[tuple[Program, Round, Match, list[Participant]]]:
        """Matches of open rounds without a meeting yet, with what the calendar needs to book them."""
        async with self._uow() as uow:
            out = []
            for match in await uow.matches.unbooked(limit):
                program = await uow.programs.get(match.program_id)
                round_ = await uow.rounds.get(match.round_id)
                people = {p.id: p for p in await uow.participants.get_many(list(match.participant_ids))}
                if program is None or round_ is None or len(people) < len(match.members):
                    continue  # someone was erased: the match is not booked
                out.append((program, round_, match, [people[pid] for pid in match.participant_ids]))
            return out

    async def record_meeting(self, meeting: Meeting) -> None:
        now = self._clock.now()
        async with self._uow() as uow:
            match = await uow.matches.get(meeting.match_id)
            if match is None:
                raise NotFound("match", meeting.match_id)
            before = await uow.meetings.get(meeting.match_id)
            await uow.meetings.upsert(meeting)
            if meeting.status is MeetingStatus.SCHEDULED and meeting.start and meeting.end:
                if before is None or (before.start, before.status) != (meeting.start, meeting.status):
                    uow.events.append(ev.MeetingScheduled(
                        f"meeting/{match.id}/{meeting.start.isoformat()}", now, match.program_id, match.id,
                        meeting.start, meeting.end, meeting.join_url))
            elif meeting.status is MeetingStatus.NO_COMMON_SLOT and (before is None or before.status != meeting.status):
                uow.events.append(ev.MeetingNotScheduled(f"no-slot/{match.id}", now, match.program_id, match.id,
                                                         meeting.detail))
            await self._bus.commit(uow)

    async def record_check_in(self, match_id: str, participant_id: str, *, met: bool,
                              usefulness: int | str | None, learned: str = "", next_step: str = "") -> CheckIn:
        now = self._clock.now()
        check_in = CheckIn.create(match_id, participant_id, met=met, usefulness=usefulness, learned=learned,
                                  next_step=next_step, at=now)
        async with self._uow() as uow:
            match = await uow.matches.get(match_id)
            if match is None:
                raise NotFound("match", match_id)
            if participant_id not in match.participant_ids:
                raise InvalidInput("match", "you are not part of this match")
            if await uow.check_ins.get(match_id, participant_id) is not None:
                raise InvalidTransition("you have already checked in for this match")
            await uow.check_ins.add(check_in)
            uow.events.append(ev.CheckInRecorded(f"check-in/{match_id}/{participant_id}", now, match.program_id,
                                                 match_id, participant_id, met))
            await self._bus.commit(uow)
        return check_in

    # -- queries ----------------------------------------------------------------------------------
    async def my_matches(self, participant_id: str, limit: int = 10) -> list[MatchView]:
        async with self._uow() as uow:
            matches = await uow.matches.for_participant(participant_id)
            views: list[MatchView] = []
            for match in matches[:limit]:
                round_ = await uow.rounds.get(match.round_id)
                program = await uow.programs.get(match.program_id)
                if round_ is None or program is None:
                    continue
                others = [m for m in match.members if m.participant_id != participant_id]
                people = {p.id: p for p in await uow.participants.get_many([m.participant_id for m in others])}
                partners = [(people[m.participant_id], m.role.value) for m in others if m.participant_id in people]
                views.append(MatchView(program, round_, match, partners, await uow.meetings.get(match.id),
                                       await uow.check_ins.get(match.id, participant_id) is not None))
            return views

    async def progress(self, participant_id: str) -> dict[str, Any]:
        async with self._uow() as uow:
            matches = await uow.matches.for_participant(participant_id)
            met = useful = count_useful = 0
            partners: set[str] = set()
            for match in matches:
                partners.update(p for p in match.participant_ids if p != participant_id)
                check_in = await uow.check_ins.get(match.id, participant_id)
                if check_in and check_in.met:
                    met += 1
                    if check_in.usefulness:
                        useful += check_in.usefulness
                        count_useful += 1
            enrollments = await uow.enrollments.for_participant(participant_id)
            return {
                "programs": [e.program_id for e in enrollments if e.status is not EnrollmentStatus.LEFT],
                "matches": len(matches),
                "sessions_met": met,
                "distinct_partners": len(partners),
                "average_usefulness": round(useful / count_useful, 2) if count_useful else None,
            }

    async def status(self, program_ref: str) -> dict[str, Any]:
        """Admin view: enrolled, active, paused, matched, met, checked in (for the latest round)."""
        today = self._clock.now().date()
        async with self._uow() as uow:
            program = await self._program(uow, program_ref)
            enrollments = await uow.enrollments.for_program(program.id)
            counts: Mapping[str, int] = {
                "enrolled": sum(1 for e in enrollments if e.status is not EnrollmentStatus.LEFT),
                "active": sum(1 for e in enrollments if e.is_active_on(today)),
                "paused": sum(1 for e in enrollments if e.status is EnrollmentStatus.PAUSED
                              and not e.is_active_on(today)),
                "left": sum(1 for e in enrollments if e.status is EnrollmentStatus.LEFT),
            }
            latest = await uow.rounds.latest(program.id)
            matched = met = checked_in = scheduled = no_slot = 0
            problems: list[str] = []
            if latest is not None:
                check_ins = await uow.check_ins.for_round(latest.id)
                checked_in = len(check_ins)
                met = sum(1 for c in check_ins if c.met)
                meetings = await uow.meetings.for_round(latest.id)
                for match in await uow.matches.for_round(latest.id):
                    matched += len(match.members)
                    meeting = meetings.get(match.id)
                    scheduled += bool(meeting and meeting.status is MeetingStatus.SCHEDULED)
                    if meeting and meeting.status in (MeetingStatus.NO_COMMON_SLOT, MeetingStatus.FAILED):
                        no_slot += 1
                        problems.append(f"{meeting.status.value}: {meeting.detail}")
            return {"program": program.name, "round": latest.number if latest else 0, **counts,
                    "matched": matched, "met": met, "checked_in": checked_in,
                    "meetings_scheduled": scheduled, "meetings_unscheduled": no_slot,
                    "meeting_problems": problems[:20]}

    async def roster(self, program_ref: str) -> list[Participant]:
        """Everyone enrolled in the program (active, paused or left), as far as their data still exists."""
        async with self._uow() as uow:
            program = await self._program(uow, program_ref)
            enrollments = await uow.enrollments.for_program(program.id)
            return await uow.participants.get_many([e.participant_id for e in enrollments])

    async def export(self, program_ref: str | None = None) -> list[dict[str, Any]]:
        """One row per match member: program, round, match, person, role, score, reasons, check-in."""
        rows: list[dict[str, Any]] = []
        async with self._uow() as uow:
            programs = [await self._program(uow, program_ref)] if program_ref else await uow.programs.all()
            for program in programs:
                for round_ in await uow.rounds.for_program(program.id):
                    # A round at a time, a few queries each: one per match took 4.8 s at 2,000 people.
                    matches = await uow.matches.for_round(round_.id)
                    people = {p.id: p for p in await uow.participants.get_many(
                        [pid for match in matches for pid in match.participant_ids])}
                    check_ins = {(c.match_id, c.participant_id): c for c in await uow.check_ins.for_round(round_.id)}
                    for match in matches:
                        for member in match.members:
                            person = people.get(member.participant_id)
                            check_in = check_ins.get((match.id, member.participant_id))
                            rows.append({
                                "program": program.name, "round": round_.number,
                                "round_started": round_.started_at.isoformat(), "match_id": match.id,
                                "email": person.email if person else "", "name": person.display_name if person else "",
                                "role": member.role.value, "score": match.score, "reasons": "; ".join(match.reasons),
                                "met": "" if check_in is None else check_in.met,
                                "usefulness": "" if check_in is None or check_in.usefulness is None
                                else check_in.usefulness,
                            })
        return rows
