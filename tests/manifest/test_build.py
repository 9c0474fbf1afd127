"""`peercoach manifest build`: a complete env file gives a package that passes the official schema;
every refusal names what to change and leaves no package behind."""

from __future__ import annotations

import json
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from PIL import Image

from teams_app.config import Settings
from teams_app.entrypoints.cli.manifest import manifest
from teams_app.manifest_package import (
    DEFAULT_SOURCE_DIR,
    ManifestBuildError,
    NodeSchemaValidator,
    ValidatorUnavailableError,
    check_values,
    fill_template,
    values_from_settings,
)

from .conftest import BOT_ID, COMPLETE_ENV, GRAPH_CLIENT_ID, TEAMS_APP_ID, write_env

OTHER_GUID = "11111111-2222-4333-8444-555555555555"


def run_build(*args: str) -> Result:
    return CliRunner().invoke(manifest, ["build", *args], catch_exceptions=False)


def assert_refused(result: Result, *fragments: str, out: Path) -> None:
    assert result.exit_code == 1, result.output
    for fragment in fragments:
        assert fragment in result.output, result.output
    assert not out.exists(), "a refused build must not leave a package behind"


# --- the successful build ---------------------------------------------------------------------------------


def test_build_with_complete_env_file_writes_zip_that_passes_official_schema(
    isolated_settings: Path, validator: NodeSchemaValidator
) -> None:
    env = write_env(isolated_settings / "prod.env")
    out = isolated_settings / "dist" / "appPackage.zip"

    result = run_build("--env-file", str(env), "--out", str(out))

    assert result.exit_code == 0, result.output
    assert "passed the official schema (@microsoft/app-manifest@" in result.output
    with zipfile.ZipFile(out) as archive:
        assert archive.namelist() == ["manifest.json", "color.png", "outline.png", "de.json"]
        data = json.loads(archive.read("manifest.json"))
        extracted = isolated_settings / "extracted"
        archive.extractall(extracted)
    assert data["manifestVersion"] == "1.30"
    assert data["id"] == TEAMS_APP_ID
    assert data["version"] == "1.2.3"
    assert data["bots"][0]["botId"] == BOT_ID
    assert data["webApplicationInfo"]["id"] == GRAPH_CLIENT_ID
    assert data["validDomains"] == ["peercoach.contoso.com"]
    assert data["developer"]["privacyUrl"] == "https://learning.contoso.com/privacy"
    assert set(data["bots"][0]["scopes"]) == {"personal", "team", "groupChat"}
    # Independent of the build's own check: the zip's content, re-validated as Teams would receive it.
    report = validator.validate(extracted / "manifest.json")
    assert report.ok, report.errors
    with Image.open(extracted / "outline.png") as outline:
        assert outline.size == (32, 32)


def test_build_zip_is_byte_identical_for_identical_inputs(
    isolated_settings: Path, node_modules: Path
) -> None:
    env = write_env(isolated_settings / "prod.env")
    first, second = isolated_settings / "a.zip", isolated_settings / "b.zip"
    assert run_build("--env-file", str(env), "--out", str(first)).exit_code == 0
    assert run_build("--env-file", str(env), "--out", str(second)).exit_code == 0
    assert first.read_bytes() == second.read_bytes()


def test_command_lists_match_the_bot_commands() -> None:
    template = json.loads((DEFAULT_SOURCE_DIR / "manifest.json").read_text(encoding="utf-8"))
    lists = {
        tuple(c["scopes"]): [cmd["title"] for cmd in c["commands"]]
        for c in template["bots"][0]["commandLists"]
    }
    assert lists[("personal",)] == [
        "join",
        "profile",
        "pause",
        "resume",
        "leave",
        "my matches",
        "progress",
        "help",
    ]
    assert lists[("team", "groupChat")] == ["program list", "program create", "round run", "status", "help"]
    # German users type the same commands: only descriptions are translated, never titles.
    german = json.loads((DEFAULT_SOURCE_DIR / "de.json").read_text(encoding="utf-8"))
    assert not [key for key in german if key.endswith(".title") and key.startswith("bots")]
    described = [k for k in german if k.startswith("bots[0].commandLists")]
    assert len(described) == sum(len(v) for v in lists.values())


def test_description_tells_admins_what_data_is_recorded() -> None:
    template = json.loads((DEFAULT_SOURCE_DIR / "manifest.json").read_text(encoding="utf-8"))
    full = template["description"]["full"]
    for fact in ("xAPI", "Learning Record Store", "profile", "Microsoft Graph", "erase"):
        assert fact in full, fact


def test_domain_falls_back_to_the_public_url_host() -> None:
    settings = Settings(
        bot={"app_id": BOT_ID},
        public_url="https://coach.contoso.com:443/bot",
        manifest={"app_id": TEAMS_APP_ID},
    )
    values = values_from_settings(settings)
    assert values["BOT_DOMAIN"] == "coach.contoso.com"
    assert values["BOT_ID"] == BOT_ID
    assert values["AAD_APP_CLIENT_ID"] == BOT_ID  # no separate Graph app: the bot's app holds the permissions


def test_fill_template_json_escapes_values() -> None:
    filled = fill_template('{"name": "${{DEVELOPER_NAME}}"}', {"DEVELOPER_NAME": 'Contoso "L&D" \\ Team'})
    assert json.loads(filled) == {"name": 'Contoso "L&D" \\ Team'}


# --- refusals ---------------------------------------------------------------------------------------------


def test_build_refuses_a_missing_value(isolated_settings: Path) -> None:
    env = write_env(isolated_settings / "x.env", PEERCOACH_MANIFEST__APP_ID=None)
    out = isolated_settings / "appPackage.zip"
    assert_refused(
        run_build("--env-file", str(env), "--out", str(out)),
        "missing value for TEAMS_APP_ID (set PEERCOACH_MANIFEST__APP_ID)",
        out=out,
    )


def test_build_refuses_a_missing_bot_registration(isolated_settings: Path) -> None:
    env = write_env(isolated_settings / "x.env", PEERCOACH_BOT__APP_ID=None)
    out = isolated_settings / "appPackage.zip"
    assert_refused(run_build("--env-file", str(env), "--out", str(out)), "PEERCOACH_BOT__APP_ID", out=out)


def test_build_refuses_a_malformed_guid(isolated_settings: Path) -> None:
    env = write_env(
        isolated_settings / "x.env", PEERCOACH_MANIFEST__APP_ID="0a1b2c3d-4e5f-4061-8293-a4b5c6d7e8"
    )
    out = isolated_settings / "appPackage.zip"
    assert_refused(
        run_build("--env-file", str(env), "--out", str(out)),
        "TEAMS_APP_ID (set PEERCOACH_MANIFEST__APP_ID) is not a GUID",
        out=out,
    )


def test_build_refuses_a_bot_id_that_differs_from_the_app_registration(isolated_settings: Path) -> None:
    env = write_env(isolated_settings / "x.env", PEERCOACH_MANIFEST__BOT_ID=OTHER_GUID)
    out = isolated_settings / "appPackage.zip"
    assert_refused(
        run_build("--env-file", str(env), "--out", str(out)),
        f"bot id {OTHER_GUID} (PEERCOACH_MANIFEST__BOT_ID) differs from the bot registration",
        f"PEERCOACH_BOT__APP_ID={BOT_ID}",
        out=out,
    )


def test_bot_id_equal_to_the_registration_in_other_case_is_accepted() -> None:
    values = {"BOT_ID": BOT_ID.upper(), "TEAMS_APP_ID": TEAMS_APP_ID}
    check_values(values, registered_bot_id=BOT_ID)


def test_build_refuses_a_placeholder_left_unfilled(isolated_settings: Path, source_copy: Path) -> None:
    template = source_copy / "manifest.json"
    template.write_text(
        template.read_text(encoding="utf-8").replace(
            '"accentColor"', '"supportEmail": "${{SUPPORT_EMAIL}}",\n  "accentColor"'
        ),
        encoding="utf-8",
    )
    env = write_env(isolated_settings / "x.env")
    out = isolated_settings / "appPackage.zip"
    assert_refused(
        run_build("--env-file", str(env), "--out", str(out), "--source", str(source_copy)),
        "placeholder left unfilled in manifest.json: SUPPORT_EMAIL (no setting provides it)",
        out=out,
    )


def test_a_value_that_looks_like_a_placeholder_is_reported_not_expanded() -> None:
    with pytest.raises(
        ManifestBuildError, match=r"left unfilled in manifest.json: BOT_ID \(set PEERCOACH_BOT__APP_ID\)"
    ):
        fill_template('{"n": "${{DEVELOPER_NAME}}"}', {"DEVELOPER_NAME": "${{BOT_ID}}"})
    with pytest.raises(ManifestBuildError, match="malformed"):
        fill_template('{"n": "${{ bot-id }}"}', {})


def test_build_refuses_a_domain_given_as_url(isolated_settings: Path) -> None:
    env = write_env(isolated_settings / "x.env", PEERCOACH_MANIFEST__DOMAIN="https://peercoach.contoso.com/")
    out = isolated_settings / "appPackage.zip"
    assert_refused(
        run_build("--env-file", str(env), "--out", str(out)), "host name only, without https://", out=out
    )


def test_build_refuses_http_privacy_url_and_bad_version_together(isolated_settings: Path) -> None:
    env = write_env(
        isolated_settings / "x.env",
        PEERCOACH_MANIFEST__PRIVACY_URL="http://learning.contoso.com/privacy",
        PEERCOACH_MANIFEST__VERSION="1.2",
    )
    out = isolated_settings / "appPackage.zip"
    assert_refused(
        run_build("--env-file", str(env), "--out", str(out)),
        "PRIVACY_URL (set PEERCOACH_MANIFEST__PRIVACY_URL) must be an https:// URL",
        "APP_VERSION (set PEERCOACH_MANIFEST__VERSION) must be MAJOR.MINOR.PATCH",
        out=out,
    )


def test_build_reports_official_schema_errors(isolated_settings: Path, node_modules: Path) -> None:
    # 33 characters passes our own checks; the official schema allows 32.
    env = write_env(
        isolated_settings / "x.env", PEERCOACH_MANIFEST__DEVELOPER_NAME="Contoso Learning and Development!"
    )
    out = isolated_settings / "appPackage.zip"
    assert_refused(
        run_build("--env-file", str(env), "--out", str(out)),
        "does not pass the official Teams schema",
        "manifest.json: /developer/name must NOT have more than 32 characters",
        out=out,
    )


def test_build_validates_localization_files_against_their_schema(
    isolated_settings: Path, source_copy: Path
) -> None:
    german = json.loads((source_copy / "de.json").read_text(encoding="utf-8"))
    german["description.short"] = "x" * 81
    (source_copy / "de.json").write_text(json.dumps(german, ensure_ascii=False), encoding="utf-8")
    env = write_env(isolated_settings / "x.env")
    out = isolated_settings / "appPackage.zip"
    assert_refused(
        run_build("--env-file", str(env), "--out", str(out), "--source", str(source_copy)),
        "de.json: /description.short must NOT have more than 80 characters",
        out=out,
    )


def test_build_refuses_an_outline_icon_of_the_wrong_size(isolated_settings: Path, source_copy: Path) -> None:
    Image.new("RGBA", (64, 64), (255, 255, 255, 0)).save(source_copy / "outline.png")
    env = write_env(isolated_settings / "x.env")
    out = isolated_settings / "appPackage.zip"
    assert_refused(
        run_build("--env-file", str(env), "--out", str(out), "--source", str(source_copy)),
        "outline icon outline.png is 64x64 px; Teams requires 32x32",
        out=out,
    )


def test_build_explains_how_to_install_the_validator_when_node_modules_is_missing(
    isolated_settings: Path, source_copy: Path
) -> None:
    (source_copy / "node_modules").unlink()
    env = write_env(isolated_settings / "x.env")
    out = isolated_settings / "appPackage.zip"
    assert_refused(
        run_build("--env-file", str(env), "--out", str(out), "--source", str(source_copy)),
        "@microsoft/app-manifest is not installed",
        "npm ci --prefix manifest",
        out=out,
    )


def test_build_explains_a_missing_node_executable(isolated_settings: Path, node_modules: Path) -> None:
    env = write_env(isolated_settings / "x.env")
    out = isolated_settings / "appPackage.zip"
    assert_refused(
        run_build("--env-file", str(env), "--out", str(out), "--node", "peercoach-no-such-node"),
        "Node.js ('peercoach-no-such-node') was not found on PATH",
        out=out,
    )


def test_build_refuses_an_env_file_that_does_not_exist(isolated_settings: Path) -> None:
    result = CliRunner().invoke(manifest, ["build", "--env-file", str(isolated_settings / "nope.env")])
    assert result.exit_code == 2
    assert "does not exist" in result.output


def test_validator_reports_a_crash_as_unavailable_not_as_valid(tmp_path: Path, node_modules: Path) -> None:
    (tmp_path / "manifest.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ValidatorUnavailableError, match="is not valid JSON"):
        NodeSchemaValidator(tools_dir=DEFAULT_SOURCE_DIR).validate(tmp_path / "manifest.json")


# --- offline ----------------------------------------------------------------------------------------------

BLOCK_NETWORK = """
const net = require("node:net");
const refuse = function () { throw new Error("network access attempted during offline validation"); };
net.Socket.prototype.connect = refuse;
net.connect = refuse;
net.createConnection = refuse;
globalThis.fetch = async () => refuse();
"""


def test_schema_validation_runs_without_network(tmp_path: Path, node_modules: Path) -> None:
    blocker = tmp_path / "block-network.cjs"
    blocker.write_text(BLOCK_NETWORK, encoding="utf-8")
    node = shutil.which("node")
    assert node is not None
    # The blocker really blocks: a fetch under it fails.
    probe = subprocess.run(
        [
            node,
            "--require",
            str(blocker),
            "-e",
            "fetch('http://127.0.0.1:9').catch(e => {console.log(e.message); process.exit(3)})",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert probe.returncode == 3 and "network access attempted" in probe.stdout, probe
    values = {
        "TEAMS_APP_ID": TEAMS_APP_ID,
        "BOT_ID": BOT_ID,
        "AAD_APP_CLIENT_ID": GRAPH_CLIENT_ID,
        "BOT_DOMAIN": "peercoach.contoso.com",
        "APP_VERSION": "1.0.0",
        "DEVELOPER_NAME": "Contoso",
        "DEVELOPER_WEBSITE_URL": "https://contoso.com",
        "PRIVACY_URL": "https://contoso.com/p",
        "TERMS_URL": "https://contoso.com/t",
    }
    filled = fill_template((DEFAULT_SOURCE_DIR / "manifest.json").read_text(encoding="utf-8"), values)
    (tmp_path / "manifest.json").write_text(filled, encoding="utf-8")
    shutil.copy2(DEFAULT_SOURCE_DIR / "de.json", tmp_path / "de.json")
    run = subprocess.run(
        [
            node,
            "--require",
            str(blocker),
            str(DEFAULT_SOURCE_DIR / "validate.mjs"),
            str(tmp_path / "manifest.json"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert json.loads(run.stdout) == {
        "ok": True,
        "manifestVersion": "1.30",
        "package": json.loads(run.stdout)["package"],
        "errors": [],
    }


def test_complete_env_covers_every_placeholder_in_the_template() -> None:
    from teams_app.manifest_package import PLACEHOLDER_RE, PLACEHOLDERS

    used = set(PLACEHOLDER_RE.findall((DEFAULT_SOURCE_DIR / "manifest.json").read_text(encoding="utf-8")))
    assert used == {p.name for p in PLACEHOLDERS}
    assert {"TEAMS_APP_ID", "BOT_ID", "BOT_DOMAIN", "APP_VERSION", "PRIVACY_URL", "TERMS_URL"} <= used
    assert set(COMPLETE_ENV) >= {"PEERCOACH_MANIFEST__APP_ID", "PEERCOACH_BOT__APP_ID"}


def test_build_refuses_the_example_default_urls(isolated_settings: Path) -> None:
    env = write_env(isolated_settings / "x.env", PEERCOACH_MANIFEST__TERMS_URL=None)
    out = isolated_settings / "appPackage.zip"
    assert_refused(
        run_build("--env-file", str(env), "--out", str(out)),
        "TERMS_URL (set PEERCOACH_MANIFEST__TERMS_URL) still points at the example default",
        out=out,
    )
