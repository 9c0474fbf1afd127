"""A bot no request can freeze: black-holed key metadata, never-answering serviceUrls, the outbound token."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from cryptography.hazmat.primitives.asymmetric import rsa

from teams_app.adapters.bot.delivery import DeliveryError
from teams_app.adapters.bot.hosting import ClientSecretTokenProvider, DirectConnectorTransport
from teams_app.bootstrap.bot import BOT_KEY
from teams_app.simulation.connector import CHANNEL_ISSUER
from tests.bot.conftest import BotHarness, make_user, start_harness, teams_activity
from tests.bot.test_auth import APP_ID, TENANT, LocalCredentialsFactory

METADATA_CONNECT_S, METADATA_READ_S = 0.5, 1.0
logger = logging.getLogger(__name__)


class BlackHole:
    """A TCP server that accepts connections and never answers (a silent metadata endpoint or connector)."""

    def __init__(self) -> None:
        self.connections = 0
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []

    async def start(self) -> BlackHole:
        async def swallow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self.connections += 1
            self._writers.append(writer)
            await reader.read(-1)

        self._server = await asyncio.start_server(swallow, "127.0.0.1", 0)
        return self

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}/"

    async def close(self) -> None:
        for writer in self._writers:
            writer.close()
        if self._server is not None:
            self._server.close()


@pytest.fixture
async def black_hole() -> AsyncIterator[BlackHole]:
    hole = await BlackHole().start()
    try:
        yield hole
    finally:
        await hole.close()


FORGER = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def forged_token(service_url: str) -> str:
    """Claims that look right, signed with a key nobody published."""
    key = FORGER
    now = int(time.time())
    return jwt.encode({"iss": CHANNEL_ISSUER, "aud": APP_ID, "serviceurl": service_url, "nbf": now - 60,
                       "exp": now + 3600}, key, algorithm="RS256", headers={"kid": "forged-key"})


async def test_black_holed_metadata_never_slows_healthz_and_forged_tokens_get_401_in_time(
        tmp_path: Path, black_hole: BlackHole) -> None:
    h = await start_harness(tmp_path, bot={
        "app_id": APP_ID, "app_password": "unused", "app_tenant_id": TENANT, "allowed_tenants": [TENANT],
        "openid_metadata_url": black_hole.url + "v1/.well-known/openidconfiguration",
        "emulator_openid_metadata_url": "", "service_url_hosts": ["127.0.0.1"],
        "metadata_connect_timeout_s": METADATA_CONNECT_S, "metadata_read_timeout_s": METADATA_READ_S,
    }, credentials_factory=LocalCredentialsFactory())
    try:
        url = h.connector.url
        health: list[float] = []
        stop = asyncio.Event()

        async def poll_health() -> None:
            while not stop.is_set():
                started = time.perf_counter()
                response = await h.client.get("/healthz")
                assert response.status == 200
                health.append(time.perf_counter() - started)
                await asyncio.sleep(0.02)

        token = forged_token(url)  # signed up front: signing is CPU the bot's loop should not be charged for

        # Bodies prepared up front too: the client shares the bot's loop, the attack's cost should be the bot's.
        bodies = {n: json.dumps(teams_activity(make_user(n), url, text="help")).encode()
                  for n in (*range(50), *range(100, 110))}
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

        async def forged(n: int) -> tuple[int, float]:
            started = time.perf_counter()
            response = await h.client.post("/api/messages", data=bodies[n], headers=headers)
            await response.read()
            return response.status, time.perf_counter() - started

        assert (await h.client.get("/healthz")).status == 200  # warm: the first call opens the database
        poller = asyncio.create_task(poll_health())
        await asyncio.sleep(0.1)
        results = await asyncio.gather(*(forged(n) for n in range(50)))
        # Failures are remembered: a second wave is refused at once, without another fetch.
        again = await asyncio.gather(*(forged(n) for n in range(100, 110)))
        await asyncio.sleep(0.1)
        stop.set()
        await poller

        budget = METADATA_CONNECT_S + METADATA_READ_S + 0.5
        logger.info("forged: max %.3f s; second wave max %.3f s; healthz max %.1f ms over %s polls",
                    max(t for _, t in results), max(t for _, t in again), max(health) * 1000, len(health))
        assert [s for s, _ in results] == [401] * 50
        assert max(t for _, t in results) < budget, max(t for _, t in results)
        assert [s for s, _ in again] == [401] * 10 and max(t for _, t in again) < 0.5
        assert len(health) >= 10 and max(health) < 0.1, max(health)
        assert black_hole.connections == 1  # one fetch in flight for all 60 requests
        assert h.connector.sent == []
    finally:
        await h.client.close()
        await h.connector.close()


@pytest.fixture
async def quick_timeouts(tmp_path: Path) -> AsyncIterator[BotHarness]:
    h = await start_harness(tmp_path, bot={"dev_mode": True, "per_conversation_rps": 50, "per_tenant_rps": 500,
                                           "connector_read_timeout_s": 3.0, "connector_per_host": 8})
    try:
        yield h
    finally:
        await h.client.close()
        await h.connector.close()


async def test_a_never_answering_service_url_does_not_delay_replies_to_a_healthy_connector(
        quick_timeouts: BotHarness, black_hole: BlackHole) -> None:
    h = quick_timeouts
    transport: DirectConnectorTransport = h.client.server.app[BOT_KEY]["transport"]
    hung_turns = [asyncio.create_task(h.post(teams_activity(make_user(n), black_hole.url, text="help")))
                  for n in range(300, 340)]
    hung_sends = [asyncio.create_task(transport.send(
        {"serviceUrl": black_hole.url, "conversation": {"id": f"a:hung-{n}"}, "bot": {"id": "28:bot"},
         "user": {"id": f"29:user-{n}"}}, {"type": "message", "text": "hello"})) for n in range(40)]
    await asyncio.sleep(0.3)  # every hung call is now waiting on the silent host

    user = make_user(1)
    started = time.perf_counter()
    status, _ = await h.post(teams_activity(user, h.connector.url, text="help"))
    reply_s = time.perf_counter() - started
    assert status == 200 and len(h.replies(user)) == 1
    assert reply_s < 1.0, reply_s
    logger.info("reply to the healthy connector with 80 calls hung: %.3f s", reply_s)

    started = time.perf_counter()
    activity_id = await transport.send(
        {"serviceUrl": h.connector.url, "conversation": {"id": user.conversation_id}, "bot": {"id": "28:bot"},
         "user": {"id": user.teams_id}}, {"type": "message", "text": "proactive"})
    assert activity_id and time.perf_counter() - started < 1.0

    # The hung sends end with "no answer" (retried later by the sender) once the read timeout passes.
    outcomes = await asyncio.wait_for(asyncio.gather(*hung_sends, return_exceptions=True), timeout=15)
    assert all(isinstance(o, DeliveryError) and o.status == 0 for o in outcomes), outcomes[:3]
    for task in hung_turns:
        task.cancel()
    await asyncio.gather(*hung_turns, return_exceptions=True)


async def test_client_secret_token_is_fetched_once_and_cached_until_expiry() -> None:
    calls: list[dict[str, Any]] = []

    async def token(request: web.Request) -> web.Response:
        calls.append(dict(await request.post()))
        await asyncio.sleep(0.05)
        return web.json_response({"access_token": f"token-{len(calls)}", "expires_in": 3600})

    app = web.Application()
    app.router.add_post("/tenant/oauth2/v2.0/token", token)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        provider = ClientSecretTokenProvider(str(server.make_url("/tenant/oauth2/v2.0/token")), APP_ID, "s3cret",
                                             "https://api.botframework.com/.default", timeout_s=2)
        tokens = await asyncio.gather(*(provider.get_token() for _ in range(10)))
        assert set(tokens) == {"token-1"} and len(calls) == 1
        assert calls[0]["grant_type"] == "client_credentials" and calls[0]["client_id"] == APP_ID
        assert calls[0]["scope"] == "https://api.botframework.com/.default"
        provider.invalidate()  # a connector answered 401
        assert await provider.get_token() == "token-2"
    finally:
        await server.close()


async def test_a_silent_token_endpoint_fails_within_its_timeout(black_hole: BlackHole) -> None:
    provider = ClientSecretTokenProvider(black_hole.url + "token", APP_ID, "s3cret", "scope", timeout_s=0.5)
    started = time.perf_counter()
    with pytest.raises(Exception, match="token endpoint failed"):
        await provider.get_token()
    assert time.perf_counter() - started < 1.5


class KeyServer:
    """OpenID metadata + JWKS on the test's loop, which can be switched off (answers 503)."""

    def __init__(self, public_jwk: dict[str, Any], max_age: int | None = None) -> None:
        self.jwks = {"keys": [public_jwk]}
        self.max_age = max_age
        self.down = False
        self.fetches = 0
        self.server: TestServer | None = None

    async def start(self) -> KeyServer:
        async def metadata(request: web.Request) -> web.Response:
            if self.down:
                return web.json_response({}, status=503)
            return web.json_response({"issuer": CHANNEL_ISSUER, "jwks_uri": str(request.url.with_path("/keys"))})

        async def keys(request: web.Request) -> web.Response:
            self.fetches += 1
            headers = {"Cache-Control": f"public, max-age={self.max_age}"} if self.max_age is not None else {}
            return web.json_response(self.jwks, headers=headers)

        app = web.Application()
        app.router.add_get("/metadata", metadata)
        app.router.add_get("/keys", keys)
        self.server = TestServer(app, host="127.0.0.1")
        await self.server.start_server()
        return self

    @property
    def url(self) -> str:
        assert self.server is not None
        return str(self.server.make_url("/metadata"))


async def test_stale_keys_keep_serving_while_the_background_refresh_fails() -> None:
    import json as json_module

    from jwt.algorithms import RSAAlgorithm

    from teams_app.adapters.bot.hosting import TokenValidator
    from teams_app.adapters.bot.hosting.auth import KeysUnavailable
    from teams_app.config import load_settings

    jwk = json_module.loads(RSAAlgorithm.to_jwk(FORGER.public_key()))
    jwk.update({"kid": "k1", "endorsements": ["msteams"]})
    keys = await KeyServer(jwk, max_age=0).start()  # max-age 0: stale at once (clamped to 5 min; forced below)
    settings = load_settings(bot={"app_id": APP_ID, "app_password": "s", "app_tenant_id": TENANT,
                                  "openid_metadata_url": keys.url, "emulator_openid_metadata_url": ""}).bot
    validator = TokenValidator(settings)
    now = int(time.time())
    token = jwt.encode({"iss": CHANNEL_ISSUER, "aud": APP_ID, "serviceurl": "https://smba.trafficmanager.net/x/",
                        "nbf": now - 60, "exp": now + 3600}, FORGER, algorithm="RS256", headers={"kid": "k1"})
    try:
        verified = await validator.validate(f"Bearer {token}")
        verified.check_activity("msteams", "https://smba.trafficmanager.net/x/")
        assert keys.fetches == 1
        validator.channel_keys._expires_at = 0.0  # the cache lifetime has passed
        keys.down = True
        for _ in range(5):  # stale keys serve; one background refresh is attempted and fails
            await validator.validate(f"Bearer {token}")
        await asyncio.sleep(0.1)
        assert validator.channel_keys.fetches == 2
        with pytest.raises(KeysUnavailable):  # an unknown key while the endpoint is down: refused at once
            other = jwt.encode({"iss": CHANNEL_ISSUER, "aud": APP_ID, "exp": now + 3600}, FORGER, algorithm="RS256",
                               headers={"kid": "k2"})
            await validator.validate(f"Bearer {other}")
        assert validator.channel_keys.fetches == 2
        keys.down = False
        validator.channel_keys._retry_at = 0.0  # the back-off has passed
        await validator.validate(f"Bearer {token}")
        await asyncio.sleep(0.1)
        assert keys.fetches == 2 and validator.channel_keys.fetches == 3  # refreshed in the background
    finally:
        await validator.close()
        assert keys.server is not None
        await keys.server.close()
