"""SQL persistence: tables, repositories, the unit of work and migrations."""

from __future__ import annotations

import sqlalchemy as sa


def all_metadata() -> list[sa.MetaData]:
    """The MetaData of every table the application's migrations manage."""
    import lrs_bridge.pseudonyms  # noqa: F401 - registers lrs_pseudonyms on the outbox metadata
    import teams_app.adapters.db.assessment_repo  # noqa: F401 - registers the assessment tables on metadata
    from lrs_bridge.outbox import metadata as lrs_metadata
    from teams_app.adapters.db import bot_tables  # noqa: F401 - registers the bot's tables on the metadata
    from teams_app.adapters.db import import_tables as _imports  # noqa: F401 - participant-import tables (cli)
    from teams_app.adapters.db.tables import metadata

    return [metadata, lrs_metadata]
