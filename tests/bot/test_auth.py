"""Inbound Bot Connector JWT validation against a local OpenID metadata endpoint, and the tenant allow-list."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from botframework.connector.auth import AppCredentials, ServiceClientCredentialsFactory

from teams_app.adapters.bot.hosting import BotConfigurationError, authentication
from teams_app.config import SettingsError, load_settings
from teams_app.simulation.connector import OpenIdServer
from tests.bot.conftest import TENANT, BotHarness, make_user, start_harness, teams_activity

APP_ID = "0f1e2d3c-4b5a-6978-8695-a4b3c2d1e0f9"
OUTBOUND_TOKEN = "local-outbound-token"  # what the bot presents to the connector


class _LocalCredentials(AppCredentials):  # type: ignore[misc]
    def get_access_token(self, force_refresh: bool = False) -> str:
        return OUTBOUND_TOKEN


class LocalCredentialsFactory(ServiceClientCredentialsFactory):  # type: ignore[misc]
    """Outbound token acquisition kept local (msal would call login.microsoftonline.com)."""

    async def is_valid_app_id(self, app_id: str) -> bool:
        return app_id == APP_ID

    async def is_authentication_disabled(self) -> bool:
        return False

    async def create_credentials(self, app_id: str, oauth_scope: str, login_endpoint: str,
                                 validate_authority: bool) -> AppCredentials:
        return _LocalCredentials(app_id=app_id, oauth_scope=oauth_scope)


@pytest.fixture
def openid() -> Iterator[OpenIdServer]:
    server = OpenIdServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def secured(tmp_path: Path, openid: OpenIdServer) -> AsyncIterator[BotHarness]:
    h = await start_harness(tmp_path, bot={
        "app_id": APP_ID, "app_password": "not-used-locally", "app_tenant_id": TENANT,
        "openid_metadata_url": openid.metadata_url, "allowed_tenants": [TENANT],
        "emulator_openid_metadata_url": "", "service_url_hosts": ["127.0.0.1"],
    }, credentials_factory=LocalCredentialsFactory())
    try:
        yield h
    finally:
        await h.client.close()
        await h.connector.close()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_valid_token_passes_and_reply_carries_the_bot_token(secured: BotHarness, openid: OpenIdServer) -> None:
    user = make_user(1)
    activity = teams_activity(user, secured.connector.url, text="help")
    status, _ = await secured.post(activity, bearer(openid.token(app_id=APP_ID, service_url=secured.connector.url)))
    assert status == 200
    replies = [s for s in secured.connector.sent if s.conversation_id == user.conversation_id]
    assert len(replies) == 1 and "**join**" in replies[0].activity["text"]
    assert replies[0].auth == f"Bearer {OUTBOUND_TOKEN}"
    assert openid.requests >= 2  # metadata + keys were fetched from the local endpoint


@pytest.mark.parametrize("case", ["missing", "expired", "wrong_audience", "wrong_issuer", "bad_signature",
                                  "unknown_key", "service_url_mismatch", "not_bearer"])
async def test_invalid_tokens_are_refused_with_401(secured: BotHarness, openid: OpenIdServer, case: str) -> None:
    url = secured.connector.url
    tokens = {
        "expired": openid.token(app_id=APP_ID, service_url=url, lifetime_s=-900),
        "wrong_audience": openid.token(app_id=APP_ID, service_url=url, audience="another-bot"),
        "wrong_issuer": openid.token(app_id=APP_ID, service_url=url, issuer="https://evil.example"),
        "bad_signature": openid.token(app_id=APP_ID, service_url=url, sign_with_other_key=True),
        "unknown_key": openid.token(app_id=APP_ID, service_url=url, kid="rotated-away"),
        "service_url_mismatch": openid.token(app_id=APP_ID, service_url="https://smba.example/other/"),
    }
    headers = {} if case == "missing" else {"Authorization": "Basic dXNlcjpwYXNz"} if case == "not_bearer" \
        else bearer(tokens[case])
    user = make_user(2)
    status, _ = await secured.post(teams_activity(user, url, text="help"), headers)
    assert status == 401
    assert secured.connector.sent == []  # nothing reached the bot


async def test_other_tenants_are_refused_and_logged_without_content(secured: BotHarness, openid: OpenIdServer,
                                                                    caplog: pytest.LogCaptureFixture) -> None:
    user = make_user(3)
    secret_text = "my salary is 123456"
    activity = teams_activity(user, secured.connector.url, text=secret_text, tenant="99999999-0000-0000-0000-0")
    with caplog.at_level(logging.INFO):
        status, _ = await secured.post(activity, bearer(openid.token(app_id=APP_ID,
                                                                     service_url=secured.connector.url)))
    assert status == 403
    assert secured.connector.sent == []
    assert "99999999-0000-0000-0000-0" in caplog.text
    assert secret_text not in caplog.text and user.name not in caplog.text
    assert await secured.app.service.find_participant(aad_object_id=user.aad) is None


def test_empty_app_id_needs_explicit_dev_mode() -> None:
    with pytest.raises(SettingsError, match="DEV_MODE"):
        load_settings(bot={"app_id": ""})
    assert load_settings(bot={"app_id": "", "dev_mode": True}).bot.dev_mode


@pytest.mark.parametrize(("bot", "message"), [
    ({"app_id": APP_ID}, "PEERCOACH_BOT__APP_TENANT_ID"),
    ({"app_id": APP_ID, "app_tenant_id": "t"}, "PEERCOACH_BOT__APP_PASSWORD"),
    ({"app_id": APP_ID, "app_tenant_id": "t", "app_certificate_path": "/nonexistent.pem"}, "THUMBPRINT"),
    ({"app_id": APP_ID, "app_type": "MultiTenant"}, "PEERCOACH_BOT__APP_PASSWORD"),
])
def test_incomplete_credentials_stop_start_up_naming_the_setting(bot: dict[str, str], message: str) -> None:
    settings = load_settings(bot=bot)
    with pytest.raises(BotConfigurationError, match=message):
        authentication(settings.bot)


def test_complete_single_tenant_credentials_build_authentication() -> None:
    settings = load_settings(bot={"app_id": APP_ID, "app_password": "s", "app_tenant_id": TENANT})
    assert authentication(settings.bot).get_originating_audience() == "https://api.botframework.com"


def test_serve_refuses_incomplete_credentials_with_a_clear_message(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from teams_app.entrypoints.cli import main

    monkeypatch.setenv("PEERCOACH_BOT__APP_ID", APP_ID)
    result = CliRunner().invoke(main, ["--db", f"sqlite+aiosqlite:///{tmp_path / 'x.db'}", "serve"])
    assert result.exit_code == 1
    assert "bot credentials incomplete" in result.output and "PEERCOACH_BOT__APP_TENANT_ID" in result.output


async def test_proactive_sends_carry_the_bot_token(secured: BotHarness, openid: OpenIdServer) -> None:
    from teams_app.domain.model import Profile
    from teams_app.service.use_cases import ParticipantInput

    program = await secured.app.service.create_program("Pairs", "peer_pairs", "weekly")
    url = secured.connector.url
    for n in (80, 81):
        user = make_user(n)
        await secured.app.service.enroll(program.id, ParticipantInput(
            email=user.email, display_name=user.name, aad_object_id=user.aad, tenant_id=TENANT,
            profile=Profile(time_zone="Europe/Berlin")), consent=True)
        status, _ = await secured.post(teams_activity(user, url, text="progress"),
                                       bearer(openid.token(app_id=APP_ID, service_url=url)))
        assert status == 200
    secured.connector.sent.clear()
    await secured.app.service.run_round(program.id)
    await secured.sender.drain(timeout_s=20)
    intros = [s for s in secured.connector.sent if s.activity.get("attachments")]
    assert len(intros) == 2
    assert {s.auth for s in intros} == {f"Bearer {OUTBOUND_TOKEN}"}
