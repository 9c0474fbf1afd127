"""Learning records: plain, immutable descriptions of what happened in a peer-coaching program.

A record carries everything needed to build one xAPI statement and nothing else: no I/O, no IRIs, no
settings. ``lrs_bridge.statements`` turns records into tincan ``Statement`` objects. Each record has an
``event_key``, a stable string chosen when the event happens (for example ``"checkin:8f1c"``); the
statement id is ``uuid5(namespace, event_key)``, so producing the same event twice yields the same
statement id and the outbox stores it once.
"""

from __future__ import annotations

import hashlib
import math
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum


class RecordError(ValueError):
    """A learning record is incomplete or contradicts itself."""


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise RecordError(message)


@dataclass(frozen=True)
class Person:
    """Somebody taking part: identified by email, known to Teams by the AAD object id.

    ``pseudonym`` is an opaque per-person id (kept in a mapping table by the caller): statements name
    the actor the way the LMS knows them, and every other person only by this pseudonym, which means
    nothing once the mapping is deleted (erasure).
    """

    email: str
    name: str = ""
    aad_object_id: str = ""
    pseudonym: str = ""

    def __post_init__(self) -> None:
        _require("@" in self.email and not self.email.startswith("mailto:"),
                 f"person email must be a plain address, got {self.email!r}")


@dataclass(frozen=True)
class ProgramRef:
    """A program; ``language`` tags the names of its activities (program, rounds, meetings, assessments)."""

    id: str
    name: str
    language: str = "en"

    def __post_init__(self) -> None:
        _require(bool(self.id), "program id is empty")


@dataclass(frozen=True)
class CohortRef:
    id: str
    name: str = ""

    def __post_init__(self) -> None:
        _require(bool(self.id), "cohort id is empty")


@dataclass(frozen=True)
class RoundRef:
    program_id: str
    number: int

    def __post_init__(self) -> None:
        _require(self.number >= 1, f"round numbers start at 1, got {self.number}")


@dataclass(frozen=True)
class MeetingRef:
    """A coaching session (booked in Outlook/Teams or agreed by the pair)."""

    id: str
    title: str = ""
    description: str = ""

    def __post_init__(self) -> None:
        _require(bool(self.id), "meeting id is empty")


@dataclass(frozen=True)
class AssessmentRef:
    """A peer assessment (one review form of a rubric, for one person, in one round)."""

    id: str
    name: str = ""


@dataclass(frozen=True)
class BadgeRef:
    id: str
    name: str
    description: str = ""


@dataclass(frozen=True)
class ScoreValue:
    """A raw score on a known scale; ``scaled`` maps it onto 0..1 the way LMS reports expect."""

    raw: float
    min: float
    max: float

    def __post_init__(self) -> None:
        _require(all(math.isfinite(v) for v in (self.raw, self.min, self.max)), "score is not finite")
        _require(self.min < self.max, f"score min {self.min} must be below max {self.max}")
        _require(self.min <= self.raw <= self.max, f"score {self.raw} outside {self.min}..{self.max}")

    @property
    def scaled(self) -> float:
        return round((self.raw - self.min) / (self.max - self.min), 4)


class Role(StrEnum):
    MENTOR = "mentor"
    MENTEE = "mentee"
    PEER = "peer"
    FACILITATOR = "facilitator"
    BUDDY = "buddy"


@dataclass(frozen=True, kw_only=True)
class Record:
    """Fields every record shares.

    ``registration`` is one UUID per person per program (see :func:`registration_for`), so every
    statement about one person's journey through one program shares it and the profile's patterns can
    match it. ``platform`` is the channel the person used (``"Microsoft Teams"`` or ``"email"``); empty
    means the builder's default. ``timestamp`` is never later than the moment the statement is built
    (the builder clamps it).
    """

    event_key: str
    timestamp: datetime
    actor: Person
    program: ProgramRef
    cohort: CohortRef | None = None
    round: RoundRef | None = None
    registration: uuid.UUID | None = None
    language: str = "en"
    platform: str = ""

    def __post_init__(self) -> None:
        _require(bool(self.event_key.strip()), "event_key is empty")
        _require(self.timestamp.tzinfo is not None and self.timestamp.utcoffset() is not None,
                 f"timestamp of {self.event_key!r} has no time zone")
        _require(bool(self.language), "language is empty")
        if self.round is not None:
            _require(self.round.program_id == self.program.id,
                     f"round belongs to program {self.round.program_id!r}, record to {self.program.id!r}")


@dataclass(frozen=True, kw_only=True)
class Registered(Record):
    """The person opted in to the program (verb: registered; object: the program)."""


@dataclass(frozen=True, kw_only=True)
class Unregistered(Record):
    """The person left the program (verb: unregistered). A pause is :class:`Suspended`, not this."""


@dataclass(frozen=True, kw_only=True)
class Suspended(Record):
    """The person paused their participation (verb: ADL suspended; object: the program)."""

    paused_until: date | None = None


@dataclass(frozen=True, kw_only=True)
class Resumed(Record):
    """The person resumed after a pause (verb: ADL resumed; object: the program)."""


@dataclass(frozen=True, kw_only=True)
class Matched(Record):
    """The person was matched in a round; ``members`` is the whole match, the actor included. ``skills`` are
    the skills the actor gives or gets in this match (what one offers and another wants)."""

    members: tuple[Person, ...]
    role: Role | None = None
    skills: tuple[str, ...] = ()
    partner_departments: tuple[str, ...] = ()  # the other members' departments (organisation data, no people)

    def __post_init__(self) -> None:
        super().__post_init__()
        _require(self.round is not None, "a match belongs to a round")
        _require(len(self.members) >= 2, "a match has at least two members")
        _require(self.actor in self.members, "the actor must be one of the match members")


@dataclass(frozen=True, kw_only=True)
class MeetingScheduled(Record):
    meeting: MeetingRef
    start: datetime | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        _require(self.start is None or self.start.tzinfo is not None, "meeting start has no time zone")


@dataclass(frozen=True, kw_only=True)
class RescheduleRequested(Record):
    """The actor asked their match to find a new time for a session (verb: profile 'requested reschedule')."""

    meeting: MeetingRef


@dataclass(frozen=True, kw_only=True)
class MeetingCancelled(Record):
    """The actor can't make a session and called it off for themselves (verb: Activity Streams cancel);
    ``called_off`` says whether the session is off for the whole match (a pair's is, a trio may still meet)."""

    meeting: MeetingRef
    called_off: bool = True


@dataclass(frozen=True, kw_only=True)
class Attended(Record):
    """The actor attended a session; ``duration`` is the meeting's length."""

    meeting: MeetingRef
    duration: timedelta | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        _require(self.duration is None or self.duration >= timedelta(0), "negative duration")


@dataclass(frozen=True, kw_only=True)
class Mentored(Record):
    """The actor (mentor) mentored the mentee, optionally in a given meeting."""

    mentee: Person
    meeting: MeetingRef | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        _require(self.mentee != self.actor, "nobody mentors themselves")


@dataclass(frozen=True, kw_only=True)
class TalkedWith(Record):
    """The actor met one peer (object: Agent) or several (object: Group)."""

    peers: tuple[Person, ...]
    meeting: MeetingRef | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        _require(len(self.peers) >= 1, "talked with nobody")
        _require(self.actor not in self.peers, "the actor is not their own peer")


@dataclass(frozen=True, kw_only=True)
class Reflected(Record):
    """A check-in: did we meet, how useful (1-5), what I learned, next step. Usefulness is the actor's
    opinion of the session, recorded as a result extension, never as a score."""

    meeting: MeetingRef | None = None
    met: bool = True
    usefulness: int | None = None
    learned: str = ""
    next_step: str = ""

    def __post_init__(self) -> None:
        super().__post_init__()
        _require(self.usefulness is None or 1 <= self.usefulness <= 5,
                 f"usefulness is 1..5, got {self.usefulness}")
        _require(self.meeting is not None or self.round is not None,
                 "a reflection is about a meeting or a round")


@dataclass(frozen=True, kw_only=True)
class Reviewed(Record):
    """The actor reviewed a peer's work. Only that: the reviewee appears by pseudonym, and neither the
    score the reviewer gave nor their comment is recorded (a result describes the actor's performance)."""

    assessment: AssessmentRef
    reviewee: Person

    def __post_init__(self) -> None:
        super().__post_init__()
        _require(self.reviewee != self.actor, "self-assessment is not a peer review")


class ScoreSource(StrEnum):
    PEERS = "peers"  # released aggregate of peer reviews
    SELF = "self"  # the actor's self-assessment


@dataclass(frozen=True, kw_only=True)
class Scored(Record):
    """The actor's own score on an assessment (verb: ADL scored): the released aggregate of their peers'
    reviews (``reviews`` counts them; ``interval`` is the score's uncertainty range when known) or their
    self-assessment."""

    assessment: AssessmentRef
    score: ScoreValue
    source: ScoreSource = ScoreSource.PEERS
    reviews: int | None = None
    interval: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        _require(self.reviews is None or self.reviews >= 1, "a released score rests on at least one review")
        _require(self.source is ScoreSource.PEERS or self.reviews is None, "a self-assessment has no reviews")
        if self.interval is not None:
            low, high = self.interval
            _require(low <= high, f"interval {self.interval} is reversed")


class CompletedScope(StrEnum):
    ROUND = "round"
    PROGRAM = "program"


@dataclass(frozen=True, kw_only=True)
class Completed(Record):
    """The actor completed a round (its period ended and they met their match) or the program (by the
    rule the program states); ``duration`` is how long it took (round period, or time since joining)."""

    scope: CompletedScope
    duration: timedelta | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        _require(self.scope is CompletedScope.PROGRAM or self.round is not None,
                 "completing a round needs the round")


@dataclass(frozen=True, kw_only=True)
class Earned(Record):
    badge: BadgeRef
    reason: str = ""


@dataclass(frozen=True, kw_only=True)
class Voided(Record):
    """Withdraws the statement of an earlier record, named by that record's event key."""

    voided_event_key: str

    def __post_init__(self) -> None:
        super().__post_init__()
        _require(bool(self.voided_event_key), "voided_event_key is empty")
        _require(self.voided_event_key != self.event_key, "a record cannot void itself")


LearningRecord = (
    Registered | Unregistered | Suspended | Resumed | Matched | MeetingScheduled | RescheduleRequested
    | MeetingCancelled | Attended | Mentored | TalkedWith | Reflected | Reviewed | Scored | Completed | Earned | Voided
)

ALL_RECORD_TYPES: tuple[type[Record], ...] = (
    Registered, Unregistered, Suspended, Resumed, Matched, MeetingScheduled, RescheduleRequested, MeetingCancelled,
    Attended, Mentored, TalkedWith, Reflected, Reviewed, Scored, Completed, Earned, Voided,
)

REGISTRATION_NAMESPACE = uuid.UUID("6f6c2f0e-2b8a-5a8e-9c1f-70656572636f")
_REGISTRATION_NAMESPACE_BYTES = REGISTRATION_NAMESPACE.bytes
_UUID5_CLEAR = ~(0xF000 << 64 | 0xC000 << 48)  # the version and variant bits
_UUID5_SET = 0x5000 << 64 | 0x8000 << 48  # version 5, RFC 4122 variant


def name_uuid(namespace_bytes: bytes, name: str) -> uuid.UUID:
    """``uuid.uuid5(UUID(bytes=namespace_bytes), name)``, the same value in about 60% of the time (an import
    makes two per person; a test holds both equal)."""
    digest = hashlib.sha1(namespace_bytes + name.encode(), usedforsecurity=False).digest()
    return uuid.UUID(int=int.from_bytes(digest[:16]) & _UUID5_CLEAR | _UUID5_SET)


def registration_for(program_id: str, person_key: str) -> uuid.UUID:
    """The registration of one person in one program: every statement of their journey carries it, so a
    profile pattern (registered, matched, ..., completed) can match per registration."""
    return name_uuid(_REGISTRATION_NAMESPACE_BYTES, f"{program_id}\x1f{person_key}")

__all__ = [
    "ALL_RECORD_TYPES",
    "AssessmentRef",
    "Attended",
    "BadgeRef",
    "CohortRef",
    "Completed",
    "CompletedScope",
    "Earned",
    "LearningRecord",
    "Matched",
    "MeetingCancelled",
    "MeetingRef",
    "MeetingScheduled",
    "Mentored",
    "Person",
    "ProgramRef",
    "Record",
    "RecordError",
    "Reflected",
    "Registered",
    "RescheduleRequested",
    "Resumed",
    "Reviewed",
    "Role",
    "RoundRef",
    "ScoreSource",
    "ScoreValue",
    "Scored",
    "Suspended",
    "TalkedWith",
    "Unregistered",
    "Voided",
    "name_uuid",
    "registration_for",
]
