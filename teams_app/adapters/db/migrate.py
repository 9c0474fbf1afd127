"""Schema migrations: ``upgrade`` builds or updates the schema (idempotent), on SQLite or PostgreSQL.

The versions live in separate Alembic branches (core tables here, the LRS outbox in ``lrs_bridge``, and
one per feature), and ``upgrade`` applies every head.

Every CLI command calls ``upgrade``, so it is cheap when there is nothing to do: the heads are read from the
version files' ``revision``/``down_revision`` lines (no Alembic import) and compared with ``alembic_version``;
only when they differ does Alembic run. A database with no tables at all gets the tables straight from the
metadata and is stamped with the heads, as Alembic's own cookbook suggests (a test keeps the migrations and
the metadata identical, so both roads give one schema).
"""

from __future__ import annotations

import ast
import logging
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.engine import Connection

if TYPE_CHECKING:
    from alembic.config import Config
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
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(HERE / "migrations"))
    config.set_main_option("version_locations", " ".join(str(p) for p in version_locations()))
    config.set_main_option("path_separator", "space")
    if url:
        config.set_main_option("sqlalchemy.url", url)
    return config


def _revisions(path: Path) -> tuple[str, tuple[str, ...]]:
    """A version file's ``revision`` and ``down_revision`` (module-level literals), read without importing it."""
    found: dict[str, object] = {}
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            target, value = node.target, node.value
        else:
            continue
        if isinstance(target, ast.Name) and target.id in ("revision", "down_revision"):
            found[target.id] = ast.literal_eval(value)
    down = found.get("down_revision")
    if down is None:
        return str(found["revision"]), ()
    return str(found["revision"]), (down,) if isinstance(down, str) else tuple(str(d) for d in down)  # type: ignore[attr-defined]


@cache
def script_heads() -> tuple[str, ...]:
    """The heads of every branch, from the version files (the same answer as Alembic's, far cheaper)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for location in version_locations():
        for path in location.glob("*.py"):
            if path.name.startswith("_"):
                continue
            revision, downs = _revisions(path)
            revisions.add(revision)
            parents.update(downs)
    return tuple(sorted(revisions - parents))


def _database_heads(connection: Connection) -> list[str] | None:
    """The heads stamped in the database; None when it has no tables at all; [] when it has tables but no stamp."""
    names = sa.inspect(connection).get_table_names()
    if "alembic_version" not in names:
        return None if not names else []
    return sorted(connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalars())


def _create_fresh(connection: Connection) -> list[str]:
    """An empty database: every table from the metadata, stamped with the heads (no migration to replay)."""
    from teams_app.adapters.db import all_metadata

    for metadata in all_metadata():
        metadata.create_all(connection, checkfirst=False)  # no tables at all: nothing to look up first
    version = sa.Table("alembic_version", sa.MetaData(),
                       sa.Column("version_num", sa.String(32), primary_key=True))
    version.create(connection)
    heads = list(script_heads())
    connection.execute(version.insert(), [{"version_num": head} for head in heads])
    return heads


def _alembic_upgrade(connection: Connection) -> list[str]:
    from alembic import command
    from alembic.runtime.migration import MigrationContext

    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, "heads")
    return sorted(MigrationContext.configure(connection).get_current_heads())


def _upgrade_sync(connection: Connection, from_metadata: bool) -> list[str]:
    if connection.dialect.name == "postgresql":
        connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ADVISORY_LOCK})
    current = _database_heads(connection)
    if current == list(script_heads()):
        return current
    if current is None and from_metadata:
        return _create_fresh(connection)
    return _alembic_upgrade(connection)


def _current_sync(connection: Connection) -> list[str] | None:
    try:
        return sorted(connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalars())
    except sa.exc.DBAPIError:  # no such table yet
        return None


async def upgrade(engine: AsyncEngine, *, from_metadata: bool = True) -> list[str]:
    """Apply every migration not yet applied; returns the heads now in the database.

    A current database costs one query. ``from_metadata=False`` makes an empty database replay every migration
    (the drift test does, to prove both roads give one schema).
    """
    async with engine.connect() as conn:
        current = await conn.run_sync(_current_sync)
    if current == list(script_heads()):
        return current
    async with engine.begin() as conn:
        heads = await conn.run_sync(_upgrade_sync, from_metadata)
    logger.info("database schema at %s", ", ".join(heads))
    return heads


def expected_heads() -> list[str]:
    from alembic.script import ScriptDirectory

    return sorted(ScriptDirectory.from_config(alembic_config()).get_heads())
