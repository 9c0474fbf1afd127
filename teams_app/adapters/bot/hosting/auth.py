"""Bot Framework authentication that cannot block: inbound JWT validation and the outbound token.

Inbound: the Bot Connector signs a JWT per request. We validate it with PyJWT against signing keys from the
OpenID metadata (channel tokens; Emulator / Agents Playground tokens from their own metadata). The keys are
fetched with aiohttp under connect and read timeouts, one fetch in flight at a time, kept for their HTTP
``Cache-Control: max-age`` (else ``metadata_refresh_s``), refreshed in the background while the old ones keep
serving, and a failed fetch is remembered with back-off so a flood of forged tokens costs one fetch, not one
each. Checks: algorithm, issuer, audience = app id, exp/nbf with a configurable leeway, signature, the key's
channel endorsements, and the ``serviceurl`` claim against the activity.

Outbound: a :class:`BotTokenProvider` gives the bearer token for Bot Connector calls. Client secret via the
OAuth2 client-credentials endpoint (cached until shortly before it expires); a botbuilder credentials factory
(certificate, managed identity, tests) through a worker thread since msal is synchronous; dev mode: none.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import aiohttp
import jwt
from botframework.connector.auth import (
    CertificateServiceClientCredentialsFactory,
    ManagedIdentityServiceClientCredentialsFactory,
    ServiceClientCredentialsFactory,
)
from jwt.algorithms import RSAAlgorithm

from lrs_bridge.retry import Backoff
from teams_app.config import AppType, BotSettings

logger = logging.getLogger(__name__)

ALGORITHMS = ("RS256", "RS384", "RS512")
EMULATOR_TENANT = "d6d49420-f39b-4df7-a1dc-d59a935871db"  # the Bot Framework's own tenant (Emulator tokens)
MIN_REFETCH_S = 300.0  # an unknown key id triggers a refresh at most this often (key rollover)
MAX_CACHE_S = 5 * 86400.0


class BotConfigurationError(Exception):
    """The bot's credentials settings are incomplete; the message names what to set."""


class Unauthorized(Exception):
    """Not a valid Bot Framework token for this app; the message is a short reason (logged, never returned)."""


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


# -- outbound tokens --------------------------------------------------------------------------------------
@runtime_checkable
class BotTokenProvider(Protocol):
    """The bearer token the bot presents to the Bot Connector (an empty string: send none, dev mode)."""

    async def get_token(self) -> str: ...


class NoTokenProvider:
    """Dev mode: the Agents Playground's connector takes no token."""

    async def get_token(self) -> str:
        return ""


def default_token_url(settings: BotSettings) -> str:
    tenant = settings.app_tenant_id if settings.app_type is not AppType.MULTI_TENANT and settings.app_tenant_id \
        else "botframework.com"
    return settings.token_url or f"https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token"


class ClientSecretTokenProvider:
    """OAuth2 client credentials (app id + secret) against a configurable token endpoint, cached until expiry."""

    REFRESH_EARLY_S = 300.0

    def __init__(self, token_url: str, client_id: str, client_secret: str, scope: str, *,
                 timeout_s: float = 10.0) -> None:
        self._url = token_url
        self._form = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": client_secret,
                      "scope": scope}
        self._timeout = aiohttp.ClientTimeout(total=timeout_s, sock_connect=min(timeout_s, 5.0))
        self._token = ""
        self._expires_at = 0.0
        self._lock = asyncio.Lock()

    async def get_token(self) -> str:
        if self._token and time.monotonic() < self._expires_at:
            return self._token
        async with self._lock:  # one request in flight; the others reuse its answer
            if self._token and time.monotonic() < self._expires_at:
                return self._token
            try:
                async with aiohttp.ClientSession(timeout=self._timeout) as session, \
                        session.post(self._url, data=self._form) as response:
                    data = await response.json(content_type=None)
                    if response.status != 200 or not isinstance(data, dict) or "access_token" not in data:
                        error = data.get("error") if isinstance(data, dict) else None
                        raise TokenError(f"the token endpoint answered HTTP {response.status} ({error or 'no token'})")
            except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
                raise TokenError(f"the token endpoint failed: {type(exc).__name__}") from None
            lifetime = float(data.get("expires_in") or 3600)
            self._token = str(data["access_token"])
            self._expires_at = time.monotonic() + max(30.0, lifetime - self.REFRESH_EARLY_S)
            return self._token

    def invalidate(self) -> None:
        """A connector said 401: the secret rotated or the token was revoked; fetch a new one next time."""
        self._token, self._expires_at = "", 0.0


class CredentialsFactoryTokenProvider:
    """A botbuilder ServiceClientCredentialsFactory (certificate, managed identity, a test factory) as a provider.

    msal is synchronous: tokens are taken in a worker thread and cached here for ``ttl_s`` (msal itself caches
    the real token for about an hour).
    """

    def __init__(self, factory: ServiceClientCredentialsFactory, app_id: str, scope: str, login_endpoint: str, *,
                 ttl_s: float = 600.0, timeout_s: float = 10.0) -> None:
        self._factory = factory
        self._args = (app_id, scope.removesuffix("/.default"), login_endpoint, True)
        self._ttl = ttl_s
        self._timeout = timeout_s
        self._token = ""
        self._at = -math.inf
        self._lock = asyncio.Lock()

    async def get_token(self) -> str:
        if self._token and time.monotonic() - self._at < self._ttl:
            return self._token
        async with self._lock:
            if self._token and time.monotonic() - self._at < self._ttl:
                return self._token
            try:
                credentials = await self._factory.create_credentials(*self._args)
                token = await asyncio.wait_for(asyncio.to_thread(credentials.get_access_token), self._timeout)
            except Exception as exc:  # msal raises its own types; none of them may reach a turn as a traceback
                raise TokenError(f"could not get a Bot Framework token: {type(exc).__name__}") from None
            self._token, self._at = str(token or ""), time.monotonic()
            return self._token

    def invalidate(self) -> None:
        self._token, self._at = "", -math.inf


class TokenError(Exception):
    """No outbound token could be obtained (the send is retried later)."""


def token_provider(settings: BotSettings, credentials: Any = None) -> BotTokenProvider:
    """The outbound token provider for the settings; ``credentials`` (a provider or a botbuilder factory) wins."""
    if isinstance(credentials, BotTokenProvider):
        return credentials
    login = f"https://login.microsoftonline.com/{settings.app_tenant_id or 'botframework.com'}"
    if credentials is not None:
        return CredentialsFactoryTokenProvider(credentials, settings.app_id, settings.oauth_scope, login,
                                               timeout_s=settings.token_timeout_s)
    if not settings.app_id:
        return NoTokenProvider()
    if settings.app_certificate_path is not None:
        pem = settings.app_certificate_path.read_text(encoding="utf-8")
        factory = CertificateServiceClientCredentialsFactory(
            settings.app_certificate_thumbprint, pem, settings.app_id, settings.app_tenant_id or None)
        return CredentialsFactoryTokenProvider(factory, settings.app_id, settings.oauth_scope, login,
                                               timeout_s=settings.token_timeout_s)
    if settings.app_type is AppType.USER_ASSIGNED_MSI:
        factory = ManagedIdentityServiceClientCredentialsFactory(settings.app_id)
        return CredentialsFactoryTokenProvider(factory, settings.app_id, settings.oauth_scope, login,
                                               timeout_s=settings.token_timeout_s)
    return ClientSecretTokenProvider(default_token_url(settings), settings.app_id,
                                     settings.app_password.get_secret_value(), settings.oauth_scope,
                                     timeout_s=settings.token_timeout_s)


# -- inbound tokens ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SigningKey:
    key: Any
    endorsements: frozenset[str] | None  # None: the key carries no endorsements (Emulator keys)


class KeysUnavailable(Unauthorized):
    """The signing keys could not be fetched (the failure is cached with back-off)."""


def _max_age(cache_control: str | None) -> float | None:
    match = re.search(r"max-age=(\d+)", cache_control or "")
    return float(match.group(1)) if match else None


class OpenIdKeys:
    """Signing keys from one OpenID metadata URL: async, cached, one fetch in flight, failures backed off."""

    def __init__(self, metadata_url: str, *, connect_timeout_s: float, read_timeout_s: float, refresh_s: float,
                 session: SessionHolder, rng: random.Random | None = None) -> None:
        self.metadata_url = metadata_url
        self._timeout = aiohttp.ClientTimeout(total=connect_timeout_s + read_timeout_s,
                                              sock_connect=connect_timeout_s, sock_read=read_timeout_s)
        self._wait_s = connect_timeout_s + read_timeout_s  # the longest a request waits for a fetch
        self._refresh_s = refresh_s
        self._session = session
        self._keys: dict[str, SigningKey] = {}
        self._expires_at = 0.0
        self._fetched_at = -math.inf
        self._task: asyncio.Task[None] | None = None
        self._failures = 0
        self._retry_at = 0.0
        self._last_error = ""
        self._backoff = Backoff(base_s=2.0, cap_s=300.0)
        self._rng = rng or random.Random()
        self.fetches = 0

    async def key(self, kid: str) -> SigningKey:
        now = time.monotonic()
        found = self._keys.get(kid)
        if found is not None:
            if now >= self._expires_at and now >= self._retry_at:
                self._start_refresh()  # stale: refresh in the background, the old keys serve meanwhile
            return found
        if now < self._retry_at:
            raise KeysUnavailable(f"signing keys unavailable ({self._last_error}); retrying later")
        if self._keys and now - self._fetched_at < MIN_REFETCH_S:
            raise Unauthorized("unknown signing key")
        task = self._start_refresh()
        try:
            await asyncio.wait_for(asyncio.shield(task), timeout=self._wait_s)
        except TimeoutError:
            raise KeysUnavailable("fetching the signing keys timed out") from None
        except Exception:
            raise KeysUnavailable(f"signing keys unavailable ({self._last_error})") from None
        found = self._keys.get(kid)
        if found is None:
            raise Unauthorized("unknown signing key")
        return found

    def _start_refresh(self) -> asyncio.Task[None]:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._refresh())
            self._task.add_done_callback(_consume)
        return self._task

    async def _refresh(self) -> None:
        self.fetches += 1
        try:
            session = self._session.get()
            async with session.get(self.metadata_url, timeout=self._timeout) as response:
                if response.status != 200:
                    raise ValueError(f"metadata HTTP {response.status}")
                metadata = await response.json(content_type=None)
            jwks_uri = metadata.get("jwks_uri") if isinstance(metadata, dict) else None
            if not isinstance(jwks_uri, str) or not jwks_uri.startswith(("https://", "http://")):
                raise ValueError("metadata without a jwks_uri")
            async with session.get(jwks_uri, timeout=self._timeout) as response:
                if response.status != 200:
                    raise ValueError(f"JWKS HTTP {response.status}")
                jwks = await response.json(content_type=None)
                max_age = _max_age(response.headers.get("Cache-Control"))
            keys = self._parse(jwks)
        except Exception as exc:  # network, timeout, bad JSON: all the same to the caller
            self._failures += 1
            self._last_error = f"{type(exc).__name__}: {exc}"[:200]
            self._retry_at = time.monotonic() + max(1.0, self._backoff.delay(self._failures, None, self._rng))
            logger.warning("fetching Bot Framework signing keys from %s failed (%s); next try in %.0f s",
                           self.metadata_url, self._last_error, self._retry_at - time.monotonic())
            raise
        now = time.monotonic()
        self._keys, self._fetched_at, self._failures, self._retry_at = keys, now, 0, 0.0
        lifetime = min(MAX_CACHE_S, max(MIN_REFETCH_S, max_age)) if max_age is not None else self._refresh_s
        self._expires_at = now + lifetime
        logger.info("loaded %s Bot Framework signing key(s) from %s", len(keys), self.metadata_url)

    @staticmethod
    def _parse(jwks: Any) -> dict[str, SigningKey]:
        entries = jwks.get("keys") if isinstance(jwks, dict) else None
        if not isinstance(entries, list):
            raise ValueError("JWKS without keys")
        keys: dict[str, SigningKey] = {}
        for entry in entries:
            if not isinstance(entry, dict) or entry.get("kty") != "RSA" or not isinstance(entry.get("kid"), str):
                continue
            try:
                key = RSAAlgorithm.from_jwk(entry)
            except (jwt.InvalidKeyError, ValueError, KeyError, TypeError):
                continue
            endorsements = entry.get("endorsements")
            keys[entry["kid"]] = SigningKey(key, frozenset(str(e) for e in endorsements)
                                            if isinstance(endorsements, list) else None)
        if not keys:
            raise ValueError("JWKS with no usable RSA key")
        return keys

    async def close(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(BaseException):
                await self._task


def _consume(task: asyncio.Task[None]) -> None:
    """Background refreshes report through the log; retrieve the exception so asyncio does not print it."""
    if not task.cancelled():
        task.exception()


class SessionHolder:
    """One aiohttp session, created on first use (inside the running loop) and closed at shutdown."""

    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None

    def get(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


@dataclass(frozen=True)
class VerifiedToken:
    """A token that passed every check that does not need the activity."""

    claims: Mapping[str, Any]
    endorsements: frozenset[str] | None
    emulator: bool

    def check_activity(self, channel_id: str, service_url: str) -> None:
        """The checks that need the activity: the key's channel endorsement and the serviceurl claim."""
        if self.endorsements is not None and channel_id not in self.endorsements:
            raise Unauthorized(f"the signing key is not endorsed for channel {channel_id[:40]!r}")
        if not self.emulator and self.claims.get("serviceurl") != service_url:
            raise Unauthorized("the token's serviceurl claim does not match the activity's serviceUrl")


class TokenValidator:
    """Validates ``Authorization: Bearer`` headers from the Bot Connector (and the Emulator, if configured)."""

    def __init__(self, settings: BotSettings, session: SessionHolder | None = None) -> None:
        self._app_id = settings.app_id
        self._leeway = settings.clock_leeway_s
        self._channel_issuer = settings.channel_token_issuer
        self.session = session or SessionHolder()
        def keys(url: str) -> OpenIdKeys:
            return OpenIdKeys(url, connect_timeout_s=settings.metadata_connect_timeout_s,
                              read_timeout_s=settings.metadata_read_timeout_s, refresh_s=settings.metadata_refresh_s,
                              session=self.session)

        self.channel_keys = keys(settings.openid_metadata_url)
        self.emulator_keys = keys(settings.emulator_openid_metadata_url) if settings.emulator_openid_metadata_url \
            else None
        tenants = {EMULATOR_TENANT} | ({settings.app_tenant_id} if settings.app_tenant_id else set())
        self._emulator_issuers = frozenset(
            issuer for tenant in tenants for issuer in (f"https://sts.windows.net/{tenant}/",
                                                        f"https://login.microsoftonline.com/{tenant}/v2.0"))

    async def validate(self, header: str | None) -> VerifiedToken:
        scheme, _, token = (header or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("no bearer token")
        token = token.strip()
        try:
            head = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            raise Unauthorized("not a JWT") from None
        alg, kid = head.get("alg"), head.get("kid")
        if alg not in ALGORITHMS or not isinstance(kid, str) or not kid:
            raise Unauthorized("unexpected token algorithm or no key id")
        issuer = unverified.get("iss")
        # Cheap checks first: a token that cannot be ours never makes us fetch keys.
        if issuer == self._channel_issuer:
            keys, emulator = self.channel_keys, False
        elif issuer in self._emulator_issuers and self.emulator_keys is not None:
            keys, emulator = self.emulator_keys, True
        else:
            raise Unauthorized("unknown token issuer")
        self._check_claims(unverified, emulator, verify_time=True)
        signing = await keys.key(kid)
        try:
            claims = jwt.decode(token, signing.key, algorithms=[alg], issuer=issuer, leeway=self._leeway,
                                options={"verify_aud": False, "require": ["exp", "iss"]})
        except jwt.PyJWTError as exc:
            raise Unauthorized(f"token rejected: {type(exc).__name__}") from None
        self._check_claims(claims, emulator, verify_time=False)
        return VerifiedToken(claims, None if emulator else signing.endorsements, emulator)

    def _check_claims(self, claims: Mapping[str, Any], emulator: bool, *, verify_time: bool) -> None:
        if emulator:
            # Emulator tokens are issued to the bot's own app id (appid in v1, azp in v2).
            version = claims.get("ver")
            who = claims.get("azp") if version == "2.0" else claims.get("appid")
            if who != self._app_id:
                raise Unauthorized("emulator token for another app")
        elif claims.get("aud") != self._app_id:
            raise Unauthorized("token audience is not this bot")
        if verify_time:
            now = time.time()
            exp, nbf = claims.get("exp"), claims.get("nbf")
            if not isinstance(exp, int | float) or exp + self._leeway < now:
                raise Unauthorized("token expired")
            if isinstance(nbf, int | float) and nbf - self._leeway > now:
                raise Unauthorized("token not yet valid")

    async def close(self) -> None:
        await self.channel_keys.close()
        if self.emulator_keys is not None:
            await self.emulator_keys.close()
        await self.session.close()
