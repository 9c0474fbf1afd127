"""Graph implementations of the ``Calendar`` and ``Mailer`` ports.

Booking a round:
1. free/busy of every member with ``POST /users/{id}/calendar/getSchedule`` (Calendars.ReadBasic),
   100 addresses per call and 20 calls per ``$batch``: 1,000 pairs cost one or two HTTP requests;
2. :func:`teams_app.domain.scheduling.plan_round` picks each match's slot;
3. ``POST /users/{organizer}/events`` (Calendars.ReadWrite) with a Teams meeting, the coaching prompts
   in the body and a ``transactionId`` derived from the match id, so a retried create returns the event
   Exchange already made instead of a second one. Creates are batched too (4 per organizer per batch).

The organizer is the mentor (else the first member), the first member, or a fixed program mailbox.
A mailbox can organise at most 2,000 online meetings a month; a program mailbox above that needs the
'mentor' or 'first' setting (see docs/graph.md).
"""

from __future__ import annotations

import asyncio
import html
import logging
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from msgraph.generated.models.attendee import Attendee
from msgraph.generated.models.attendee_type import AttendeeType
from msgraph.generated.models.body_type import BodyType
from msgraph.generated.models.date_time_time_zone import DateTimeTimeZone
from msgraph.generated.models.email_address import EmailAddress
from msgraph.generated.models.event import Event
from msgraph.generated.models.file_attachment import FileAttachment
from msgraph.generated.models.free_busy_status import FreeBusyStatus
from msgraph.generated.models.item_body import ItemBody
from msgraph.generated.models.message import Message
from msgraph.generated.models.online_meeting_provider_type import OnlineMeetingProviderType
from msgraph.generated.models.recipient import Recipient
from msgraph.generated.users.item.calendar.get_schedule.get_schedule_post_request_body import (
    GetSchedulePostRequestBody,
)
from msgraph.generated.users.item.events.item.cancel.cancel_post_request_body import CancelPostRequestBody
from msgraph.generated.users.item.send_mail.send_mail_post_request_body import SendMailPostRequestBody

from teams_app.adapters.email.calendar import teams_new_meeting_link
from teams_app.adapters.graph.client import BatchOp, GraphError, GraphGateway
from teams_app.domain.model import Match, Meeting, MeetingStatus, Participant, Program, Role, stable_id
from teams_app.domain.scheduling import (
    Interval,
    NoSlot,
    SlotPreferences,
    SlotRequest,
    plan_round,
    window_bounds,
)

logger = logging.getLogger(__name__)

SCHEDULES_PER_CALL = 100
MAX_WINDOW = timedelta(days=62)  # getSchedule's longest window
ONLINE_MEETINGS_PER_MONTH = 2000  # per organizer mailbox
# Anything else (busy, oof, tentative, unknown) blocks the slot.
FREE = frozenset({FreeBusyStatus.Free.value, FreeBusyStatus.WorkingElsewhere.value})


@dataclass(frozen=True)
class BookingRequest:
    match: Match
    participants: Sequence[Participant]


@dataclass
class _Pending:
    program: Program
    window_start: date
    window_end: date
    requests: list[BookingRequest] = field(default_factory=list)
    futures: list[asyncio.Future[Meeting]] = field(default_factory=list)
    task: asyncio.Task[None] | None = None


@dataclass
class Availability:
    busy: dict[str, list[Interval]]
    unreadable: dict[str, str]  # address -> why Graph could not tell (treated as free)
    failed: dict[str, str]  # address -> the request failed for good (no booking possible)


def transaction_id(match_id: str) -> str:
    """Stable per match: a retry of the same booking is recognised by Exchange."""
    return stable_id("graph-event", match_id)


def schedule_link(subject: str, attendees: Sequence[str]) -> str:
    """A Teams deep link that opens 'new meeting' with the match filled in."""
    return teams_new_meeting_link(subject, attendees)


def _dtz(moment: datetime) -> DateTimeTimeZone:
    return DateTimeTimeZone(date_time=moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S"), time_zone="UTC")


def _parse_dtz(value: Any) -> datetime:
    if not isinstance(value, dict) or not value.get("dateTime"):
        raise ValueError("missing dateTime")
    if value.get("timeZone") not in (None, "UTC", "Etc/UTC"):
        raise ValueError(f"unexpected time zone {value.get('timeZone')}; we ask Graph for UTC")
    return datetime.fromisoformat(str(value["dateTime"])[:26]).replace(tzinfo=UTC)


def meeting_body(program: Program, members: Sequence[Participant]) -> str:
    names = ", ".join(html.escape(p.display_name) for p in members)
    prompts = "".join(f"<li>{html.escape(p)}</li>" for p in program.framework.prompts())
    return (f"<p>Your {html.escape(program.name)} coaching conversation with {names}.</p>"
            f"<p>{html.escape(program.framework.name)} prompts to guide it:</p><ol>{prompts}</ol>"
            "<p>Afterwards, tell the peercoach bot in Teams how it went.</p>")


class GraphCalendar:
    """``Calendar`` port on Microsoft Graph."""

    def __init__(self, gateway: GraphGateway, *, organizer: str = "mentor",
                 now: Callable[[], datetime] | None = None, lead_time: timedelta = timedelta(hours=2),
                 coalesce_s: float = 0.05) -> None:
        self._gw = gateway
        self._organizer = organizer.strip()
        self._now: Callable[[], datetime] = now or (lambda: datetime.now(UTC))
        self._lead_time = lead_time
        self._coalesce_s = coalesce_s
        self._pending: dict[tuple[str, date, date], _Pending] = {}
        self._load: dict[tuple[str, date, date], Counter[datetime]] = {}

    # -- port ------------------------------------------------------------------------------------------
    async def book(self, program: Program, match: Match, participants: Sequence[Participant],
                   window_start: date, window_end: date) -> Meeting:
        """Book one match. Calls for the same program and window that arrive within ``coalesce_s`` of each
        other are booked together by :meth:`book_many` (shared $batch requests, spread over the week)."""
        request = BookingRequest(match, participants)
        if self._coalesce_s <= 0:
            return (await self.book_many(program, [request], window_start, window_end))[0]
        key = (program.id, window_start, window_end)
        pending = self._pending.get(key)
        if pending is None:
            pending = _Pending(program, window_start, window_end)
            self._pending[key] = pending
            pending.task = asyncio.create_task(self._flush_after_delay(key))
        future: asyncio.Future[Meeting] = asyncio.get_running_loop().create_future()
        pending.requests.append(request)
        pending.futures.append(future)
        return await future

    async def _flush_after_delay(self, key: tuple[str, date, date]) -> None:
        await asyncio.sleep(self._coalesce_s)
        pending = self._pending.pop(key)
        try:
            meetings = await self.book_many(pending.program, pending.requests, pending.window_start,
                                            pending.window_end)
        except Exception as exc:  # every waiting caller sees the failure, none hangs
            for future in pending.futures:
                if not future.done():
                    future.set_exception(exc)
            return
        for future, meeting in zip(pending.futures, meetings, strict=True):
            if not future.done():  # the caller may have been cancelled meanwhile
                future.set_result(meeting)

    async def cancel(self, meeting: Meeting, comment: str = "This coaching conversation was cancelled.") -> None:
        if not meeting.external_id or not meeting.organizer:
            return
        body = CancelPostRequestBody(comment=comment)
        builder = self._gw.client.users.by_user_id(meeting.organizer).events.by_event_id(meeting.external_id)
        await self._gw.call("cancelEvent", meeting.organizer, lambda: builder.cancel.post(body))

    async def reschedule(self, meeting: Meeting, start: datetime, end: datetime) -> Meeting:
        """Move the booked event (same event id, same join link); attendees get an update."""
        if not meeting.external_id or not meeting.organizer:
            raise ValueError("only a booked meeting can be rescheduled")
        if end <= start:
            raise ValueError("end must be after start")
        patch = Event(start=_dtz(start), end=_dtz(end))
        builder = self._gw.client.users.by_user_id(meeting.organizer).events.by_event_id(meeting.external_id)
        await self._gw.call("updateEvent", meeting.organizer, lambda: builder.patch(patch))
        return replace(meeting, start=start, end=end, status=MeetingStatus.SCHEDULED)

    # -- a whole round ---------------------------------------------------------------------------------
    async def book_many(self, program: Program, requests: Sequence[BookingRequest], window_start: date,
                        window_end: date) -> list[Meeting]:
        """Book every match of a round with as few requests as Graph allows; one Meeting per request."""
        window = window_bounds(window_start, window_end)
        if window.end - window.start > MAX_WINDOW:
            window = Interval(window.start, window.start + MAX_WINDOW)
        if "@" in self._organizer and len(requests) > ONLINE_MEETINGS_PER_MONTH:
            logger.warning("organizer mailbox %s is asked for %s online meetings; Exchange allows %s a month",
                           self._organizer, len(requests), ONLINE_MEETINGS_PER_MONTH)
        addresses = sorted({p.email.lower() for r in requests for p in r.participants})
        availability = await self.availability(addresses, window)
        prefs = SlotPreferences.from_program(program)
        plannable: list[SlotRequest] = []
        results: dict[str, Meeting] = {}
        seen: set[str] = set()
        for request in requests:
            if request.match.id in seen:
                continue
            seen.add(request.match.id)
            failed = [f"{p.email}: {availability.failed[p.email.lower()]}" for p in request.participants
                      if p.email.lower() in availability.failed]
            if failed:
                results[request.match.id] = Meeting(
                    request.match.id, MeetingStatus.FAILED,
                    detail="Could not read calendars from Microsoft Graph: " + "; ".join(failed))
                continue
            busy = {p.email: availability.busy.get(p.email.lower(), []) for p in request.participants}
            plannable.append(SlotRequest(request.match.id, request.participants, busy))
        not_before = self._now() + self._lead_time
        # Meetings already booked by this process for the same program and window count as load, so
        # matches booked one by one are spread too.
        load = self._load.setdefault((program.id, window_start, window_end), Counter())
        plan = plan_round(plannable, window, prefs, not_before=not_before, existing_load=load)
        creates: list[BatchOp] = []
        chosen: dict[str, tuple[datetime, datetime, str, str]] = {}
        for request in requests:
            match_id = request.match.id
            if match_id in results or match_id in chosen:  # the same match twice: book it once
                continue
            slot = plan[match_id]
            subject = f"{program.name}: coaching conversation"
            if isinstance(slot, NoSlot):
                link = schedule_link(subject, [p.email for p in request.participants])
                results[match_id] = Meeting(
                    match_id, MeetingStatus.NO_COMMON_SLOT,
                    detail=f"{slot.reason} Pick a time that suits you both in Teams: {link}")
                continue
            organizer = self.organizer_for(request.match, request.participants)
            note = "; ".join(
                f"{p.display_name}'s calendar could not be read ({availability.unreadable[p.email.lower()]})"
                for p in request.participants if p.email.lower() in availability.unreadable)
            event = self._event(program, request, organizer, slot.start, slot.end, subject)
            info = self._gw.client.users.by_user_id(organizer).events.to_post_request_information(event)
            creates.append(BatchOp(match_id, organizer, info, "createEvent"))
            chosen[match_id] = (slot.start, slot.end, organizer, note)
        outcomes = await self._gw.batch(creates) if creates else {}
        for match_id, (start, end, organizer, note) in chosen.items():
            outcome = outcomes[match_id]
            if not outcome.ok or outcome.body is None:
                reason = str(outcome.error) if outcome.error else f"HTTP {outcome.status}"
                logger.warning("booking match %s failed: %s", match_id, reason)
                results[match_id] = Meeting(match_id, MeetingStatus.FAILED, start, end, organizer=organizer,
                                            detail=f"Could not book the Teams meeting: {reason}")
                continue
            # Plain JSON reads here: kiota's parse node costs tens of milliseconds per Event.
            join_url = (outcome.body.get("onlineMeeting") or {}).get("joinUrl") or ""
            try:  # a replayed transactionId returns the event made earlier, possibly at another time
                start, end = _parse_dtz(outcome.body.get("start")), _parse_dtz(outcome.body.get("end"))
            except ValueError:
                logger.warning("created event for match %s has no readable start/end", match_id)
            results[match_id] = Meeting(match_id, MeetingStatus.SCHEDULED, start, end, join_url,
                                        str(outcome.body.get("id") or ""), organizer, note)
            load[start.replace(minute=0, second=0, microsecond=0)] += 1
        return [results[r.match.id] for r in requests]

    def organizer_for(self, match: Match, participants: Sequence[Participant]) -> str:
        if "@" in self._organizer:
            return self._organizer.lower()
        if self._organizer == "mentor":
            mentors = [p for p in participants if _role(match, p.id) in (Role.MENTOR, Role.FACILITATOR)]
            if mentors:
                return mentors[0].email.lower()
        return participants[0].email.lower()

    def _event(self, program: Program, request: BookingRequest, organizer: str, start: datetime, end: datetime,
               subject: str) -> Event:
        attendees = [Attendee(email_address=EmailAddress(address=p.email, name=p.display_name),
                              type=AttendeeType.Required)
                     for p in request.participants if p.email.lower() != organizer]
        return Event(
            subject=subject,
            body=ItemBody(content_type=BodyType.Html, content=meeting_body(program, request.participants)),
            start=_dtz(start), end=_dtz(end), attendees=attendees, is_online_meeting=True,
            online_meeting_provider=OnlineMeetingProviderType.TeamsForBusiness, allow_new_time_proposals=True,
            is_reminder_on=True, reminder_minutes_before_start=15, transaction_id=transaction_id(request.match.id),
        )

    # -- free/busy ------------------------------------------------------------------------------------
    async def availability(self, addresses: Sequence[str], window: Interval) -> Availability:
        """Busy intervals of every address: 100 per getSchedule call, 20 calls per $batch."""
        result = Availability({}, {}, {})
        chunks = [list(addresses[i:i + SCHEDULES_PER_CALL]) for i in range(0, len(addresses), SCHEDULES_PER_CALL)]
        # The path mailbox is one of the chunk's own people (a different mailbox per call spreads Exchange's
        # per-mailbox limits); if it has no mailbox, the next one in the chunk is tried.
        paths = {index: 0 for index in range(len(chunks))}
        while paths:
            ops: list[BatchOp] = []
            for index, position in paths.items():
                chunk = chunks[index]
                body = GetSchedulePostRequestBody(schedules=chunk, start_time=_dtz(window.start),
                                                  end_time=_dtz(window.end), availability_view_interval=15)
                mailbox = chunk[position]
                info = self._gw.client.users.by_user_id(mailbox).calendar.get_schedule.to_post_request_information(body)
                info.headers.try_add("Prefer", 'outlook.timezone="UTC"')
                ops.append(BatchOp(str(index), mailbox, info, "getSchedule"))
            outcomes = await self._gw.batch(ops)
            next_paths: dict[int, int] = {}
            for index, position in paths.items():
                chunk, outcome = chunks[index], outcomes[str(index)]
                if outcome.error is not None and outcome.error.mailbox_missing and position + 1 < len(chunk):
                    result.unreadable[chunk[position]] = outcome.error.code
                    next_paths[index] = position + 1
                    continue
                if not outcome.ok or outcome.body is None:
                    reason = str(outcome.error) if outcome.error else f"HTTP {outcome.status}"
                    for address in chunk:
                        result.failed[address] = reason
                    continue
                self._read_schedules(chunk, outcome.body, result)
            paths = next_paths
        return result

    @staticmethod
    def _read_schedules(chunk: Sequence[str], body: dict[str, Any], result: Availability) -> None:
        seen: set[str] = set()
        for info in body.get("value") or []:
            address = str(info.get("scheduleId") or "").lower()
            seen.add(address)
            error = info.get("error")
            if error:
                result.unreadable[address] = error.get("responseCode") or error.get("message") or "unknown error"
                continue
            result.busy[address] = busy_intervals(info.get("scheduleItems") or [])
        for address in chunk:
            if address not in seen:
                result.unreadable.setdefault(address, "not in Graph's answer")


def busy_intervals(items: Sequence[dict[str, Any]]) -> list[Interval]:
    """Busy intervals from getSchedule ``scheduleItems`` (asked for in UTC)."""
    out: list[Interval] = []
    for item in items:
        if item.get("status") not in FREE:
            out.append(Interval(_parse_dtz(item.get("start")), _parse_dtz(item.get("end"))))
    return out


def _role(match: Match, participant_id: str) -> Role | None:
    try:
        return match.role_of(participant_id)
    except KeyError:
        return None


class GraphMailer:
    """``Mailer`` port on Graph ``sendMail`` from the program mailbox (Mail.Send).

    Graph keeps one body per message, so the HTML part is sent; the plain-text part is for SMTP.
    sendMail has no idempotency key: callers record the send in the outbox first.
    """

    def __init__(self, gateway: GraphGateway, sender: str, *, save_to_sent_items: bool = True) -> None:
        if "@" not in sender:
            raise ValueError("sendMail needs the sender mailbox address (PEERCOACH_GRAPH__SENDER_MAILBOX)")
        self._gw = gateway
        self._sender = sender
        self._save = save_to_sent_items

    async def send(self, to: Sequence[str], subject: str, html: str, text: str,
                   attachments: Sequence[tuple[str, str, bytes]] = ()) -> None:
        if not to:
            raise ValueError("no recipients")
        message = Message(
            subject=subject, body=ItemBody(content_type=BodyType.Html, content=html or f"<pre>{text}</pre>"),
            to_recipients=[Recipient(email_address=EmailAddress(address=address)) for address in to],
            attachments=[FileAttachment(odata_type="#microsoft.graph.fileAttachment", name=name,
                                        content_type=content_type, content_bytes=data)
                         for name, content_type, data in attachments] or None,
        )
        body = SendMailPostRequestBody(message=message, save_to_sent_items=self._save)
        builder = self._gw.client.users.by_user_id(self._sender).send_mail
        try:
            await self._gw.call("sendMail", self._sender, lambda: builder.post(body))
        except GraphError:
            logger.warning("sendMail from %s to %s recipients failed", self._sender, len(to))
            raise


__all__ = ["BookingRequest", "GraphCalendar", "GraphError", "GraphMailer", "schedule_link", "transaction_id"]
