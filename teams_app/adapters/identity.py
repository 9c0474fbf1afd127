"""Tokens from a user-assigned managed identity, for the bot's outbound calls (and PostgreSQL sign-in).

Two protocols, the same answer (``access_token`` plus ``expires_on`` and/or ``expires_in``):

- App Service / Container Apps: ``GET $IDENTITY_ENDPOINT?api-version=2019-08-01&resource=...&client_id=...``
  with the ``X-IDENTITY-HEADER: $IDENTITY_HEADER`` secret the platform puts in the environment.
- Azure Instance Metadata Service (VMs, AKS): ``GET http://169.254.169.254/metadata/identity/oauth2/token
  ?api-version=2018-02-01&resource=...&client_id=...`` with ``Metadata: true``.

:class:`ManagedIdentityTokenProvider` picks the first when the platform's variables are present (or an
endpoint plus header is configured), else IMDS; the endpoint URL is configurable so tests (and unusual hosts)
point it at their own server. Tokens are cached until shortly before they expire; one refresh at a time.
Its ``async def get_token(self) -> str`` is the bot's token-provider protocol (``BotTokenProvider``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections.abc import Mapping
from typing import Any

import aiohttp

from lrs_bridge.retry import Backoff, parse_retry_after
from teams_app.config import BotCredential, BotSettings

logger = logging.getLogger(__name__)

BOT_FRAMEWORK_SCOPE = "https://api.botframework.com/.default"
IMDS_ENDPOINT = "http://169.254.169.254/metadata/identity/oauth2/token"
APP_SERVICE_API_VERSION = "2019-08-01"
IMDS_API_VERSION = "2018-02-01"


class ManagedIdentityError(Exception):
    """No token: the endpoint refused or could not be reached. The message never contains a token."""


def resource_of(scope: str) -> str:
    """The v1 ``resource`` the identity endpoints take for a v2 ``.default`` scope."""
    return scope.removesuffix("/.default")


class ManagedIdentityTokenProvider:
    """Access tokens of one user-assigned managed identity for one scope, cached until near expiry."""

    def __init__(self, client_id: str, scope: str = BOT_FRAMEWORK_SCOPE, *, endpoint: str = "",
                 identity_header: str | None = None, timeout_s: float = 10.0, refresh_margin_s: float = 300.0,
                 max_attempts: int = 3, backoff: Backoff = Backoff(base_s=0.5, cap_s=5.0, retry_after_cap_s=10.0),
                 environ: Mapping[str, str] | None = None) -> None:
        if not client_id:
            raise ValueError("a user-assigned managed identity needs its client id")
        env = os.environ if environ is None else environ
        header = identity_header if identity_header is not None else env.get("IDENTITY_HEADER", "")
        platform_endpoint = env.get("IDENTITY_ENDPOINT", "")
        self.client_id = client_id
        self.scope = scope
        # App Service protocol when the platform (or the caller) supplies its secret header; IMDS otherwise.
        self.app_service = bool(header and (endpoint or platform_endpoint))
        self.endpoint = endpoint or (platform_endpoint if self.app_service else IMDS_ENDPOINT)
        self._header = header
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._margin = refresh_margin_s
        self._attempts = max(1, max_attempts)
        self._backoff = backoff
        self._token = ""
        self._expires_at = 0.0  # epoch seconds
        self._lock = asyncio.Lock()
        self._session: aiohttp.ClientSession | None = None
        self.fetches = 0  # tokens fetched from the endpoint (not cache hits)

    @property
    def expires_at(self) -> float:
        return self._expires_at

    async def get_token(self) -> str:
        """A valid access token; fetched anew only when the cached one is within the margin of expiry."""
        if self._token and time.time() < self._expires_at - self._margin:
            return self._token
        async with self._lock:
            if self._token and time.time() < self._expires_at - self._margin:
                return self._token
            self._token, self._expires_at = await self._fetch()
            self.fetches += 1
            return self._token

    def invalidate(self) -> None:
        """Forget the cached token (after a 401 from the service it was meant for)."""
        self._token, self._expires_at = "", 0.0

    def _request(self) -> tuple[dict[str, str], dict[str, str]]:
        params = {"resource": resource_of(self.scope), "client_id": self.client_id}
        if self.app_service:
            return {**params, "api-version": APP_SERVICE_API_VERSION}, {"X-IDENTITY-HEADER": self._header}
        return {**params, "api-version": IMDS_API_VERSION}, {"Metadata": "true"}

    async def _fetch(self) -> tuple[str, float]:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        params, headers = self._request()
        problem = ""
        for attempt in range(1, self._attempts + 1):
            retry_after: float | None = None
            try:
                async with self._session.get(self.endpoint, params=params, headers=headers) as response:
                    body = await response.text()
                    status = response.status
                    retry_after = parse_retry_after(response.headers.get("Retry-After"))
                try:
                    payload: Any = json.loads(body)
                except ValueError:
                    payload = None  # a proxy's HTML error page: the status says what happened
            except (aiohttp.ClientError, TimeoutError) as exc:
                status, payload = 0, None
                problem = f"managed identity endpoint {self.endpoint} unreachable: {type(exc).__name__}"
            if status == 200 and isinstance(payload, dict) and payload.get("access_token"):
                return str(payload["access_token"]), self._expiry(payload)
            if status:
                detail = ""
                if isinstance(payload, dict):
                    detail = str(payload.get("error_description") or payload.get("error") or
                                 payload.get("message") or "")[:200]
                problem = f"managed identity endpoint answered {status}: {detail or 'no token'}"
                # 4xx other than throttling: a wrong client id or missing assignment; retrying cannot help.
                if status < 500 and status != 429:
                    break
            if attempt < self._attempts:
                await asyncio.sleep(self._backoff.delay(attempt, retry_after))
        logger.warning("no managed identity token for %s: %s", resource_of(self.scope), problem)
        raise ManagedIdentityError(problem)

    @staticmethod
    def _expiry(payload: Mapping[str, Any]) -> float:
        now = time.time()
        try:
            if payload.get("expires_on") not in (None, ""):
                value = float(payload["expires_on"])
                if value > now - 86400 * 365:  # an epoch time (both protocols send one)
                    return value
            if payload.get("expires_in") not in (None, ""):
                return now + float(payload["expires_in"])
        except (TypeError, ValueError):
            pass
        return now + 300.0  # unknown lifetime: ask again in five minutes

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def bot_token_provider(settings: BotSettings) -> ManagedIdentityTokenProvider | None:
    """The managed identity provider for the bot's outbound calls when the settings ask for one.

    The bot's app id *is* the managed identity's client id for a UserAssignedMSI registration.
    """
    if settings.credential_kind is not BotCredential.MANAGED_IDENTITY or not settings.app_id:
        return None
    return ManagedIdentityTokenProvider(settings.app_id, BOT_FRAMEWORK_SCOPE, endpoint=settings.identity_endpoint)
