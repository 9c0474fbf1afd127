"""Hosting the bot: authentication (``auth``), the botbuilder bridge (``framework``), ``POST /api/messages``
(``endpoint``) and the outbound Bot Connector transport (``transport``).

The names ``install.py`` and the benchmarks import are re-exported here.
"""

from botbuilder.integration.aiohttp import CloudAdapter

from teams_app.adapters.bot.hosting.auth import (
    BotConfigurationError,
    BotTokenProvider,
    ClientSecretTokenProvider,
    CredentialsFactoryTokenProvider,
    NoTokenProvider,
    TokenValidator,
    Unauthorized,
    check_credentials,
    token_provider,
)
from teams_app.adapters.bot.hosting.endpoint import (
    MessagesEndpoint,
    allowed_tenants,
    check_activity,
    check_listen_host,
    tenant_of,
)
from teams_app.adapters.bot.hosting.framework import PeerCoachAuthentication, authentication
from teams_app.adapters.bot.hosting.transport import (
    BotConnectorTransport,
    ConnectorHttp,
    DirectConnectorTransport,
    ServiceUrlPolicy,
)

__all__ = ["BotConfigurationError", "BotConnectorTransport", "BotTokenProvider", "ClientSecretTokenProvider",
           "CloudAdapter", "ConnectorHttp", "CredentialsFactoryTokenProvider", "DirectConnectorTransport",
           "MessagesEndpoint", "NoTokenProvider", "PeerCoachAuthentication", "ServiceUrlPolicy", "TokenValidator",
           "Unauthorized", "allowed_tenants", "authentication", "check_activity", "check_credentials",
           "check_listen_host", "tenant_of", "token_provider"]
