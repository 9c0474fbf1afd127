"""What web twins remember, on the migrated schema: a spent action once, the first acting session's claim."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from teams_app.adapters.db.migrate import upgrade
from teams_app.adapters.db.uow import make_engine
from teams_app.adapters.web.uses import Claim, TwinUses

NOW = datetime(2026, 11, 30, 9, tzinfo=UTC)


async def test_an_action_is_spent_once_a_link_belongs_to_the_first_session_and_expired_rows_go(
        tmp_path: Path) -> None:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'uses.db'}")
    try:
        await upgrade(engine, from_metadata=False)  # the bot_0003 migration, not the metadata
        uses = TwinUses(engine)
        until = NOW + timedelta(days=1)
        spent = await asyncio.gather(*(uses.spend("n1", "tag-a", "p1", until) for _ in range(5)))
        assert sorted(spent) == [False, False, False, False, True], "exactly one of racing sends wins"
        assert await uses.spend("n2", "tag-a", "p1", until)
        assert await uses.claim("link-1", "tag-a", "p1", until) is Claim.MINE
        assert await uses.claim("link-1", "tag-a", "p1", until) is Claim.MINE
        assert await uses.claim("link-1", "tag-b", "p1", until) is Claim.TAKEN
        assert await uses.claim("link-2", "tag-b", "p1", NOW - timedelta(seconds=1)) is Claim.MINE
        assert await uses.prune(NOW) == 1
        assert await uses.claim("link-2", "tag-c", "p1", until) is Claim.MINE, "the expired claim was forgotten"
        assert not await uses.spend("n1", "tag-a", "p1", until), "unexpired spent actions stay spent"
    finally:
        await engine.dispose()
