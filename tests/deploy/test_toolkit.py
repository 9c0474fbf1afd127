"""The deployment kit, checked offline: Toolkit YAML against the Toolkit's published schema, every ${{VAR}} defined
in its env file, the Bicep's parameters, modules, outputs and app settings consistent with each other and with
the settings peercoach knows, the secrets kept out of git, and the Graph permissions in the deploy guide.

The schema is the one @microsoft/m365agentstoolkit-cli 1.1.17 ships (resource/yaml-schema/v1.13), vendored
because the test must not need the network.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

from teams_app.config import describe_settings
from teams_app.graph_permissions import GRAPH_APPLICATION_PERMISSIONS

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = Path(__file__).with_name("m365agents-yaml-schema-v1.13.json")
PLACEHOLDER = re.compile(r"\$\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
# Which env file each Toolkit project file reads (environmentFolderPath ./env, `--env <name>`).
PROJECTS = {"m365agents.yml": "dev", "m365agents.local.yml": "local", "m365agents.playground.yml": "playground"}
# App settings the platforms read (not peercoach settings).
PLATFORM_SETTINGS = {"SCM_DO_BUILD_DURING_DEPLOYMENT", "WEBSITES_PORT", "WEBSITES_CONTAINER_STOP_TIME_LIMIT",
                     "ApplicationInsightsAgent_EXTENSION_VERSION", "APPLICATIONINSIGHTS_CONNECTION_STRING", "PORT"}


def env_file(name: str) -> tuple[dict[str, str], str]:
    """(variables, comment text) of env/.env.<name>."""
    text = (ROOT / "env" / f".env.{name}").read_text(encoding="utf-8")
    values: dict[str, str] = {}
    comments = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("#"):
            comments.append(stripped)
        elif stripped:
            key, sep, value = stripped.partition("=")
            assert sep, f".env.{name}: '{line}' is not NAME=value"
            assert key not in values, f".env.{name} defines {key} twice"
            values[key] = value
    return values, "\n".join(comments)


def assert_defined(variables: set[str], env_name: str, where: str) -> None:
    values, comments = env_file(env_name)
    missing = []
    for var in sorted(variables):
        if var in values:
            continue
        if var.startswith("SECRET_") and re.search(rf"\b{var}\b", comments):
            continue  # documented secret, kept in the git-ignored .env.<name>.user
        missing.append(var)
    assert missing == [], f"{where} uses {missing}, not defined in env/.env.{env_name} (or documented as a secret)"


def placeholders(path: Path) -> set[str]:
    return set(PLACEHOLDER.findall(path.read_text(encoding="utf-8")))


@pytest.mark.parametrize("project", sorted(PROJECTS))
def test_toolkit_file_parses_and_validates_against_the_toolkit_schema(project: str) -> None:
    document = yaml.safe_load((ROOT / project).read_text(encoding="utf-8"))
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    validator = jsonschema.Draft7Validator(schema)
    errors = sorted(validator.iter_errors(document), key=lambda e: list(e.path))
    assert errors == [], "\n".join(f"{list(e.path)}: {e.message[:300]}" for e in errors)
    assert document["environmentFolderPath"] == "./env"


def test_the_schema_catches_a_misspelt_action() -> None:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    broken = {"version": "v1.13", "provision": [{"uses": "teamsApp/zipPackage", "with": {}}]}
    assert list(jsonschema.Draft7Validator(schema).iter_errors(broken))


@pytest.mark.parametrize("project", sorted(PROJECTS))
def test_every_toolkit_variable_is_defined_in_its_env_file(project: str) -> None:
    env_name = PROJECTS[project]
    used = placeholders(ROOT / project)
    document = yaml.safe_load((ROOT / project).read_text(encoding="utf-8"))
    written: set[str] = set()  # variables earlier actions write (teamsApp/create, aadApp/create, ...)
    for stage in ("provision", "deploy", "publish"):
        for action in document.get(stage) or []:
            written |= set((action.get("writeToEnvironmentFile") or {}).values())
            if action["uses"] == "script":
                written |= set(re.findall(r"::set-teamsfx-env (\w+)=", action["with"]["run"]))
    # Names actions write must be in the env file too, so the file documents everything the project uses.
    assert_defined(used | written, env_name, project)
    # The app package is built in dev and local: the manifest's variables must be there too.
    if any(a.get("uses") == "teamsApp/zipAppPackage" for a in document.get("provision") or []):
        for manifest in ("manifest.json", "de.json"):
            assert_defined(placeholders(ROOT / "manifest" / manifest), env_name, f"manifest/{manifest}")


def test_every_bicep_parameter_placeholder_is_defined_in_env_dev() -> None:
    assert_defined(placeholders(ROOT / "infra" / "azure.parameters.json"), "dev", "infra/azure.parameters.json")


def test_secrets_live_only_in_git_ignored_user_files() -> None:
    for name in PROJECTS.values():
        values, _ = env_file(name)
        assert not [k for k in values if k.startswith("SECRET_")], f"env/.env.{name} holds a secret"
        ignored = subprocess.run(["git", "check-ignore", "-q", f"env/.env.{name}.user"], cwd=ROOT)
        assert ignored.returncode == 0, f"env/.env.{name}.user is not git-ignored"
        tracked = subprocess.run(["git", "check-ignore", "-q", f"env/.env.{name}"], cwd=ROOT)
        assert tracked.returncode == 1, f"env/.env.{name} must be committed"


# -- Bicep -------------------------------------------------------------------------------------------
def bicep_files() -> list[Path]:
    return sorted((ROOT / "infra").rglob("*.bicep"))


def declared_params(text: str) -> dict[str, bool]:
    """param name -> has a default value."""
    found = {}
    for match in re.finditer(r"^param\s+(\w+)\s+\w+(\s*=)?", text, re.MULTILINE):
        found[match.group(1)] = bool(match.group(2))
    return found


def code_only(text: str) -> str:
    """Bicep without comments and string contents (either may hold braces, quotes or '//')."""
    out, i = [], 0
    while i < len(text):
        if text.startswith("//", i):
            i = text.find("\n", i) if "\n" in text[i:] else len(text)
        elif text.startswith("/*", i):
            i = text.index("*/", i) + 2
        elif text[i] == "'":
            i += 1
            while text[i] != "'":
                i += 2 if text[i] == "\\" else 1
            i += 1
            out.append("''")
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def block_after(text: str, start: int) -> str:
    """The text inside the braces opening at or after ``start``."""
    open_at = text.index("{", start)
    depth = 0
    for i in range(open_at, len(text)):
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        if depth == 0:
            return text[open_at + 1:i]
    raise AssertionError("unbalanced braces")


def top_level_keys(block: str) -> set[str]:
    keys, depth = set(), 0
    for line in block.splitlines():
        if depth == 0:
            match = re.match(r"\s*(\w+)\s*:", line)
            if match:
                keys.add(match.group(1))
        depth += line.count("{") + line.count("[") - line.count("}") - line.count("]")
    return keys


@pytest.mark.parametrize("name", [p.relative_to(ROOT / "infra").as_posix() for p in bicep_files()])
def test_bicep_file_parses(name: str) -> None:
    # pycep-parser's Bicep grammar (no Bicep CLI can be installed offline here; CI on Azure runs `bicep build`).
    from pycep import BicepParser

    parsed = BicepParser().parse(text=(ROOT / "infra" / name).read_text(encoding="utf-8"))
    assert parsed["resources"] or parsed["modules"], f"{name} declares nothing"


def test_bicep_parser_refuses_a_broken_file() -> None:
    from lark.exceptions import UnexpectedInput
    from pycep import BicepParser

    with pytest.raises(UnexpectedInput):
        BicepParser().parse(text="resource a 'X/y@2020-01-01' = {\n  name: 'a'\n  properties: {\n}\n")


def test_bicep_files_are_balanced_and_modules_get_exactly_their_parameters() -> None:
    for path in bicep_files():
        text = code_only(path.read_text(encoding="utf-8"))
        for opening, closing in ("{}", "[]", "()"):
            assert text.count(opening) == text.count(closing), f"{path.name}: unbalanced {opening}{closing}"
        for match in re.finditer(r"^module\s+\w+\s+'([^']+)'", path.read_text(encoding="utf-8"), re.MULTILINE):
            module = path.parent / match.group(1)
            assert module.is_file(), f"{path.name} uses a missing module {match.group(1)}"
            params = declared_params(module.read_text(encoding="utf-8"))
            body = block_after(path.read_text(encoding="utf-8"), match.end())
            params_at = re.search(r"^\s*params\s*:", body, re.MULTILINE)
            assert params_at is not None
            passed = top_level_keys(block_after(body, params_at.end()))
            assert passed <= set(params), f"{module.name}: unknown parameters {passed - set(params)}"
            required = {name for name, has_default in params.items() if not has_default}
            assert required <= passed, f"{module.name}: missing parameters {required - passed}"


def test_parameters_file_matches_the_template() -> None:
    params = declared_params((ROOT / "infra" / "azure.bicep").read_text(encoding="utf-8"))
    given = json.loads((ROOT / "infra" / "azure.parameters.json").read_text(encoding="utf-8"))["parameters"]
    assert set(given) <= set(params), f"unknown parameters: {set(given) - set(params)}"
    required = {name for name, has_default in params.items() if not has_default}
    assert required <= set(given), f"parameters without a value: {required - set(given)}"


def test_bicep_outputs_feed_env_dev() -> None:
    outputs = re.findall(r"^output\s+(\w+)\s", (ROOT / "infra" / "azure.bicep").read_text(encoding="utf-8"),
                         re.MULTILINE)
    assert {"BOT_ID", "BOT_DOMAIN", "BOT_ENDPOINT", "AZURE_APP_SERVICE_RESOURCE_ID"} <= set(outputs)
    values, _ = env_file("dev")
    assert [o for o in outputs if o not in values] == []
    assert all(o == o.upper() for o in outputs), "the Toolkit writes outputs under their upper-case names"


def test_app_settings_in_the_bicep_are_settings_peercoach_knows() -> None:
    known = {name for name, _, _ in describe_settings()}
    named = set()
    for path in bicep_files():
        named |= set(re.findall(r"name:\s*'([A-Za-z][A-Za-z0-9_]*)'\s*[,\n]\s*(?:value|secret|secretRef)\s*:",
                                path.read_text(encoding="utf-8")))
    peercoach = {n for n in named if n.startswith("PEERCOACH_")}
    assert len(peercoach) > 20
    assert sorted(peercoach - known) == [], "app settings peercoach does not know"
    assert sorted(named - peercoach - PLATFORM_SETTINGS) == []
    # What a production instance cannot run without.
    assert {"PEERCOACH_DB__URL", "PEERCOACH_BOT__APP_ID", "PEERCOACH_BOT__APP_TYPE", "PEERCOACH_BOT__APP_TENANT_ID",
            "PEERCOACH_PUBLIC_URL", "PEERCOACH_LRS__ENDPOINT", "PEERCOACH_LRS__PASSWORD",
            "PEERCOACH_SMTP__PASSWORD", "PEERCOACH_GRAPH__CLIENT_SECRET",
            "PEERCOACH_GRAPH__MANAGED_IDENTITY_CLIENT_ID", "PEERCOACH_SERVER__SHUTDOWN_GRACE_S"} <= peercoach


def test_secret_settings_come_from_key_vault_only() -> None:
    text = (ROOT / "infra" / "azure.bicep").read_text(encoding="utf-8")
    plain = block_after(text, text.index("var plainSettings"))
    assert "PASSWORD" not in plain and "SECRET" not in plain
    assert "@Microsoft.KeyVault(SecretUri=" in (ROOT / "infra" / "modules" / "appservice.bicep").read_text()
    assert "keyVaultUrl" in (ROOT / "infra" / "modules" / "containerapps.bicep").read_text()


def test_hosting_meets_the_production_checklist() -> None:
    app_service = (ROOT / "infra" / "modules" / "appservice.bicep").read_text(encoding="utf-8")
    for needle in ("'PYTHON|3.12'", "alwaysOn: true", "healthCheckPath: '/healthz'", "gunicorn",
                   "peercoach db upgrade", "httpsOnly: true"):
        assert needle in app_service, needle
    containers = (ROOT / "infra" / "modules" / "containerapps.bicep").read_text(encoding="utf-8")
    for needle in ("path: '/healthz'", "path: '/readyz'", "'peercoach', 'db', 'upgrade'", "minReplicas"):
        assert needle in containers, needle
    main = (ROOT / "infra" / "azure.bicep").read_text(encoding="utf-8")
    assert "@minValue(1)\n@maxValue(30)\n@description('Instances" in main
    bot = (ROOT / "infra" / "modules" / "bot.bicep").read_text(encoding="utf-8")
    assert "@allowed(['UserAssignedMSI', 'SingleTenant'])" in bot
    assert "'MsTeamsChannel'" in bot and "'EmailChannel'" in bot


def test_deploy_guide_lists_every_graph_permission_with_the_consent_step() -> None:
    guide = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
    missing = [p.name for p in GRAPH_APPLICATION_PERMISSIONS if p.name not in guide]
    assert missing == []
    assert "admin consent" in guide.lower() and "appRoleAssignments" in guide
    for check in ("peercoach graph check", "peercoach lrs check", "/readyz", "peercoach db upgrade"):
        assert check in guide, check
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "docs/deploy.md" in readme


@pytest.mark.slow
def test_app_service_package_is_a_wheel_with_the_server_extra(tmp_path: Path) -> None:
    out = tmp_path / "appservice"
    subprocess.run([sys.executable, str(ROOT / "infra" / "appservice_package.py"), str(out)], check=True,
                   capture_output=True)
    wheels = list(out.glob("peercoach-*.whl"))
    assert len(wheels) == 1
    assert (out / "requirements.txt").read_text() == f"./{wheels[0].name}[server]\n"
    import zipfile

    names = zipfile.ZipFile(wheels[0]).namelist()
    assert "teams_app/entrypoints/gunicorn.py" in names and "teams_app/adapters/identity.py" in names
    metadata = next(n for n in names if n.endswith("METADATA"))
    assert "Provides-Extra: server" in zipfile.ZipFile(wheels[0]).read(metadata).decode()


@pytest.mark.parametrize("project", sorted(PROJECTS))
def test_files_the_toolkit_reads_exist(project: str) -> None:
    document = yaml.safe_load((ROOT / project).read_text(encoding="utf-8"))
    inputs = []
    for stage in ("provision", "deploy", "publish"):
        for action in document.get(stage) or []:
            options = action.get("with") or {}
            inputs += [options[k] for k in ("manifestPath",) if k in options]
            for template in options.get("templates", []):
                inputs += [template["path"], template["parameters"]]
            run = options.get("run", "")
            inputs += re.findall(r"python (\S+\.py)", run)
    assert inputs or project == "m365agents.playground.yml"
    missing = [path for path in inputs if not (ROOT / path).is_file()]
    assert missing == [], f"{project} reads missing files {missing}"


def test_compose_runs_migrations_once_before_the_bot() -> None:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))
    services = compose["services"]
    assert {"db", "migrate", "bot", "lrs"} <= set(services)
    assert services["migrate"]["command"] == ["peercoach", "db", "upgrade"]
    assert services["migrate"]["depends_on"]["db"]["condition"] == "service_healthy"
    assert services["bot"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert "command" not in services["bot"], "the bot runs the image's CMD (peercoach serve)"
    assert services["lrs"]["profiles"] == ["lrs"], "the local LRS is optional"
    assert services["bot"]["build"] == "." and services["bot"]["image"] == services["migrate"]["image"]
    # Every PEERCOACH_ variable compose sets is a setting peercoach knows.
    known = {name for name, _, _ in describe_settings()}
    for service in ("bot", "migrate"):
        names = {n for n in services[service]["environment"] if n.startswith("PEERCOACH_")}
        assert names and names <= known
    grace = services["bot"]["stop_grace_period"]
    assert int(grace.rstrip("s")) > 30, "longer than the default PEERCOACH_SERVER__SHUTDOWN_GRACE_S"
