"""Participant-import bookkeeping: one checkpoint row per CSV import (a stopped import resumes where it was)
and the people each import is about to enroll (so an import can be rolled back by its id).

Migrations: ``core_0003`` (``core_0003_imports.py``), ``core_0005`` (the rollback list by participant id).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from teams_app.adapters.db.bulk import insert_many
from teams_app.adapters.db.tables import ID, UtcDateTime, metadata
from teams_app.adapters.db.uow import checkpoint_wal
from teams_app.service.ports import UnitOfWork

if TYPE_CHECKING:  # the service module is imported where a checkpoint is built, not with the tables
    from teams_app.service.imports import ImportCheckpoint

logger = logging.getLogger(__name__)

participant_imports = sa.Table(
    "participant_imports", metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("program_id", ID, nullable=False),
    sa.Column("file_sha256", sa.String(64), nullable=False),
    sa.Column("file_name", sa.String(255), nullable=False, server_default=""),
    sa.Column("total_rows", sa.Integer, nullable=False),
    sa.Column("next_row", sa.Integer, nullable=False, server_default="0"),  # rows before it are written
    sa.Column("enrolled", sa.Integer, nullable=False, server_default="0"),
    sa.Column("existing", sa.Integer, nullable=False, server_default="0"),
    sa.Column("status", sa.String(16), nullable=False),  # running | done
    sa.Column("started_at", UtcDateTime(), nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
    sa.Index("ix_participant_imports_program_file", "program_id", "file_sha256"),
)

# Written in each batch's transaction: the people the batch newly enrolled (rollback takes them out). By
# participant id: time-ordered (a batch appends to the index), and the row goes when the person is erased.
participant_import_people = sa.Table(
    "participant_import_people", metadata,
    sa.Column("import_id", ID, sa.ForeignKey("participant_imports.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("participant_id", ID, sa.ForeignKey("participants.id", ondelete="CASCADE"), primary_key=True,
              index=True),
)


def _checkpoint(row: Any) -> ImportCheckpoint:
    from teams_app.service.imports import ImportCheckpoint

    return ImportCheckpoint(row["id"], row["program_id"], row["file_sha256"], row["total_rows"], row["next_row"],
                            row["enrolled"], row["existing"], row["status"], row["started_at"])


class SqlImportCheckpoints:
    """:class:`ImportCheckpoints` on the application's database; each call is one short transaction."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._settling: asyncio.Task[None] | None = None

    async def unfinished(self, program_id: str, file_sha256: str) -> ImportCheckpoint | None:
        t = participant_imports
        query = (sa.select(t).where(t.c.program_id == program_id, t.c.file_sha256 == file_sha256,
                                    t.c.status == "running").order_by(t.c.started_at.desc()).limit(1))
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).mappings().first()
        if row is None:
            return None
        return _checkpoint(row)

    async def get(self, import_id: str) -> ImportCheckpoint | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(sa.select(participant_imports).where(participant_imports.c.id == import_id))
                   ).mappings().first()
        if row is None:
            return None
        return _checkpoint(row)

    async def planned(self, import_id: str) -> list[str]:
        t = participant_import_people
        async with self._engine.connect() as conn:
            return list((await conn.execute(sa.select(t.c.participant_id).where(t.c.import_id == import_id)
                                            .order_by(t.c.participant_id))).scalars())

    async def mark(self, import_id: str, status: str, at: datetime) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(participant_imports.update().where(participant_imports.c.id == import_id).values(
                status=status, updated_at=at))

    async def start(self, checkpoint: ImportCheckpoint) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(participant_imports.insert().values(
                id=checkpoint.id, program_id=checkpoint.program_id, file_sha256=checkpoint.file_sha256,
                total_rows=checkpoint.total_rows, next_row=checkpoint.next_row, enrolled=checkpoint.enrolled,
                existing=checkpoint.existing, status=checkpoint.status, started_at=checkpoint.started_at,
                updated_at=checkpoint.started_at))

    async def record_batch(self, uow: UnitOfWork, import_id: str, enrolled_ids: Sequence[str], next_row: int,
                           enrolled: int, existing: int, at: datetime) -> None:
        """Written in the batch's transaction, so the checkpoint and the rollback list commit with the batch."""
        conn = getattr(uow, "connection", None)
        if not isinstance(conn, AsyncConnection):
            raise TypeError("import checkpoints need the SQL unit of work (they write in the batch's transaction)")
        if enrolled_ids:
            await insert_many(conn, participant_import_people,
                              [{"import_id": import_id, "participant_id": i} for i in dict.fromkeys(enrolled_ids)])
        await conn.execute(participant_imports.update().where(participant_imports.c.id == import_id).values(
            next_row=next_row, enrolled=enrolled, existing=existing, updated_at=at))

    async def finish(self, import_id: str, at: datetime) -> None:
        """Mark the import done, then checkpoint (SQLite: syncs the WAL, so every batch is on disk)."""
        await self.mark(import_id, "done", at)
        await self.settled()
        await checkpoint_wal(self._engine)

    async def settled(self) -> None:
        """Wait for the running checkpoint; its failure is logged here (:meth:`finish` checkpoints again)."""
        if self._settling is not None:
            settling, self._settling = self._settling, None
            try:
                await settling
            except SQLAlchemyError as exc:
                logger.warning("checkpoint of the database's write-ahead log failed: %s", type(exc).__name__)

    async def settle(self) -> None:
        """SQLite: checkpoint the WAL in this process, not inline in the bot's next commit.

        It runs on its own connection while the next batch is prepared (a passive checkpoint never blocks a
        writer); one at a time: when the last one still runs, this batch's pages go with the next one.
        """
        if self._settling is not None and not self._settling.done():
            return
        await self.settled()  # done: collects its outcome
        self._settling = asyncio.create_task(checkpoint_wal(self._engine))
