"""SQL persistence: tables, repositories, the unit of work and migrations."""

from __future__ import annotations

import sqlalchemy as sa


def all_metadata() -> list[sa.MetaData]:
    """The MetaData of every table the application's migrations manage."""
    # Table modules only (no repositories): a fresh schema must not import the domain or the statement builders.
    from lrs_bridge.tables import metadata as lrs_metadata
    from teams_app.adapters.db import (
        assessment_tables,  # noqa: F401 - registers the assessment tables
        bot_tables,  # noqa: F401 - registers the bot's tables on the metadata
    )
    from teams_app.adapters.db import import_tables as _imports  # noqa: F401 - participant-import tables (cli)
    from teams_app.adapters.db.tables import metadata

    return [metadata, lrs_metadata]
