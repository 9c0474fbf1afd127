"""docs/admin.md names every setting the app reads, every Graph permission it asks for, and how to build
the package; the settings table can be regenerated from the settings class."""

from __future__ import annotations

import re
from pathlib import Path

from click.testing import CliRunner

from teams_app.config import describe_settings
from teams_app.entrypoints.cli.manifest import manifest
from teams_app.graph_permissions import GRAPH_APPLICATION_PERMISSIONS
from teams_app.manifest_package import (
    INSTALL_HINT,
    SETTINGS_TABLE_END,
    SETTINGS_TABLE_START,
    replace_settings_table,
    settings_table,
)

ADMIN_GUIDE = Path(__file__).resolve().parents[2] / "docs" / "admin.md"


def guide() -> str:
    return ADMIN_GUIDE.read_text(encoding="utf-8")


def test_admin_guide_names_every_setting() -> None:
    text = guide()
    missing = [env for env, _default, _description in describe_settings() if f"`{env}`" not in text]
    regenerate = "peercoach manifest settings-table --write docs/admin.md"
    assert not missing, f"docs/admin.md does not mention {missing}; run `{regenerate}`"


def test_admin_guide_names_every_graph_permission_with_its_reason() -> None:
    text = guide()
    names = {p.name for p in GRAPH_APPLICATION_PERMISSIONS}
    assert names >= {
        "Calendars.ReadBasic",
        "Calendars.ReadWrite",
        "Mail.Send",
        "TeamsAppInstallation.ReadWriteSelfForUser.All",
    }
    for permission in GRAPH_APPLICATION_PERMISSIONS:
        rows = [line for line in text.splitlines() if line.startswith(f"| `{permission.name}` |")]
        assert len(rows) == 1, f"{permission.name} needs exactly one row in the permissions table"
        assert permission.endpoint.split(" with ")[0] in rows[0], (permission.name, rows[0])
    # No permission in the guide's table that the code does not ask for.
    table_names = set(re.findall(r"^\| `([A-Za-z]+\.[A-Za-z.]+)` \|", text, flags=re.MULTILINE))
    assert table_names == names


def test_admin_guide_covers_the_installation_steps() -> None:
    text = guide()
    for fact in (
        "SingleTenant",
        "Microsoft Teams",
        "Email",
        "RBAC for Applications",
        "New-ManagementRoleAssignment",
        "adminconsent",
        "Upload new app",
        "Setup policies",
        "PEERCOACH_BOT__ALLOWED_TENANTS",
        "peercoach manifest build",
        INSTALL_HINT,
        "outbox",
        "Erasing a person's data",
    ):
        assert fact in text, fact


def test_settings_table_in_the_guide_is_current() -> None:
    text = guide()
    block = text[
        text.index(SETTINGS_TABLE_START) + len(SETTINGS_TABLE_START) : text.index(SETTINGS_TABLE_END)
    ]
    assert block.strip() == settings_table(describe_settings()).strip(), (
        "run `peercoach manifest settings-table --write docs/admin.md`"
    )


def test_settings_table_command_prints_markdown() -> None:
    result = CliRunner().invoke(manifest, ["settings-table"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "| Environment variable | Default | Description |"
    assert len(lines) == 2 + len(describe_settings())
    assert "| `PEERCOACH_BOT__APP_ID` | (empty) | Microsoft App ID of the Azure Bot registration. |" in lines


def test_settings_table_write_replaces_only_the_generated_block(tmp_path: Path) -> None:
    doc = tmp_path / "guide.md"
    doc.write_text(
        f"intro\n{SETTINGS_TABLE_START}\nold table\n{SETTINGS_TABLE_END}\noutro\n", encoding="utf-8"
    )
    result = CliRunner().invoke(manifest, ["settings-table", "--write", str(doc)])
    assert result.exit_code == 0, result.output
    updated = doc.read_text(encoding="utf-8")
    assert updated.startswith("intro\n") and updated.endswith(f"{SETTINGS_TABLE_END}\noutro\n")
    assert "old table" not in updated and "`PEERCOACH_DB__URL`" in updated


def test_settings_table_write_refuses_a_document_without_markers(tmp_path: Path) -> None:
    doc = tmp_path / "guide.md"
    doc.write_text("no markers here\n", encoding="utf-8")
    result = CliRunner().invoke(manifest, ["settings-table", "--write", str(doc)])
    assert result.exit_code == 1
    assert "has no" in result.output and doc.read_text(encoding="utf-8") == "no markers here\n"


def test_settings_table_escapes_pipes() -> None:
    table = settings_table([("PEERCOACH_X", "a|b", "one | two")])
    assert "| `PEERCOACH_X` | `a\\|b` | one \\| two |" in table
    assert (
        replace_settings_table(f"{SETTINGS_TABLE_START}{SETTINGS_TABLE_END}", table).count("PEERCOACH_X") == 1
    )
