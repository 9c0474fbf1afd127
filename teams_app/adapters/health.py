"""Readiness (``/readyz``): may a load balancer send this instance traffic? Liveness stays ``/healthz``.

Ready means: the database answers, its schema is at every migration head this code expects, and the LRS
answers ``/about`` -- or, when it does not, the statement outbox is within ``PEERCOACH_SERVER__READY_OUTBOX_LIMIT``
(statements wait safely in the outbox; a short LRS outage must not take the bot out of rotation). Each probe
has a timeout; the answer names what failed but never a secret or a connection string.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aiohttp import web
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from teams_app.config import Settings

logger = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass
class Readiness:
    ready: bool = True
    checks: dict[str, Any] = field(default_factory=dict)

    def fail(self, name: str, detail: Any) -> None:
        self.ready = False
        self.checks[name] = detail

    def json(self) -> dict[str, Any]:
        return {"status": "ready" if self.ready else "not ready", **self.checks}


def _current_heads(connection: Connection) -> list[str]:
    return sorted(MigrationContext.configure(connection).get_current_heads())


async def _within(seconds: float, awaitable: Awaitable[T]) -> T:
    return await asyncio.wait_for(awaitable, timeout=seconds)


async def check_database(engine: AsyncEngine, timeout_s: float, result: Readiness) -> bool:
    from teams_app.adapters.db.migrate import expected_heads

    async def probe() -> list[str]:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
            return await conn.run_sync(_current_heads)

    try:
        current = await _within(timeout_s, probe())
    except Exception as exc:  # unreachable, refused, timed out: all mean "not ready"
        logger.warning("readiness: database unreachable: %s", type(exc).__name__)
        result.fail("database", f"unreachable ({type(exc).__name__})")
        return False
    result.checks["database"] = "ok"
    expected = expected_heads()
    missing = sorted(set(expected) - set(current))
    if missing:
        result.fail("migrations", {"missing": missing, "hint": "run `peercoach db upgrade`"})
    else:
        result.checks["migrations"] = "current"
    return True


async def check_lrs(settings: Settings, engine: AsyncEngine, result: Readiness, *, database_ok: bool) -> None:
    from lrs_bridge.outbox import status as outbox_status

    timeout_s = settings.server.ready_timeout_s
    if settings.lrs.configured:
        from lrs_bridge.client import LrsClient

        lrs = settings.lrs
        try:
            async with LrsClient(lrs.endpoint, username=lrs.username, password=lrs.password.get_secret_value(),
                                 auth=lrs.auth, token_url=lrs.token_url, timeout_s=timeout_s) as client:
                await _within(timeout_s, client.about())
            result.checks["lrs"] = "ok"
            return
        except Exception as exc:
            lrs_state = f"unreachable ({type(exc).__name__})"
    else:
        lrs_state = "not configured"
    if not database_ok:
        result.checks["lrs"] = lrs_state
        return
    try:
        queued = (await _within(timeout_s, outbox_status(engine))).queued
    except Exception as exc:
        result.fail("lrs", f"{lrs_state}; outbox unreadable ({type(exc).__name__})")
        return
    limit = settings.server.ready_outbox_limit
    detail = {"state": lrs_state, "outbox_queued": queued, "outbox_limit": limit}
    if queued > limit:
        result.fail("lrs", detail)
    else:
        result.checks["lrs"] = detail


async def readiness(settings: Settings, engine: AsyncEngine) -> Readiness:
    result = Readiness()
    database_ok = await check_database(engine, settings.server.ready_timeout_s, result)
    await check_lrs(settings, engine, result, database_ok=database_ok)
    return result


# Set on shutdown so a load balancer stops routing here while in-flight turns finish.
DRAINING_KEY = web.AppKey("peercoach_draining", dict)


def install_readiness(web_app: web.Application, settings: Settings, engine: AsyncEngine) -> None:
    """Add ``GET /readyz`` and mark the app draining as soon as shutdown starts."""

    async def readyz(request: web.Request) -> web.Response:
        """200 when ready, 503 with the failing checks otherwise (and while shutting down)."""
        if request.app[DRAINING_KEY]["draining"]:
            return web.json_response({"status": "draining"}, status=503)
        result = await readiness(settings, engine)
        return web.json_response(result.json(), status=200 if result.ready else 503)

    web_app.router.add_get("/readyz", readyz)
    web_app[DRAINING_KEY] = {"draining": False}  # mutable: the app is frozen once it runs

    async def draining(app: web.Application) -> None:
        app[DRAINING_KEY]["draining"] = True

    web_app.on_shutdown.append(draining)
