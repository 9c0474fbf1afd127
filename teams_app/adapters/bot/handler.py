"""Compatibility path: the conversation now lives in :mod:`teams_app.adapters.bot.routing` and the modules it
routes to (``member_commands``, ``admin_commands``, ``card_actions``, ``identity``)."""

from teams_app.adapters.bot.routing import CARD_RESPONSE_TYPE, PeerCoachBot

__all__ = ["CARD_RESPONSE_TYPE", "PeerCoachBot"]
