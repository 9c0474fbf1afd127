"""The LRS client against a local fake LRS: headers, Basic and OAuth2 auth, paging, failures, check."""

from __future__ import annotations

import json
import uuid

import pytest

from lrs_bridge.check import check_lrs
from lrs_bridge.client import LrsAuthError, LrsClient, LrsConnectionError, LrsHttpError
from tests.fixtures.ralph_lrs import free_port
from tests.lrs_bridge.fake_lrs import FakeLrs


def _statement(n: int, verb: str = "http://adlnet.gov/expapi/verbs/attended") -> str:
    return json.dumps({"id": str(uuid.UUID(int=n)), "actor": {"mbox": "mailto:a@example.org"},
                       "verb": {"id": verb}, "object": {"id": f"https://x.example/{n}"}})


async def test_post_sends_the_stored_bytes_with_version_and_basic_auth(fake_lrs: FakeLrs) -> None:
    payloads = [_statement(1), _statement(2)]
    async with LrsClient(fake_lrs.endpoint, username="relay", password="s3cret") as client:
        result = await client.post_statements(payloads)
    assert result.ok and result.status == 200
    assert fake_lrs.posts == [("[" + ",".join(payloads) + "]").encode()]
    headers = fake_lrs.post_headers[0]
    assert headers["X-Experience-API-Version"] == "1.0.3"
    assert headers["Content-Type"] == "application/json"
    assert headers["Authorization"].startswith("Basic ")


async def test_post_returns_refusals_instead_of_raising(fake_lrs: FakeLrs) -> None:
    fake_lrs.script.append((429, "slow down", {"Retry-After": "7"}))
    async with LrsClient(fake_lrs.endpoint, username="relay", password="s3cret") as client:
        throttled = await client.post_statements([_statement(1)])
        wrong = await LrsClient(fake_lrs.endpoint, username="relay", password="nope").post_statements(
            [_statement(1)])
    assert (throttled.status, throttled.retry_after_s, throttled.ok) == (429, 7.0, False)
    assert wrong.status == 401


async def test_connection_refused_raises_connection_error() -> None:
    client = LrsClient(f"http://127.0.0.1:{free_port()}/xAPI/", timeout_s=2)
    async with client:
        with pytest.raises(LrsConnectionError, match="failed"):
            await client.post_statements([_statement(1)])


async def test_oauth2_fetches_token_once_and_refreshes_after_401(fake_lrs: FakeLrs) -> None:
    async with LrsClient(fake_lrs.endpoint, username="relay", password="s3cret", auth="oauth2",
                         token_url=fake_lrs.token_url) as client:
        assert (await client.post_statements([_statement(1)])).ok
        assert (await client.post_statements([_statement(2)])).ok
        assert fake_lrs.tokens_issued == ["tok0"]
        fake_lrs.revoked_tokens.add("tok0")  # the LRS forgets the token: one refresh, then success
        assert (await client.post_statements([_statement(3)])).ok
    assert fake_lrs.tokens_issued == ["tok0", "tok1"]
    assert fake_lrs.post_headers[-1]["Authorization"] == "Bearer tok1"


async def test_oauth2_bad_client_secret_is_an_auth_error(fake_lrs: FakeLrs) -> None:
    async with LrsClient(fake_lrs.endpoint, username="relay", password="wrong", auth="oauth2",
                         token_url=fake_lrs.token_url) as client:
        with pytest.raises(LrsAuthError, match="invalid_client"):
            await client.post_statements([_statement(1)])


def test_client_rejects_bad_configuration() -> None:
    with pytest.raises(ValueError, match="http"):
        LrsClient("lrs.example/xAPI")
    with pytest.raises(ValueError, match="auth"):
        LrsClient("https://lrs.example/xAPI", auth="digest")
    with pytest.raises(ValueError, match="token_url"):
        LrsClient("https://lrs.example/xAPI", auth="oauth2")


async def test_get_statements_follows_more_links(fake_lrs: FakeLrs) -> None:
    for n in range(5):
        st = json.loads(_statement(n))
        fake_lrs.stored[st["id"]] = st
    async with LrsClient(fake_lrs.endpoint, username="relay", password="s3cret") as client:
        got = [s["id"] async for s in client.get_statements(verb="http://adlnet.gov/expapi/verbs/attended")]
        one = await client.get_statement(uuid.UUID(int=3))
        missing = await client.get_statement(uuid.uuid4())
    assert got == [str(uuid.UUID(int=n)) for n in range(5)]
    assert len(fake_lrs.get_requests) >= 3  # 2 + 2 + 1 per page
    assert one is not None and one["id"] == str(uuid.UUID(int=3))
    assert missing is None


async def test_get_statements_with_bad_credentials_raises_auth_error(fake_lrs: FakeLrs) -> None:
    async with LrsClient(fake_lrs.endpoint, username="relay", password="bad") as client:
        with pytest.raises(LrsAuthError):
            [s async for s in client.get_statements()]


async def test_get_statements_needs_aware_since(fake_lrs: FakeLrs) -> None:
    from datetime import datetime

    async with LrsClient(fake_lrs.endpoint) as client:
        with pytest.raises(ValueError, match="time zone"):
            [s async for s in client.get_statements(since=datetime(2026, 1, 1))]




async def test_check_passes_with_version_and_credentials(fake_lrs: FakeLrs) -> None:
    async with LrsClient(fake_lrs.endpoint, username="relay", password="s3cret") as client:
        result = await check_lrs(client)
    assert result.ok and result.versions == ["1.0.3", "1.0.2"]
    assert any("credentials accepted" in line for line in result.lines)


async def test_check_explains_wrong_version(fake_lrs: FakeLrs) -> None:
    fake_lrs.versions = ["2.0.0"]
    async with LrsClient(fake_lrs.endpoint, username="relay", password="s3cret") as client:
        result = await check_lrs(client)
    assert not result.ok and "speaks xAPI 2.0.0" in result.lines[-1]


async def test_check_explains_refused_credentials(fake_lrs: FakeLrs) -> None:
    async with LrsClient(fake_lrs.endpoint, username="relay", password="wrong") as client:
        result = await check_lrs(client)
    assert not result.ok and "refused our credentials (401" in result.lines[-1]


async def test_check_explains_unreachable_lrs() -> None:
    async with LrsClient(f"http://127.0.0.1:{free_port()}/xAPI/", timeout_s=2) as client:
        result = await check_lrs(client)
    assert not result.ok and "cannot reach" in result.lines[0]


async def test_check_warns_without_about_and_fails_on_server_error(fake_lrs: FakeLrs) -> None:
    fake_lrs.about_status = 404
    async with LrsClient(fake_lrs.endpoint, username="relay", password="s3cret") as client:
        result = await check_lrs(client)
        assert result.ok and result.lines[0].startswith("WARN") and "/about" in result.lines[0]
        fake_lrs.about_status = 500
        result = await check_lrs(client)
    assert not result.ok and "answered 500" in result.lines[0]


async def test_about_non_200_raises_http_error(fake_lrs: FakeLrs) -> None:
    fake_lrs.about_status = 503
    async with LrsClient(fake_lrs.endpoint) as client:
        with pytest.raises(LrsHttpError) as info:
            await client.about()
    assert info.value.status == 503
