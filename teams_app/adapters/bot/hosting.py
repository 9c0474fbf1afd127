"""Hosting the bot: Bot Framework authentication from settings, the CloudAdapter, ``POST /api/messages``.

The route authenticates every activity (JWT from the Bot Connector: OpenID metadata, issuer, audience =
app id, expiry, serviceUrl claim) before anything else; any failure is a 401. Then the tenant allow-list
(refusals are logged without the activity's content), then the email channel's resend dedup, then the bot.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import aiohttp
from aiohttp import web
from botbuilder.core import InvokeResponse
from botbuilder.integration.aiohttp import CloudAdapter, ConfigurationBotFrameworkAuthentication
from botbuilder.schema import Activity, ConversationReference
from botframework.connector.aio import ConnectorClient
from botframework.connector.auth import (
    AuthenticateRequestResult,
    AuthenticationConstants,
    BotFrameworkAuthentication,
    CertificateServiceClientCredentialsFactory,
    ClaimsIdentity,
    ConnectorFactory,
    ServiceClientCredentialsFactory,
)
from msrest.exceptions import HttpOperationError

from lrs_bridge.retry import parse_retry_after
from teams_app.adapters.bot.sender import DeliveryError
from teams_app.adapters.bot.store import InboundDedup
from teams_app.config import AppType, BotSettings
from teams_app.service.ports import Clock

logger = logging.getLogger(__name__)

PUBLIC_CHANNEL_ISSUER = "https://api.botframework.com"
PUBLIC_OAUTH_SCOPE = "https://api.botframework.com"
PUBLIC_EMULATOR_METADATA = "https://login.microsoftonline.com/botframework.com/v2.0/.well-known/openid-configuration"


@dataclass
class _Configuration:
    """The attribute names ConfigurationBotFrameworkAuthentication reads (its supported configuration)."""

    APP_ID: str
    APP_PASSWORD: str
    APP_TYPE: str
    APP_TENANTID: str


class BotConfigurationError(Exception):
    """The bot's credentials settings are incomplete; the message names what to set."""


def check_credentials(settings: BotSettings, *, has_factory: bool = False) -> None:
    """Fail at start-up, naming the setting, instead of on the first reply."""
    if not settings.app_id or has_factory:
        return  # dev mode (Settings already insisted on PEERCOACH_BOT__DEV_MODE) or credentials supplied in code
    problems = []
    has_secret = bool(settings.app_password.get_secret_value())
    has_certificate = settings.app_certificate_path is not None
    if settings.app_type is AppType.SINGLE_TENANT and not settings.app_tenant_id:
        problems.append("PEERCOACH_BOT__APP_TENANT_ID is empty (a SingleTenant bot needs its tenant id)")
    if settings.app_type is not AppType.USER_ASSIGNED_MSI and not (has_secret or has_certificate):
        problems.append("set PEERCOACH_BOT__APP_PASSWORD, or PEERCOACH_BOT__APP_CERTIFICATE_PATH and "
                        "PEERCOACH_BOT__APP_CERTIFICATE_THUMBPRINT")
    if has_certificate and not settings.app_certificate_thumbprint:
        problems.append("PEERCOACH_BOT__APP_CERTIFICATE_THUMBPRINT is empty (needed with the certificate)")
    if has_certificate and settings.app_certificate_path is not None and not settings.app_certificate_path.is_file():
        problems.append(f"PEERCOACH_BOT__APP_CERTIFICATE_PATH: {settings.app_certificate_path} is not a file")
    if settings.app_type is AppType.USER_ASSIGNED_MSI and not settings.app_tenant_id:
        problems.append("PEERCOACH_BOT__APP_TENANT_ID is empty (a UserAssignedMSI bot needs it)")
    if problems:
        raise BotConfigurationError("bot credentials incomplete: " + "; ".join(problems))


def authentication(settings: BotSettings,
                   credentials_factory: ServiceClientCredentialsFactory | None = None) -> BotFrameworkAuthentication:
    """Bot Framework authentication for the settings (SingleTenant by default).

    ``openid_metadata_url`` switches botbuilder to its parameterized configuration with the public-cloud
    values and only the channel OpenID metadata replaced (national clouds, local tests).
    """
    check_credentials(settings, has_factory=credentials_factory is not None)
    app_type = settings.app_type.value if settings.app_id else AppType.MULTI_TENANT.value  # empty id: dev mode
    config: Any = _Configuration(settings.app_id, settings.app_password.get_secret_value(), app_type,
                                 settings.app_tenant_id)
    if settings.openid_metadata_url:
        tenant = settings.app_tenant_id if settings.app_type is AppType.SINGLE_TENANT and settings.app_tenant_id \
            else "botframework.com"
        config.TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL = settings.openid_metadata_url
        config.TO_BOT_FROM_CHANNEL_TOKEN_ISSUER = PUBLIC_CHANNEL_ISSUER
        config.TO_BOT_FROM_EMULATOR_OPENID_METADATA_URL = PUBLIC_EMULATOR_METADATA
        config.TO_CHANNEL_FROM_BOT_LOGIN_URL = f"https://login.microsoftonline.com/{tenant}"
        config.TO_CHANNEL_FROM_BOT_OAUTH_SCOPE = PUBLIC_OAUTH_SCOPE
        config.OAUTH_URL = "https://api.botframework.com"
        config.VALIDATE_AUTHORITY = True
    if credentials_factory is None and settings.app_certificate_path is not None:
        pem = settings.app_certificate_path.read_text(encoding="utf-8")
        credentials_factory = CertificateServiceClientCredentialsFactory(
            settings.app_certificate_thumbprint, pem, settings.app_id, settings.app_tenant_id or None)
    return CachingBotFrameworkAuthentication(
        ConfigurationBotFrameworkAuthentication(config, credentials_factory=credentials_factory))


class _CachingConnectorFactory(ConnectorFactory):  # type: ignore[misc]
    """Reuses one ConnectorClient per (app, serviceUrl, audience) instead of building one per turn.

    CloudAdapter asks for a new client on every turn and never closes it; building one costs milliseconds of
    CPU in msrest (its retry policy alone scans a thousand status codes) and an aiohttp session. The old
    BotFrameworkAdapter cached clients the same way.
    """

    def __init__(self, inner: ConnectorFactory, app_id: str, cache: OrderedDict[tuple[str, str, str], Any]) -> None:
        self._inner = inner
        self._app_id = app_id
        self._cache = cache

    async def create(self, service_url: str, audience: str) -> ConnectorClient:
        key = (self._app_id, service_url, audience or "")
        client = self._cache.get(key)
        if client is None:
            client = await self._inner.create(service_url, audience)
            self._cache[key] = client
            if len(self._cache) > 256:
                self._cache.popitem(last=False)
        return client


class CachingBotFrameworkAuthentication(BotFrameworkAuthentication):  # type: ignore[misc]
    """Delegates to botbuilder's authentication; caches connector and user-token clients across turns."""

    def __init__(self, inner: BotFrameworkAuthentication) -> None:
        self._inner = inner
        self._clients: OrderedDict[tuple[str, str, str], Any] = OrderedDict()
        self._token_clients: dict[str, Any] = {}

    @staticmethod
    def _app_id(identity: ClaimsIdentity | None) -> str:
        claims = identity.claims if identity is not None else {}
        return str(claims.get(AuthenticationConstants.AUDIENCE_CLAIM) or claims.get(
            AuthenticationConstants.APP_ID_CLAIM) or "")

    async def authenticate_request(self, activity: Activity, auth_header: str) -> AuthenticateRequestResult:
        result = await self._inner.authenticate_request(activity, auth_header)
        if result.connector_factory is not None:
            result.connector_factory = _CachingConnectorFactory(result.connector_factory,
                                                                self._app_id(result.claims_identity), self._clients)
        return result

    async def authenticate_streaming_request(self, auth_header: str,
                                             channel_id_header: str) -> AuthenticateRequestResult:
        return await self._inner.authenticate_streaming_request(auth_header, channel_id_header)

    def create_connector_factory(self, claims_identity: ClaimsIdentity) -> ConnectorFactory:
        return _CachingConnectorFactory(self._inner.create_connector_factory(claims_identity),
                                        self._app_id(claims_identity), self._clients)

    async def create_user_token_client(self, claims_identity: ClaimsIdentity) -> Any:
        key = self._app_id(claims_identity)
        client = self._token_clients.get(key)
        if client is None:
            client = await self._inner.create_user_token_client(claims_identity)
            self._token_clients[key] = client
        return client

    def create_bot_framework_client(self) -> Any:
        return self._inner.create_bot_framework_client()

    def get_originating_audience(self) -> str:
        return str(self._inner.get_originating_audience())

    async def authenticate_channel_request(self, auth_header: str) -> ClaimsIdentity:
        return await self._inner.authenticate_channel_request(auth_header)

    async def close(self) -> None:
        for client in list(self._clients.values()):
            with contextlib.suppress(Exception):
                await client.close()
        self._clients.clear()


def allowed_tenants(settings: BotSettings) -> frozenset[str]:
    """Empty set: any tenant (dev mode without an app tenant)."""
    tenants = set(settings.allowed_tenants)
    if not tenants and settings.app_tenant_id:
        tenants.add(settings.app_tenant_id)
    return frozenset(tenants)


def tenant_of(body: Mapping[str, Any]) -> str:
    conversation = body.get("conversation") or {}
    channel_data = body.get("channelData") or {}
    tenant = (channel_data.get("tenant") or {}).get("id") if isinstance(channel_data, dict) else None
    return str(conversation.get("tenantId") or tenant or "")


class BotConnectorTransport:
    """Proactive sends through botbuilder's own ConnectorClient (token acquisition included)."""

    def __init__(self, auth: BotFrameworkAuthentication, app_id: str) -> None:
        identity = ClaimsIdentity({AuthenticationConstants.AUDIENCE_CLAIM: app_id,
                                   AuthenticationConstants.APP_ID_CLAIM: app_id}, True)
        self._factory = auth.create_connector_factory(identity)
        self._audience = auth.get_originating_audience()
        self._clients: dict[str, ConnectorClient] = {}
        self._lock = asyncio.Lock()

    async def _client(self, service_url: str) -> ConnectorClient:
        client = self._clients.get(service_url)
        if client is None:
            async with self._lock:
                client = self._clients.get(service_url)
                if client is None:
                    client = await self._factory.create(service_url, self._audience)
                    self._clients[service_url] = client
        return client

    async def send(self, reference: Mapping[str, Any], activity: Mapping[str, Any]) -> str:
        ref = ConversationReference().deserialize(dict(reference))
        outgoing = Activity().deserialize(dict(activity))
        outgoing.conversation = ref.conversation
        outgoing.from_property = ref.bot
        outgoing.recipient = ref.user
        outgoing.channel_id = ref.channel_id
        outgoing.service_url = ref.service_url
        client = await self._client(ref.service_url)
        try:
            response = await client.conversations.send_to_conversation(ref.conversation.id, outgoing)
        except HttpOperationError as exc:
            raw = exc.response
            status = int(getattr(raw, "status_code", None) or getattr(raw, "status", 0) or 0)
            headers = getattr(raw, "headers", {}) or {}
            raise DeliveryError(status, type(exc).__name__, parse_retry_after(headers.get("Retry-After"))) from None
        except (OSError, TimeoutError) as exc:
            raise DeliveryError(0, f"{type(exc).__name__}: {exc}") from None
        except Exception as exc:  # aiohttp.ClientError and msrest ClientRequestError: no HTTP answer
            if type(exc).__module__.startswith(("aiohttp", "msrest")):
                raise DeliveryError(0, f"{type(exc).__name__}: {exc}") from None
            raise
        return str(getattr(response, "id", "") or "")

    async def update(self, reference: Mapping[str, Any], activity_id: str, activity: Mapping[str, Any]) -> None:
        ref = ConversationReference().deserialize(dict(reference))
        outgoing = Activity().deserialize({**activity, "id": activity_id})
        outgoing.conversation = ref.conversation
        outgoing.from_property = ref.bot
        outgoing.recipient = ref.user
        outgoing.channel_id = ref.channel_id
        outgoing.service_url = ref.service_url
        client = await self._client(ref.service_url)
        try:
            await client.conversations.update_activity(ref.conversation.id, activity_id, outgoing)
        except HttpOperationError as exc:
            raw = exc.response
            status = int(getattr(raw, "status_code", None) or getattr(raw, "status", 0) or 0)
            raise DeliveryError(status, type(exc).__name__) from None
        except (OSError, TimeoutError) as exc:
            raise DeliveryError(0, f"{type(exc).__name__}: {exc}") from None

    async def close(self) -> None:
        for client in self._clients.values():
            try:
                await client.close()  # type: ignore[no-untyped-call]
            except Exception:  # closing is best effort at shutdown
                logger.debug("closing a connector client failed", exc_info=True)
        self._clients.clear()


class DirectConnectorTransport:
    """Proactive sends as plain aiohttp POSTs to the Bot Connector REST API (v3), for fan-out throughput.

    botbuilder's msrest ConnectorClient costs milliseconds of CPU per call (model validation, serialization, a
    requests session per signed call), which caps a sender far below Teams' per-tenant limit on two cores. The
    token still comes from botbuilder: the credentials its connector factory builds from the settings (secret,
    certificate or managed identity), refreshed in a worker thread because msal is synchronous.
    """

    TOKEN_TTL_S = 600.0  # msal caches the real token (about an hour); we ask it again every ten minutes

    def __init__(self, auth: BotFrameworkAuthentication, app_id: str, *, timeout_s: float = 30.0) -> None:
        identity = ClaimsIdentity({AuthenticationConstants.AUDIENCE_CLAIM: app_id,
                                   AuthenticationConstants.APP_ID_CLAIM: app_id}, True)
        self._factory = auth.create_connector_factory(identity)
        self._audience = auth.get_originating_audience()
        self._app_id = app_id
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._session: aiohttp.ClientSession | None = None
        self._tokens: dict[str, tuple[str, float]] = {}
        self._lock = asyncio.Lock()

    async def _token(self, service_url: str) -> str:
        if not self._app_id:
            return ""  # dev mode: the Agents Playground's connector takes no token
        cached = self._tokens.get(service_url)
        if cached is not None and time.monotonic() - cached[1] < self.TOKEN_TTL_S:
            return cached[0]
        async with self._lock:
            cached = self._tokens.get(service_url)
            if cached is not None and time.monotonic() - cached[1] < self.TOKEN_TTL_S:
                return cached[0]
            client = await self._factory.create(service_url, self._audience)
            credentials = client.config.credentials
            try:
                token = str(await asyncio.to_thread(credentials.get_access_token))
            except Exception as exc:
                raise DeliveryError(0, f"could not get a Bot Framework token: {type(exc).__name__}") from None
            finally:
                with contextlib.suppress(Exception):
                    await client.close()  # type: ignore[no-untyped-call]
            self._tokens[service_url] = (token, time.monotonic())
            return token

    async def send(self, reference: Mapping[str, Any], activity: Mapping[str, Any]) -> str:
        data = await self._call("POST", reference, "", activity)
        return str((data or {}).get("id") or "")

    async def update(self, reference: Mapping[str, Any], activity_id: str, activity: Mapping[str, Any]) -> None:
        await self._call("PUT", reference, activity_id, {**activity, "id": activity_id})

    async def _call(self, method: str, reference: Mapping[str, Any], activity_id: str,
                    activity: Mapping[str, Any]) -> Any:
        service_url = str(reference.get("serviceUrl") or "")
        conversation = dict(reference.get("conversation") or {})
        if not service_url or not conversation.get("id"):
            raise DeliveryError(404, "the stored conversation reference has no serviceUrl or conversation id")
        body = {**activity, "conversation": conversation, "from": reference.get("bot") or {},
                "recipient": reference.get("user") or {}, "channelId": reference.get("channelId") or "msteams",
                "serviceUrl": service_url}
        if reference.get("locale") and "locale" not in body:
            body["locale"] = reference["locale"]
        headers = {}
        token = await self._token(service_url)
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        url = f"{service_url.rstrip('/')}/v3/conversations/{quote(str(conversation['id']), safe='')}/activities"
        if activity_id:
            url += "/" + quote(activity_id, safe="")
        try:
            async with self._session.request(method, url, json=body, headers=headers) as response:
                if response.status == 401:
                    self._tokens.pop(service_url, None)  # a rotated secret or an expired token: fetch anew
                if response.status >= 400:
                    text = (await response.text())[:200]
                    raise DeliveryError(response.status, text or response.reason or "",
                                        parse_retry_after(response.headers.get("Retry-After")))
                return await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise DeliveryError(0, f"{type(exc).__name__}: {exc}") from None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


class MessagesEndpoint:
    """``POST /api/messages``: authenticate, allow-list, dedup, then the CloudAdapter runs the bot."""

    def __init__(self, adapter: CloudAdapter, auth: BotFrameworkAuthentication, bot: Any, settings: BotSettings,
                 dedup: InboundDedup, clock: Clock) -> None:
        self._adapter = adapter
        self._auth = auth
        self._bot = bot
        self._tenants = allowed_tenants(settings)
        self._dedup = dedup
        self._clock = clock

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if "application/json" not in request.headers.get("Content-Type", ""):
            return web.json_response({"error": "expected application/json"}, status=415)
        try:
            body = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            return web.json_response({"error": "the body is not JSON"}, status=400)
        if not isinstance(body, dict) or not body.get("type"):
            return web.json_response({"error": "not a Bot Framework activity"}, status=400)
        activity = Activity().deserialize(body)
        auth_header = request.headers.get("Authorization") or None
        try:
            auth_result = await self._auth.authenticate_request(activity, auth_header)  # type: ignore[arg-type]
        except Exception as exc:
            # Expired, wrong audience/issuer, bad signature, unknown key, serviceUrl mismatch, missing token.
            logger.warning("refused an activity: authentication failed (%s: %s)", type(exc).__name__, exc)
            return web.json_response({"error": "unauthorized"}, status=401)
        tenant = tenant_of(body)
        if self._tenants and activity.channel_id == "msteams" and tenant not in self._tenants:
            # Logged without content: only what identifies the source.
            logger.warning("refused a %s activity from tenant %r (not in the allow-list)", activity.type,
                           tenant or "<none>")
            return web.json_response({"error": "tenant not allowed"}, status=403)
        dedup_key = None
        if activity.channel_id == "email" and activity.id:
            dedup_key = (activity.channel_id, activity.id)
            if not await self._dedup.first_time(activity.channel_id, activity.id, self._clock.now()):
                logger.info("ignored a resent email activity (already handled)")
                return web.Response(status=200)
        try:
            invoke: InvokeResponse | None = await self._adapter.process_activity(
                auth_result, activity, self._bot.on_turn)
        except Exception:
            if dedup_key is not None:
                await self._dedup.forget(*dedup_key)
            raise
        if invoke is not None:
            return web.json_response(invoke.body, status=invoke.status)
        return web.Response(status=200)
