"""``peercoach config``: every setting with its default and meaning."""

from __future__ import annotations

import click


@click.command("config")
@click.option("--markdown", is_flag=True, help="Print a Markdown table (for docs).")
def config_cmd(markdown: bool) -> None:
    """List every setting with its default and meaning."""
    from teams_app.config import describe_settings

    rows = describe_settings()
    if markdown:
        click.echo("| Setting | Default | Meaning |\n|---|---|---|")
        for name, default, description in rows:
            click.echo(f"| `{name}` | `{default}` | {description} |")
        return
    for name, default, description in rows:
        click.echo(f"{name}={default}\n    {description}")
