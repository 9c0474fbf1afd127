"""Outbound Bot Connector calls that cannot be starved: aiohttp, timeouts, bounded concurrency per host.

Every call the bot makes to a Bot Connector (turn replies, card updates, proactive sends, roster reads, new
conversations) goes through one :class:`ConnectorHttp`: connect and read timeouts, a semaphore per
serviceUrl host (a hung host queues only its own calls), and a :class:`ServiceUrlPolicy` checked before
anything is sent (dev mode: loopback only; otherwise https to the Bot Framework hosts in the settings). This
replaces botbuilder's msrest ConnectorClient (a pool of six threads, 100 s waits, three retries): botbuilder's
CloudAdapter gets a :class:`AsyncConnectorClient` with the same ``conversations`` methods it calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote, urlsplit

import aiohttp
from botbuilder.schema import (
    Activity,
    ConversationParameters,
    ConversationReference,
    ConversationResourceResponse,
    ResourceResponse,
)
from botbuilder.schema.teams import TeamsChannelAccount
from botframework.connector.auth import ConnectorFactory

from lrs_bridge.retry import parse_retry_after
from teams_app.adapters.bot.delivery.retry import DeliveryError
from teams_app.adapters.bot.hosting.auth import BotTokenProvider, TokenError
from teams_app.config import BotSettings

logger = logging.getLogger(__name__)


def is_loopback_host(host: str) -> bool:
    host = host.strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class ServiceUrlPolicy:
    """Which serviceUrls the bot may store and post to."""

    def __init__(self, *, dev_mode: bool, hosts: Sequence[str]) -> None:
        self.dev_mode = dev_mode
        self._exact = frozenset(h.lower() for h in hosts if not h.startswith("*."))
        self._suffixes = tuple(h[1:].lower() for h in hosts if h.startswith("*."))

    @classmethod
    def from_settings(cls, settings: BotSettings) -> ServiceUrlPolicy:
        return cls(dev_mode=settings.dev_mode or not settings.app_id, hosts=settings.service_url_hosts)

    def problem(self, url: str) -> str | None:
        """Why ``url`` is refused, or None."""
        try:
            parts = urlsplit(url)
            host = (parts.hostname or "").lower()
            _ = parts.port  # raises ValueError for a port out of range
        except ValueError:
            return "serviceUrl is not a URL"
        if parts.scheme not in ("http", "https") or not host or parts.username or parts.password:
            return "serviceUrl must be an http(s) URL with a host"
        loopback = is_loopback_host(host)
        if self.dev_mode:
            return None if loopback else "dev mode posts only to loopback serviceUrls"
        listed = host in self._exact or host.endswith(self._suffixes)
        if not listed:
            return f"serviceUrl host {host[:60]!r} is not an allowed Bot Framework host"
        if parts.scheme != "https" and not loopback:
            return "serviceUrl must use https"
        return None


class ServiceUrlRefused(DeliveryError):
    """The policy forbids posting to this serviceUrl (treated like 403: the person is not reachable there)."""

    def __init__(self, reason: str) -> None:
        super().__init__(403, reason)


class ConnectorHttp:
    """The one HTTP client for Bot Connector calls (token, policy, timeouts, per-host concurrency)."""

    def __init__(self, tokens: BotTokenProvider, policy: ServiceUrlPolicy, *, connect_timeout_s: float = 5.0,
                 read_timeout_s: float = 20.0, per_host: int = 64) -> None:
        self.tokens = tokens
        self.policy = policy
        self._timeout = aiohttp.ClientTimeout(total=None, sock_connect=connect_timeout_s, sock_read=read_timeout_s)
        self._deadline_s = connect_timeout_s + read_timeout_s  # a call, queueing included, ends by then
        self._per_host = per_host
        self._hosts: dict[str, asyncio.Semaphore] = {}
        self._session: aiohttp.ClientSession | None = None

    @classmethod
    def from_settings(cls, settings: BotSettings, tokens: BotTokenProvider) -> ConnectorHttp:
        return cls(tokens, ServiceUrlPolicy.from_settings(settings),
                   connect_timeout_s=settings.connector_connect_timeout_s,
                   read_timeout_s=settings.connector_read_timeout_s, per_host=settings.connector_per_host)

    def _session_for_loop(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            # limit=0: the per-host semaphores bound concurrency, so one host cannot use up a shared pool
            self._session = aiohttp.ClientSession(timeout=self._timeout,
                                                  connector=aiohttp.TCPConnector(limit=0, limit_per_host=0))
        return self._session

    async def call(self, method: str, service_url: str, path: str, body: Any = None) -> Any:
        """One Bot Connector REST call; the JSON answer, or DeliveryError (status 0 when there was no answer)."""
        problem = self.policy.problem(service_url)
        if problem is not None:
            raise ServiceUrlRefused(problem)
        host = (urlsplit(service_url).hostname or "").lower() + f":{urlsplit(service_url).port or ''}"
        semaphore = self._hosts.get(host)
        if semaphore is None:
            semaphore = self._hosts[host] = asyncio.Semaphore(self._per_host)
        url = service_url.rstrip("/") + path
        try:
            async with asyncio.timeout(self._deadline_s):
                try:
                    token = await self.tokens.get_token()
                except TokenError as exc:
                    raise DeliveryError(0, str(exc)) from None
                headers = {"Authorization": f"Bearer {token}"} if token else {}
                async with semaphore, self._session_for_loop().request(method, url, json=body,
                                                                       headers=headers) as response:
                    if response.status == 401:
                        invalidate = getattr(self.tokens, "invalidate", None)
                        if invalidate is not None:
                            invalidate()  # a rotated secret or an expired token: fetch anew next time
                    if response.status >= 400:
                        text = (await response.text())[:200]
                        raise DeliveryError(response.status, text or response.reason or "",
                                            parse_retry_after(response.headers.get("Retry-After")))
                    if response.status == 204 or response.content_length == 0:
                        return None
                    return await response.json(content_type=None)
        except TimeoutError:
            raise DeliveryError(0, f"the Bot Connector at {urlsplit(service_url).hostname} did not answer in time") \
                from None
        except (aiohttp.ClientError, ValueError) as exc:
            raise DeliveryError(0, f"{type(exc).__name__}: {exc}") from None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def _conversation_path(conversation_id: str, *rest: str) -> str:
    return "/v3/conversations/" + "/".join(quote(str(p), safe="") for p in (conversation_id, *rest))


def _body(activity: Any) -> Any:
    return activity.serialize() if hasattr(activity, "serialize") else activity


class AsyncConversations:
    """The ``conversations`` operations botbuilder's CloudAdapter and TeamsInfo call, over ConnectorHttp."""

    def __init__(self, http: ConnectorHttp, service_url: str) -> None:
        self._http = http
        self._url = service_url

    async def send_to_conversation(self, conversation_id: str, activity: Activity) -> ResourceResponse:
        data = await self._http.call("POST", self._url, _conversation_path(conversation_id, "activities"),
                                     _body(activity))
        return ResourceResponse(id=str((data or {}).get("id") or ""))

    async def reply_to_activity(self, conversation_id: str, activity_id: str, activity: Activity) -> ResourceResponse:
        data = await self._http.call("POST", self._url, _conversation_path(conversation_id, "activities",
                                                                           activity_id), _body(activity))
        return ResourceResponse(id=str((data or {}).get("id") or ""))

    async def update_activity(self, conversation_id: str, activity_id: str, activity: Activity) -> ResourceResponse:
        data = await self._http.call("PUT", self._url, _conversation_path(conversation_id, "activities",
                                                                          activity_id), _body(activity))
        return ResourceResponse(id=str((data or {}).get("id") or activity_id))

    async def delete_activity(self, conversation_id: str, activity_id: str) -> None:
        await self._http.call("DELETE", self._url, _conversation_path(conversation_id, "activities", activity_id))

    async def get_conversation_member(self, conversation_id: str, member_id: str) -> TeamsChannelAccount:
        data = await self._http.call("GET", self._url, _conversation_path(conversation_id, "members", member_id))
        member = TeamsChannelAccount().deserialize(data if isinstance(data, dict) else {})
        if getattr(member, "additional_properties", None) is None:
            member.additional_properties = {}  # TeamsInfo merges these into its result
        return member

    async def get_conversation_members(self, conversation_id: str) -> list[TeamsChannelAccount]:
        data = await self._http.call("GET", self._url, _conversation_path(conversation_id, "members"))
        return [TeamsChannelAccount().deserialize(m) for m in (data or []) if isinstance(m, dict)]

    async def create_conversation(self, parameters: ConversationParameters) -> ConversationResourceResponse:
        data = await self._http.call("POST", self._url, "/v3/conversations", _body(parameters))
        return ConversationResourceResponse().deserialize(data if isinstance(data, dict) else {})


class AsyncConnectorClient:
    """Stands where botbuilder expects its msrest ConnectorClient (``client.conversations``)."""

    def __init__(self, http: ConnectorHttp, service_url: str) -> None:
        self.conversations = AsyncConversations(http, service_url)

    async def close(self) -> None:
        """The HTTP session is shared and closed with the application."""


class AsyncConnectorFactory(ConnectorFactory):  # type: ignore[misc]
    def __init__(self, http: ConnectorHttp) -> None:
        self._http = http

    async def create(self, service_url: str, audience: str) -> AsyncConnectorClient:
        return AsyncConnectorClient(self._http, service_url)


def _outgoing(reference: Mapping[str, Any], activity: Mapping[str, Any]) -> tuple[str, str, dict[str, Any]]:
    service_url = str(reference.get("serviceUrl") or "")
    conversation = reference.get("conversation")
    conversation = dict(conversation) if isinstance(conversation, Mapping) else {}
    if not service_url or not conversation.get("id"):
        raise DeliveryError(404, "the stored conversation reference has no serviceUrl or conversation id")
    body = {**activity, "conversation": conversation, "from": reference.get("bot") or {},
            "recipient": reference.get("user") or {}, "channelId": reference.get("channelId") or "msteams",
            "serviceUrl": service_url}
    if reference.get("locale") and "locale" not in body:
        body["locale"] = reference["locale"]
    return service_url, str(conversation["id"]), body


class DirectConnectorTransport:
    """The sender's Transport: proactive sends and card updates as plain Bot Connector REST calls."""

    def __init__(self, auth: Any, app_id: str = "", *, http: ConnectorHttp | None = None) -> None:
        self._http = http or auth.connector_http
        self._app_id = app_id

    async def send(self, reference: Mapping[str, Any], activity: Mapping[str, Any]) -> str:
        service_url, conversation_id, body = _outgoing(reference, activity)
        data = await self._http.call("POST", service_url, _conversation_path(conversation_id, "activities"), body)
        return str((data or {}).get("id") or "") if isinstance(data, dict) else ""

    async def update(self, reference: Mapping[str, Any], activity_id: str, activity: Mapping[str, Any]) -> None:
        service_url, conversation_id, body = _outgoing(reference, {**activity, "id": activity_id})
        await self._http.call("PUT", service_url, _conversation_path(conversation_id, "activities", activity_id),
                              body)

    async def close(self) -> None:
        """Close the (shared) HTTP client; it reopens if the bot sends again, and closing twice is harmless."""
        await self._http.close()


class BotConnectorTransport(DirectConnectorTransport):
    """Proactive sends through botbuilder's activity model (validated by ``ConversationReference``)."""

    async def send(self, reference: Mapping[str, Any], activity: Mapping[str, Any]) -> str:
        ref = ConversationReference().deserialize(dict(reference))
        client = AsyncConnectorClient(self._http, ref.service_url)
        outgoing = Activity().deserialize(dict(activity))
        outgoing.conversation, outgoing.from_property, outgoing.recipient = ref.conversation, ref.bot, ref.user
        outgoing.channel_id, outgoing.service_url = ref.channel_id, ref.service_url
        response = await client.conversations.send_to_conversation(ref.conversation.id, outgoing)
        return str(response.id or "")


async def close_quietly(*closables: Any) -> None:
    for closable in closables:
        with contextlib.suppress(Exception):
            await closable.close()
