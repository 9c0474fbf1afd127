"""Web twins of cards in the composition root: ``/twin/<token>`` pages served by the bot's web app.

Installed by the bot's route installer when a signing key and a public URL are configured
(:attr:`Application.link_signer`); the page's actions go to a :class:`CardActions` built like the bot's own,
with the link's person as the sender.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from aiohttp import web

from teams_app.bootstrap import Application
from teams_app.domain.model import Participant
from teams_app.service.workers import Worker, periodic

if TYPE_CHECKING:
    from teams_app.adapters.web.uses import TwinUses

logger = logging.getLogger(__name__)


def install_web_twin(web_app: web.Application, app: Application) -> bool:
    """Add the web twin routes and their prune worker; False (nothing added) when twins are not configured."""
    signer = app.link_signer
    if signer is None:
        logger.info("web twins of cards are off (set PEERCOACH_WEB_TWIN__SIGNING_KEY and a public URL)")
        return False
    from teams_app.adapters.bot.card_actions import CardActions
    from teams_app.adapters.bot.store import ConversationStore, MatchCards
    from teams_app.adapters.web.pages import TwinPages
    from teams_app.adapters.web.twin import WebIdentity, WebTwin
    from teams_app.adapters.web.uses import TwinUses

    settings = app.settings
    match_cards = MatchCards(app.engine)
    identity = WebIdentity(app.service, ConversationStore(app.engine), settings.bot, app.clock)
    actions = CardActions(app.service, identity, settings.bot, default_locale=settings.default_locale,
                          assessment=app.assessment, match_cards=match_cards, clock=app.clock)

    async def person_of(person_id: str) -> Participant | None:
        return await app.assessment.participant(person_id)

    twin = WebTwin(app.service, actions, match_cards, app.renderer.render, person_of, assessment=app.assessment)
    uses = TwinUses(app.engine)
    base = settings.web_twin.public_base_url or settings.public_url
    TwinPages(signer, uses, twin, default_locale=settings.default_locale,
              secure_cookie=base.startswith("https://")).install(web_app)
    app.workers["web_twin_prune"] = prune_worker(app, uses)
    return True


def prune_worker(app: Application, uses: TwinUses, interval_s: float = 3600.0) -> Worker:
    """Forget spent actions and claims of expired links (the links themselves are refused by then)."""

    async def tick() -> None:
        removed = await uses.prune(app.clock.now())
        if removed:
            logger.info("forgot %s web twin use(s) of expired links", removed)

    return periodic("web twin prune", tick, interval_s)
