"""`peercoach graph check`: credentials, roles claim, and a real getSchedule probe."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator

import pytest
from click.testing import CliRunner

from teams_app.adapters.graph import ClientCredentialsTokenCredential
from teams_app.adapters.graph.check import check_graph, token_roles
from teams_app.entrypoints.cli.graph import graph as graph_cli
from teams_app.simulation.graph_server import ALL_ROLES, GraphServer

pytestmark = [pytest.mark.filterwarnings("ignore::DeprecationWarning:msgraph.*"),
              pytest.mark.filterwarnings("ignore::DeprecationWarning:kiota_abstractions.*")]


@pytest.fixture
async def server() -> AsyncIterator[GraphServer]:
    graph = await GraphServer().start()
    yield graph
    await graph.stop()


def credential(server: GraphServer, secret: str = "s3cret") -> ClientCredentialsTokenCredential:
    return ClientCredentialsTokenCredential(server.token_url(), "app-id", secret)


async def test_all_permissions_granted(server: GraphServer) -> None:
    results = await check_graph(credential(server), server.base_url, probe_mailbox="coach@x.org")
    assert [(r.name, r.ok) for r in results] == [
        ("credentials", True), ("Calendars.ReadBasic", True), ("Calendars.ReadWrite", True), ("Mail.Send", True),
        ("TeamsAppInstallation.ReadWriteSelfForUser.All", True), ("getSchedule on coach@x.org", True)]


async def test_missing_mail_send_and_optional_install_are_named(server: GraphServer) -> None:
    server.roles = ["Calendars.ReadWrite"]
    results = {r.name: r for r in await check_graph(credential(server), server.base_url)}
    assert results["Calendars.ReadBasic"].ok and "Calendars.ReadWrite" in results["Calendars.ReadBasic"].detail
    assert not results["Mail.Send"].ok and results["Mail.Send"].required
    assert "add the application permission Mail.Send" in results["Mail.Send"].detail
    optional = results["TeamsAppInstallation.ReadWriteSelfForUser.All"]
    assert not optional.ok and not optional.required


async def test_mail_send_not_required_without_sender_mailbox(server: GraphServer) -> None:
    server.roles = ["Calendars.ReadWrite"]
    results = {r.name: r for r in await check_graph(credential(server), server.base_url, need_mail=False)}
    assert not results["Mail.Send"].required


async def test_wrong_secret_reports_credentials(server: GraphServer) -> None:
    [result] = await check_graph(credential(server, "nope"), server.base_url)
    assert result.name == "credentials" and not result.ok and "AADSTS7000215" in result.detail


async def test_probe_mailbox_without_rest_or_permission(server: GraphServer) -> None:
    server.add_mailbox("onprem@x.org", rest_enabled=False)
    results = await check_graph(credential(server), server.base_url, probe_mailbox="onprem@x.org")
    assert not results[-1].ok and "MailboxNotEnabledForRESTAPI" in results[-1].detail
    assert "no Exchange Online mailbox" in results[-1].detail
    server.roles = ["Mail.Send"]
    results = await check_graph(credential(server), server.base_url, probe_mailbox="coach@x.org")
    assert not results[-1].ok and "403" in results[-1].detail and "access policy" in results[-1].detail


def test_token_roles_rejects_non_jwt() -> None:
    with pytest.raises(ValueError, match="not a JWT"):
        token_roles("opaque")


@pytest.fixture
def threaded_server() -> Iterator[GraphServer]:
    """The CLI runs its own event loop, so the server gets a thread and loop of its own."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    graph = asyncio.run_coroutine_threadsafe(GraphServer().start(), loop).result(10)
    yield graph
    asyncio.run_coroutine_threadsafe(graph.stop(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    loop.close()


def cli_env(server: GraphServer) -> dict[str, str]:
    return {"PEERCOACH_BOT__DEV_MODE": "true", "PEERCOACH_GRAPH__TENANT_ID": "contoso",
            "PEERCOACH_GRAPH__CLIENT_ID": "app-id", "PEERCOACH_GRAPH__CLIENT_SECRET": "s3cret",
            "PEERCOACH_GRAPH__BASE_URL": server.base_url, "PEERCOACH_GRAPH__TOKEN_URL": server.token_url(),
            "PEERCOACH_GRAPH__SENDER_MAILBOX": "coach@x.org"}


def test_cli_check_passes_and_fails_with_the_missing_permission(
        threaded_server: GraphServer, monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    monkeypatch.chdir(str(tmp_path))  # no stray .env
    runner = CliRunner()
    ok = runner.invoke(graph_cli, ["check"], env=cli_env(threaded_server))
    assert ok.exit_code == 0, ok.output
    assert "[ok ] getSchedule on coach@x.org" in ok.output and "Graph setup looks complete." in ok.output
    threaded_server.roles = [r for r in ALL_ROLES if r != "Calendars.ReadWrite"]
    bad = runner.invoke(graph_cli, ["check"], env=cli_env(threaded_server))
    assert bad.exit_code == 1
    assert "[MISSING] Calendars.ReadWrite" in bad.output and "Graph setup incomplete: Calendars.ReadWrite" in bad.output


def test_cli_check_says_what_to_configure(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    monkeypatch.chdir(str(tmp_path))
    for name in ("PEERCOACH_GRAPH__TENANT_ID", "PEERCOACH_GRAPH__CLIENT_ID", "PEERCOACH_GRAPH__CLIENT_SECRET"):
        monkeypatch.delenv(name, raising=False)
    result = CliRunner().invoke(graph_cli, ["check"], env={"PEERCOACH_BOT__DEV_MODE": "true"})
    assert result.exit_code == 1 and "PEERCOACH_GRAPH__TENANT_ID" in result.output
