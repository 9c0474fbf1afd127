"""The bot's outbound calls with a managed identity: the bot built by the composition root takes its Bot
Connector token from the (local) managed identity endpoint, and every send carries it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from teams_app.domain.model import Profile
from teams_app.service.use_cases import ParticipantInput
from teams_app.simulation.connector import OpenIdServer
from tests.bot.conftest import TENANT, make_user, start_harness, teams_activity
from tests.deploy.token_server import IMDS_PATH, TokenServer

MI_CLIENT_ID = "mi-client-id"  # a UserAssignedMSI bot's app id is its managed identity's client id


@pytest.fixture
def openid() -> Iterator[OpenIdServer]:
    with OpenIdServer() as server:
        yield server


async def test_a_managed_identity_bot_sends_with_the_token_from_the_identity_endpoint(
        tmp_path: Path, openid: OpenIdServer, token_server: TokenServer) -> None:
    harness = await start_harness(tmp_path, bot={
        "app_id": MI_CLIENT_ID, "app_type": "UserAssignedMSI", "app_tenant_id": TENANT,
        "identity_endpoint": token_server.url(IMDS_PATH), "openid_metadata_url": openid.metadata_url,
        "emulator_openid_metadata_url": "", "allowed_tenants": [TENANT], "service_url_hosts": ["127.0.0.1"],
    })
    try:
        program = await harness.app.service.create_program("Pairs", "peer_pairs", "weekly")
        url = harness.connector.url
        for n in (60, 61):
            user = make_user(n)
            await harness.app.service.enroll(program.id, ParticipantInput(
                email=user.email, display_name=user.name, aad_object_id=user.aad, tenant_id=TENANT,
                profile=Profile(time_zone="Europe/Berlin")), consent=True)
            inbound = openid.token(app_id=MI_CLIENT_ID, service_url=url)
            status, _ = await harness.post(teams_activity(user, url, text="progress"),
                                           {"Authorization": f"Bearer {inbound}"})
            assert status == 200
        await harness.app.service.run_round(program.id)
        await harness.sender.drain(timeout_s=20)
        sent = harness.connector.sent
        assert len([s for s in sent if s.activity.get("attachments")]) == 2  # the two intros
        assert {s.auth for s in sent} == {"Bearer token-1-for-https://api.botframework.com"}
        assert [r["client_id"] for r in token_server.requests] == [MI_CLIENT_ID]  # fetched once, then cached
    finally:
        await harness.client.close()
        await harness.connector.close()
