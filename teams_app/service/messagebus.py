"""Dispatching domain events: inside the transaction (outboxes) and after commit (wake-ups).

In-transaction handlers write durable work (xAPI statements, notifications) into outbox tables in the
same transaction as the change, so a crash can neither lose nor invent it. After-commit handlers only
nudge workers; their failures are logged, never raised, because the change is already committed.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any

from teams_app.domain.events import Event
from teams_app.service.ports import UnitOfWork

logger = logging.getLogger(__name__)

InTransactionHandler = Callable[[Any, UnitOfWork], Awaitable[None]]
AfterCommitHandler = Callable[[Any], Awaitable[None]]
BatchHandler = Callable[[list[Any], UnitOfWork], Awaitable[None]]


class MessageBus:
    def __init__(self) -> None:
        self._in_tx: dict[type[Event], list[InTransactionHandler]] = defaultdict(list)
        self._after: dict[type[Event], list[AfterCommitHandler]] = defaultdict(list)
        self._batch: dict[type[Event], list[BatchHandler]] = defaultdict(list)
        self._resolved: dict[tuple[int, type[Event]], list[Any]] = {}  # (table, event class) -> handlers

    def in_transaction(self, event_type: type[Event], handler: InTransactionHandler) -> None:
        self._in_tx[event_type].append(handler)
        self._resolved.clear()

    def after_commit(self, event_type: type[Event], handler: AfterCommitHandler) -> None:
        self._after[event_type].append(handler)
        self._resolved.clear()

    def in_transaction_batch(self, event_type: type[Event], handler: BatchHandler) -> None:
        """Like :meth:`in_transaction`, but called once with every consecutive event of exactly this type
        (an import's thousand enrollments: one write instead of a thousand)."""
        self._batch[event_type].append(handler)
        self._resolved.clear()

    def _handlers(self, table: dict[type[Event], list[Any]], event: Event) -> list[Any]:
        """The handlers in ``table`` for ``event``'s class and its bases (looked up once per class)."""
        key = (id(table), type(event))
        found = self._resolved.get(key)
        if found is None:
            found = [handler for klass in type(event).__mro__ for handler in table.get(klass, ())]
            self._resolved[key] = found
        return found

    async def flush(self, uow: UnitOfWork) -> None:
        """Run in-transaction handlers for the events recorded so far (e.g. before deleting a person)."""
        while uow.events:
            kind = type(uow.events[0])
            batch_handlers = self._batch.get(kind)
            end = 1
            if batch_handlers:  # the run of consecutive events of this very type (an import's thousands)
                while end < len(uow.events) and type(uow.events[end]) is kind:
                    end += 1
            run = uow.events[:end]
            del uow.events[:end]  # before the handlers run: events they record go after these
            for batch_handler in batch_handlers or ():
                await batch_handler(run, uow)
            handlers = self._handlers(self._in_tx, run[0])  # the same for the whole run: one type
            for one in run:
                for handler in handlers:
                    await handler(one, uow)
            uow.flushed.extend(run)

    async def commit(self, uow: UnitOfWork) -> list[Event]:
        """Run in-transaction handlers, commit, then after-commit handlers. Returns the events."""
        await self.flush(uow)
        await uow.commit()
        events = list(uow.flushed)
        uow.flushed.clear()
        for event in events:
            for after in self._handlers(self._after, event):
                try:
                    await after(event)
                except Exception:
                    logger.exception("after-commit handler %s failed for %s", getattr(after, "__name__", after),
                                     type(event).__name__)
        return events
