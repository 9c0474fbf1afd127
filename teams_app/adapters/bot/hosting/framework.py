"""Our authentication and transport behind botbuilder's ``BotFrameworkAuthentication`` interface.

botbuilder's CloudAdapter and ActivityHandler stay (the design keeps its activity model); what it asks this
object for (who sent the activity, a connector client for the replies) now comes from
:mod:`~teams_app.adapters.bot.hosting.auth` and :mod:`~teams_app.adapters.bot.hosting.transport`, which
never block the event loop.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from botbuilder.integration.aiohttp import ConfigurationBotFrameworkAuthentication
from botbuilder.schema import Activity, CallerIdConstants
from botframework.connector.auth import (
    AuthenticateRequestResult,
    AuthenticationConstants,
    BotFrameworkAuthentication,
    ClaimsIdentity,
    ConnectorFactory,
    ServiceClientCredentialsFactory,
)

from teams_app.adapters.bot.hosting.auth import (
    TokenValidator,
    Unauthorized,
    VerifiedToken,
    check_credentials,
    token_provider,
)
from teams_app.adapters.bot.hosting.transport import AsyncConnectorFactory, ConnectorHttp
from teams_app.config import AppType, BotSettings

logger = logging.getLogger(__name__)


@dataclass
class _Configuration:
    """The attribute names ConfigurationBotFrameworkAuthentication reads (its supported configuration)."""

    APP_ID: str
    APP_PASSWORD: str
    APP_TYPE: str
    APP_TENANTID: str


class PeerCoachAuthentication(BotFrameworkAuthentication):  # type: ignore[misc]
    """Inbound JWTs checked by :class:`TokenValidator`; replies through :class:`ConnectorHttp`."""

    def __init__(self, settings: BotSettings, credentials: Any = None) -> None:
        self._settings = settings
        self.enabled = bool(settings.app_id)  # no app id: dev mode (Settings insisted on DEV_MODE)
        self.validator = TokenValidator(settings) if self.enabled else None
        self.tokens = token_provider(settings, credentials)
        self.connector_http = ConnectorHttp.from_settings(settings, self.tokens)
        self._factory = AsyncConnectorFactory(self.connector_http)
        self._credentials = credentials if isinstance(credentials, ServiceClientCredentialsFactory) else None
        self._user_token_clients: dict[str, Any] = {}
        self._inner: BotFrameworkAuthentication | None = None

    async def verify(self, auth_header: str | None) -> VerifiedToken | None:
        """The token checks that need no activity; None in dev mode (no authentication)."""
        if self.validator is None:
            return None
        return await self.validator.validate(auth_header)

    def result(self, token: VerifiedToken | None) -> AuthenticateRequestResult:
        result = AuthenticateRequestResult()
        if token is None:
            result.claims_identity = ClaimsIdentity({}, True, AuthenticationConstants.ANONYMOUS_AUTH_TYPE)
        else:
            result.claims_identity = ClaimsIdentity(dict(token.claims), True)
            result.caller_id = CallerIdConstants.public_azure_channel
        result.audience = self.get_originating_audience()
        result.connector_factory = self._factory
        return result

    async def authenticate_request(self, activity: Activity, auth_header: str) -> AuthenticateRequestResult:
        token = await self.verify(auth_header)
        if token is not None:
            token.check_activity(activity.channel_id or "", activity.service_url or "")
        return self.result(token)

    async def authenticate_streaming_request(self, auth_header: str,
                                             channel_id_header: str) -> AuthenticateRequestResult:
        raise Unauthorized("streaming connections are not supported")

    async def authenticate_channel_request(self, auth_header: str) -> ClaimsIdentity:
        token = await self.verify(auth_header)
        return self.result(token).claims_identity

    def create_connector_factory(self, claims_identity: ClaimsIdentity) -> ConnectorFactory:
        return self._factory

    async def create_user_token_client(self, claims_identity: ClaimsIdentity) -> Any:
        """botbuilder's user-token client (OAuth prompts; this bot signs nobody in): built once, no I/O."""
        key = str((claims_identity.claims or {}).get(AuthenticationConstants.AUDIENCE_CLAIM) or "")
        client = self._user_token_clients.get(key)
        if client is None:
            client = self._user_token_clients[key] = await self._botbuilder().create_user_token_client(
                claims_identity)
        return client

    def _botbuilder(self) -> BotFrameworkAuthentication:
        if self._inner is None:
            settings = self._settings
            app_type = settings.app_type.value if settings.app_id else AppType.MULTI_TENANT.value
            config: Any = _Configuration(settings.app_id, settings.app_password.get_secret_value(), app_type,
                                         settings.app_tenant_id)
            self._inner = ConfigurationBotFrameworkAuthentication(config, credentials_factory=self._credentials)
        return self._inner

    def create_bot_framework_client(self) -> Any:
        return self._botbuilder().create_bot_framework_client()

    def get_originating_audience(self) -> str:
        return self._settings.oauth_scope.removesuffix("/.default")

    async def close(self) -> None:
        await self.connector_http.close()
        if self.validator is not None:
            await self.validator.close()


def authentication(settings: BotSettings, credentials: Any = None) -> PeerCoachAuthentication:
    """Authentication for the settings. ``credentials``: a ``BotTokenProvider`` (e.g. managed identity) or a
    botbuilder ServiceClientCredentialsFactory for the outbound token; by default the client secret."""
    check_credentials(settings, has_factory=credentials is not None)
    return PeerCoachAuthentication(settings, credentials)
