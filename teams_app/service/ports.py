"""Ports: what the use cases need from the outside world, as small ``typing.Protocol`` classes.

Adapters (SQLAlchemy, botbuilder, msgraph, SMTP, the LRS bridge) implement them; tests use fakes.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from types import TracebackType
from typing import Protocol, Self

from teams_app.domain.events import Event
from teams_app.domain.model import (
    CheckIn,
    Enrollment,
    Match,
    Meeting,
    Participant,
    Program,
    Round,
)
from teams_app.domain.notifications import Notice, TwinCard


class Clock(Protocol):
    def now(self) -> datetime: ...


class ProgramRepository(Protocol):
    async def add(self, program: Program) -> None: ...
    async def update(self, program: Program) -> None: ...
    async def get(self, program_id: str) -> Program | None: ...
    async def get_by_name(self, name: str) -> Program | None: ...
    async def all(self) -> list[Program]: ...
    async def claim_due(self, now: datetime) -> list[Program]:
        """Programs whose next round is due, locked for this transaction (skipped if another has them)."""
        ...


class ParticipantRepository(Protocol):
    async def add(self, participant: Participant) -> None: ...
    async def update(self, participant: Participant) -> None: ...
    async def get(self, participant_id: str) -> Participant | None: ...
    async def get_by_email(self, email: str) -> Participant | None: ...
    async def get_by_aad(self, aad_object_id: str) -> Participant | None: ...
    async def get_many(self, ids: Sequence[str]) -> list[Participant]: ...
    async def get_many_by_email(self, emails: Sequence[str]) -> dict[str, Participant]: ...
    async def add_many(self, participants: Sequence[Participant]) -> None: ...
    async def delete(self, participant_id: str) -> None: ...

    def pending(self, participants: Sequence[Participant]) -> None:
        """People this unit of work adds later on: ``get_many`` returns them already (an import's records)."""


class EnrollmentRepository(Protocol):
    async def add(self, enrollment: Enrollment) -> None: ...
    async def update(self, enrollment: Enrollment) -> None: ...
    async def get(self, program_id: str, participant_id: str) -> Enrollment | None: ...
    async def get_many(self, program_id: str, participant_ids: Sequence[str]) -> dict[str, Enrollment]: ...
    async def add_many(self, enrollments: Sequence[Enrollment]) -> None: ...
    async def for_program(self, program_id: str) -> list[Enrollment]: ...
    async def for_participant(self, participant_id: str) -> list[Enrollment]: ...

    def pending(self, enrollments: Sequence[Enrollment]) -> None:
        """Enrollments this unit of work adds later on (``add_many``): a store may prepare them now."""


class RoundRepository(Protocol):
    async def add(self, round_: Round) -> None: ...
    async def update(self, round_: Round) -> None: ...
    async def get(self, round_id: str) -> Round | None: ...
    async def latest(self, program_id: str) -> Round | None: ...
    async def for_program(self, program_id: str) -> list[Round]: ...


class MatchRepository(Protocol):
    async def add(self, match: Match) -> None: ...
    async def get(self, match_id: str) -> Match | None: ...
    async def get_many(self, match_ids: Sequence[str]) -> dict[str, Match]:
        """The matches that exist among these ids, by id (a few queries, not one per match)."""
        ...

    async def for_round(self, round_id: str) -> list[Match]: ...
    async def for_participant(self, participant_id: str) -> list[Match]: ...
    async def recent_for_program(self, program_id: str, since_number: int) -> list[tuple[int, Match]]:
        """(round number, match) for rounds numbered >= since_number."""
        ...

    async def unbooked(self, limit: int) -> list[Match]:
        """Matches of open rounds that have no meeting record yet (oldest rounds first)."""
        ...


class MeetingRepository(Protocol):
    async def upsert(self, meeting: Meeting) -> None: ...
    async def get(self, match_id: str) -> Meeting | None: ...
    async def for_round(self, round_id: str) -> dict[str, Meeting]:
        """The meetings of a round's matches, by match id (one query, not one per match)."""
        ...

    async def get_many(self, match_ids: Sequence[str]) -> dict[str, Meeting]:
        """The meetings of these matches that exist, by match id."""
        ...

    async def called_off(self, limit: int) -> list[Meeting]:
        """Cancelled meetings still in people's calendars (they have an event id), by match id."""
        ...


class CheckInRepository(Protocol):
    async def add(self, check_in: CheckIn) -> None: ...
    async def get(self, match_id: str, participant_id: str) -> CheckIn | None: ...
    async def for_match(self, match_id: str) -> list[CheckIn]: ...
    async def for_round(self, round_id: str) -> list[CheckIn]:
        """Every check-in on a round's matches, oldest first (one query, not one per match)."""
        ...


class PairRuleRepository(Protocol):
    async def add(self, program_id: str, a: str, b: str, rule: str) -> None: ...
    async def for_program(self, program_id: str) -> list[tuple[str, str, str]]:
        """(participant a, participant b, rule) with rule in 'block', 'forbid', 'force'."""
        ...


class NotificationQueue(Protocol):
    """The notification outbox, inside the unit of work's transaction (a rollback queues nothing)."""

    async def add(self, notices: Sequence[Notice], now: datetime) -> int:
        """Queue notices; ones already queued (same id) are skipped. Returns how many were added."""
        ...

    async def queued_at(self, notice_ids: Sequence[str]) -> dict[str, datetime]:
        """When each of these notices was queued (ids never queued are absent)."""
        ...

    async def channel_targets(self, tenant_id: str) -> list[str]:
        """Team channels the bot is installed in (conversation reference ids), for channel kinds."""
        ...

    async def named_channel(self, channel_id: str, tenant_id: str) -> list[str]:
        """The stored conversation of one Teams channel (its id, 19:...@thread...), as at most one reference id;
        [] when the bot has not seen that channel."""
        ...

    async def group_chats_of(self, aad_object_ids: Sequence[str], tenant_id: str) -> list[str]:
        """Group chats with the bot whose roster is exactly these people (conversation reference ids)."""
        ...

    async def forget(self, participant: Participant) -> None:
        """Erasure: drop the person's queued notices and the bot's conversation references to them."""
        ...


class UnitOfWork(Protocol):
    """One database transaction; repositories share it. Events collected here are dispatched on commit."""

    programs: ProgramRepository
    participants: ParticipantRepository
    enrollments: EnrollmentRepository
    rounds: RoundRepository
    matches: MatchRepository
    meetings: MeetingRepository
    check_ins: CheckInRepository
    pair_rules: PairRuleRepository
    notifications: NotificationQueue
    events: list[Event]
    flushed: list[Event]  # events whose in-transaction handlers already ran

    async def __aenter__(self) -> Self: ...
    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None: ...
    async def commit(self) -> None: ...
    async def rollback(self) -> None: ...


class UnitOfWorkFactory(Protocol):
    def __call__(self) -> UnitOfWork: ...


class Notifier(Protocol):
    """Tells people things (Teams first, email otherwise) through the notification outbox (``OutboxNotifier``)."""

    async def notify(self, participant: Participant, kind: str, payload: dict[str, object]) -> None: ...


class Calendar(Protocol):
    """Finds a common slot and books the meeting (Graph, or ICS by email when Graph is not configured)."""

    async def book(self, program: Program, match: Match, participants: Sequence[Participant],
                   window_start: date, window_end: date) -> Meeting: ...

    async def cancel(self, meeting: Meeting) -> None: ...


class Mailer(Protocol):
    async def send(self, to: Sequence[str], subject: str, html: str, text: str,
                   attachments: Sequence[tuple[str, str, bytes]] = ()) -> None: ...


class CardLinks(Protocol):
    """Signed, expiring links to a card's web twin (served by the bot's web app).

    ``None`` when no link can be made (no public URL or signing key configured): callers then say what to
    do in Teams or by a reply instead of linking.
    """

    def link(self, person_id: str, card: TwinCard, subject: str = "") -> str | None: ...


class NoCardLinks:
    """No web twins configured: every link is ``None``."""

    def link(self, person_id: str, card: TwinCard, subject: str = "") -> str | None:
        return None
