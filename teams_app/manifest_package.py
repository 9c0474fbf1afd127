"""Build the Teams app package (``appPackage.zip``) from the ``manifest/`` template.

Steps, each a plain function so tests can drive them one by one:

1. :func:`values_from_settings` maps settings to the template's ``${{VAR}}`` placeholders;
2. :func:`check_values` refuses a missing value, a malformed GUID, domain, version or URL, and a bot id
   that differs from the bot registration the server authenticates as (``PEERCOACH_BOT__APP_ID``);
3. :func:`fill_template` substitutes the values (JSON-escaped) and refuses any placeholder left unfilled;
4. :func:`build_package` checks the icons, validates the filled manifest and localization files against the
   official JSON schema offline (``manifest/validate.mjs`` running the ``@microsoft/app-manifest`` npm
   package) and writes the zip with every file at its root.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import struct
import subprocess
import tempfile
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

from teams_app.config import Settings

logger = logging.getLogger(__name__)

#: Where the template, icons, localization files and the node validator live in a source checkout.
DEFAULT_SOURCE_DIR = Path(__file__).resolve().parent.parent / "manifest"
INSTALL_HINT = "npm ci --prefix manifest"

PLACEHOLDER_RE = re.compile(r"\$\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
# The manifest schema's own GUID pattern.
GUID_RE = re.compile(r"^[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
DOMAIN_RE = re.compile(
    r"^(?=.{1,253}$)(?:\*\.)?(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$"
)
# Teams wants MAJOR.MINOR.PATCH, numbers only.
VERSION_RE = re.compile(r"^(?:0|[1-9]\d*)\.(?:0|[1-9]\d*)\.(?:0|[1-9]\d*)$")
ICON_SIZES = {"color": (192, 192), "outline": (32, 32)}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# A fixed timestamp makes the zip byte-identical for identical inputs.
ZIP_DATE_TIME = (2024, 1, 1, 0, 0, 0)


class ManifestBuildError(Exception):
    """The package cannot be built; ``problems`` lists every reason, each naming what to change."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("cannot build the Teams app package:\n  " + "\n  ".join(self.problems))


class ValidatorUnavailableError(ManifestBuildError):
    """The offline schema validator (node + @microsoft/app-manifest) could not run."""


@dataclass(frozen=True)
class Placeholder:
    name: str
    setting: str  # the environment variable an admin sets
    kind: str  # guid | domain | version | https | text


PLACEHOLDERS: tuple[Placeholder, ...] = (
    Placeholder("TEAMS_APP_ID", "PEERCOACH_MANIFEST__APP_ID", "guid"),
    Placeholder("BOT_ID", "PEERCOACH_BOT__APP_ID", "guid"),
    Placeholder("AAD_APP_CLIENT_ID", "PEERCOACH_GRAPH__CLIENT_ID (or PEERCOACH_BOT__APP_ID)", "guid"),
    Placeholder("BOT_DOMAIN", "PEERCOACH_MANIFEST__DOMAIN (or the host of PEERCOACH_PUBLIC_URL)", "domain"),
    Placeholder("APP_VERSION", "PEERCOACH_MANIFEST__VERSION", "version"),
    Placeholder("DEVELOPER_NAME", "PEERCOACH_MANIFEST__DEVELOPER_NAME", "text"),
    Placeholder("DEVELOPER_WEBSITE_URL", "PEERCOACH_MANIFEST__WEBSITE_URL", "https"),
    Placeholder("PRIVACY_URL", "PEERCOACH_MANIFEST__PRIVACY_URL", "https"),
    Placeholder("TERMS_URL", "PEERCOACH_MANIFEST__TERMS_URL", "https"),
)
_BY_NAME = {p.name: p for p in PLACEHOLDERS}


def values_from_settings(settings: Settings) -> dict[str, str]:
    """Placeholder values from settings; empty strings stay empty so :func:`check_values` can name them."""
    manifest = settings.manifest
    bot_id = manifest.bot_id or settings.bot.app_id
    domain = manifest.domain or (urlsplit(settings.public_url).hostname or "" if settings.public_url else "")
    return {
        "TEAMS_APP_ID": manifest.app_id,
        "BOT_ID": bot_id,
        # webApplicationInfo names the Entra app holding the Graph permissions, so the Teams admin center
        # shows them on the app's Permissions page; that is the Graph app when it is a separate one.
        "AAD_APP_CLIENT_ID": settings.graph.client_id or settings.bot.app_id,
        "BOT_DOMAIN": domain,
        "APP_VERSION": manifest.version,
        "DEVELOPER_NAME": manifest.developer_name,
        "DEVELOPER_WEBSITE_URL": manifest.website_url,
        "PRIVACY_URL": manifest.privacy_url,
        "TERMS_URL": manifest.terms_url,
    }


def _check_one(placeholder: Placeholder, value: str) -> str | None:
    where = f"{placeholder.name} (set {placeholder.setting})"
    if not value.strip():
        return f"missing value for {where}"
    if placeholder.kind == "guid" and not GUID_RE.match(value):
        return f"{where} is not a GUID like 00000000-0000-0000-0000-000000000000: {value!r}"
    if placeholder.kind == "domain" and not DOMAIN_RE.match(value):
        hint = " (host name only, without https:// or a path)" if "/" in value or ":" in value else ""
        return f"{where} is not a host name like bot.example.com{hint}: {value!r}"
    if placeholder.kind == "version" and not VERSION_RE.match(value):
        return f"{where} must be MAJOR.MINOR.PATCH with numbers only, e.g. 1.0.3: {value!r}"
    if placeholder.kind == "https":
        parts = urlsplit(value)
        if parts.scheme != "https" or not parts.hostname:
            return f"{where} must be an https:// URL (Teams requires https): {value!r}"
        if _is_example_host(parts.hostname):
            return f"{where} still points at the example default; set your organisation's page: {value!r}"
    if placeholder.kind == "domain" and _is_example_host(value):
        return f"{where} is an example domain; set the bot's public host name: {value!r}"
    return None


def _is_example_host(host: str) -> bool:
    """Reserved example names (RFC 2606): the settings' defaults, never a real organisation's page."""
    host = host.lower().rstrip(".")
    return (
        host.endswith(".example")
        or host in {"example.com", "example.org", "example.net"}
        or any(host.endswith("." + d) for d in ("example.com", "example.org", "example.net"))
    )


def check_values(values: Mapping[str, str], *, registered_bot_id: str) -> None:
    """Refuse (with every reason at once) values that would produce a package Teams rejects or misroutes.

    ``registered_bot_id`` is the bot registration the server authenticates inbound activities against
    (``PEERCOACH_BOT__APP_ID``): a package naming another bot would send its traffic to a bot this server
    rejects.
    """
    problems: list[str] = []
    for placeholder in PLACEHOLDERS:
        if placeholder.name not in values:
            continue  # reported by fill_template only if the template actually uses it
        problem = _check_one(placeholder, values[placeholder.name])
        if problem:
            problems.append(problem)
    bot_id = values.get("BOT_ID", "")
    if not registered_bot_id.strip():
        if bot_id.strip():  # with both empty, "missing value for BOT_ID" already says it
            problems.append(
                "PEERCOACH_BOT__APP_ID is empty: the package must name the bot registration this server "
                "authenticates as"
            )
    elif GUID_RE.match(bot_id) and bot_id.lower() != registered_bot_id.strip().lower():
        problems.append(
            f"bot id {bot_id} (PEERCOACH_MANIFEST__BOT_ID) differs from the bot registration "
            f"PEERCOACH_BOT__APP_ID={registered_bot_id}: Teams would deliver messages to a bot this server "
            "does not authenticate as; use the same Microsoft App ID in both"
        )
    if problems:
        raise ManifestBuildError(problems)


def fill_template(text: str, values: Mapping[str, str], *, source: str = "manifest.json") -> str:
    """Replace ``${{NAME}}`` placeholders in JSON text in one pass; refuse any placeholder left unfilled.

    Values are JSON-string-escaped (placeholders sit inside JSON strings). One pass means a value that
    itself looks like a placeholder is not expanded again but reported.
    """

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            return match.group(0)
        return json.dumps(values[name], ensure_ascii=False)[1:-1]

    filled = PLACEHOLDER_RE.sub(substitute, text)
    left = sorted(set(PLACEHOLDER_RE.findall(filled)))
    if left or "${{" in filled:
        named = [
            f"{n} (set {_BY_NAME[n].setting})" if n in _BY_NAME else f"{n} (no setting provides it)"
            for n in left
        ]
        names = ", ".join(named) if named else "a malformed ${{...}} (use ${{UPPER_CASE_NAME}})"
        raise ManifestBuildError([f"placeholder left unfilled in {source}: {names}"])
    return filled


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk (no image library needed at run time)."""
    if len(data) < 24 or not data.startswith(PNG_SIGNATURE) or data[12:16] != b"IHDR":
        raise ValueError("not a PNG file")
    width, height = struct.unpack(">II", data[16:24])
    return int(width), int(height)


@dataclass(frozen=True)
class ValidationReport:
    ok: bool
    errors: list[str] = field(default_factory=list)
    validator: str = ""


class SchemaValidator(Protocol):
    def validate(self, manifest_path: Path) -> ValidationReport: ...


@dataclass(frozen=True)
class NodeSchemaValidator:
    """Runs ``manifest/validate.mjs`` with Node.js: the official schema from the npm package, offline."""

    tools_dir: Path = DEFAULT_SOURCE_DIR
    node: str = "node"
    timeout_s: float = 120.0

    def _check_installed(self) -> str:
        package_json = self.tools_dir / "node_modules" / "@microsoft" / "app-manifest" / "package.json"
        if not package_json.is_file():
            raise ValidatorUnavailableError(
                [
                    f"the schema validator package @microsoft/app-manifest is not installed in "
                    f"{self.tools_dir / 'node_modules'}; install it from the repository root with: "
                    f"{INSTALL_HINT}"
                ]
            )
        if not (self.tools_dir / "validate.mjs").is_file():
            raise ValidatorUnavailableError([f"{self.tools_dir / 'validate.mjs'} is missing"])
        node = shutil.which(self.node)
        if node is None:
            raise ValidatorUnavailableError(
                [
                    f"Node.js ({self.node!r}) was not found on PATH; install Node.js 18 or newer, "
                    f"then {INSTALL_HINT}"
                ]
            )
        return node

    def validate(self, manifest_path: Path) -> ValidationReport:
        node = self._check_installed()
        try:
            proc = subprocess.run(
                [node, str(self.tools_dir / "validate.mjs"), str(manifest_path)],
                capture_output=True,
                text=True,
                timeout=self.timeout_s,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise ValidatorUnavailableError(
                [f"schema validation took longer than {self.timeout_s:g} s"]
            ) from None
        lines = [line for line in proc.stdout.splitlines() if line.strip()]
        try:
            result = json.loads(lines[-1]) if lines else None
        except json.JSONDecodeError:
            result = None
        if not isinstance(result, dict):
            raise ValidatorUnavailableError(
                [f"schema validator exited {proc.returncode} without a result: {proc.stderr.strip()[-2000:]}"]
            )
        errors = [f"{e.get('file') or 'validator'}: {e.get('message')}" for e in result.get("errors", [])]
        if proc.returncode == 2:
            raise ValidatorUnavailableError(errors or ["schema validator failed"])
        return ValidationReport(
            ok=proc.returncode == 0 and bool(result.get("ok")),
            errors=errors,
            validator=str(result.get("package", "")),
        )


@dataclass(frozen=True)
class BuildResult:
    path: Path
    files: list[str]
    manifest: dict[str, object]
    validator: str


def _package_files(manifest: Mapping[str, object]) -> tuple[dict[str, str], list[str]]:
    """(icon kind -> file, localization files) named by the manifest, all at the package root."""
    icons = manifest.get("icons")
    icon_files = {k: str(v) for k, v in icons.items()} if isinstance(icons, dict) else {}
    loc_files: list[str] = []
    info = manifest.get("localizationInfo")
    if isinstance(info, dict):
        if info.get("defaultLanguageFile"):
            loc_files.append(str(info["defaultLanguageFile"]))
        for lang in info.get("additionalLanguages") or []:
            if isinstance(lang, dict) and lang.get("file"):
                loc_files.append(str(lang["file"]))
    return icon_files, loc_files


def build_package(
    values: Mapping[str, str],
    out_path: Path,
    *,
    registered_bot_id: str,
    validator: SchemaValidator,
    source_dir: Path = DEFAULT_SOURCE_DIR,
) -> BuildResult:
    """Check, fill, validate and zip; nothing is written to ``out_path`` unless every step passes."""
    check_values(values, registered_bot_id=registered_bot_id)
    template_path = source_dir / "manifest.json"
    try:
        template = template_path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ManifestBuildError([f"cannot read the manifest template {template_path}: {exc}"]) from None
    filled = fill_template(template, values, source="manifest.json")
    try:
        manifest = json.loads(filled)
    except json.JSONDecodeError as exc:
        raise ManifestBuildError(
            [f"manifest.json is not valid JSON after filling placeholders: {exc}"]
        ) from None

    icon_files, loc_files = _package_files(manifest)
    problems: list[str] = []
    contents: dict[str, bytes] = {"manifest.json": filled.encode("utf-8")}
    for kind in ("color", "outline"):
        if kind not in icon_files:
            problems.append(f"manifest.json names no {kind} icon")
    for name in [*icon_files.values(), *loc_files]:
        if Path(name).name != name:
            problems.append(f"{name}: package files must sit at the zip root (a plain file name)")
            continue
        try:
            contents[name] = (source_dir / name).read_bytes()
        except OSError as exc:
            problems.append(f"{name} named in manifest.json cannot be read: {exc}")
    for kind, name in icon_files.items():
        if name not in contents or kind not in ICON_SIZES:
            continue
        try:
            size = png_size(contents[name])
        except ValueError:
            problems.append(f"{kind} icon {name} is not a PNG file")
            continue
        if size != ICON_SIZES[kind]:
            want = "x".join(map(str, ICON_SIZES[kind]))
            problems.append(f"{kind} icon {name} is {size[0]}x{size[1]} px; Teams requires {want}")
    for name in loc_files:
        if name in contents:
            try:
                text = fill_template(contents[name].decode("utf-8"), values, source=name)
                json.loads(text)
            except ManifestBuildError as exc:
                problems.extend(exc.problems)
                continue
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                problems.append(f"{name} is not valid UTF-8 JSON: {exc}")
                continue
            contents[name] = text.encode("utf-8")
    if problems:
        raise ManifestBuildError(problems)

    with tempfile.TemporaryDirectory(prefix="peercoach-manifest-") as tmp:
        for name, data in contents.items():
            (Path(tmp) / name).write_bytes(data)
        report = validator.validate(Path(tmp) / "manifest.json")
    if not report.ok:
        raise ManifestBuildError(
            [f"the manifest does not pass the official Teams schema ({report.validator}):", *report.errors]
        )

    order = ["manifest.json", *icon_files.values(), *loc_files]
    _write_zip(out_path, [(name, contents[name]) for name in dict.fromkeys(order)])
    logger.info("wrote %s (%s)", out_path, ", ".join(dict.fromkeys(order)))
    return BuildResult(
        path=out_path, files=list(dict.fromkeys(order)), manifest=manifest, validator=report.validator
    )


def _write_zip(out_path: Path, entries: Sequence[tuple[str, bytes]]) -> None:
    out_path.parent.mkdir(parents=True, exist_ok=True)
    # Write next to the target and rename, so a failed write never leaves a half package behind.
    fd, tmp_name = tempfile.mkstemp(prefix=out_path.name + ".", suffix=".tmp", dir=out_path.parent)
    try:
        with os.fdopen(fd, "wb") as handle, zipfile.ZipFile(handle, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, data in entries:
                info = zipfile.ZipInfo(name, date_time=ZIP_DATE_TIME)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16
                archive.writestr(info, data)
        os.replace(tmp_name, out_path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def build_from_settings(
    settings: Settings,
    out_path: Path,
    *,
    validator: SchemaValidator | None = None,
    source_dir: Path = DEFAULT_SOURCE_DIR,
) -> BuildResult:
    """The ``peercoach manifest build`` use case: settings in, validated ``appPackage.zip`` out."""
    return build_package(
        values_from_settings(settings),
        out_path,
        registered_bot_id=settings.bot.app_id,
        validator=validator or NodeSchemaValidator(tools_dir=source_dir),
        source_dir=source_dir,
    )


def settings_table(rows: Sequence[tuple[str, str, str]]) -> str:
    """Markdown table of (environment variable, default, description) rows, e.g. ``describe_settings()``."""

    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    lines = ["| Environment variable | Default | Description |", "|---|---|---|"]
    for env, default, description in rows:
        shown = f"`{cell(default)}`" if default not in ("", "None", "[]") else "(empty)"
        lines.append(f"| `{env}` | {shown} | {cell(description)} |")
    return "\n".join(lines) + "\n"


SETTINGS_TABLE_START = "<!-- settings-table:start (generated by `peercoach manifest settings-table`) -->"
SETTINGS_TABLE_END = "<!-- settings-table:end -->"


def replace_settings_table(document: str, table: str) -> str:
    """Put ``table`` between the generated-table markers of ``document``; refuse when a marker is missing."""
    start = document.find(SETTINGS_TABLE_START)
    end = document.find(SETTINGS_TABLE_END)
    if start < 0 or end < start:
        raise ValueError(f"the document has no {SETTINGS_TABLE_START!r} ... {SETTINGS_TABLE_END!r} block")
    head = document[: start + len(SETTINGS_TABLE_START)]
    return f"{head}\n{table}{document[end:]}"
