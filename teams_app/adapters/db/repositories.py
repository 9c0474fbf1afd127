"""SQL repositories: rows <-> domain dataclasses, on one shared AsyncConnection (the unit of work's)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, fields
from datetime import date, datetime, time
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from teams_app.adapters.db import tables as t
from teams_app.adapters.db.bulk import PreparedAhead, insert_many, prepare_rows, select_where_in, write_prepared
from teams_app.domain.model import (
    Cadence,
    CheckIn,
    CoachingFramework,
    Enrollment,
    EnrollmentStatus,
    Match,
    MatchingPolicy,
    MatchMember,
    Meeting,
    MeetingStatus,
    Participant,
    Profile,
    Program,
    ProgramKind,
    PromptStage,
    Role,
    RolePreference,
    Round,
    RoundStatus,
    WorkingHours,
)
from teams_app.domain.reasons import Reason, reason_json

# Program fields kept in the JSON "settings" column (everything without a column of its own).
_PROGRAM_COLUMNS = {"id", "name", "kind", "cadence", "tenant_id", "cohort", "next_round_at", "active", "created_at"}


def program_to_row(program: Program) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    for f in fields(program):
        if f.name in _PROGRAM_COLUMNS:
            continue
        value = getattr(program, f.name)
        if f.name == "policy":
            value = asdict(value)
        elif f.name == "framework":
            value = {"name": value.name, "stages": [{"name": s.name, "prompts": list(s.prompts)}
                                                    for s in value.stages]}
        extra[f.name] = value
    return {
        "id": program.id, "name": program.name, "kind": program.kind.value, "cadence": program.cadence.value,
        "tenant_id": program.tenant_id, "cohort": program.cohort, "settings": extra,
        "next_round_at": program.next_round_at, "active": program.active, "created_at": program.created_at,
    }


def program_from_row(row: Any) -> Program:
    extra = dict(row.settings or {})
    policy_fields = {f.name for f in fields(MatchingPolicy)}
    if "policy" in extra:
        extra["policy"] = MatchingPolicy(**{k: v for k, v in extra["policy"].items() if k in policy_fields})
    if "framework" in extra:
        fw = extra["framework"]
        extra["framework"] = CoachingFramework(
            fw["name"], tuple(PromptStage(s["name"], tuple(s["prompts"])) for s in fw["stages"]))
    known = {f.name for f in fields(Program)}
    return Program(
        id=row.id, name=row.name, kind=ProgramKind(row.kind), cadence=Cadence(row.cadence), tenant_id=row.tenant_id,
        cohort=row.cohort, next_round_at=row.next_round_at, active=row.active, created_at=row.created_at,
        **{k: v for k, v in extra.items() if k in known},
    )


def profile_to_json(profile: Profile) -> dict[str, Any]:
    return {
        "department": profile.department, "location": profile.location, "time_zone": profile.time_zone,
        "working_hours": {"start": profile.working_hours.start.isoformat(),
                          "end": profile.working_hours.end.isoformat(), "days": sorted(profile.working_hours.days)},
        "languages": list(profile.languages), "seniority": profile.seniority,
        "skills_offered": list(profile.skills_offered), "skills_wanted": list(profile.skills_wanted),
        "goals": list(profile.goals), "start_date": profile.start_date.isoformat() if profile.start_date else None,
        "role_preference": profile.role_preference.value,
    }


def profile_from_json(data: dict[str, Any]) -> Profile:
    hours = data.get("working_hours") or {}
    return Profile(
        department=data.get("department", ""), location=data.get("location", ""),
        time_zone=data.get("time_zone", "UTC"),
        working_hours=WorkingHours(time.fromisoformat(hours.get("start", "09:00")),
                                   time.fromisoformat(hours.get("end", "17:00")),
                                   frozenset(hours.get("days", (0, 1, 2, 3, 4)))),
        languages=tuple(data.get("languages", ("en",))), seniority=int(data.get("seniority", 2)),
        skills_offered=tuple(data.get("skills_offered", ())), skills_wanted=tuple(data.get("skills_wanted", ())),
        goals=tuple(data.get("goals", ())),
        start_date=date.fromisoformat(data["start_date"]) if data.get("start_date") else None,
        role_preference=RolePreference(data.get("role_preference", "either")),
    )


def _participant(row: Any) -> Participant:
    return Participant(
        id=row.id, email=row.email, display_name=row.display_name, tenant_id=row.tenant_id,
        aad_object_id=row.aad_object_id, locale=row.locale, profile=profile_from_json(row.profile),
        manager_email=row.manager_email, teams_reachable=row.teams_reachable,
    )


def _participant_row(p: Participant) -> dict[str, Any]:
    return {"id": p.id, "email": p.email, "display_name": p.display_name, "tenant_id": p.tenant_id,
            "aad_object_id": p.aad_object_id, "locale": p.locale, "profile": profile_to_json(p.profile),
            "manager_email": p.manager_email, "teams_reachable": p.teams_reachable}


class _Repo:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn


class SqlProgramRepository(_Repo):
    def __init__(self, conn: AsyncConnection) -> None:
        super().__init__(conn)
        # Programs this unit of work read by id (immutable; only this repository writes them): an import's
        # batch asks for its program twice, once for the enrollments and once for the learning records.
        self._read: dict[str, Program] = {}

    async def add(self, program: Program) -> None:
        self._read.pop(program.id, None)
        await self.conn.execute(t.programs.insert().values(**program_to_row(program)))

    async def update(self, program: Program) -> None:
        self._read.pop(program.id, None)
        row = program_to_row(program)
        await self.conn.execute(t.programs.update().where(t.programs.c.id == program.id).values(**row))

    async def get(self, program_id: str) -> Program | None:
        if (known := self._read.get(program_id)) is not None:
            return known
        rows = await select_where_in(self.conn, t.programs, "id", [program_id])
        if not rows:
            return None
        self._read[program_id] = program = program_from_row(rows[0])
        return program

    async def get_by_name(self, name: str) -> Program | None:
        row = (await self.conn.execute(t.programs.select().where(t.programs.c.name == name))).first()
        return program_from_row(row) if row else None

    async def all(self) -> list[Program]:
        rows = await self.conn.execute(t.programs.select().order_by(t.programs.c.created_at, t.programs.c.name))
        return [program_from_row(r) for r in rows]

    async def claim_due(self, now: datetime) -> list[Program]:
        query = (t.programs.select()
                 .where(t.programs.c.active.is_(True), t.programs.c.next_round_at.is_not(None),
                        t.programs.c.next_round_at <= now)
                 .order_by(t.programs.c.next_round_at))
        if self.conn.dialect.name == "postgresql":
            # Another server holding the row is running that round: skip it rather than wait and re-run.
            query = query.with_for_update(skip_locked=True)
        return [program_from_row(r) for r in await self.conn.execute(query)]


class SqlParticipantRepository(_Repo):
    def __init__(self, conn: AsyncConnection) -> None:
        super().__init__(conn)
        # The people this unit of work adds (pending) or added (add_many), exactly as written: an import's
        # learning records ask for the whole batch, and get it from here instead of reading and decoding it.
        self._inserted: dict[str, Participant] = {}
        self._ahead = PreparedAhead()

    def pending(self, participants: Sequence[Participant]) -> None:
        """Also converts their rows now: :meth:`add_many` of the same people then only writes (an import's
        batch does its CPU work before its first write takes SQLite's write lock)."""
        self._inserted.update((p.id, p) for p in participants)
        if participants:
            self._ahead.keep(participants, prepare_rows(self.conn, t.participants,
                                                        [_participant_row(p) for p in participants]))

    async def add(self, participant: Participant) -> None:
        await self.conn.execute(t.participants.insert().values(**_participant_row(participant)))

    async def update(self, participant: Participant) -> None:
        self._inserted.pop(participant.id, None)
        await self.conn.execute(t.participants.update().where(t.participants.c.id == participant.id)
                                .values(**_participant_row(participant)))

    async def get(self, participant_id: str) -> Participant | None:
        row = (await self.conn.execute(t.participants.select().where(t.participants.c.id == participant_id))).first()
        return _participant(row) if row else None

    async def get_by_email(self, email: str) -> Participant | None:
        row = (await self.conn.execute(t.participants.select().where(t.participants.c.email == email))).first()
        return _participant(row) if row else None

    async def get_by_aad(self, aad_object_id: str) -> Participant | None:
        if not aad_object_id:
            return None
        row = (await self.conn.execute(
            t.participants.select().where(t.participants.c.aad_object_id == aad_object_id))).first()
        return _participant(row) if row else None

    async def get_many(self, ids: Sequence[str]) -> list[Participant]:
        """In the order asked, each once; unknown ids are skipped."""
        found: dict[str, Participant] = {i: self._inserted[i] for i in ids if i in self._inserted}
        unique = [i for i in dict.fromkeys(ids) if i not in found]
        for start in range(0, len(unique), 500):  # keep under SQLite's bound-parameter limit
            rows = await select_where_in(self.conn, t.participants, "id", unique[start:start + 500])
            found.update((r.id, _participant(r)) for r in rows)
        return [found[i] for i in dict.fromkeys(ids) if i in found]

    async def get_many_by_email(self, emails: Sequence[str]) -> dict[str, Participant]:
        """The people with these (normalised) emails, by email; unknown emails are left out."""
        found: dict[str, Participant] = {}
        unique = list(dict.fromkeys(emails))
        for start in range(0, len(unique), 500):  # keep under SQLite's bound-parameter limit
            rows = await select_where_in(self.conn, t.participants, "email", unique[start:start + 500])
            found.update((r.email, _participant(r)) for r in rows)
        return found

    async def add_many(self, participants: Sequence[Participant]) -> None:
        """One multi-row statement per chunk instead of a round trip per person (imports)."""
        if not participants:
            return
        prepared = self._ahead.take(participants)
        if prepared is not None:
            await write_prepared(self.conn, prepared)
        else:
            await insert_many(self.conn, t.participants, [_participant_row(p) for p in participants])
        self._inserted.update((p.id, p) for p in participants)

    async def delete(self, participant_id: str) -> None:
        self._inserted.pop(participant_id, None)
        await self.conn.execute(t.participants.delete().where(t.participants.c.id == participant_id))


def _enrollment(row: Any) -> Enrollment:
    return Enrollment(row.program_id, row.participant_id, EnrollmentStatus(row.status), row.consent_at,
                      row.joined_at, row.paused_until, row.priority)


class SqlEnrollmentRepository(_Repo):
    def __init__(self, conn: AsyncConnection) -> None:
        super().__init__(conn)
        self._ahead = PreparedAhead()

    @staticmethod
    def _row(e: Enrollment) -> dict[str, Any]:
        return {"program_id": e.program_id, "participant_id": e.participant_id, "status": e.status.value,
                "consent_at": e.consent_at, "joined_at": e.joined_at, "paused_until": e.paused_until,
                "priority": e.priority}

    async def add(self, enrollment: Enrollment) -> None:
        await self.conn.execute(t.enrollments.insert().values(**self._row(enrollment)))

    async def update(self, enrollment: Enrollment) -> None:
        c = t.enrollments.c
        await self.conn.execute(t.enrollments.update().where(
            c.program_id == enrollment.program_id, c.participant_id == enrollment.participant_id,
        ).values(**self._row(enrollment)))

    async def get(self, program_id: str, participant_id: str) -> Enrollment | None:
        c = t.enrollments.c
        row = (await self.conn.execute(t.enrollments.select().where(
            c.program_id == program_id, c.participant_id == participant_id))).first()
        return _enrollment(row) if row else None

    async def get_many(self, program_id: str, participant_ids: Sequence[str]) -> dict[str, Enrollment]:
        """The enrollments of these people in one program, by participant id (missing ones left out)."""
        c = t.enrollments.c
        found: dict[str, Enrollment] = {}
        unique = list(dict.fromkeys(participant_ids))
        for start in range(0, len(unique), 500):
            rows = await self.conn.execute(t.enrollments.select().where(
                c.program_id == program_id, c.participant_id.in_(unique[start:start + 500])))
            found.update((r.participant_id, _enrollment(r)) for r in rows)
        return found

    def pending(self, enrollments: Sequence[Enrollment]) -> None:
        """Converts their rows now; :meth:`add_many` of the same enrollments then only writes."""
        if enrollments:
            self._ahead.keep(enrollments, prepare_rows(self.conn, t.enrollments, [self._row(e) for e in enrollments]))

    async def add_many(self, enrollments: Sequence[Enrollment]) -> None:
        prepared = self._ahead.take(enrollments)
        if prepared is not None:
            await write_prepared(self.conn, prepared)
        else:
            await insert_many(self.conn, t.enrollments, [self._row(e) for e in enrollments])

    async def for_program(self, program_id: str) -> list[Enrollment]:
        rows = await self.conn.execute(t.enrollments.select().where(t.enrollments.c.program_id == program_id)
                                       .order_by(t.enrollments.c.participant_id))
        return [_enrollment(r) for r in rows]

    async def for_participant(self, participant_id: str) -> list[Enrollment]:
        rows = await self.conn.execute(t.enrollments.select().where(
            t.enrollments.c.participant_id == participant_id).order_by(t.enrollments.c.program_id))
        return [_enrollment(r) for r in rows]


def _round(row: Any) -> Round:
    return Round(row.id, row.program_id, row.number, row.started_at, row.seed, RoundStatus(row.status),
                 dict(row.quality or {}), row.term, row.session)


class SqlRoundRepository(_Repo):
    async def add(self, round_: Round) -> None:
        await self.conn.execute(t.rounds.insert().values(
            id=round_.id, program_id=round_.program_id, number=round_.number, started_at=round_.started_at,
            seed=round_.seed, status=round_.status.value, quality=dict(round_.quality), term=round_.term,
            session=round_.session))

    async def update(self, round_: Round) -> None:
        await self.conn.execute(t.rounds.update().where(t.rounds.c.id == round_.id).values(
            status=round_.status.value, quality=dict(round_.quality)))

    async def get(self, round_id: str) -> Round | None:
        row = (await self.conn.execute(t.rounds.select().where(t.rounds.c.id == round_id))).first()
        return _round(row) if row else None

    async def latest(self, program_id: str) -> Round | None:
        row = (await self.conn.execute(t.rounds.select().where(t.rounds.c.program_id == program_id)
                                       .order_by(t.rounds.c.number.desc()).limit(1))).first()
        return _round(row) if row else None

    async def for_program(self, program_id: str) -> list[Round]:
        rows = await self.conn.execute(t.rounds.select().where(t.rounds.c.program_id == program_id)
                                       .order_by(t.rounds.c.number))
        return [_round(r) for r in rows]


class SqlMatchRepository(_Repo):
    def __init__(self, conn: AsyncConnection) -> None:
        super().__init__(conn)
        self._round_numbers: dict[str, int] = {}  # a round adds thousands of matches: look its number up once

    async def add(self, match: Match) -> None:
        number = self._round_numbers.get(match.round_id)
        if number is None:
            number = (await self.conn.execute(
                sa.select(t.rounds.c.number).where(t.rounds.c.id == match.round_id))).scalar_one()
            self._round_numbers[match.round_id] = number
        await self.conn.execute(t.matches.insert().values(
            id=match.id, round_id=match.round_id, program_id=match.program_id, round_number=number,
            score=match.score, reasons=[reason_json(r) for r in match.reasons], registration=match.registration))
        await self.conn.execute(t.match_members.insert(), [
            {"match_id": match.id, "participant_id": m.participant_id, "position": i, "role": m.role.value}
            for i, m in enumerate(match.members)])

    async def _load(self, where: Any, order: Any = None) -> list[tuple[int, Match]]:
        query = t.matches.select().where(where)
        rows = list(await self.conn.execute(query.order_by(*(order or (t.matches.c.round_number,
                                                                          t.matches.c.id)))))
        if not rows:
            return []
        members: dict[str, list[MatchMember]] = {r.id: [] for r in rows}
        ids = list(members)
        for start in range(0, len(ids), 500):
            member_rows = await self.conn.execute(
                t.match_members.select().where(t.match_members.c.match_id.in_(ids[start:start + 500]))
                .order_by(t.match_members.c.match_id, t.match_members.c.position))
            for m in member_rows:
                members[m.match_id].append(MatchMember(m.participant_id, Role(m.role)))
        return [(r.round_number, Match(r.id, r.round_id, r.program_id, tuple(members[r.id]), r.score,
                                       tuple(Reason.from_json(x) for x in r.reasons or ()), r.registration))
                for r in rows]

    async def get(self, match_id: str) -> Match | None:
        found = await self._load(t.matches.c.id == match_id)
        return found[0][1] if found else None

    async def get_many(self, match_ids: Sequence[str]) -> dict[str, Match]:
        unique = list(dict.fromkeys(match_ids))
        found: dict[str, Match] = {}
        for start in range(0, len(unique), 500):  # keep under SQLite's bound-parameter limit
            found.update((m.id, m) for _, m in await self._load(t.matches.c.id.in_(unique[start:start + 500])))
        return found

    async def for_round(self, round_id: str) -> list[Match]:
        return [m for _, m in await self._load(t.matches.c.round_id == round_id)]

    async def for_participant(self, participant_id: str) -> list[Match]:
        mine = sa.select(t.match_members.c.match_id).where(t.match_members.c.participant_id == participant_id)
        found = await self._load(t.matches.c.id.in_(mine), (t.matches.c.round_number.desc(), t.matches.c.id))
        return [m for _, m in found]

    async def recent_for_program(self, program_id: str, since_number: int) -> list[tuple[int, Match]]:
        return await self._load(sa.and_(t.matches.c.program_id == program_id,
                                        t.matches.c.round_number >= since_number))


    async def unbooked(self, limit: int) -> list[Match]:
        open_rounds = sa.select(t.rounds.c.id).where(t.rounds.c.status == RoundStatus.OPEN.value)
        booked = sa.select(t.meetings.c.match_id)
        ids = (await self.conn.execute(
            sa.select(t.matches.c.id).where(t.matches.c.round_id.in_(open_rounds), t.matches.c.id.not_in(booked))
            .order_by(t.matches.c.round_number, t.matches.c.id).limit(limit))).scalars().all()
        return [m for _, m in await self._load(t.matches.c.id.in_(list(ids)))] if ids else []


class SqlMeetingRepository(_Repo):
    async def upsert(self, meeting: Meeting) -> None:
        values = {"status": meeting.status.value, "start_at": meeting.start, "end_at": meeting.end,
                  "join_url": meeting.join_url, "external_id": meeting.external_id, "organizer": meeting.organizer,
                  "detail": meeting.detail}
        # One atomic statement: two servers booking the same match must not race between UPDATE and INSERT.
        insert = t.insert_for(self.conn.dialect.name, t.meetings)
        await self.conn.execute(insert.values(match_id=meeting.match_id, **values).on_conflict_do_update(
            index_elements=["match_id"], set_=values))

    async def get(self, match_id: str) -> Meeting | None:
        row = (await self.conn.execute(t.meetings.select().where(t.meetings.c.match_id == match_id))).first()
        return None if row is None else _meeting(row)

    async def for_round(self, round_id: str) -> dict[str, Meeting]:
        rows = await self.conn.execute(t.meetings.select().where(t.meetings.c.match_id.in_(_round_matches(round_id))))
        return {row.match_id: _meeting(row) for row in rows}

    async def get_many(self, match_ids: Sequence[str]) -> dict[str, Meeting]:
        unique = list(dict.fromkeys(match_ids))
        found: dict[str, Meeting] = {}
        for start in range(0, len(unique), 500):
            rows = await self.conn.execute(t.meetings.select().where(
                t.meetings.c.match_id.in_(unique[start:start + 500])))
            found.update((row.match_id, _meeting(row)) for row in rows)
        return found

    async def called_off(self, limit: int) -> list[Meeting]:
        c = t.meetings.c
        rows = await self.conn.execute(t.meetings.select().where(
            c.status == MeetingStatus.CANCELLED.value, c.external_id != "").order_by(c.match_id).limit(limit))
        return [_meeting(row) for row in rows]


def _round_matches(round_id: str) -> sa.Select[tuple[str]]:
    """The ids of a round's matches, as a subquery (no parameter list, whatever the round's size)."""
    return sa.select(t.matches.c.id).where(t.matches.c.round_id == round_id)


def _meeting(row: Any) -> Meeting:
    return Meeting(row.match_id, MeetingStatus(row.status), row.start_at, row.end_at, row.join_url,
                   row.external_id, row.organizer, row.detail)


def _check_in(row: Any) -> CheckIn:
    return CheckIn(row.match_id, row.participant_id, row.met, row.usefulness, row.learned, row.next_step, row.at)


class SqlCheckInRepository(_Repo):
    async def add(self, check_in: CheckIn) -> None:
        await self.conn.execute(t.check_ins.insert().values(
            match_id=check_in.match_id, participant_id=check_in.participant_id, met=check_in.met,
            usefulness=check_in.usefulness, learned=check_in.learned, next_step=check_in.next_step, at=check_in.at))

    async def get(self, match_id: str, participant_id: str) -> CheckIn | None:
        c = t.check_ins.c
        row = (await self.conn.execute(t.check_ins.select().where(
            c.match_id == match_id, c.participant_id == participant_id))).first()
        return _check_in(row) if row else None

    async def for_match(self, match_id: str) -> list[CheckIn]:
        rows = await self.conn.execute(t.check_ins.select().where(t.check_ins.c.match_id == match_id)
                                       .order_by(t.check_ins.c.at))
        return [_check_in(r) for r in rows]

    async def for_round(self, round_id: str) -> list[CheckIn]:
        c = t.check_ins.c
        rows = await self.conn.execute(t.check_ins.select().where(c.match_id.in_(_round_matches(round_id)))
                                       .order_by(c.at, c.match_id, c.participant_id))
        return [_check_in(r) for r in rows]


class SqlPairRuleRepository(_Repo):
    async def add(self, program_id: str, a: str, b: str, rule: str) -> None:
        first, second = sorted((a, b))
        c = t.pair_rules.c
        await self.conn.execute(t.pair_rules.delete().where(
            c.program_id == program_id, c.participant_a == first, c.participant_b == second))
        await self.conn.execute(t.pair_rules.insert().values(
            program_id=program_id, participant_a=first, participant_b=second, rule=rule))

    async def for_program(self, program_id: str) -> list[tuple[str, str, str]]:
        c = t.pair_rules.c
        rows = await self.conn.execute(t.pair_rules.select().where(c.program_id == program_id)
                                       .order_by(c.participant_a, c.participant_b))
        return [(r.participant_a, r.participant_b, r.rule) for r in rows]
