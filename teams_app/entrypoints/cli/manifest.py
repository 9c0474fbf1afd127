"""``peercoach manifest ...``: build the Teams app package and keep the admin guide's settings table current.

Registered in the main CLI's command table (:mod:`teams_app.entrypoints.cli`).
"""

from __future__ import annotations

from pathlib import Path

import click

from teams_app.config import SettingsError, describe_settings, load_settings
from teams_app.manifest_package import (
    DEFAULT_SOURCE_DIR,
    ManifestBuildError,
    NodeSchemaValidator,
    build_from_settings,
    replace_settings_table,
    settings_table,
)


@click.group(name="manifest")
def manifest() -> None:
    """Teams app package: build and validate appPackage.zip."""


@manifest.command(name="build")
@click.option(
    "--env-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Read PEERCOACH_* settings from this file instead of ./.env (environment variables still win).",
)
@click.option(
    "--out",
    "out_path",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    default=Path("appPackage.zip"),
    show_default=True,
    help="Where to write the app package.",
)
@click.option(
    "--source",
    "source_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=DEFAULT_SOURCE_DIR,
    show_default=True,
    help="Directory with manifest.json, icons, localization files and validate.mjs.",
)
@click.option("--node", default="node", show_default=True, help="Node.js executable for schema validation.")
def build(env_file: Path | None, out_path: Path, source_dir: Path, node: str) -> None:
    """Fill the manifest template from settings, validate it offline and write the app package."""
    try:
        settings = load_settings(_env_file=env_file) if env_file is not None else load_settings()
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        result = build_from_settings(
            settings,
            out_path,
            validator=NodeSchemaValidator(tools_dir=source_dir, node=node),
            source_dir=source_dir,
        )
    except ManifestBuildError as exc:
        raise click.ClickException(str(exc)) from None
    schema = result.manifest.get("manifestVersion")
    click.echo(
        f"wrote {result.path} ({', '.join(result.files)}); manifest {schema}, "
        f"app version {result.manifest.get('version')}, passed the official schema "
        f"({result.validator or 'validator'})"
    )
    click.echo(
        "next: upload it in Teams admin center > Teams apps > Manage apps > Upload new app (docs/admin.md)"
    )


@manifest.command(name="settings-table")
@click.option(
    "--write",
    "document",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Replace the generated table in this markdown file (e.g. docs/admin.md) instead of printing it.",
)
def settings_table_command(document: Path | None) -> None:
    """Print (or update in a document) the markdown table of every setting peercoach reads."""
    table = settings_table(describe_settings())
    if document is None:
        click.echo(table, nl=False)
        return
    try:
        updated = replace_settings_table(document.read_text(encoding="utf-8"), table)
    except ValueError as exc:
        raise click.ClickException(f"{document}: {exc}") from None
    document.write_text(updated, encoding="utf-8")
    click.echo(f"updated the settings table in {document}")
