"""Domain events: facts that happened, emitted by use cases and dispatched by the message bus.

Every event carries ``key``: a stable string naming the fact, so a retried use case produces the same
key, and anything derived from it (xAPI statement ids, notification ids) is deduplicated downstream.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime


@dataclass(frozen=True)
class Event:
    key: str
    at: datetime


@dataclass(frozen=True)
class ProgramCreated(Event):
    program_id: str


@dataclass(frozen=True)
class ProgramUpdated(Event):
    program_id: str


@dataclass(frozen=True)
class ParticipantEnrolled(Event):
    program_id: str
    participant_id: str


@dataclass(frozen=True)
class ProfileUpdated(Event):
    participant_id: str


@dataclass(frozen=True)
class EnrollmentPaused(Event):
    program_id: str
    participant_id: str
    until: date | None


@dataclass(frozen=True)
class EnrollmentResumed(Event):
    program_id: str
    participant_id: str


@dataclass(frozen=True)
class ParticipantLeft(Event):
    program_id: str
    participant_id: str
    erase: bool


@dataclass(frozen=True)
class ParticipantErased(Event):
    """The person's personal data is deleted now (their learning records are withdrawn or voided)."""

    participant_id: str
    requested_by: str  # "self" or "admin"


@dataclass(frozen=True)
class RoundStarted(Event):
    program_id: str
    round_id: str
    number: int


@dataclass(frozen=True)
class MatchCreated(Event):
    program_id: str
    round_id: str
    match_id: str


@dataclass(frozen=True)
class ParticipantUnmatched(Event):
    """Someone eligible could not be matched this round; they are told and get priority next round."""

    program_id: str
    round_id: str
    participant_id: str
    reason: str


@dataclass(frozen=True)
class RoundCompleted(Event):
    program_id: str
    round_id: str


@dataclass(frozen=True)
class CheckInRecorded(Event):
    program_id: str
    match_id: str
    participant_id: str
    met: bool


@dataclass(frozen=True)
class MeetingScheduled(Event):
    program_id: str
    match_id: str
    start: datetime
    end: datetime
    join_url: str


@dataclass(frozen=True)
class MeetingNotScheduled(Event):
    """No common slot (or booking failed): the match is told and offered a way to pick a time."""

    program_id: str
    match_id: str
    reason: str


@dataclass(frozen=True)
class MeetingRescheduleRequested(Event):
    """A member asked to find a new time for the match's session; the others are told."""

    program_id: str
    match_id: str
    participant_id: str


@dataclass(frozen=True)
class MeetingCancelled(Event):
    """A member can't make the session this time; the others are told (a pair's meeting is called off)."""

    program_id: str
    match_id: str
    participant_id: str
    meeting_called_off: bool
