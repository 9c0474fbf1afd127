"""The gunicorn entry point (install the ``server`` extra) -- also usable as gunicorn's config module::

    gunicorn -c python:teams_app.entrypoints.gunicorn teams_app.entrypoints.gunicorn:app

``app`` is a coroutine factory, which aiohttp's ``GunicornWebWorker`` awaits in each worker: every worker
bootstraps its own application (engine, workers, sender) from the environment, exactly as ``peercoach serve``
does; the database leases keep several workers and several instances from sending anything twice.
The settings below are read from the environment so the same module works on App Service, in a container and
on a VM: ``PORT`` (App Service, Container Apps) or ``PEERCOACH_PORT``, ``WEB_CONCURRENCY`` workers (default 1:
the bot is I/O bound and scales out by instances), and ``PEERCOACH_SERVER__SHUTDOWN_GRACE_S``: ``app`` returns
its own ``AppRunner`` so in-flight requests get the same share of it as under ``peercoach serve`` (aiohttp's
worker would otherwise give them 95 % of gunicorn's graceful timeout).

Dev mode takes unauthenticated activities, so, as under ``peercoach serve``, it listens only on loopback: the
default bind is then ``127.0.0.1`` and :func:`on_starting` refuses any other address (``-b 0.0.0.0:3978``)
before gunicorn binds it, with the reason and exit code 1.
"""

from __future__ import annotations

import logging
import math
import os
from typing import Any

from aiohttp import web

logger = logging.getLogger(__name__)


def _default_host() -> str:
    """Loopback in dev mode (unauthenticated), every interface otherwise."""
    from teams_app.config import SettingsError, load_settings

    try:
        settings = load_settings()
    except SettingsError:  # on_starting reports it, with the reason, before anything is bound
        return "127.0.0.1"
    return "127.0.0.1" if settings.bot.dev_mode or not settings.bot.app_id else "0.0.0.0"


def bind_host(address: str) -> str | None:
    """The host part of a gunicorn bind address; None for a unix socket (not reachable over the network)."""
    if address.startswith("unix:"):
        return None
    if address.startswith("fd://"):
        return address  # an inherited socket: its address is unknown, so it is no loopback
    if address.startswith("["):
        return address[1:].split("]", 1)[0]
    return address.rsplit(":", 1)[0] if ":" in address else address


def on_starting(server: Any) -> None:
    """gunicorn hook, before any socket is bound: dev mode refuses a bind beyond loopback (SystemExit, code 1)."""
    from teams_app.config import SettingsError, load_settings
    from teams_app.entrypoints.server import check_listen

    try:
        settings = load_settings()
    except SettingsError as exc:
        raise SystemExit(f"Error: {exc}") from None
    for address in server.cfg.bind:
        host = bind_host(address)
        if host is not None:
            check_listen(settings, host)


# -- gunicorn settings (read when this module is passed with -c python:teams_app.entrypoints.gunicorn) --------
bind = f"{_default_host()}:{os.environ.get('PORT') or os.environ.get('PEERCOACH_PORT') or '3978'}"
worker_class = "aiohttp.GunicornWebWorker"
workers = int(os.environ.get("WEB_CONCURRENCY", "1"))
# The app enforces the grace period itself (requests, then workers, then a watchdog); the arbiter's SIGKILL
# comes a little later so it never cuts an orderly shutdown short.
graceful_timeout = math.ceil(float(os.environ.get("PEERCOACH_SERVER__SHUTDOWN_GRACE_S", "30"))) + 5
timeout = 120  # a worker silent this long is restarted; the event loop never blocks that long
accesslog = None  # the bot logs what matters; Azure's front end logs requests


async def app() -> web.AppRunner:
    """Build the web app from the environment (settings, logging, bootstrap, every adapter's routes)."""
    from teams_app.bootstrap import bootstrap
    from teams_app.bootstrap.bot import bot_installer
    from teams_app.config import load_settings
    from teams_app.entrypoints.server import arm_watchdog, freeze_after_start_up, request_grace_s
    from teams_app.entrypoints.web import create_web_app
    from teams_app.logging_json import apply_log_format

    settings = load_settings()
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    apply_log_format(settings.server.log_format, settings.log_level)
    if settings.bot.dev_mode:
        logger.warning("DEV MODE: activities are NOT authenticated. Use only with the Agents Playground.")
    arm_watchdog()
    application = bootstrap(settings)
    web_app = create_web_app(application, installers=(bot_installer(),), migrate=settings.server.migrate_on_start)
    freeze_after_start_up(web_app)
    return web.AppRunner(web_app, shutdown_timeout=request_grace_s(settings), access_log=None)
