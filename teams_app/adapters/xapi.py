"""Domain events -> learning records -> xAPI statements in the LRS outbox, inside the same transaction.

Registered on the message bus as in-transaction handlers: the statement rows commit with the change that
caused them, or not at all. Record keys derive from the event's stable key, so a retried event yields the
same statement ids and the outbox stores each once. Erasure withdraws a person's undelivered statements
and voids the delivered ones (the voiding statements name the system actor, never the person).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from lrs_bridge import records as r
from lrs_bridge.outbox import enqueue, withdraw_queued
from lrs_bridge.statements import StatementBuilder
from teams_app.adapters.db import tables as t
from teams_app.domain import assessment_events as ae
from teams_app.domain import events as ev
from teams_app.domain.model import Match, Participant, Program, Role, Round
from teams_app.service.messagebus import MessageBus
from teams_app.service.ports import UnitOfWork

logger = logging.getLogger(__name__)

BADGE_MILESTONES = (1, 5, 10, 25, 50)  # peer reviews written in a program that earn a recognition


def _connection(uow: UnitOfWork) -> AsyncConnection:
    conn = getattr(uow, "connection", None)
    if not isinstance(conn, AsyncConnection):
        raise TypeError("the xAPI recorder needs the SQL unit of work (it writes the outbox in its transaction)")
    return conn


def person(p: Participant) -> r.Person:
    return r.Person(email=p.email, name=p.display_name, aad_object_id=p.aad_object_id)


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
    def __init__(self, builder: StatementBuilder, system_email: str) -> None:
        self.builder = builder
        self.system = r.Person(email=system_email, name="peercoach")

    def register(self, bus: MessageBus) -> None:
        handlers: dict[type[ev.Event], Any] = {
            ev.ParticipantEnrolled: self.on_enrolled,
            ev.EnrollmentPaused: self.on_paused,
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

    # -- plumbing ---------------------------------------------------------------------------------
    async def _write(self, uow: UnitOfWork, items: Sequence[tuple[str, r.Record]]) -> None:
        """Queue the statements and index them by the participant they are about."""
        conn = _connection(uow)
        built = [(pid, record, self.builder.build_serialized(record)) for pid, record in items]
        await enqueue(conn, [s for _, _, s in built])
        rows = [{"statement_id": str(s.id), "participant_id": pid, "event_key": record.event_key[:400]}
                for pid, record, s in built if pid]
        if rows:  # a retried event indexes nothing twice
            insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
            await conn.execute(insert(t.xapi_statements).on_conflict_do_nothing(index_elements=["statement_id"]),
                               rows)

    @staticmethod
    def _common(program: Program, participant: Participant, round_: Round | None = None,
                match: Match | None = None) -> dict[str, Any]:
        common: dict[str, Any] = {
            "actor": person(participant), "program": r.ProgramRef(program.id, program.name),
            "language": participant.locale or "en",
        }
        if program.cohort:
            common["cohort"] = r.CohortRef(program.cohort, program.cohort)
        if round_ is not None:
            common["round"] = r.RoundRef(program.id, round_.number)
        if match is not None and match.registration:
            common["registration"] = uuid.UUID(match.registration)
        return common

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
        program = await uow.programs.get(event.program_id)
        participant = await uow.participants.get(event.participant_id)
        if program and participant:
            record = r.Registered(event_key=event.key, timestamp=event.at, **self._common(program, participant))
            await self._write(uow, [(participant.id, record)])

    async def on_paused(self, event: ev.EnrollmentPaused, uow: UnitOfWork) -> None:
        program = await uow.programs.get(event.program_id)
        participant = await uow.participants.get(event.participant_id)
        if program and participant:
            record = r.Unregistered(event_key=event.key, timestamp=event.at, kind=r.LeaveKind.PAUSED,
                                    paused_until=event.until, **self._common(program, participant))
            await self._write(uow, [(participant.id, record)])

    async def on_left(self, event: ev.ParticipantLeft, uow: UnitOfWork) -> None:
        program = await uow.programs.get(event.program_id)
        participant = await uow.participants.get(event.participant_id)
        if not (program and participant):
            return
        record = r.Unregistered(event_key=event.key, timestamp=event.at, kind=r.LeaveKind.LEFT,
                                **self._common(program, participant))
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
        withdrawn = await withdraw_queued(conn, [row.statement_id for row in index])
        program = r.ProgramRef("peercoach", "peercoach")
        voids = [r.Voided(event_key=f"erase/{participant.id}/{row.event_key}", timestamp=event.at, actor=self.system,
                          program=program, voided_event_key=row.event_key)
                 for row in index if row.statement_id not in withdrawn]
        await enqueue(conn, [self.builder.build_serialized(v) for v in voids])
        await conn.execute(t.xapi_statements.delete().where(t.xapi_statements.c.participant_id == participant.id))
        logger.info("erasure of participant %s: %s statement(s) withdrawn, %s voided", participant.id,
                    len(withdrawn), len(voids))
        return len(voids)

    # -- rounds -----------------------------------------------------------------------------------
    async def on_matched(self, event: ev.MatchCreated, uow: UnitOfWork) -> None:
        found = await self._match_context(uow, event.match_id)
        if found is None:
            return
        program, round_, match, people = found
        members = tuple(person(people[pid]) for pid in match.participant_ids if pid in people)
        if len(members) < 2:
            return
        items = []
        for member in match.members:
            who = people.get(member.participant_id)
            if who is None:
                continue
            role = r.Role(member.role.value) if member.role.value in r.Role._value2member_map_ else None
            others = [p for pid, p in people.items() if pid != who.id]
            items.append((who.id, r.Matched(event_key=f"{event.key}/{who.id}", timestamp=event.at, members=members,
                                            role=role, skills=exchanged_skills(who, others),
                                            **self._common(program, who, round_, match))))
        await self._write(uow, items)

    async def on_meeting_changed(self, event: ev.MeetingRescheduleRequested | ev.MeetingCancelled,
                                 uow: UnitOfWork) -> None:
        """A member asked to reschedule or can't make it: a comment on the session (profile verb 'commented')."""
        found = await self._match_context(uow, event.match_id)
        if found is None or event.participant_id not in found[3]:
            return
        program, round_, match, people = found
        comment = ("asked to reschedule" if isinstance(event, ev.MeetingRescheduleRequested)
                   else "cannot make this session")
        meeting = r.MeetingRef(match.id, f"{program.name}, round {round_.number}")
        who = people[event.participant_id]
        await self._write(uow, [(who.id, r.Commented(
            event_key=event.key, timestamp=event.at, comment=comment, meeting=meeting,
            **self._common(program, who, round_, match)))])

    async def on_meeting_scheduled(self, event: ev.MeetingScheduled, uow: UnitOfWork) -> None:
        found = await self._match_context(uow, event.match_id)
        if found is None:
            return
        program, round_, match, people = found
        meeting = r.MeetingRef(match.id, f"{program.name}, round {round_.number}")
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
        meeting = r.MeetingRef(match.id, f"{program.name}, round {round_.number}")
        items: list[tuple[str, r.Record]] = [(who.id, r.Reflected(
            event_key=f"{event.key}/reflected", timestamp=event.at, meeting=meeting, met=check_in.met,
            usefulness=check_in.usefulness, learned=check_in.learned, next_step=check_in.next_step, **common))]
        if check_in.met:
            items.append((who.id, r.Attended(event_key=f"{event.key}/attended", timestamp=event.at, meeting=meeting,
                                             **common)))
            others = [people[m.participant_id] for m in match.members
                      if m.participant_id != who.id and m.participant_id in people]
            if match.role_of(who.id) is Role.MENTOR:
                for mentee in others:
                    items.append((who.id, r.Mentored(event_key=f"{event.key}/mentored/{mentee.id}",
                                                     timestamp=event.at, mentee=person(mentee), meeting=meeting,
                                                     **common)))
            elif others:
                items.append((who.id, r.TalkedWith(event_key=f"{event.key}/talked-with", timestamp=event.at,
                                                   peers=tuple(person(o) for o in others), meeting=meeting,
                                                   **common)))
        await self._write(uow, items)

    async def on_round_completed(self, event: ev.RoundCompleted, uow: UnitOfWork) -> None:
        """Everyone who met their match in the round completed it."""
        program = await uow.programs.get(event.program_id)
        round_ = await uow.rounds.get(event.round_id)
        if program is None or round_ is None:
            return
        items = []
        for match in await uow.matches.for_round(round_.id):
            met = {c.participant_id for c in await uow.check_ins.for_match(match.id) if c.met}
            for who in await uow.participants.get_many(sorted(met)):
                items.append((who.id, r.Completed(event_key=f"{event.key}/{who.id}", timestamp=event.at,
                                                  scope=r.CompletedScope.ROUND,
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
        if event.replaces_key:  # an edit: the earlier version's statements are withdrawn
            for key in self._review_keys(event.replaces_key, event.ratings):
                items.append((reviewer.id, r.Voided(event_key=f"void/{key}", timestamp=event.at,
                                                    voided_event_key=key, **common)))
        criterion_records = [r.Rated(event_key=f"{event.key}/{c.criterion_id}", timestamp=event.at,
                                     assessment=assessment, reviewee=person(reviewee),
                                     score=r.ScoreValue(c.level, c.min, c.max), criterion=c.criterion_id, **common)
                             for c in event.ratings]
        if event.self_assessment:  # a self-assessment is not a peer review: recorded as ratings only
            items.extend((reviewer.id, rec) for rec in criterion_records)
        else:
            items.append((reviewer.id, r.Reviewed(
                event_key=event.key, timestamp=event.at, assessment=assessment, reviewee=person(reviewee),
                score=r.ScoreValue(event.score_raw, event.score_min, event.score_max),
                comment=event.comment[:2000], **common)))
            items.extend((reviewer.id, rec) for rec in criterion_records)
        await self._write(uow, items)

    @staticmethod
    def _review_keys(key: str, ratings: Sequence[ae.CriterionRating]) -> list[str]:
        return [key, *(f"{key}/{c.criterion_id}" for c in ratings)]

    async def on_review_withdrawn(self, event: ae.ReviewWithdrawn, uow: UnitOfWork) -> None:
        program = await uow.programs.get(event.program_id)
        reviewer = await uow.participants.get(event.reviewer_id)
        if program is None or reviewer is None:
            return
        conn = _connection(uow)
        # The criterion statements share the review's key as a prefix; the index knows which were written.
        keys = list((await conn.execute(sa.select(t.xapi_statements.c.event_key).where(
            t.xapi_statements.c.participant_id == reviewer.id,
            t.xapi_statements.c.event_key.startswith(event.voided_key)))).scalars())
        common = self._common(program, reviewer)
        await self._write(uow, [(reviewer.id, r.Voided(event_key=f"void/{key}", timestamp=event.at,
                                                       voided_event_key=key, **common))
                                for key in sorted(set(keys) | {event.voided_key})])

    async def on_feedback_released(self, event: ae.FeedbackReleased, uow: UnitOfWork) -> None:
        found = await self._assessment_people(uow, event.program_id, event.round_id, event.reviewee_id)
        if found is None or event.reviewee_id not in found[2]:
            return
        program, round_, people = found
        reviewee = people[event.reviewee_id]
        # The aggregate is the peers' view of the person: recorded with the person as actor and reviewee is
        # not allowed (a Rated needs someone else), so the system actor states it, naming no reviewer.
        record = r.Rated(event_key=event.key, timestamp=event.at,
                         assessment=r.AssessmentRef(event.assessment_id, f"{program.name} peer assessment"),
                         reviewee=person(reviewee), score=r.ScoreValue(event.score_raw, event.score_min,
                                                                       event.score_max),
                         criterion="aggregate", **{**self._common(program, reviewee, round_),
                                                   "actor": self.system})
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
