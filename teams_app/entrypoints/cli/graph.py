"""``peercoach graph ...``: Microsoft Graph setup help.

Registered in the main CLI's command table (:mod:`teams_app.entrypoints.cli`).
"""

from __future__ import annotations

import asyncio

import click

from teams_app.adapters.graph.check import CheckResult, check_graph
from teams_app.adapters.graph.credentials import make_credential
from teams_app.config import SettingsError, load_settings
from teams_app.entrypoints.cli.support import echo_safe


@click.group(name="graph")
def graph() -> None:
    """Microsoft Graph: calendars, Teams meetings and program email."""


@graph.command(name="check")
@click.option("--mailbox", "probe_mailbox", default="",
              help="Also read this mailbox's free/busy for real (catches Exchange access policies).")
def check(probe_mailbox: str) -> None:
    """Verify the Graph credentials and each application permission peercoach needs."""
    try:
        settings = load_settings()
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None
    graph_settings = settings.graph
    if not graph_settings.configured:
        raise click.ClickException(
            "Graph is not configured: set PEERCOACH_GRAPH__TENANT_ID, PEERCOACH_GRAPH__CLIENT_ID and "
            "PEERCOACH_GRAPH__CLIENT_SECRET (or PEERCOACH_GRAPH__CERTIFICATE_PATH)")
    try:
        credential = make_credential(
            tenant_id=graph_settings.tenant_id, client_id=graph_settings.client_id,
            client_secret=graph_settings.client_secret.get_secret_value(),
            certificate_path=graph_settings.certificate_path, authority_host=graph_settings.authority_host,
            token_url=graph_settings.token_url,
            managed_identity_client_id=graph_settings.managed_identity_client_id)
    except (ValueError, OSError) as exc:
        raise click.ClickException(f"cannot build the Graph credential: {exc}") from None
    mailbox = probe_mailbox or graph_settings.sender_mailbox
    results = asyncio.run(_run(credential, graph_settings.base_url, mailbox, bool(graph_settings.sender_mailbox)))
    for result in results:
        mark = "ok " if result.ok else ("MISSING" if result.required else "absent (optional)")
        echo_safe(f"[{mark}] {result.name}: {result.detail}")
    failed = [r.name for r in results if r.required and not r.ok]
    if failed:
        raise click.ClickException(f"Graph setup incomplete: {', '.join(failed)}")
    click.echo("Graph setup looks complete.")


async def _run(credential: object, base_url: str, mailbox: str, need_mail: bool) -> list[CheckResult]:
    try:
        return await check_graph(credential, base_url, probe_mailbox=mailbox, need_mail=need_mail)
    finally:
        close = getattr(credential, "close", None)
        if close is not None:
            await close()
