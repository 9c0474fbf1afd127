"""Alembic environment: async engine, every branch (core, LRS outbox, notifications, assessment)."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from teams_app.adapters.db.migrate import target_metadata
from teams_app.adapters.db.uow import make_engine

config = context.config


def run_migrations_offline() -> None:
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata(),
                      literal_binds=True, dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()


def _run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata(),
                      render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()


async def run_migrations_online() -> None:
    engine = make_engine(config.get_main_option("sqlalchemy.url") or "")
    async with engine.connect() as conn:
        await conn.run_sync(_run)
        await conn.commit()
    await engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
elif config.attributes.get("connection") is not None:  # migrate.upgrade() passes its open connection
    _run(config.attributes["connection"])
else:
    asyncio.run(run_migrations_online())
