"""Enrollment: people join (with consent), update their profile, pause, resume, leave; erasure."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime

from teams_app.domain import events as ev
from teams_app.domain.errors import (
    AlreadyEnrolled,
    ConsentRequired,
    NotEnrolled,
    NotFound,
)
from teams_app.domain.model import (
    Enrollment,
    EnrollmentStatus,
    Participant,
    Profile,
    Program,
)
from teams_app.service.base import UseCases
from teams_app.service.ports import UnitOfWork

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


# What an import runs inside a batch's transaction: (unit of work, ids of the people newly enrolled, enrolled,
# already enrolled).
BatchHook = Callable[[UnitOfWork, list[str], int, int], Awaitable[None]]


class Enrollments(UseCases):
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

    async def import_participants(self, program_ref: str, rows: Sequence[ParticipantInput], *,
                                  before_commit: BatchHook | None = None) -> tuple[int, int]:
        """Enroll many people in one transaction (consent was collected by whoever produced the file).

        Returns (enrolled, already enrolled). Nothing is written if anything fails. The people and their
        enrollments are read and written a chunk at a time (not a round trip per person), and every new
        enrollment still gets its own ``ParticipantEnrolled`` event. ``before_commit`` gets the unit of work,
        the ids of the people this call enrolls and both counts, and writes in the same transaction (an
        import's checkpoint commits with its batch or not at all).
        """
        now = self._clock.now()
        async with self._uow() as uow:
            program = await self._program(uow, program_ref)
            people, new_people = await self._upsert_participants(uow, rows)
            created = {p.id for p in new_people}  # people not written yet have no enrollments to look up
            current = await uow.enrollments.get_many(program.id, [p.id for p in people if p.id not in created])
            fresh: list[Enrollment] = []
            rejoined: list[Enrollment] = []
            added = skipped = 0
            seen: set[str] = set()
            newly: list[str] = []
            stamp = now.isoformat()
            for participant in people:
                before = current.get(participant.id)
                if participant.id in seen or (before is not None and before.status is not EnrollmentStatus.LEFT):
                    skipped += 1
                    continue
                seen.add(participant.id)
                newly.append(participant.id)
                enrollment = Enrollment(program.id, participant.id, EnrollmentStatus.ACTIVE, consent_at=now,
                                        joined_at=now)
                (fresh if before is None else rejoined).append(enrollment)  # rejoined: after leaving
                uow.events.append(ev.ParticipantEnrolled(
                    f"enrolled/{program.id}/{participant.id}/{stamp}", now, program.id, participant.id))
                added += 1
            # Reads and CPU work (the learning records too) before the first write: SQLite's write lock is taken
            # by the first INSERT and held until the commit, and the bot's writes wait for it meanwhile.
            uow.participants.pending(new_people)
            uow.enrollments.pending(fresh)
            await self._bus.flush(uow)
            await uow.participants.add_many(new_people)
            await uow.enrollments.add_many(fresh)
            for enrollment in rejoined:
                await uow.enrollments.update(enrollment)
            if before_commit is not None:
                await before_commit(uow, newly, added, skipped)
            await self._bus.commit(uow)
        return added, skipped

    async def _upsert_participants(self, uow: UnitOfWork, rows: Sequence[ParticipantInput]
                                   ) -> tuple[list[Participant], list[Participant]]:
        """:meth:`_upsert_participant` for many rows, with one lookup by email: (everyone, the new people).

        The new people are not inserted yet (the caller adds them in one statement). Rows that carry an Entra
        object id are matched by it first, one by one, as the single path does.
        """
        by_email = await uow.participants.get_many_by_email([row.email.strip().lower() for row in rows])
        out: list[Participant] = []
        new: dict[str, Participant] = {}
        for row in rows:
            email = row.email.strip().lower()
            if email in new:  # the same email twice in a batch is one new person
                out.append(new[email])
                continue
            if row.aad_object_id or email not in by_email:
                existing = await uow.participants.get_by_aad(row.aad_object_id) if row.aad_object_id else None
                if existing is None and email not in by_email:
                    created = Participant.create(
                        row.email, row.display_name, tenant_id=row.tenant_id, aad_object_id=row.aad_object_id,
                        locale=row.locale, profile=row.profile, manager_email=row.manager_email)
                    new[email] = created
                    out.append(created)
                    continue
            participant = await self._upsert_participant(uow, row)
            by_email[participant.email] = participant
            out.append(participant)
        return out, list(new.values())

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
