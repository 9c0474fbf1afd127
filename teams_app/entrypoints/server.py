"""Running the web app under a process manager: readiness, draining and a hard shutdown deadline.

``peercoach serve`` (aiohttp's built-in server) and the gunicorn entry point (:mod:`.gunicorn`) both call
:func:`install_server_hooks`. On SIGTERM aiohttp stops accepting connections, ``/readyz`` answers 503
("draining"), in-flight turns get half the grace period to finish, then the background workers are stopped
(the bot's sender gives back the rows it claimed but has not sent; the LRS relay finishes the batch in flight
and claims no other, and if its share runs out mid-batch it releases its lease) within the rest; a watchdog ends
the process if all that has not finished within ``PEERCOACH_SERVER__SHUTDOWN_GRACE_S``.
"""

from __future__ import annotations

import gc
import logging
import os
import threading

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from teams_app.adapters.health import install_readiness
from teams_app.config import Settings

logger = logging.getLogger(__name__)

REQUEST_SHARE = 0.5  # of the grace period, for in-flight turns
WORKER_SHARE = 0.4  # for the background workers to stop and release their leases
# Armed only by the server entry points (serve, gunicorn): an in-process test server must never hard-exit.
_watchdog = {"armed": False}


def arm_watchdog() -> None:
    _watchdog["armed"] = True


def freeze_after_start_up(web_app: web.Application) -> None:
    """A server process (serve, gunicorn): once started, keep what start-up made out of the collector's way.

    A full collection walks every object the collector tracks, about 190,000 after start-up: 40-90 ms with the
    event loop stopped, and every turn in flight waits. ``gc.freeze()`` leaves them out of later collections.
    Server entry points only: in a test process it would make every earlier test's garbage permanent.
    """

    async def freeze(_: web.Application) -> None:
        gc.freeze()
        logger.debug("start-up objects frozen: %s", gc.get_freeze_count())

    web_app.on_startup.append(freeze)  # after the app's own start-up (migrations, workers)


def request_grace_s(settings: Settings) -> float:
    return settings.server.shutdown_grace_s * REQUEST_SHARE


def worker_grace_s(settings: Settings) -> float:
    return settings.server.shutdown_grace_s * WORKER_SHARE


def _hard_exit(grace_s: float) -> None:
    logger.error("shutdown did not finish within %.1f s: exiting now", grace_s)
    logging.shutdown()
    os._exit(3)


def install_server_hooks(web_app: web.Application, settings: Settings, engine: AsyncEngine) -> None:
    """``/readyz``, draining on shutdown, and the watchdog that enforces the grace period."""
    install_readiness(web_app, settings, engine)
    grace_s = settings.server.shutdown_grace_s

    timers: list[threading.Timer] = []

    async def start_deadline(_: web.Application) -> None:
        logger.info("shutting down: finishing in-flight turns and releasing leases (grace %.1f s)", grace_s)
        if _watchdog["armed"]:
            timer = threading.Timer(grace_s, _hard_exit, (grace_s,))
            timer.daemon = True  # a clean exit before the deadline must not wait for it
            timer.start()
            timers.append(timer)

    async def stop_deadline(_: web.Application) -> None:
        for timer in timers:
            timer.cancel()

    web_app.on_shutdown.append(start_deadline)
    web_app.on_cleanup.append(stop_deadline)  # runs after the workers' cleanup context


def check_listen(settings: Settings, host: str) -> None:
    """Dev mode takes unauthenticated activities: refuse to listen beyond loopback, with the reason, no traceback."""
    from teams_app.adapters.bot.hosting import BotConfigurationError, check_listen_host

    try:
        check_listen_host(settings.bot, host)
    except BotConfigurationError as exc:
        raise SystemExit(f"Error: {exc}") from None


def run(web_app: web.Application, settings: Settings, host: str, port: int) -> None:
    """aiohttp's own server with the configured grace period (``peercoach serve``)."""
    check_listen(settings, host)  # before binding
    arm_watchdog()
    freeze_after_start_up(web_app)
    web.run_app(web_app, host=host, port=port, print=None, shutdown_timeout=request_grace_s(settings))
