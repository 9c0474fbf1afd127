"""Notifications as the domain sees them: the kinds, the channel a person is reached on, and who is due what.

A :class:`Notice` is one message to one recipient, queued through the unit of work's notification port in
the same transaction as the change that causes it. Its id is stable per (event key, recipient, kind), so a
replayed event or a retried use case queues nothing twice. Pure Python: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from teams_app.domain.model import Meeting, MeetingStatus, Participant, Round, stable_id


class NotificationKind(StrEnum):
    """Every kind of notification the outbox carries (the value is stored in the outbox row)."""

    INTRO = "intro"
    MEETING_UPDATE = "meeting_update"
    CHECKIN = "checkin"
    CHECKIN_REMINDER = "checkin_reminder"
    UNMATCHED = "unmatched"
    ANNOUNCEMENT = "announcement"  # to team channels
    CIRCLE_THREAD = "circle_thread"  # to team channels
    PARTNER_RESCHEDULE = "partner_reschedule"
    PARTNER_CANCEL = "partner_cancel"
    REVIEW_REQUESTED = "assessment.review_requested"
    REVIEW_REMINDER = "assessment.reminder"
    FEEDBACK = "assessment.feedback"
    FEEDBACK_WITHHELD = "assessment.feedback_withheld"
    THANKS = "assessment.thanks"
    MESSAGE = "message"  # free text (subject/text in the payload)

    @property
    def to_channel(self) -> bool:
        """Sent to a team channel (the recipient is a conversation reference), not to a person."""
        return self in (NotificationKind.ANNOUNCEMENT, NotificationKind.CIRCLE_THREAD)


class Channel(StrEnum):
    TEAMS = "teams"
    EMAIL = "email"


def channel_for(person: Participant) -> Channel:
    """Teams while the bot can reach the person there, email otherwise."""
    return Channel.TEAMS if person.teams_reachable else Channel.EMAIL


def notice_id(event_key: str, recipient_id: str, kind: str) -> str:
    """Stable per (event, recipient, kind): a replayed event or a retried use case adds no second notice."""
    return stable_id("notification", event_key, recipient_id, kind)


@dataclass(frozen=True)
class Notice:
    """One message to one recipient; ``payload`` holds what the channel renders (plain JSON)."""

    id: str
    recipient_id: str  # a participant id, or a conversation reference id for channel kinds
    kind: NotificationKind
    payload: Mapping[str, Any] = field(default_factory=dict)
    channel: Channel = Channel.TEAMS

    @staticmethod
    def to(person: Participant, event_key: str, kind: NotificationKind, payload: Mapping[str, Any]) -> Notice:
        return Notice(notice_id(event_key, person.id, kind), person.id, kind, dict(payload), channel_for(person))


# -- check-ins: who is due a card or a reminder ---------------------------------------------------
def checkin_due_at(round_: Round, meeting: Meeting | None, ask_after: timedelta) -> datetime:
    """When members of a match are asked to check in: after their meeting, else ``ask_after`` into the round."""
    if meeting is not None and meeting.status is MeetingStatus.SCHEDULED and meeting.end:
        return meeting.end
    return round_.started_at + ask_after


def checkin_notice_due(now: datetime, due_at: datetime, asked_at: datetime | None,
                       remind_after: timedelta) -> NotificationKind | None:
    """What a member who has not checked in is due now: the check-in card, one reminder, or nothing."""
    if now < due_at:
        return None
    if asked_at is None:
        return NotificationKind.CHECKIN
    if now >= asked_at + remind_after:
        return NotificationKind.CHECKIN_REMINDER
    return None


def checkin_event_key(kind: NotificationKind, match_id: str) -> str:
    """The key of a check-in notice: one card and one reminder per person per match, ever."""
    return f"{kind.value}/{match_id}"


# -- a person's card about a match: what it shows follows the match's state for them, never backwards ----
class TwinCard(StrEnum):
    """A card that can also be opened as a web page (its "web twin"), for people Teams cannot reach.

    A link names one person, one card and the thing it shows (``subject``: a program id for consent and
    profile, a match id for intro and check-in, a review id for a rubric, an assessment id for feedback).
    """

    CONSENT = "consent"
    PROFILE = "profile"
    INTRO = "intro"
    CHECK_IN = "check_in"
    REVIEW = "review"
    FEEDBACK = "feedback"


class CardState(StrEnum):
    """What a person's match card shows; later states outrank earlier ones (see :func:`card_state_after`)."""

    INTRO = "intro"  # who, why, the meeting line, We met / Reschedule / Can't make it
    RESCHEDULING = "rescheduling"  # they asked to find a new time
    CHECKIN_OPEN = "checkin_open"  # they pressed We met: the check-in form
    CHECKED_IN = "checked_in"  # the thank-you card
    CANCELLED = "cancelled"  # they can't make it this time

    @property
    def rank(self) -> int:
        return _CARD_RANK[self]

    @property
    def final(self) -> bool:
        return self.rank == _CARD_RANK[CardState.CHECKED_IN]


_CARD_RANK = {CardState.INTRO: 0, CardState.RESCHEDULING: 1, CardState.CHECKIN_OPEN: 2, CardState.CHECKED_IN: 3,
              CardState.CANCELLED: 3}


def card_state_after(current: CardState | None, wanted: CardState) -> CardState:
    """The state after ``wanted`` arrives: a card moves forward only (a final state is never left)."""
    if current is None or wanted.rank > current.rank:
        return wanted
    return current
