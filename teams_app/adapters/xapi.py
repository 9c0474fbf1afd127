"""Domain events -> learning records -> xAPI statements in the LRS outbox, inside the same transaction.

Registered on the message bus as in-transaction handlers: the statement rows commit with the change that
caused them, or not at all. Record keys derive from the event's stable key, so a retried event yields the
same statement ids and the outbox stores each once.

What the records say: a statement's result describes its actor only; everybody else appears by a random
pseudonym (``lrs_bridge.pseudonyms``); ``context.registration`` is one UUID per person per program, so the
profile's patterns match one person's journey; ``context.platform`` is the channel the person uses (Teams,
or email when the bot cannot reach them in Teams). Erasure withdraws a person's undelivered statements,
voids the delivered ones (never a voiding statement; the voids name the system actor, never the person),
deletes the local copies of what was sent and deletes the pseudonym, so no live statement names them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from lrs_bridge import records as r
from lrs_bridge.outbox import enqueue, outbox_table, withdraw_queued
from lrs_bridge.pseudonyms import forget, pseudonyms
from lrs_bridge.statements import StatementBuilder
from lrs_bridge.vocabulary import Verbs
from teams_app.adapters.db import tables as t
from teams_app.adapters.db.bulk import prepare_rows, write_prepared
from teams_app.domain import assessment_events as ae
from teams_app.domain import events as ev
from teams_app.domain.model import Match, Participant, Program, Role, Round
from teams_app.service.messagebus import MessageBus
from teams_app.service.ports import UnitOfWork

logger = logging.getLogger(__name__)

BADGE_MILESTONES = (1, 5, 10, 25, 50)  # peer reviews written in a program that earn a recognition
CHANNEL_TEAMS = "Microsoft Teams"
CHANNEL_EMAIL = "email"


def _connection(uow: UnitOfWork) -> AsyncConnection:
    conn = getattr(uow, "connection", None)
    if not isinstance(conn, AsyncConnection):
        raise TypeError("the xAPI recorder needs the SQL unit of work (it writes the outbox in its transaction)")
    return conn


def person(p: Participant, pseudonym: str = "") -> r.Person:
    return r.Person(email=p.email, name=p.display_name, aad_object_id=p.aad_object_id, pseudonym=pseudonym)


def channel(p: Participant) -> str:
    """The channel the person uses: Teams, or email when the bot cannot reach them there."""
    return CHANNEL_TEAMS if p.teams_reachable else CHANNEL_EMAIL


async def people_of(uow: UnitOfWork, participants: Iterable[Participant]) -> dict[str, r.Person]:
    """Each participant as a record person, with their pseudonym (created on first use)."""
    found = {p.id: p for p in participants}
    names = await pseudonyms(_connection(uow), found)
    return {pid: person(p, names[pid]) for pid, p in found.items()}


def exchanged_skills(person: Participant, others: Sequence[Participant]) -> tuple[str, ...]:
    """Skills ``person`` gets from or gives to the others in the match (offered by one, wanted by another)."""
    wanted = {s.casefold(): s for s in person.profile.skills_wanted}
    offered = {s.casefold(): s for s in person.profile.skills_offered}
    found: dict[str, str] = {}
    for other in others:
        for skill in other.profile.skills_offered:
            if skill.casefold() in wanted:
                found.setdefault(skill.casefold(), wanted[skill.casefold()])
        for skill in other.profile.skills_wanted:
            if skill.casefold() in offered:
                found.setdefault(skill.casefold(), offered[skill.casefold()])
    return tuple(sorted(found.values(), key=str.casefold))


class XapiRecorder:
    """``completion_sessions``: a person completes a program once they attended that many sessions in it
    (0: never by count). ``language``: the language tag of activity names when the program states none."""

    def __init__(self, builder: StatementBuilder, system_email: str, *, completion_sessions: int = 3,
                 language: str = "en") -> None:
        self.builder = builder
        self.system = r.Person(email=system_email, name="peercoach")
        self.completion_sessions = completion_sessions
        self.language = language

    def register(self, bus: MessageBus) -> None:
        handlers: dict[type[ev.Event], Any] = {
            ev.EnrollmentPaused: self.on_paused,
            ev.EnrollmentResumed: self.on_resumed,
            ev.ParticipantLeft: self.on_left,
            ev.ParticipantErased: self.on_erased,
            ev.MatchCreated: self.on_matched,
            ev.MeetingScheduled: self.on_meeting_scheduled,
            ev.MeetingRescheduleRequested: self.on_meeting_changed,
            ev.MeetingCancelled: self.on_meeting_changed,
            ev.CheckInRecorded: self.on_check_in,
            ev.RoundCompleted: self.on_round_completed,
            ae.ReviewSubmitted: self.on_review_submitted,
            ae.ReviewWithdrawn: self.on_review_withdrawn,
            ae.FeedbackReleased: self.on_feedback_released,
            ae.ReviewerThanked: self.on_reviewer_thanked,
        }
        for event_type, handler in handlers.items():
            bus.in_transaction(event_type, handler)
        bus.in_transaction_batch(ev.ParticipantEnrolled, self.on_enrolled_many)

    # -- plumbing ---------------------------------------------------------------------------------
    async def _write(self, uow: UnitOfWork, items: Sequence[tuple[str, r.Record]]) -> None:
        """Queue the statements and index them by the participant they are about."""
        conn = _connection(uow)
        built = [(pid, record, self.builder.build_serialized(record)) for pid, record in items]
        # Voiding statements are not indexed: erasure must never void a voiding statement.
        rows = [{"statement_id": str(s.id), "participant_id": pid, "event_key": record.event_key[:400]}
                for pid, record, s in built if pid and not isinstance(record, r.Voided)]
        # A retried event indexes nothing twice. Converted before the first write (SQLite's lock is held from there).
        index = prepare_rows(conn, t.xapi_statements, rows, skip_conflicts_on="statement_id")
        await enqueue(conn, [s for _, _, s in built])
        await write_prepared(conn, index)

    def _common(self, program: Program, participant: Participant, round_: Round | None = None,
                match: Match | None = None) -> dict[str, Any]:
        """Fields every record of ``participant`` in ``program`` shares. ``match`` is accepted for symmetry
        with the round; the registration is per person per program, not per match."""
        common = self._of_program(program)
        common.update(self._of_person(program, participant))
        if round_ is not None:
            common["round"] = r.RoundRef(program.id, round_.number)
        return common

    def _of_program(self, program: Program) -> dict[str, Any]:
        """The fields of :meth:`_common` that are the program's."""
        language = str(getattr(program, "language", "") or self.language)
        common: dict[str, Any] = {"program": r.ProgramRef(program.id, program.name, language)}
        if program.cohort:
            common["cohort"] = r.CohortRef(program.cohort, program.cohort)
        return common

    @staticmethod
    def _of_person(program: Program, participant: Participant) -> dict[str, Any]:
        """The fields of :meth:`_common` that are the person's."""
        return {"actor": person(participant), "language": participant.locale or "en",
                "platform": channel(participant), "registration": r.registration_for(program.id, participant.id)}

    @staticmethod
    def _meeting(program: Program, round_: Round, match: Match) -> r.MeetingRef:
        """Each match's session has its own name; the round is described as the matching cycle."""
        return r.MeetingRef(match.id, f"{program.name}, round {round_.number}: session {match.id[:8]}",
                            f"A coaching session of one match in round {round_.number} of {program.name}")

    async def _match_context(self, uow: UnitOfWork, match_id: str
                             ) -> tuple[Program, Round, Match, dict[str, Participant]] | None:
        match = await uow.matches.get(match_id)
        if match is None:
            return None
        program = await uow.programs.get(match.program_id)
        round_ = await uow.rounds.get(match.round_id)
        if program is None or round_ is None:
            return None
        people = {p.id: p for p in await uow.participants.get_many(list(match.participant_ids))}
        return program, round_, match, people

    # -- enrollment -------------------------------------------------------------------------------
    async def on_enrolled(self, event: ev.ParticipantEnrolled, uow: UnitOfWork) -> None:
        await self.on_enrolled_many([event], uow)

    async def on_enrolled_many(self, events: Sequence[ev.ParticipantEnrolled], uow: UnitOfWork) -> None:
        """``registered`` for each enrollment; an import's batch is read and queued in a few statements."""
        programs: dict[str, tuple[Program, dict[str, Any]]] = {}
        for program_id in dict.fromkeys(e.program_id for e in events):
            if (found := await uow.programs.get(program_id)) is not None:
                programs[program_id] = (found, self._of_program(found))
        people = {p.id: p for p in await uow.participants.get_many([e.participant_id for e in events])}
        items: list[tuple[str, r.Record]] = []
        for event in events:
            of_program, participant = programs.get(event.program_id), people.get(event.participant_id)
            if of_program and participant:
                program, shared = of_program
                items.append((participant.id, r.Registered(event_key=event.key, timestamp=event.at, **shared,
                                                           **self._of_person(program, participant))))
        if items:
            await self._write(uow, items)

    async def on_paused(self, event: ev.EnrollmentPaused, uow: UnitOfWork) -> None:
        program = await uow.programs.get(event.program_id)
        participant = await uow.participants.get(event.participant_id)
        if program and participant:
            record = r.Suspended(event_key=event.key, timestamp=event.at, paused_until=event.until,
                                 **self._common(program, participant))
            await self._write(uow, [(participant.id, record)])

    async def on_resumed(self, event: ev.EnrollmentResumed, uow: UnitOfWork) -> None:
        program = await uow.programs.get(event.program_id)
        participant = await uow.participants.get(event.participant_id)
        if program and participant:
            record = r.Resumed(event_key=event.key, timestamp=event.at, **self._common(program, participant))
            await self._write(uow, [(participant.id, record)])

    async def on_left(self, event: ev.ParticipantLeft, uow: UnitOfWork) -> None:
        program = await uow.programs.get(event.program_id)
        participant = await uow.participants.get(event.participant_id)
        if not (program and participant):
            return
        record = r.Unregistered(event_key=event.key, timestamp=event.at, **self._common(program, participant))
        await self._write(uow, [(participant.id, record)])

    async def on_erased(self, event: ev.ParticipantErased, uow: UnitOfWork) -> None:
        """Withdraw the person's undelivered statements and void the delivered ones."""
        participant = await uow.participants.get(event.participant_id)
        if participant is not None:
            await self.erase(uow, participant, event)

    async def erase(self, uow: UnitOfWork, participant: Participant, event: ev.Event) -> int:
        """Returns how many statements were voided."""
        conn = _connection(uow)
        index = list(await conn.execute(sa.select(t.xapi_statements.c.statement_id, t.xapi_statements.c.event_key)
                                        .where(t.xapi_statements.c.participant_id == participant.id)))
        ids = [row.statement_id for row in index]
        withdrawn = await withdraw_queued(conn, ids)
        voiding = await self._voiding_ids(conn, ids)
        program = r.ProgramRef("peercoach", "peercoach")
        voids = [r.Voided(event_key=f"erase/{participant.id}/{row.event_key}", timestamp=event.at, actor=self.system,
                          program=program, voided_event_key=row.event_key)
                 for row in index
                 if row.statement_id not in withdrawn and row.statement_id not in voiding
                 and not row.event_key.startswith("void/")]  # xAPI: a voiding statement is never voided
        await enqueue(conn, [self.builder.build_serialized(v) for v in voids])
        # Local copies of what was sent name the person: keep only the (person-free) voiding statements.
        for start in range(0, len(ids), 500):
            await conn.execute(outbox_table.delete().where(outbox_table.c.statement_id.in_(ids[start:start + 500]),
                                                           outbox_table.c.status != "queued"))
        await conn.execute(t.xapi_statements.delete().where(t.xapi_statements.c.participant_id == participant.id))
        await forget(conn, participant.id)
        logger.info("erasure of participant %s: %s statement(s) withdrawn, %s voided", participant.id,
                    len(withdrawn), len(voids))
        return len(voids)

    @staticmethod
    async def _voiding_ids(conn: AsyncConnection, ids: Sequence[str]) -> set[str]:
        """Which of these statements (still in the outbox) are voiding statements."""
        found: set[str] = set()
        marker = f'"id":"{Verbs.VOIDED}"'
        for start in range(0, len(ids), 500):
            rows = await conn.execute(sa.select(outbox_table.c.statement_id).where(
                outbox_table.c.statement_id.in_(ids[start:start + 500]), outbox_table.c.payload.contains(marker)))
            found.update(row.statement_id for row in rows)
        return found

    # -- rounds -----------------------------------------------------------------------------------
    async def on_matched(self, event: ev.MatchCreated, uow: UnitOfWork) -> None:
        found = await self._match_context(uow, event.match_id)
        if found is None:
            return
        program, round_, match, people = found
        if len(people) < 2:
            return
        named = await people_of(uow, people.values())
        members = tuple(named[pid] for pid in match.participant_ids if pid in named)
        items = []
        for member in match.members:
            who = people.get(member.participant_id)
            if who is None:
                continue
            role = r.Role(member.role.value) if member.role.value in r.Role._value2member_map_ else None
            others = [p for pid, p in people.items() if pid != who.id]
            items.append((who.id, r.Matched(event_key=f"{event.key}/{who.id}", timestamp=event.at,
                                            members=members, role=role, skills=exchanged_skills(who, others),
                                            partner_departments=tuple(o.profile.department for o in others
                                                                      if o.profile.department),
                                            **{**self._common(program, who, round_, match), "actor": named[who.id]})))
        await self._write(uow, items)

    async def on_meeting_changed(self, event: ev.MeetingRescheduleRequested | ev.MeetingCancelled,
                                 uow: UnitOfWork) -> None:
        """A member asked to reschedule (profile verb) or can't make it (Activity Streams cancel): a statement
        about their own act on the match's session, with no result (it says nothing about how they did)."""
        found = await self._match_context(uow, event.match_id)
        if found is None or event.participant_id not in found[3]:
            return
        program, round_, match, people = found
        meeting = self._meeting(program, round_, match)
        who = people[event.participant_id]
        common = self._common(program, who, round_, match)
        record: r.Record
        if isinstance(event, ev.MeetingRescheduleRequested):
            record = r.RescheduleRequested(event_key=event.key, timestamp=event.at, meeting=meeting, **common)
        else:
            record = r.MeetingCancelled(event_key=event.key, timestamp=event.at, meeting=meeting,
                                        called_off=event.meeting_called_off, **common)
        await self._write(uow, [(who.id, record)])

    async def on_meeting_scheduled(self, event: ev.MeetingScheduled, uow: UnitOfWork) -> None:
        found = await self._match_context(uow, event.match_id)
        if found is None:
            return
        program, round_, match, people = found
        meeting = self._meeting(program, round_, match)
        await self._write(uow, [(who.id, r.MeetingScheduled(
            event_key=f"{event.key}/{who.id}", timestamp=event.at, meeting=meeting, start=event.start,
            **self._common(program, who, round_, match))) for who in people.values()])

    async def on_check_in(self, event: ev.CheckInRecorded, uow: UnitOfWork) -> None:
        found = await self._match_context(uow, event.match_id)
        if found is None:
            return
        program, round_, match, people = found
        who = people.get(event.participant_id)
        check_in = await uow.check_ins.get(event.match_id, event.participant_id)
        if who is None or check_in is None:
            return
        common = self._common(program, who, round_, match)
        meeting = self._meeting(program, round_, match)
        items: list[tuple[str, r.Record]] = [(who.id, r.Reflected(
            event_key=f"{event.key}/reflected", timestamp=event.at, meeting=meeting, met=check_in.met,
            usefulness=check_in.usefulness, learned=check_in.learned, next_step=check_in.next_step, **common))]
        if check_in.met:
            items.append((who.id, r.Attended(event_key=f"{event.key}/attended", timestamp=event.at, meeting=meeting,
                                             duration=timedelta(minutes=program.meeting_minutes), **common)))
            others = [people[m.participant_id] for m in match.members
                      if m.participant_id != who.id and m.participant_id in people]
            named = await people_of(uow, others)
            if match.role_of(who.id) is Role.MENTOR:
                for mentee in others:
                    items.append((who.id, r.Mentored(event_key=f"{event.key}/mentored/{mentee.id}",
                                                     timestamp=event.at, mentee=named[mentee.id], meeting=meeting,
                                                     **common)))
            elif others:
                items.append((who.id, r.TalkedWith(event_key=f"{event.key}/talked-with", timestamp=event.at,
                                                   peers=tuple(named[o.id] for o in others), meeting=meeting,
                                                   **common)))
            items.extend(await self._program_completions(uow, program, [who], event.at, attended_now=1))
        await self._write(uow, items)

    async def _program_completions(self, uow: UnitOfWork, program: Program, who: Sequence[Participant],
                                   at: datetime, attended_now: int = 0) -> list[tuple[str, r.Record]]:
        """The program's rule: a person completes it with their ``completion_sessions``-th attended session
        (counted from the statement index, plus ``attended_now`` being written in this transaction)."""
        if self.completion_sessions <= 0 or not who:
            return []
        conn = _connection(uow)
        items: list[tuple[str, r.Record]] = []
        for participant in who:
            keys = [f"check-in/{m.id}/{participant.id}/attended"
                    for m in await uow.matches.for_participant(participant.id) if m.program_id == program.id]
            attended = (await conn.execute(sa.select(sa.func.count()).select_from(t.xapi_statements).where(
                t.xapi_statements.c.participant_id == participant.id,
                t.xapi_statements.c.event_key.in_(keys)))).scalar_one() if keys else 0
            if attended + attended_now != self.completion_sessions:
                continue
            enrollment = await uow.enrollments.get(program.id, participant.id)
            since = enrollment.joined_at if enrollment is not None else at
            items.append((participant.id, r.Completed(
                event_key=f"program-completed/{program.id}/{participant.id}", timestamp=at,
                scope=r.CompletedScope.PROGRAM, duration=max(at - since, timedelta(0)),
                **self._common(program, participant))))
        return items

    async def on_round_completed(self, event: ev.RoundCompleted, uow: UnitOfWork) -> None:
        """The round's period ended: everyone who met their match in it completed it."""
        program = await uow.programs.get(event.program_id)
        round_ = await uow.rounds.get(event.round_id)
        if program is None or round_ is None:
            return
        items = []
        duration = max(event.at - round_.started_at, timedelta(0))
        for match in await uow.matches.for_round(round_.id):
            met = {c.participant_id for c in await uow.check_ins.for_match(match.id) if c.met}
            for who in await uow.participants.get_many(sorted(met)):
                items.append((who.id, r.Completed(event_key=f"{event.key}/{who.id}", timestamp=event.at,
                                                  scope=r.CompletedScope.ROUND, duration=duration,
                                                  **self._common(program, who, round_, match))))
        await self._write(uow, items)

    # -- assessment -------------------------------------------------------------------------------
    async def _assessment_people(self, uow: UnitOfWork, program_id: str, round_id: str, *ids: str
                                 ) -> tuple[Program, Round | None, dict[str, Participant]] | None:
        program = await uow.programs.get(program_id)
        if program is None:
            return None
        round_ = await uow.rounds.get(round_id) if round_id else None
        return program, round_, {p.id: p for p in await uow.participants.get_many(list(ids))}

    async def on_review_submitted(self, event: ae.ReviewSubmitted, uow: UnitOfWork) -> None:
        """A peer review: the reviewer reviewed (no score, no comment, the reviewee by pseudonym). A
        self-assessment is the person's own score on the assessment."""
        found = await self._assessment_people(uow, event.program_id, event.round_id, event.reviewer_id,
                                              event.reviewee_id)
        if found is None:
            return
        program, round_, people = found
        reviewer, reviewee = people.get(event.reviewer_id), people.get(event.reviewee_id)
        if reviewer is None or reviewee is None:
            return
        common = self._common(program, reviewer, round_)
        assessment = r.AssessmentRef(event.assessment_id, f"{program.name} peer assessment")
        items: list[tuple[str, r.Record]] = []
        if event.replaces_key:  # an edit: the earlier version's statement is withdrawn
            for key in await self._indexed_keys(uow, reviewer.id, event.replaces_key):
                items.append((reviewer.id, r.Voided(event_key=f"void/{key}", timestamp=event.at,
                                                    voided_event_key=key, **common)))
        if event.self_assessment:
            items.append((reviewer.id, r.Scored(
                event_key=event.key, timestamp=event.at, assessment=assessment, source=r.ScoreSource.SELF,
                score=r.ScoreValue(event.score_raw, event.score_min, event.score_max), **common)))
        else:
            named = await people_of(uow, [reviewee])
            items.append((reviewer.id, r.Reviewed(event_key=event.key, timestamp=event.at, assessment=assessment,
                                                  reviewee=named[reviewee.id], **common)))
        await self._write(uow, items)

    @staticmethod
    async def _indexed_keys(uow: UnitOfWork, participant_id: str, key: str) -> list[str]:
        """The event keys written for ``key`` (earlier versions also wrote per-criterion keys under it)."""
        conn = _connection(uow)
        keys = set((await conn.execute(sa.select(t.xapi_statements.c.event_key).where(
            t.xapi_statements.c.participant_id == participant_id,
            t.xapi_statements.c.event_key.startswith(key)))).scalars())
        return sorted(keys | {key})

    async def on_review_withdrawn(self, event: ae.ReviewWithdrawn, uow: UnitOfWork) -> None:
        program = await uow.programs.get(event.program_id)
        reviewer = await uow.participants.get(event.reviewer_id)
        if program is None or reviewer is None:
            return
        common = self._common(program, reviewer)
        await self._write(uow, [(reviewer.id, r.Voided(event_key=f"void/{key}", timestamp=event.at,
                                                       voided_event_key=key, **common))
                                for key in await self._indexed_keys(uow, reviewer.id, event.voided_key)])

    async def on_feedback_released(self, event: ae.FeedbackReleased, uow: UnitOfWork) -> None:
        """Released feedback is the reviewee's own result: they scored, on the assessment, from n reviews."""
        found = await self._assessment_people(uow, event.program_id, event.round_id, event.reviewee_id)
        if found is None or event.reviewee_id not in found[2]:
            return
        program, round_, people = found
        reviewee = people[event.reviewee_id]
        record = r.Scored(event_key=event.key, timestamp=event.at,
                          assessment=r.AssessmentRef(event.assessment_id, f"{program.name} peer assessment"),
                          score=r.ScoreValue(event.score_raw, event.score_min, event.score_max),
                          source=r.ScoreSource.PEERS, reviews=max(event.n_reviews, 1),
                          **self._common(program, reviewee, round_))
        await self._write(uow, [(reviewee.id, record)])

    async def on_reviewer_thanked(self, event: ae.ReviewerThanked, uow: UnitOfWork) -> None:
        """A recognition for each milestone this thank-you crosses (reviews are counted per program)."""
        before = event.reviews_in_program - event.reviews_in_assessment
        crossed = [m for m in BADGE_MILESTONES if before < m <= event.reviews_in_program]
        if not crossed:
            return
        program = await uow.programs.get(event.program_id)
        reviewer = await uow.participants.get(event.reviewer_id)
        if program is None or reviewer is None:
            return
        items: list[tuple[str, r.Record]] = []
        for n in crossed:
            badge = r.BadgeRef(f"{program.id}/peer-reviewer-{n}", f"Peer reviewer ({n})",
                               f"Wrote {n} peer review{'s' if n > 1 else ''} in {program.name}")
            items.append((reviewer.id, r.Earned(
                event_key=f"earned/{program.id}/{reviewer.id}/reviewer-{n}", timestamp=event.at, badge=badge,
                reason="peer reviews written", **self._common(program, reviewer))))
        await self._write(uow, items)
