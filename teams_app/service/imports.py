"""Importing many participants without blocking the bot: validated first, written in short batches, resumable.

The caller validates the whole file first (nothing is written when it has problems, unless the admin asks to
skip bad rows). Then :meth:`ParticipantImports.run` writes the good rows in batches of ``batch_size``, each
batch one short transaction through :meth:`CoachingService.import_participants` (so every enrollment gets its
event and learning record, and the bot's own transactions wait at most one batch). The same transaction
records the checkpoint (how far the import got) and the people the batch newly enrolled, under the import's
id: a batch and its bookkeeping commit together or not at all. Running the same file for the same program
again continues after the last committed batch; :meth:`rollback` takes the people an import enrolled out of
the program again (they leave it, which the LRS records), so an import the admin abandons leaves the program
as it was.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import islice
from typing import Protocol

from teams_app.domain.errors import NotEnrolled, NotFound
from teams_app.domain.model import new_id
from teams_app.service.ports import Clock, UnitOfWork
from teams_app.service.use_cases import CoachingService, ParticipantInput

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ImportCheckpoint:
    id: str
    program_id: str
    file_sha256: str
    total_rows: int
    next_row: int  # rows (good rows, in file order) before this one are written
    enrolled: int
    existing: int
    status: str  # running | done
    started_at: datetime


class ImportCheckpoints(Protocol):
    """Where import progress is kept; every method is its own short transaction."""

    async def unfinished(self, program_id: str, file_sha256: str) -> ImportCheckpoint | None: ...
    async def get(self, import_id: str) -> ImportCheckpoint | None: ...
    async def planned(self, import_id: str) -> list[str]:
        """The participant ids the import's committed batches enrolled (an erased person is no longer there)."""
    async def mark(self, import_id: str, status: str, at: datetime) -> None: ...
    async def start(self, checkpoint: ImportCheckpoint) -> None: ...
    async def finish(self, import_id: str, at: datetime) -> None:
        """Mark the import done once every batch is durable."""

    async def settle(self) -> None:
        """Between batches: let the store make the batches durable on its own time (SQLite: a checkpoint)."""

    async def settled(self) -> None:
        """Wait until what :meth:`settle` started has ended (before giving up on an import)."""

    async def record_batch(self, uow: UnitOfWork, import_id: str, enrolled_ids: Sequence[str], next_row: int,
                           enrolled: int, existing: int, at: datetime) -> None:
        """Inside the batch's own transaction: who it enrolled (participant ids, for rollback) and how far the
        import got."""


class ImportStopped(Exception):
    """A batch failed; the rows before ``written`` are in, the checkpoint says so, and a rerun continues."""

    def __init__(self, import_id: str, written: int, total: int, cause: BaseException) -> None:
        super().__init__(f"import {import_id} stopped after {written} of {total} people: {cause}")
        self.import_id, self.written, self.total, self.cause = import_id, written, total, cause


@dataclass(frozen=True)
class ImportResult:
    import_id: str
    enrolled: int
    existing: int
    rows: int
    resumed_at_row: int  # 0 for a fresh import
    batches: int


class ParticipantImports:
    def __init__(self, coaching: CoachingService, checkpoints: ImportCheckpoints, clock: Clock) -> None:
        self._coaching = coaching
        self._checkpoints = checkpoints
        self._clock = clock

    async def run(self, program_ref: str, rows: Callable[[], Iterable[ParticipantInput]], *, file_sha256: str,
                  total_rows: int, batch_size: int, pause_s: float = 0.0,
                  progress: Callable[[int, int], None] | None = None) -> ImportResult:
        """Write ``rows()`` (the validated good rows, same order every call) in batches; resume if unfinished.

        ``pause_s``: an extra pause between batches for other writers. Not needed with the defaults: a batch
        reads and prepares its rows before its first write, and a writer waiting for SQLite's lock (the bot)
        takes it meanwhile.
        """
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        program = await self._coaching.get_program(program_ref)
        checkpoint = await self._checkpoints.unfinished(program.id, file_sha256)
        if checkpoint is None or checkpoint.total_rows != total_rows:
            checkpoint = ImportCheckpoint(new_id(), program.id, file_sha256, total_rows, 0, 0, 0, "running",
                                          self._clock.now())
            await self._checkpoints.start(checkpoint)
        else:
            logger.info("resuming import %s at row %s of %s", checkpoint.id, checkpoint.next_row, total_rows)
        done, enrolled, existing, batches = checkpoint.next_row, checkpoint.enrolled, checkpoint.existing, 0
        source: Iterator[ParticipantInput] = islice(iter(rows()), done, None)
        while batch := list(islice(source, batch_size)):
            counts = (checkpoint.id, done + len(batch), enrolled, existing)

            async def record(uow: UnitOfWork, enrolled_ids: list[str], added: int, already: int,
                             counts: tuple[str, int, int, int] = counts) -> None:
                import_id, next_row, enrolled_before, existing_before = counts
                await self._checkpoints.record_batch(uow, import_id, enrolled_ids, next_row, enrolled_before + added,
                                                     existing_before + already, self._clock.now())

            try:
                added, already = await self._coaching.import_participants(program.id, batch, before_commit=record)
            except Exception as exc:
                logger.warning("import %s stopped after %s of %s people", checkpoint.id, done, total_rows)
                await self._checkpoints.settled()
                raise ImportStopped(checkpoint.id, done, total_rows, exc) from exc
            done, enrolled, existing, batches = done + len(batch), enrolled + added, existing + already, batches + 1
            if progress is not None:
                progress(done, total_rows)
            await self._checkpoints.settle()
            await asyncio.sleep(pause_s)  # others' transactions (and this loop's tasks) go between batches
        await self._checkpoints.finish(checkpoint.id, self._clock.now())
        return ImportResult(checkpoint.id, enrolled, existing, done, checkpoint.next_row, batches)

    async def rollback(self, import_id: str) -> int:
        """Take everyone this import enrolled out of the program again; returns how many left."""
        checkpoint = await self._checkpoints.get(import_id)
        if checkpoint is None:
            raise NotFound("import", import_id)
        if checkpoint.status == "rolled_back":
            return 0
        left = 0
        for participant_id in await self._checkpoints.planned(import_id):
            try:
                await self._coaching.leave(checkpoint.program_id, participant_id, erase=False)
                left += 1
            except NotEnrolled:
                continue  # the person left since
        await self._checkpoints.mark(import_id, "rolled_back", self._clock.now())
        logger.info("rolled back import %s: %s people left the program", import_id, left)
        return left
