"""The aiohttp web application: ``/healthz``, the bot's ``/api/messages``, and the background workers."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable

from aiohttp import web
from sqlalchemy import text

from teams_app.bootstrap import Application
from teams_app.entrypoints.server import install_server_hooks, worker_grace_s
from teams_app.service.workers import run_workers

logger = logging.getLogger(__name__)

APP_KEY = web.AppKey("peercoach", Application)
# Routes contributed by adapters (the bot registers /api/messages here), kept out of this module so the
# web shell does not import botbuilder.
RouteInstaller = Callable[[web.Application, Application], None]


async def healthz(request: web.Request) -> web.Response:
    app = request.app[APP_KEY]
    try:
        async with app.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception as exc:
        logger.warning("health check: database unreachable: %s", type(exc).__name__)
        return web.json_response({"status": "unhealthy", "database": "unreachable"}, status=503)
    return web.json_response({"status": "ok", "database": "ok", "workers": sorted(app.workers)})


def create_web_app(app: Application, *, installers: tuple[RouteInstaller, ...] = (),
                   run_background: bool = True, migrate: bool = True) -> web.Application:
    web_app = web.Application(client_max_size=1024 * 1024)  # Teams activities are far below 1 MiB
    web_app[APP_KEY] = app
    web_app.router.add_get("/healthz", healthz)
    install_server_hooks(web_app, app.settings, app.engine)  # /readyz, draining, shutdown deadline (deploy)
    for install in installers:
        install(web_app, app)

    async def lifecycle(_: web.Application) -> AsyncIterator[None]:
        if migrate:
            await app.migrate()
        stop = asyncio.Event()
        task = asyncio.create_task(run_workers(app.workers, stop)) if run_background and app.workers else None
        yield
        stop.set()
        if task is not None:
            # A worker still busy when its share of the grace period ends is cancelled (wait_for): not an error.
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(task, timeout=worker_grace_s(app.settings))
        await app.close()

    web_app.cleanup_ctx.append(lifecycle)
    return web_app
