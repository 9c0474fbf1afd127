"""Schema migrations: ``upgrade`` builds or updates the schema (idempotent), on SQLite or PostgreSQL.

The versions live in separate Alembic branches (core tables here, the LRS outbox in ``lrs_bridge``, and
one per feature), and ``upgrade`` applies every head.
"""

from __future__ import annotations

import logging
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

logger = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
# A fixed key so concurrent starters on one PostgreSQL database migrate one at a time.
_ADVISORY_LOCK = 7_302_914_001


def version_locations() -> list[Path]:
    import lrs_bridge

    locations = [HERE / "migrations" / "versions"]
    lrs_versions = Path(lrs_bridge.__file__).resolve().parent / "migrations" / "versions"
    if lrs_versions.is_dir():
        locations.append(lrs_versions)
    return locations


def target_metadata() -> list[sa.MetaData]:
    """Every MetaData whose tables the migrations create (used by autogenerate and drift tests)."""
    from teams_app.adapters.db import all_metadata

    return all_metadata()


def alembic_config(url: str = "") -> Config:
    config = Config()
    config.set_main_option("script_location", str(HERE / "migrations"))
    config.set_main_option("version_locations", " ".join(str(p) for p in version_locations()))
    config.set_main_option("path_separator", "space")
    if url:
        config.set_main_option("sqlalchemy.url", url)
    return config


def _upgrade_sync(connection: Connection) -> list[str]:
    if connection.dialect.name == "postgresql":
        connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ADVISORY_LOCK})
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, "heads")
    return sorted(MigrationContext.configure(connection).get_current_heads())


async def upgrade(engine: AsyncEngine) -> list[str]:
    """Apply every migration not yet applied; returns the heads now in the database."""
    async with engine.begin() as conn:
        heads = await conn.run_sync(_upgrade_sync)
    logger.info("database schema at %s", ", ".join(heads))
    return heads


def expected_heads() -> list[str]:
    return sorted(ScriptDirectory.from_config(alembic_config()).get_heads())
