"""``POST /api/messages``: authenticate, parse, check, allow-list, dedup, then botbuilder runs the bot.

Order matters: the token is validated before the body is even read as JSON (anything that is not a valid
Bot Framework token for this app is a 401); then the body must be a well-formed activity (400 with a short
reason otherwise, logged on one line, never a traceback); then the checks that need the activity (the
token's key endorsement and serviceurl claim, the serviceUrl policy, the tenant allow-list); only then is it
turned into a botbuilder ``Activity``.
"""

from __future__ import annotations

import ipaddress
import json
import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from aiohttp import web
from botbuilder.core import InvokeResponse
from botbuilder.integration.aiohttp import CloudAdapter
from botbuilder.schema import Activity

from teams_app.adapters.bot.hosting.auth import BotConfigurationError, KeysUnavailable, Unauthorized
from teams_app.adapters.bot.hosting.framework import PeerCoachAuthentication
from teams_app.adapters.bot.hosting.transport import ServiceUrlPolicy, is_loopback_host
from teams_app.adapters.bot.store import InboundDedup
from teams_app.config import BotSettings
from teams_app.service.ports import Clock

logger = logging.getLogger(__name__)

CARD_ACTION = "adaptiveCard/action"
SUPPORTED_INVOKES = frozenset({CARD_ACTION})  # botbuilder answers others 501, or fails on their values
CHANNEL_DATA_OBJECTS = ("tenant", "team", "channel", "meeting", "settings", "notification", "onBehalfOf")
MAX_ID = 1024


class BadActivity(ValueError):
    """The body is not a well-formed activity; the message is the short reason given to the caller."""


def normalise_tenant(value: Any) -> str:
    return value.strip().lower() if isinstance(value, str) else ""


def allowed_tenants(settings: BotSettings) -> frozenset[str]:
    """Empty set: any tenant (dev mode without an app tenant)."""
    tenants = {normalise_tenant(t) for t in settings.allowed_tenants} - {""}
    if not tenants and settings.app_tenant_id:
        tenants.add(normalise_tenant(settings.app_tenant_id))
    return frozenset(tenants)


def tenant_of(body: Mapping[str, Any]) -> str:
    """The activity's tenant, normalised; BadActivity when conversation.tenantId and channelData.tenant differ."""
    conversation = body.get("conversation")
    channel_data = body.get("channelData")
    from_conversation = normalise_tenant(conversation.get("tenantId")) if isinstance(conversation, dict) else ""
    tenant = channel_data.get("tenant") if isinstance(channel_data, dict) else None
    from_channel = normalise_tenant(tenant.get("id")) if isinstance(tenant, dict) else ""
    if from_conversation and from_channel and from_conversation != from_channel:
        raise BadActivity("conversation.tenantId and channelData.tenant disagree")
    return from_conversation or from_channel


def check_listen_host(settings: BotSettings, host: str) -> None:
    """Dev mode (no authentication) listens only on loopback; call before binding the web app."""
    if not (settings.dev_mode or not settings.app_id):
        return
    try:
        loopback = is_loopback_host(host) or ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise BotConfigurationError(f"dev mode accepts unauthenticated activities, so it listens only on loopback "
                                    f"(127.0.0.1 or ::1), not on {host!r}; set PEERCOACH_BOT__APP_ID for production")


def _string(body: Mapping[str, Any], key: str, *, required: bool = False) -> None:
    value = body.get(key)
    if value is None:
        if required:
            raise BadActivity(f"{key} is missing")
        return
    if not isinstance(value, str) or (required and not value):
        raise BadActivity(f"{key} must be a non-empty string" if required else f"{key} must be a string")


def _account(body: Mapping[str, Any], key: str) -> None:
    value = body.get(key)
    if value is None:
        return
    if not isinstance(value, dict):
        raise BadActivity(f"{key} must be an object")
    for field in ("id", "name", "aadObjectId", "role", "tenantId", "conversationType"):
        if field in value and value[field] is not None and not isinstance(value[field], str):
            raise BadActivity(f"{key}.{field} must be a string")
    if "isGroup" in value and value["isGroup"] is not None and not isinstance(value["isGroup"], bool):
        raise BadActivity(f"{key}.isGroup must be true or false")
    if len(str(value.get("id") or "")) > MAX_ID:
        raise BadActivity(f"{key}.id is too long")


def _objects(body: Mapping[str, Any], key: str) -> None:
    value = body.get(key)
    if value is not None and (not isinstance(value, list) or not all(isinstance(v, dict) for v in value)):
        raise BadActivity(f"{key} must be a list of objects")


def _timestamp(body: Mapping[str, Any], key: str) -> None:
    value = body.get(key)
    if value is None:
        return
    if not isinstance(value, str):
        raise BadActivity(f"{key} must be an ISO 8601 string")
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise BadActivity(f"{key} is not an ISO 8601 date and time") from None


def check_activity(body: Any) -> dict[str, Any]:
    """The body as an activity dict, or BadActivity naming the first problem."""
    if not isinstance(body, dict):
        raise BadActivity("the body must be a JSON object (an activity)")
    _string(body, "type", required=True)
    _string(body, "serviceUrl", required=True)
    for key in ("id", "channelId", "text", "textFormat", "locale", "name", "replyToId", "summary", "action",
                "inputHint", "deliveryMode", "importance", "localTimezone", "callerId", "label", "valueType",
                "topicName", "speak", "attachmentLayout", "code"):
        _string(body, key)
    if len(str(body.get("id") or "")) > MAX_ID:
        raise BadActivity("id is too long")
    for key in ("from", "recipient", "conversation"):
        _account(body, key)
    conversation = body.get("conversation")
    if not isinstance(conversation, dict) or not isinstance(conversation.get("id"), str) or not conversation["id"]:
        raise BadActivity("conversation.id is missing")
    for key in ("entities", "attachments", "membersAdded", "membersRemoved", "reactionsAdded", "reactionsRemoved"):
        _objects(body, key)
    for key in ("timestamp", "localTimestamp", "expiration"):
        _timestamp(body, key)
    channel_data = body.get("channelData")
    if channel_data is not None:
        if not isinstance(channel_data, dict):
            raise BadActivity("channelData must be an object")
        for key in CHANNEL_DATA_OBJECTS:
            if channel_data.get(key) is not None and not isinstance(channel_data[key], dict | list if
                                                                       key == "onBehalfOf" else dict):
                raise BadActivity(f"channelData.{key} must be an object")
        if channel_data.get("eventType") is not None and not isinstance(channel_data["eventType"], str):
            raise BadActivity("channelData.eventType must be a string")
    if body.get("relatesTo") is not None and not isinstance(body["relatesTo"], dict):
        raise BadActivity("relatesTo must be an object")
    if body.get("suggestedActions") is not None and not isinstance(body["suggestedActions"], dict):
        raise BadActivity("suggestedActions must be an object")
    if body["type"] == "invoke" and body.get("name") not in SUPPORTED_INVOKES:
        raise BadActivity(f"unsupported invoke {str(body.get('name') or '')[:60]!r}")
    if body["type"] == "invoke" and body.get("name") == CARD_ACTION:
        value = body.get("value")
        action = value.get("action") if isinstance(value, dict) else None
        if not isinstance(action, dict):
            raise BadActivity("a card action needs value.action as an object")
        if not isinstance(action.get("verb"), str) or not action["verb"]:
            raise BadActivity("a card action needs value.action.verb as a non-empty string")
        if action.get("data") is not None and not isinstance(action["data"], dict):
            raise BadActivity("value.action.data must be an object")
    return body


def _parse_json(raw: bytes) -> Any:
    try:
        return json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise BadActivity("the body is not UTF-8") from None
    except RecursionError:
        raise BadActivity("the body is nested too deeply") from None
    except ValueError:
        raise BadActivity("the body is not JSON") from None


def _invoke_body(body: Any) -> Any:
    if hasattr(body, "serialize"):
        return body.serialize()
    return body


class MessagesEndpoint:
    """``POST /api/messages``: authenticate, check, allow-list, dedup, then the CloudAdapter runs the bot."""

    def __init__(self, adapter: CloudAdapter, auth: PeerCoachAuthentication, bot: Any, settings: BotSettings,
                 dedup: InboundDedup, clock: Clock) -> None:
        self._adapter = adapter
        self._auth = auth
        self._bot = bot
        self._tenants = allowed_tenants(settings)
        self._email_domains = frozenset(d.strip().lower().lstrip("@") for d in settings.allowed_email_domains)
        self._policy = ServiceUrlPolicy.from_settings(settings)
        self._dedup = dedup
        self._clock = clock

    @staticmethod
    def _refuse(status: int, reason: str, what: str = "refused an activity") -> web.Response:
        logger.warning("%s: HTTP %s, %s", what, status, reason)
        return web.json_response({"error": reason}, status=status)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if request.content_type.lower() != "application/json" or \
                (request.charset or "utf-8").lower() not in ("utf-8", "utf8"):
            return self._refuse(415, "expected application/json (UTF-8)")
        try:
            token = await self._auth.verify(request.headers.get("Authorization"))
        except KeysUnavailable as exc:
            return self._refuse(401, "unauthorized", f"refused an activity: authentication failed ({exc})")
        except Unauthorized as exc:
            return self._refuse(401, "unauthorized", f"refused an activity: authentication failed ({exc})")
        try:
            body = check_activity(_parse_json(await request.read()))
            tenant = tenant_of(body)
        except BadActivity as exc:
            return self._refuse(400, str(exc))
        except web.HTTPRequestEntityTooLarge:
            return self._refuse(413, "the body is too large")
        channel_id = str(body.get("channelId") or "")
        service_url = str(body["serviceUrl"])
        if token is not None:
            try:
                token.check_activity(channel_id, service_url)
            except Unauthorized as exc:
                return self._refuse(401, "unauthorized", f"refused an activity: authentication failed ({exc})")
        problem = self._policy.problem(service_url)
        if problem is not None:
            return self._refuse(400, problem)
        refusal = self._tenant_refusal(channel_id, tenant, body)
        if refusal is not None:
            # Logged without content: only what identifies the source.
            return self._refuse(403, "tenant not allowed", f"refused a {str(body['type'])[:40]} activity ({refusal})")
        try:
            activity = Activity().deserialize(body)
        except Exception as exc:  # msrest's own type checks, beyond ours
            return self._refuse(400, f"not a well-formed activity ({type(exc).__name__})")
        dedup_key = None
        if channel_id == "email" and activity.id:
            dedup_key = (channel_id, activity.id)
            if not await self._dedup.first_time(channel_id, activity.id, self._clock.now()):
                logger.info("ignored a resent email activity (already handled)")
                return web.Response(status=200)
        try:
            invoke: InvokeResponse | None = await self._adapter.process_activity(
                self._auth.result(token), activity, self._bot.on_turn)
        except Exception:
            if dedup_key is not None:
                await self._dedup.forget(*dedup_key)
            raise
        if invoke is None:
            return web.Response(status=200)
        if invoke.status >= 500:  # botbuilder's 501 for an invoke this bot does not implement
            return self._refuse(400, f"unsupported invoke {str(activity.name or '')[:60]!r}")
        try:
            return web.json_response(_invoke_body(invoke.body), status=invoke.status)
        except (TypeError, ValueError):
            return self._refuse(400, "the invoke could not be answered")

    def _tenant_refusal(self, channel_id: str, tenant: str, body: Mapping[str, Any]) -> str | None:
        """Why the allow-list refuses this activity, or None. Applies to every channel."""
        if not self._tenants:
            return None
        if channel_id.lower() == "email" and not tenant:
            # The email channel carries no tenant: the sender's domain decides (allowed_email_domains).
            sender = body.get("from")
            address = str(sender.get("id") or "") if isinstance(sender, dict) else ""
            domain = address.rpartition("@")[2].strip().lower()
            if domain and domain in self._email_domains:
                return None
            return f"email sender domain {domain[:60] or '<none>'!r} not allowed"
        if tenant not in self._tenants:
            return f"tenant {tenant[:60] or '<none>'!r} not in the allow-list"
        return None
