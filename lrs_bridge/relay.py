"""The relay: claims queued statements, POSTs them in batches, and records what the LRS said.

Claiming is one short transaction: ``UPDATE ... WHERE id IN (SELECT ... FOR UPDATE SKIP LOCKED LIMIT n)
RETURNING ...`` sets a claim token and a lease, so several relays on PostgreSQL take disjoint batches
and no row is POSTed by two relays at once. SQLite has no row locks; its single writer makes the same
statement atomic, which is enough for the one relay we run there. The HTTP request happens outside
any transaction, so the application's writers never wait for the LRS.

Answers: 200/204 -> sent. 400/413/422 and 409 -> isolate the refused statement, deliver the rest,
dead-letter that one with the LRS's reason (409 means the LRS holds a different statement under the same
id). Isolating costs a number of requests logarithmic in the batch size: when the LRS's answer names the
refused positions (FastAPI/pydantic ``detail[].loc``, as ralph answers), the rest goes in one request and,
when it goes through, the named ones are dead-lettered with what the LRS said about each; otherwise
the batch is bisected, and when the first half goes through, the second half is known to hold the
refused statement, so it is split again without being sent whole (a single statement known refused that
way is dead-lettered with the batch's reason).
429, 5xx, timeouts, connection errors -> back off (exponential with jitter, honouring Retry-After) and
retry the same bytes. A multi-statement batch that keeps failing with 5xx is split too, because some
LRSs answer 500 for one poisoned member.
If the relay dies after the POST but before recording the answer, the rows stay queued: the retry sends
identical bytes, which an LRS accepts as a no-op (204), so the LRS holds exactly one copy.
On shutdown (the stop event) the relay finishes the batch in flight and claims no new one; cancelled
mid-batch, it releases its lease so no claimed row waits out the lease.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from lrs_bridge.client import LrsClient, LrsConnectionError, PostResult
from lrs_bridge.outbox import STATUS_DEAD, STATUS_QUEUED, STATUS_SENT, outbox_table
from lrs_bridge.retry import Backoff

logger = logging.getLogger(__name__)

SPLIT_STATUSES = frozenset({400, 409, 413, 422})
# Refusals that depend only on the statements (not on the batch's size): if a part of a refused batch goes
# through, the refused statement is in the rest.
CONTENT_REFUSALS = frozenset({400, 409, 422})
RETRY_STATUSES = frozenset({408, 425, 429})
MAX_REASON = 2000


@dataclass(frozen=True)
class _Row:
    id: int
    statement_id: str
    payload: str
    attempts: int


@dataclass
class RelayReport:
    """What one ``run_once`` did."""

    posts: int = 0
    delivered: int = 0
    dead: int = 0
    deferred: int = 0
    errors: list[str] = field(default_factory=list)

    def add(self, other: RelayReport) -> None:
        self.posts += other.posts
        self.delivered += other.delivered
        self.dead += other.dead
        self.deferred += other.deferred
        self.errors.extend(other.errors)


def _now() -> datetime:
    return datetime.now(UTC)


def blamed_positions(body: str, count: int) -> dict[int, str]:
    """Positions in a refused batch that the LRS's answer names, each with what it said about it:
    FastAPI/pydantic validation errors (ralph) carry ``detail[].loc`` such as ``["body", 6, "actor",
    "mbox"]`` (a union adds a type tag before the position). Empty when the answer names none; positions
    outside the batch are ignored."""
    try:
        parsed = json.loads(body)
    except ValueError:
        return {}
    details = parsed.get("detail") if isinstance(parsed, dict) else None
    found: dict[int, list[Any]] = {}
    for detail in details if isinstance(details, list) else []:
        loc = detail.get("loc") if isinstance(detail, dict) else None
        if not isinstance(loc, list) or not loc or loc[0] != "body":
            continue
        position = next((p for p in loc[1:3] if isinstance(p, int) and not isinstance(p, bool)), None)
        if position is not None and 0 <= position < count:
            found.setdefault(position, []).append(detail)
    return {i: json.dumps({"detail": found[i]}) for i in sorted(found)}


class Relay:
    """Delivers the outbox of one database to one LRS."""

    def __init__(
        self,
        engine: AsyncEngine,
        client: LrsClient,
        *,
        batch_size: int = 200,
        concurrency: int = 1,  # POSTs in flight from this relay (PostgreSQL; keep 1 on SQLite)
        poll_interval_s: float = 1.0,
        backoff_base_s: float = 1.0,
        backoff_max_s: float = 300.0,
        lease_s: float | None = None,
        split_after_server_errors: int = 3,
        relay_id: str | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        if concurrency > 1 and engine.dialect.name == "sqlite":
            # SQLite has one writer: parallel workers only wait in its busy handler (measured slower).
            logger.warning("relay concurrency %s on SQLite: use 1 there; parallel relays need PostgreSQL",
                           concurrency)
        self.engine = engine
        self.client = client
        self.batch_size = batch_size
        self.concurrency = concurrency
        self.poll_interval_s = poll_interval_s
        self.backoff = Backoff(base_s=backoff_base_s, cap_s=backoff_max_s, retry_after_cap_s=backoff_max_s)
        # A lease outlives any single POST, so a live relay never loses its rows to another relay.
        self.lease_s = lease_s if lease_s is not None else max(60.0, client.timeout_s * 4)
        self.split_after_server_errors = split_after_server_errors
        self.relay_id = relay_id or uuid.uuid4().hex[:8]

    # -- database steps ---------------------------------------------------------------------------

    async def _claim(self) -> tuple[str, list[_Row]]:
        now = _now()
        token = str(uuid.uuid4())
        t = outbox_table
        due = (
            select(t.c.id)
            .where(
                t.c.status == STATUS_QUEUED,
                t.c.next_attempt_at <= now,
                or_(t.c.claimed_until.is_(None), t.c.claimed_until < now),
            )
            .order_by(t.c.id)
            .limit(self.batch_size)
            .with_for_update(skip_locked=True)
        )
        stmt = (
            update(t)
            .where(t.c.id.in_(due.scalar_subquery()))
            .values(claim_token=token, claimed_until=now + timedelta(seconds=self.lease_s))
            .returning(t.c.id, t.c.statement_id, t.c.payload, t.c.attempts)
        )
        async with self.engine.begin() as conn:
            rows = [_Row(r.id, r.statement_id, r.payload, r.attempts) for r in await conn.execute(stmt)]
        rows.sort(key=lambda r: r.id)
        return token, rows

    async def _extend_lease(self, token: str, rows: Sequence[_Row]) -> None:
        t = outbox_table
        async with self.engine.begin() as conn:
            await conn.execute(
                update(t)
                .where(t.c.id.in_([r.id for r in rows]), t.c.claim_token == token)
                .values(claimed_until=_now() + timedelta(seconds=self.lease_s))
            )

    async def _finish(self, token: str, rows: Sequence[_Row], **values: object) -> int:
        t = outbox_table
        async with self.engine.begin() as conn:
            result = await conn.execute(
                update(t)
                .where(and_(t.c.id.in_([r.id for r in rows]), t.c.claim_token == token))
                .values(claim_token=None, claimed_until=None, **values)
            )
        changed = int(result.rowcount or 0)
        if changed != len(rows):
            # Our lease ran out and another relay took the rows; its answer will be the same.
            logger.warning("relay %s: lease lost on %s of %s rows", self.relay_id, len(rows) - changed,
                           len(rows))
        return changed

    async def _mark_sent(self, token: str, rows: Sequence[_Row], status: int) -> int:
        return await self._finish(token, rows, status=STATUS_SENT, sent_at=_now(), last_status=status,
                                  last_error=None)

    async def _mark_dead(self, token: str, row: _Row, status: int | None, reason: str) -> int:
        logger.error("relay %s: statement %s dead-lettered (%s): %s", self.relay_id, row.statement_id,
                     status, reason[:300])
        return await self._finish(token, [row], status=STATUS_DEAD, last_status=status,
                                  last_error=reason[:MAX_REASON], attempts=row.attempts + 1)

    def backoff_s(self, attempts: int, retry_after_s: float | None = None) -> float:
        """The shared back-off policy (``lrs_bridge.retry.Backoff``) after ``attempts`` earlier failures."""
        return self.backoff.delay(attempts + 1, retry_after_s)

    async def _defer(self, token: str, rows: Sequence[_Row], status: int | None, reason: str,
                     retry_after_s: float | None) -> int:
        attempts = max(r.attempts for r in rows) + 1
        delay = self.backoff_s(attempts - 1, retry_after_s)
        logger.warning("relay %s: %s statements deferred %.1fs after attempt %s (%s): %s", self.relay_id,
                       len(rows), delay, attempts, status, reason[:300])
        return await self._finish(token, rows, attempts=attempts, last_status=status,
                                  last_error=reason[:MAX_REASON],
                                  next_attempt_at=_now() + timedelta(seconds=delay))

    # -- delivery ---------------------------------------------------------------------------------

    async def _deliver(self, token: str, rows: Sequence[_Row], report: RelayReport) -> bool:
        """POST ``rows`` and record the answer; True when all of them were delivered."""
        report.posts += 1
        try:
            result: PostResult = await self.client.post_statements([r.payload for r in rows])
        except LrsConnectionError as exc:
            report.deferred += await self._defer(token, rows, None, str(exc), None)
            report.errors.append(str(exc))
            return False
        if result.ok:
            report.delivered += await self._mark_sent(token, rows, result.status)
            return True
        reason = result.body or f"HTTP {result.status}"
        status = result.status
        persistent_5xx = status >= 500 and min(r.attempts for r in rows) + 1 >= self.split_after_server_errors
        if len(rows) > 1 and (status in SPLIT_STATUSES or persistent_5xx):
            logger.info("relay %s: LRS answered %s for %s statements; isolating", self.relay_id, status, len(rows))
            await self._isolate(token, rows, status, reason, report)
            return False
        if status in SPLIT_STATUSES:
            report.dead += await self._mark_dead(token, rows[0], status, reason)
            return False
        if status in (401, 403):
            reason = f"the LRS refused our credentials ({status}); check the LRS username/password: {reason}"
        elif status not in RETRY_STATUSES and status < 500:
            reason = f"unexpected answer {status} (check the LRS endpoint): {reason}"
        report.errors.append(reason)
        report.deferred += await self._defer(token, rows, status, reason, result.retry_after_s)
        return False

    async def _isolate(self, token: str, rows: Sequence[_Row], status: int, reason: str,
                       report: RelayReport) -> None:
        """``rows`` (more than one) were refused as a whole: deliver the good ones, dead-letter the rest."""
        blamed = blamed_positions(reason, len(rows)) if status in CONTENT_REFUSALS else {}
        if blamed and len(blamed) < len(rows):
            rest = [r for i, r in enumerate(rows) if i not in blamed]
            await self._extend_lease(token, rest)
            if await self._deliver(token, rest, report):
                # Everything else went through: the statements the LRS named are the refused ones, each
                # dead-lettered with what the LRS said about it.
                for i, said in blamed.items():
                    report.dead += await self._mark_dead(token, rows[i], status, said)
                return
            for i in blamed:  # alone, so each gets its own answer (and is delivered if the LRS erred)
                await self._extend_lease(token, [rows[i]])
                await self._deliver(token, [rows[i]], report)
            return
        half = len(rows) // 2
        left, right = rows[:half], rows[half:]
        await self._extend_lease(token, left)
        left_delivered = await self._deliver(token, left, report)
        await self._extend_lease(token, right)
        if left_delivered and status in CONTENT_REFUSALS:
            # The whole was refused and its first half was not: the refused statement is in the second.
            if len(right) == 1:
                report.dead += await self._mark_dead(token, right[0], status, reason)
            else:
                await self._isolate(token, right, status, reason, report)
            return
        await self._deliver(token, right, report)

    async def _release(self, token: str, rows: Sequence[_Row]) -> None:
        """Give back the rows of ``token`` not yet answered, so the next relay takes them at once."""
        t = outbox_table
        async with self.engine.begin() as conn:
            await conn.execute(update(t).where(t.c.id.in_([r.id for r in rows]), t.c.claim_token == token)
                               .values(claim_token=None, claimed_until=None))

    async def _worker(self, report: RelayReport, stop_event: asyncio.Event | None) -> None:
        while stop_event is None or not stop_event.is_set():  # shutting down: no new batch
            token, rows = await self._claim()
            if not rows:
                return
            part = RelayReport()
            try:
                await self._deliver(token, rows, part)
            except asyncio.CancelledError:
                # Cancelled mid-batch (shutdown): release the lease rather than leave the rows to a lease
                # timeout; whatever the LRS already took is re-sent as identical bytes, a no-op there.
                await asyncio.shield(self._release(token, rows))
                raise
            finally:
                report.add(part)
            if part.delivered == 0 and part.dead == 0:
                return  # the LRS is failing: stop this round, the rows are deferred

    async def run_once(self, stop_event: asyncio.Event | None = None) -> RelayReport:
        """Deliver everything due now (until the queue is empty, the LRS fails or ``stop_event`` is set: a
        batch in flight finishes, no new one is claimed); report the counts."""
        report = RelayReport()
        await asyncio.gather(*(self._worker(report, stop_event) for _ in range(self.concurrency)))
        if report.posts:
            logger.info("relay %s: %s posts, %s delivered, %s dead, %s deferred", self.relay_id,
                        report.posts, report.delivered, report.dead, report.deferred)
        return report

    async def run_forever(self, stop_event: asyncio.Event) -> None:
        """Run until ``stop_event`` is set; database or LRS failures are logged, never fatal."""
        logger.info("relay %s started (batch %s)", self.relay_id, self.batch_size)
        while not stop_event.is_set():
            try:
                report = await self.run_once(stop_event)
            except asyncio.CancelledError:
                raise
            except Exception:  # a database hiccup must not kill the relay inside `serve`
                logger.exception("relay %s: delivery round failed", self.relay_id)
                report = RelayReport()
            if report.posts and not report.errors:
                continue  # more may have arrived while we were busy
            try:
                await asyncio.wait_for(stop_event.wait(), timeout=self.poll_interval_s)
            except TimeoutError:
                pass
        logger.info("relay %s stopped", self.relay_id)


__all__ = ["STATUS_DEAD", "Relay", "RelayReport"]
