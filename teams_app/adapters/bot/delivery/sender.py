"""The outbox sender: delivers notifications in Teams (proactively) or by email, within Teams' limits.

Flow per row: claim (status ``sending`` with a lease, one transaction per batch) -> pace through a
per-tenant and a per-conversation token bucket -> send -> record the outcome (batched writes). Retries
429/412/500/502/503/504 and network errors with exponential backoff and full jitter, never sooner than
Retry-After; 403/404 marks the person unreachable in Teams and re-queues the message on email.

Crash safety: a row is only ``sent`` after the transport confirmed it; a sender that dies leaves its rows
``sending`` with a lease, and the next sender re-claims them once the lease expires, so nothing is lost.
On a graceful stop (cancellation, SIGTERM) rows not yet handed to the transport are released and sends in
flight are awaited and recorded, so nothing is repeated. Only a hard kill between the connector's 200 and
the outcome write can repeat a message (at most ``concurrency`` + one write batch).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

from lrs_bridge.retry import Backoff
from teams_app.adapters.bot.cards import attachment, message_card, notification_text, state_card
from teams_app.adapters.bot.delivery.pacing import Buckets, TokenBucket
from teams_app.adapters.bot.delivery.retry import DeliveryError, RetryPolicy, Verdict, classify
from teams_app.adapters.bot.email_render import EmailRenderer, program_email_renderer
from teams_app.adapters.bot.store import (
    EMAIL,
    FAILED,
    PENDING,
    SENT,
    TEAMS,
    ConversationRef,
    ConversationStore,
    MatchCard,
    MatchCards,
    Notification,
    Outbox,
    Outcome,
    notification_id,
)
from teams_app.adapters.email.ics import proposal_from_payload
from teams_app.domain.model import Participant
from teams_app.domain.notifications import CardState, NotificationKind, TwinCard
from teams_app.i18n import Translate, translator
from teams_app.service.ports import CardLinks, Clock, Mailer, UnitOfWorkFactory

logger = logging.getLogger(__name__)

CHANNEL_KINDS = frozenset({NotificationKind.ANNOUNCEMENT.value, NotificationKind.CIRCLE_THREAD.value})
CHECKIN_KINDS = frozenset({NotificationKind.CHECKIN.value, NotificationKind.CHECKIN_REMINDER.value})
MATCH_CARD_KINDS = CHECKIN_KINDS | {NotificationKind.INTRO.value, NotificationKind.MEETING_UPDATE.value}


class Transport(Protocol):
    """Sends one activity into a stored conversation (returns the new activity's id), or replaces one."""

    async def send(self, reference: Mapping[str, Any], activity: Mapping[str, Any]) -> str: ...

    async def update(self, reference: Mapping[str, Any], activity_id: str, activity: Mapping[str, Any]) -> None: ...


class ReachabilityPort(Protocol):
    async def set_teams_reachable(self, participant_id: str, reachable: bool) -> None: ...


# The one email renderer (no links to web twins, no link back to Teams): what a sender built without one uses.
default_email_renderer: EmailRenderer = program_email_renderer()


def teams_activity(_: Translate, kind: str, payload: Mapping[str, Any]) -> dict[str, Any]:
    subject, text = notification_text(_, kind, payload)
    activity: dict[str, Any] = {"type": "message", "summary": subject}
    content = message_card(_, kind, payload)
    if content is not None:
        activity["attachments"] = [attachment(content)]
    else:
        activity["text"] = text
    return activity


# Which web twin shows a notification's card, and the payload key naming the thing it shows.
TWIN_OF_KIND: dict[str, tuple[TwinCard, str]] = {
    NotificationKind.INTRO.value: (TwinCard.INTRO, "match_id"),
    NotificationKind.CHECKIN.value: (TwinCard.CHECK_IN, "match_id"),
    NotificationKind.CHECKIN_REMINDER.value: (TwinCard.CHECK_IN, "match_id"),
    NotificationKind.REVIEW_REQUESTED.value: (TwinCard.REVIEW, "review_id"),
    NotificationKind.REVIEW_REMINDER.value: (TwinCard.REVIEW, "review_id"),
    NotificationKind.FEEDBACK.value: (TwinCard.FEEDBACK, "assessment_id"),
    NotificationKind.FEEDBACK_WITHHELD.value: (TwinCard.FEEDBACK, "assessment_id"),
}
# Teams refuses messages over about 100 KB (UTF-16) and advises staying under 80 KB.
MAX_TEAMS_MESSAGE_BYTES = 80_000


def with_twin_link(_: Translate, activity: dict[str, Any], link: str | None) -> dict[str, Any]:
    """The activity with its card's web link as the card's ``fallbackText`` (what a Teams client that cannot
    show the card displays), or, when the card is too large for Teams, a message with the link instead."""
    if not link or not activity.get("attachments"):
        return activity
    if len(json.dumps(activity, ensure_ascii=False).encode("utf-16-le")) > MAX_TEAMS_MESSAGE_BYTES:
        return too_large_for_teams(_, activity, link)
    attachments = []
    for item in activity["attachments"]:
        content = item.get("content")
        if isinstance(content, dict) and content.get("type") == "AdaptiveCard":
            content = {**content, "fallbackText": _("This card cannot be shown here. Open it in your browser: "
                                                    "{link}").format(link=link)}
            item = {**item, "content": content}
        attachments.append(item)
    return {**activity, "attachments": attachments}


def too_large_for_teams(_: Translate, activity: Mapping[str, Any], link: str) -> dict[str, Any]:
    summary = str(activity.get("summary") or "")
    text = _("This card is too large to show in Teams. Open it in your browser: {link}").format(link=link)
    return {"type": "message", "summary": summary, "text": f"{summary}\n\n{text}" if summary else text}


@dataclass
class SenderStats:
    sent: int = 0
    retried: int = 0
    to_email: int = 0
    failed: int = 0


class OutboxSender:
    def __init__(self, outbox: Outbox, conversations: ConversationStore, transport: Transport, mailer: Mailer | None,
                 uow_factory: UnitOfWorkFactory, reachability: ReachabilityPort, clock: Clock, *,
                 per_conversation_rps: float = 1.0, per_tenant_rps: float = 50.0, concurrency: int = 16,
                 batch_size: int = 100, lease: timedelta = timedelta(minutes=2), max_attempts: int = 8,
                 base_backoff_s: float = 1.0, max_backoff_s: float = 300.0, poll_interval_s: float = 5.0,
                 email_renderer: EmailRenderer = default_email_renderer, rng: random.Random | None = None,
                 card_links: CardLinks | None = None) -> None:
        self._outbox = outbox
        self._links = card_links
        self._conversations = conversations
        self._cards = MatchCards(conversations.engine)
        self._transport = transport
        self._mailer = mailer
        self._uow = uow_factory
        self._reachability = reachability
        self._clock = clock
        self._conv_buckets = Buckets(per_conversation_rps, 1.0)
        # A tenant bucket allows a tenth of a second of burst, so timer jitter does not cost throughput.
        self._tenant_buckets = Buckets(per_tenant_rps, max(1.0, per_tenant_rps / 10))
        self._concurrency = concurrency
        self._batch_size = batch_size
        self._lease = lease
        self._policy = RetryPolicy(max_attempts, Backoff(base_s=base_backoff_s, cap_s=max_backoff_s,
                                                         retry_after_cap_s=max_backoff_s))
        self._poll = poll_interval_s
        self._render_email = email_renderer
        self._rng = rng or random.Random()
        self._wake = asyncio.Event()
        self._outcomes: list[Outcome] = []
        self._flush_lock = asyncio.Lock()
        self._applying: asyncio.Future[None] | None = None
        self._people: dict[str, Participant] = {}  # prefetched for the current batch, consumed once
        self._refs: dict[str, ConversationRef] = {}
        self.stats = SenderStats()

    def wake(self) -> None:
        self._wake.set()

    # -- the loop ------------------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until ``stop`` is set (the web app's worker). Cancellation stops gracefully."""
        await self._loop(stop, until_idle=False)

    async def drain(self, timeout_s: float = 60.0) -> None:
        """Deliver everything that is due, including retries that come due meanwhile (tests, benchmark)."""
        await asyncio.wait_for(self._loop(asyncio.Event(), until_idle=True), timeout=timeout_s)

    async def _loop(self, stop: asyncio.Event, *, until_idle: bool) -> None:
        in_flight: dict[asyncio.Task[None], Notification] = {}
        started: set[str] = set()
        flusher = asyncio.create_task(self._flush_forever())
        try:
            while not stop.is_set():
                room = min(self._batch_size, self._concurrency * 2 - len(in_flight))
                if room > 0:
                    rows = await self._claim(room)
                    await self._prefetch(rows)
                    for row in rows:
                        task = asyncio.create_task(self._deliver(row, started))
                        in_flight[task] = row
                        task.add_done_callback(lambda t: in_flight.pop(t, None))
                    if rows:
                        await asyncio.sleep(0)
                        continue
                if in_flight:
                    await asyncio.wait(set(in_flight), return_when=asyncio.FIRST_COMPLETED, timeout=self._poll)
                    continue
                await self._flush()
                due = await self._outbox.next_due()
                if due is None and until_idle:
                    return
                wait = self._poll if due is None else max(0.0, (due - self._clock.now()).total_seconds())
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wait_any(stop), timeout=min(wait, self._poll))
        finally:
            await self._shutdown(in_flight, started, flusher)

    async def _claim(self, limit: int) -> list[Notification]:
        claim = asyncio.ensure_future(self._outbox.claim(self._clock.now(), limit, self._lease))
        try:
            return await asyncio.shield(claim)
        except asyncio.CancelledError:
            # Stopping while claiming: let the claim finish and give its rows back at once.
            with contextlib.suppress(Exception):
                rows = await claim
                await self._outbox.release([row.id for row in rows])
            raise

    async def _wait_any(self, stop: asyncio.Event) -> None:
        waiters = [asyncio.create_task(stop.wait()), asyncio.create_task(self._wake.wait())]
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()

    async def _shutdown(self, in_flight: dict[asyncio.Task[None], Notification], started: set[str],
                        flusher: asyncio.Task[None]) -> None:
        # Rows not yet handed to the transport go back to pending; sends in flight finish and are recorded.
        not_started = [row.id for row in in_flight.values() if row.id not in started]
        for task, row in list(in_flight.items()):
            if row.id not in started:
                task.cancel()
        pending = [t for t, row in in_flight.items() if row.id in started]
        if pending:
            await asyncio.shield(asyncio.wait(pending, timeout=30))
        flusher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await flusher
        await asyncio.shield(self._final_flush(not_started))

    async def _final_flush(self, release: Sequence[str]) -> None:
        if self._applying is not None and not self._applying.done():
            with contextlib.suppress(Exception):
                await self._applying
        await self._flush()
        await self._outbox.release(release)

    async def _flush_forever(self) -> None:
        while True:
            await asyncio.sleep(0.02)
            try:
                await self._flush()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("recording delivery outcomes failed; retrying")
                await asyncio.sleep(1)

    async def _flush(self) -> None:
        async with self._flush_lock:
            if not self._outcomes:
                return
            batch, self._outcomes = self._outcomes, []
            # Shielded: a stop in the middle must not lose the record of messages already sent.
            self._applying = asyncio.ensure_future(self._outbox.apply(batch))
            try:
                await asyncio.shield(self._applying)
            except asyncio.CancelledError:
                raise
            except Exception:
                # Keep them for the next flush; the rows stay 'sending' under their lease meanwhile.
                self._outcomes[:0] = batch
                raise

    def _record(self, outcome: Outcome) -> None:
        self._outcomes.append(outcome)

    # -- one notification ----------------------------------------------------------------------------
    async def _prefetch(self, rows: Sequence[Notification]) -> None:
        """Load the batch's people and conversation references in two queries instead of two per row."""
        ids = [r.participant_id for r in rows if r.kind not in CHANNEL_KINDS]
        if not ids:
            return
        try:
            async with self._uow() as uow:
                people = await uow.participants.get_many(ids)
            refs = await self._conversations.personal_many([p.aad_object_id for p in people])
        except Exception:  # the per-row lookups below still work
            logger.warning("prefetching a batch failed; looking rows up one by one", exc_info=True)
            return
        for person in people:
            self._people[person.id] = person
        self._refs.update(refs)

    async def _person(self, participant_id: str) -> Participant | None:
        cached = self._people.pop(participant_id, None)
        if cached is not None:
            return cached
        async with self._uow() as uow:
            return await uow.participants.get(participant_id)

    async def _reference(self, aad_object_id: str) -> ConversationRef | None:
        cached = self._refs.pop(aad_object_id, None)
        if cached is not None:
            return cached
        return await self._conversations.personal(aad_object_id=aad_object_id)

    def _retry(self, row: Notification, error: str, retry_after: float | None = None) -> None:
        delay = self._policy.next_delay(row.attempts, retry_after, self._rng)
        if delay is None:
            logger.warning("notification %s failed after %s attempts: %s", row.id, row.attempts, error)
            self.stats.failed += 1
            self._record(Outcome(row.id, FAILED, error=error))
            return
        self.stats.retried += 1
        self._record(Outcome(row.id, PENDING, next_attempt_at=self._clock.now() + timedelta(seconds=delay),
                             error=error))

    def _to_email(self, row: Notification, reason: str) -> None:
        self.stats.to_email += 1
        self._record(Outcome(row.id, PENDING, channel=EMAIL, next_attempt_at=self._clock.now(), error=reason))

    async def _deliver(self, row: Notification, started: set[str]) -> None:
        try:
            if row.kind in CHANNEL_KINDS:
                await self._deliver_channel(row, started)
                return
            person = await self._person(row.participant_id)
            if person is None:
                self.stats.failed += 1
                self._record(Outcome(row.id, FAILED, error="the participant no longer exists (data erased)"))
                return
            if row.channel == TEAMS:
                await self._deliver_teams(row, person, started)
            else:
                await self._deliver_email(row, person, started)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug or a database hiccup: retry later rather than lose the row
            logger.exception("delivering notification %s failed unexpectedly", row.id)
            self._retry(row, f"{type(exc).__name__}: {exc}")

    async def _deliver_teams(self, row: Notification, person: Participant, started: set[str]) -> None:
        ref = None
        if person.teams_reachable and person.aad_object_id:
            ref = await self._reference(person.aad_object_id)
        if ref is None:
            self._to_email(row, "no Teams conversation with this person" if person.teams_reachable
                           else "unreachable in Teams")
            return
        await self._tenant_buckets.get(ref.tenant_id).acquire()
        conv_bucket = self._conv_buckets.get(ref.conversation_id)
        await conv_bucket.acquire()
        _ = translator(person.locale or ref.locale)
        match_id = str(row.payload.get("match_id") or "")
        current = await self._cards.get(row.participant_id, match_id) \
            if match_id and row.kind in MATCH_CARD_KINDS else None
        if row.kind in CHECKIN_KINDS and current is not None and current.state.final:
            # They checked in (or can't make it) since this was queued: a form now would only confuse.
            self._record(Outcome(row.id, SENT, error=f"not sent: the card already shows {current.state.value}",
                                 at=self._clock.now()))
            return
        activity = teams_activity(_, row.kind, row.payload)
        if row.kind == NotificationKind.MEETING_UPDATE:
            if current is not None and current.state is not CardState.INTRO:
                # The card shows a later state (check-in, thanks, ...): it stays; the news is a message of its own.
                activity = self._text_activity(_, row)
            elif await self._update_intro(row, ref, conv_bucket, _, current):
                # The intro card now shows the meeting; an edit makes no sound, so a short message says so.
                activity = self._text_activity(_, row)
        link = self._twin_link(row, person)
        activity = with_twin_link(_, activity, link)
        started.add(row.id)
        try:
            try:
                activity_id = await self._transport.send(ref.reference, activity)
            except DeliveryError as exc:
                if exc.status != 413 or not link or "attachments" not in activity:
                    raise
                # Teams refused the card as too large (MessageSizeTooBig): the card's web twin shows it instead.
                logger.info("card of notification %s too large for Teams; sending its web link", row.id)
                activity_id = await self._transport.send(ref.reference, too_large_for_teams(_, activity, link))
        except DeliveryError as exc:
            verdict = classify(exc)
            if verdict is Verdict.UNREACHABLE:
                logger.info("participant %s unreachable in Teams (HTTP %s): falling back to email",
                            row.participant_id, exc.status)
                await self._reachability.set_teams_reachable(row.participant_id, False)
                self._to_email(row, str(exc))
            elif verdict is Verdict.RETRY:
                if exc.retry_after:
                    conv_bucket.hold(exc.retry_after)
                self._retry(row, str(exc), exc.retry_after)
            else:
                self.stats.failed += 1
                self._record(Outcome(row.id, FAILED, error=str(exc)))
            return
        self.stats.sent += 1
        self._record(Outcome(row.id, SENT, activity_id=activity_id, at=self._clock.now()))
        if row.kind == NotificationKind.INTRO and match_id and activity_id:
            # The intro is the person's match card from now on: remember which message to edit.
            await self._cards.advance(row.participant_id, match_id, CardState.INTRO, self._clock.now(),
                                      activity_id=activity_id)

    def _twin_link(self, row: Notification, person: Participant) -> str | None:
        """The link to this notification's card as a web page, when there is one (see :data:`TWIN_OF_KIND`)."""
        twin = TWIN_OF_KIND.get(str(row.kind))
        subject = str(row.payload.get(twin[1]) or "") if twin else ""
        if self._links is None or twin is None or not subject:
            return None
        return self._links.link(person.id, twin[0], subject)

    @staticmethod
    def _text_activity(_: Translate, row: Notification) -> dict[str, Any]:
        subject, text = notification_text(_, row.kind, row.payload)
        return {"type": "message", "summary": subject, "text": text}

    async def _update_intro(self, row: Notification, ref: ConversationRef, bucket: TokenBucket, _: Translate,
                            current: MatchCard | None) -> bool:
        """Show the meeting on the person's intro card; False when there is no card to edit.

        The edit takes the card's next version first (compare-and-set). If the version moved while the edit
        was in flight (the person pressed a button, whose answer replaced the card), the card is rendered
        again from the state stored now, so the late edit cannot leave the intro card on screen.
        """
        match_id = str(row.payload.get("match_id") or "")
        activity_id = current.activity_id if current is not None else ""
        if not activity_id and match_id:  # sent before card states were kept: the outbox knows the message
            activity_id = await self._outbox.activity_id(notification_id(f"matched/{match_id}", row.participant_id,
                                                                         NotificationKind.INTRO.value))
        if not activity_id:
            return False
        now = self._clock.now()
        if current is None or not current.activity_id:
            current = await self._cards.advance(row.participant_id, match_id, CardState.INTRO, now,
                                                activity_id=activity_id)
            activity_id = current.activity_id or activity_id
        claimed = await self._cards.bump(current, now) if current.state is CardState.INTRO else None
        if claimed is None:  # it changed since we read it: leave the card to whoever changed it
            return True
        content = teams_activity(_, NotificationKind.INTRO, row.payload)
        for _attempt in range(3):
            await bucket.acquire()
            try:
                await self._transport.update(ref.reference, activity_id, content)
            except DeliveryError as exc:  # the card was deleted or is too old: send a new one instead
                logger.info("could not update card %s (%s); sending a new message", activity_id, exc)
                return False
            latest = await self._cards.get(row.participant_id, match_id)
            if latest is None or latest.version == claimed.version:
                return True
            claimed = latest
            content = {"type": "message", "attachments": [attachment(state_card(_, latest.state, row.payload))]}
            logger.info("card %s/%s moved to %s during an edit; showing that instead", row.participant_id,
                        match_id, latest.state.value)
        return True

    async def _deliver_channel(self, row: Notification, started: set[str]) -> None:
        ref = await self._conversations.get(row.participant_id)
        if ref is None:
            self.stats.failed += 1
            self._record(Outcome(row.id, FAILED, error="the channel conversation is no longer known"))
            return
        await self._tenant_buckets.get(ref.tenant_id).acquire()
        conv_bucket = self._conv_buckets.get(ref.conversation_id)
        await conv_bucket.acquire()
        activity = teams_activity(translator(ref.locale), row.kind, row.payload)
        started.add(row.id)
        try:
            activity_id = await self._transport.send(ref.reference, activity)
        except DeliveryError as exc:
            if classify(exc) is Verdict.RETRY:
                if exc.retry_after:
                    conv_bucket.hold(exc.retry_after)
                self._retry(row, str(exc), exc.retry_after)
            else:  # 403/404: the bot was removed from the team
                self.stats.failed += 1
                self._record(Outcome(row.id, FAILED, error=str(exc)))
            return
        self.stats.sent += 1
        self._record(Outcome(row.id, SENT, activity_id=activity_id, at=self._clock.now()))

    async def _deliver_email(self, row: Notification, person: Participant, started: set[str]) -> None:
        if self._mailer is None:
            # Retrying cannot help until the server is configured and restarted: say so at once.
            logger.warning("notification %s for %s failed: Teams cannot reach them and no mailer is configured",
                           row.id, row.participant_id)
            self.stats.failed += 1
            self._record(Outcome(row.id, FAILED, error="not delivered: unreachable in Teams and no mailer is "
                                                       "configured (set SMTP or Graph mail settings)"))
            return
        if not person.email or person.email.endswith(".invalid"):
            self.stats.failed += 1
            self._record(Outcome(row.id, FAILED, error="no email address known"))
            return
        match_id = str(row.payload.get("match_id") or "")
        if row.kind in CHECKIN_KINDS and match_id:
            current = await self._cards.get(row.participant_id, match_id)
            if current is not None and current.state.final:  # checked in on the web twin since this was queued
                self._record(Outcome(row.id, SENT, error=f"not sent: the card already shows {current.state.value}",
                                     at=self._clock.now()))
                return
        attachments = []
        if row.kind in (NotificationKind.INTRO, NotificationKind.MEETING_UPDATE):
            # A time we only proposed comes with the invitation to add it (a booked event invited them already).
            invitation = proposal_from_payload(row.payload, person, now=self._clock.now())
            if invitation is not None:
                attachments.append(invitation)
        # What only the sender knows: who reads it (links are per person), their zone, and what is attached.
        payload = {**row.payload, "recipient": {"id": person.id, "email": person.email, "name": person.display_name},
                   "invitation_attached": bool(attachments)}
        payload.setdefault("reader", {"time_zone": person.profile.time_zone, "locale": person.locale})
        subject, html_body, text = self._render_email(row.kind, payload, person.locale)
        started.add(row.id)
        try:
            await self._mailer.send([person.email], subject, html_body, text, attachments)
        except Exception as exc:
            self._retry(row, f"email: {type(exc).__name__}: {exc}")
            return
        self.stats.sent += 1
        self._record(Outcome(row.id, SENT, at=self._clock.now()))
