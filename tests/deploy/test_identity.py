"""Managed identity: the bot's token provider, Graph's azure-identity credential and PostgreSQL Entra sign-in,
all against a local stand-in for the App Service identity endpoint and IMDS."""

from __future__ import annotations

import asyncio
import time

import pytest
import sqlalchemy as sa

from lrs_bridge.retry import Backoff
from teams_app.adapters.db.entra import POSTGRES_SCOPE, install_entra_auth
from teams_app.adapters.graph.credentials import make_credential
from teams_app.adapters.identity import (
    BOT_FRAMEWORK_SCOPE,
    ManagedIdentityError,
    ManagedIdentityTokenProvider,
    bot_token_provider,
)
from teams_app.config import BotCredential, BotSettings, GraphSettings
from tests.deploy.token_server import APP_SERVICE_PATH, IMDS_PATH, TokenServer

FAST = Backoff(base_s=0.01, cap_s=0.05, retry_after_cap_s=0.2)


def app_service_provider(server: TokenServer, **options: object) -> ManagedIdentityTokenProvider:
    return ManagedIdentityTokenProvider("mi-client-id", endpoint=server.url(APP_SERVICE_PATH),
                                        identity_header=server.header_secret, backoff=FAST, **options)  # type: ignore[arg-type]


async def test_app_service_protocol_token_is_cached_until_near_expiry(token_server: TokenServer) -> None:
    provider = app_service_provider(token_server)
    try:
        first = await provider.get_token()
        assert first.startswith("token-1-for-https://api.botframework.com")
        assert await provider.get_token() == first
        assert provider.fetches == 1 and len(token_server.requests) == 1
        request = token_server.requests[0]
        assert request == {"protocol": "app_service", "resource": "https://api.botframework.com",
                           "client_id": "mi-client-id", "api_version": "2019-08-01"}
        assert provider.expires_at == pytest.approx(time.time() + 3600, abs=5)
    finally:
        await provider.close()


async def test_token_inside_the_refresh_margin_is_fetched_again(token_server: TokenServer) -> None:
    token_server.lifetime_s = 200  # shorter than the 300 s margin: every call must refresh
    provider = app_service_provider(token_server)
    try:
        first, second = await provider.get_token(), await provider.get_token()
        assert first != second and provider.fetches == 2
        provider.invalidate()
        token_server.lifetime_s = 3600
        third = await provider.get_token()
        assert third not in (first, second) and await provider.get_token() == third
    finally:
        await provider.close()


async def test_concurrent_callers_share_one_fetch(token_server: TokenServer) -> None:
    token_server.delay_s = 0.2
    provider = app_service_provider(token_server)
    try:
        tokens = await asyncio.gather(*(provider.get_token() for _ in range(20)))
        assert len(set(tokens)) == 1 and len(token_server.requests) == 1
    finally:
        await provider.close()


async def test_imds_protocol_sends_the_metadata_header(token_server: TokenServer) -> None:
    provider = ManagedIdentityTokenProvider("mi-client-id", "https://graph.microsoft.com/.default",
                                            endpoint=token_server.url(IMDS_PATH), environ={}, backoff=FAST)
    try:
        assert not provider.app_service
        assert (await provider.get_token()).endswith("for-https://graph.microsoft.com")
        assert token_server.requests[0]["protocol"] == "imds"
        assert token_server.requests[0]["api_version"] == "2018-02-01"
    finally:
        await provider.close()


async def test_platform_variables_select_the_app_service_endpoint(token_server: TokenServer) -> None:
    env = {"IDENTITY_ENDPOINT": token_server.url(APP_SERVICE_PATH), "IDENTITY_HEADER": token_server.header_secret}
    provider = ManagedIdentityTokenProvider("mi-client-id", environ=env, backoff=FAST)
    try:
        assert provider.app_service and provider.endpoint == env["IDENTITY_ENDPOINT"]
        await provider.get_token()
        assert token_server.requests[0]["protocol"] == "app_service"
    finally:
        await provider.close()
    # Without the platform's variables the provider talks to IMDS at its well-known address.
    assert ManagedIdentityTokenProvider("x", environ={}).endpoint == "http://169.254.169.254/metadata/identity/oauth2/token"


async def test_retries_503_and_429_then_gets_a_token(token_server: TokenServer) -> None:
    token_server.scripted = [(503, {}), (429, {"Retry-After": "0"})]
    provider = app_service_provider(token_server)
    try:
        assert await provider.get_token()
        assert len(token_server.requests) == 3
    finally:
        await provider.close()


async def test_unknown_client_id_fails_at_once_with_the_reason(token_server: TokenServer) -> None:
    provider = ManagedIdentityTokenProvider("not-assigned", endpoint=token_server.url(APP_SERVICE_PATH),
                                            identity_header=token_server.header_secret, backoff=FAST)
    try:
        with pytest.raises(ManagedIdentityError, match="400: Identity not found"):
            await provider.get_token()
        assert len(token_server.requests) == 1  # a 4xx is not retried
    finally:
        await provider.close()


async def test_wrong_identity_header_is_refused(token_server: TokenServer) -> None:
    provider = ManagedIdentityTokenProvider("mi-client-id", endpoint=token_server.url(APP_SERVICE_PATH),
                                            identity_header="wrong", backoff=FAST)
    try:
        with pytest.raises(ManagedIdentityError, match="401"):
            await provider.get_token()
    finally:
        await provider.close()


async def test_slow_endpoint_times_out_and_unreachable_endpoint_fails(token_server: TokenServer) -> None:
    token_server.delay_s = 2.0
    provider = app_service_provider(token_server, timeout_s=0.2, max_attempts=2)
    started = time.monotonic()
    try:
        with pytest.raises(ManagedIdentityError, match="unreachable: TimeoutError"):
            await provider.get_token()
    finally:
        await provider.close()
    assert time.monotonic() - started < 1.5
    closed = ManagedIdentityTokenProvider("mi-client-id", endpoint="http://127.0.0.1:9/token", environ={},
                                          max_attempts=1)
    try:
        with pytest.raises(ManagedIdentityError, match="unreachable"):
            await closed.get_token()
    finally:
        await closed.close()


async def test_bot_settings_choose_the_managed_identity_for_user_assigned_msi(token_server: TokenServer) -> None:
    msi = BotSettings(app_id="mi-client-id", app_type="UserAssignedMSI", app_tenant_id="tenant",
                      identity_endpoint=token_server.url(IMDS_PATH))
    assert msi.credential_kind is BotCredential.MANAGED_IDENTITY
    provider = bot_token_provider(msi)
    assert provider is not None and provider.scope == BOT_FRAMEWORK_SCOPE
    try:
        assert (await provider.get_token()).endswith("for-https://api.botframework.com")
        assert token_server.requests[0]["client_id"] == "mi-client-id"
    finally:
        await provider.close()
    secret = BotSettings(app_id="app", app_password="s3cret", app_tenant_id="tenant")
    assert secret.credential_kind is BotCredential.SECRET and bot_token_provider(secret) is None


async def test_graph_uses_azure_identity_managed_identity_credential(token_server: TokenServer,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    # azure-identity reads the App Service variables itself, exactly as on Azure.
    monkeypatch.setenv("IDENTITY_ENDPOINT", token_server.url(APP_SERVICE_PATH))
    monkeypatch.setenv("IDENTITY_HEADER", token_server.header_secret)
    monkeypatch.delenv("MSI_ENDPOINT", raising=False)
    settings = GraphSettings(managed_identity_client_id="mi-client-id")
    assert settings.configured  # no secret, no certificate: the identity is enough
    credential = make_credential(tenant_id="", client_id="", managed_identity_client_id="mi-client-id")
    try:
        token = await credential.get_token("https://graph.microsoft.com/.default")
        assert token.token.endswith("for-https://graph.microsoft.com")
        assert token.expires_on > time.time() + 3000
    finally:
        await credential.close()
    assert token_server.requests[-1]["client_id"] == "mi-client-id"


@pytest.mark.postgres
async def test_postgres_connections_sign_in_with_an_entra_token(postgres_url: str, token_server: TokenServer) -> None:
    from teams_app.adapters.db.uow import make_engine

    engine = make_engine(postgres_url)
    provider = ManagedIdentityTokenProvider("mi-client-id", POSTGRES_SCOPE, endpoint=token_server.url(IMDS_PATH),
                                            environ={}, backoff=FAST)
    install_entra_auth(engine, provider)
    try:
        for _ in range(2):
            async with engine.connect() as conn:
                assert (await conn.execute(sa.text("SELECT 1"))).scalar_one() == 1
            await engine.dispose()  # the next connect is a new connection: a new do_connect
        # The server trusts loopback, so the proof is the token request (one: the second connect hit the cache).
        assert [r["resource"] for r in token_server.requests] == ["https://ossrdbms-aad.database.windows.net"]
    finally:
        await engine.dispose()
        await provider.close()


async def test_entra_sign_in_refuses_sqlite(tmp_path: object) -> None:
    from teams_app.adapters.db.uow import make_engine

    engine = make_engine("sqlite+aiosqlite:///:memory:")
    try:
        with pytest.raises(ValueError, match="PostgreSQL only"):
            install_entra_auth(engine, ManagedIdentityTokenProvider("x", environ={}))
    finally:
        await engine.dispose()


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
async def test_graph_check_runs_as_the_managed_identity(token_server: TokenServer,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """`peercoach graph check` with only a managed identity configured: the identity endpoint hands out tokens
    the local Graph server issued, so the roles claim and the getSchedule probe are the real checks."""
    from click.testing import CliRunner

    from teams_app.adapters.graph import ClientCredentialsTokenCredential
    from teams_app.entrypoints.cli.graph import graph as graph_cli
    from teams_app.simulation.graph_server import GraphServer

    graph = await GraphServer().start()
    upstream = ClientCredentialsTokenCredential(graph.token_url(), "mi-client-id", "s3cret")

    async def graph_token(resource: str) -> str:
        return (await upstream.get_token()).token

    token_server.upstream = graph_token
    graph.roles = ["Calendars.ReadWrite", "Mail.Send"]
    for name, value in {"IDENTITY_ENDPOINT": token_server.url(APP_SERVICE_PATH),
                        "IDENTITY_HEADER": token_server.header_secret,
                        "PEERCOACH_GRAPH__MANAGED_IDENTITY_CLIENT_ID": "mi-client-id",
                        "PEERCOACH_GRAPH__BASE_URL": graph.base_url,
                        "PEERCOACH_GRAPH__SENDER_MAILBOX": "program@contoso.com",
                        "PEERCOACH_BOT__DEV_MODE": "true"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("PEERCOACH_GRAPH__CLIENT_SECRET", raising=False)
    try:
        result = await asyncio.to_thread(CliRunner().invoke, graph_cli, ["check"])
    finally:
        await upstream.close()
        await graph.stop()
    assert result.exit_code == 0, result.output
    assert "[ok ] credentials" in result.output and "[ok ] Mail.Send" in result.output
    assert "Graph setup looks complete." in result.output
    assert token_server.requests and all(r["client_id"] == "mi-client-id" for r in token_server.requests)


async def test_a_non_json_error_page_is_reported_with_its_status(token_server: TokenServer) -> None:
    from aiohttp import web
    from aiohttp.test_utils import TestServer

    async def gateway_error(request: web.Request) -> web.Response:
        return web.Response(status=502, text="<html>Bad Gateway</html>", content_type="text/html")

    app = web.Application()
    app.router.add_get("/token", gateway_error)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    provider = ManagedIdentityTokenProvider("mi-client-id", endpoint=str(server.make_url("/token")), environ={},
                                            max_attempts=2, backoff=FAST)
    try:
        with pytest.raises(ManagedIdentityError, match="answered 502: no token"):
            await provider.get_token()
    finally:
        await provider.close()
        await server.close()


def test_entra_sign_in_settings_are_checked_at_start_up() -> None:
    from teams_app.config import SettingsError, load_settings

    with pytest.raises(SettingsError, match=r"PEERCOACH_DB.*postgresql"):
        load_settings(db={"url": "sqlite+aiosqlite:///x.db", "entra_auth": True, "entra_client_id": "id"},
                      bot={"dev_mode": True})
    with pytest.raises(SettingsError, match="PEERCOACH_DB__ENTRA_CLIENT_ID"):
        load_settings(db={"url": "postgresql+asyncpg://role@host/db", "entra_auth": True}, bot={"dev_mode": True})
