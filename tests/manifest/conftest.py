"""Fixtures for the manifest tests: an isolated settings environment and the real offline schema validator."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from teams_app.manifest_package import DEFAULT_SOURCE_DIR, INSTALL_HINT, NodeSchemaValidator

BOT_ID = "6f1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
TEAMS_APP_ID = "0a1b2c3d-4e5f-4061-8293-a4b5c6d7e8f9"
GRAPH_CLIENT_ID = "9d8c7b6a-5f4e-4d3c-9b2a-1f0e9d8c7b6a"
COMPLETE_ENV = {
    "PEERCOACH_BOT__APP_ID": BOT_ID,
    "PEERCOACH_GRAPH__CLIENT_ID": GRAPH_CLIENT_ID,
    "PEERCOACH_MANIFEST__APP_ID": TEAMS_APP_ID,
    "PEERCOACH_MANIFEST__DOMAIN": "peercoach.contoso.com",
    "PEERCOACH_MANIFEST__VERSION": "1.2.3",
    "PEERCOACH_MANIFEST__DEVELOPER_NAME": "Contoso Learning",
    "PEERCOACH_MANIFEST__WEBSITE_URL": "https://learning.contoso.com",
    "PEERCOACH_MANIFEST__PRIVACY_URL": "https://learning.contoso.com/privacy",
    "PEERCOACH_MANIFEST__TERMS_URL": "https://learning.contoso.com/terms",
}
SOURCE_FILES = ("manifest.json", "color.png", "outline.png", "de.json", "validate.mjs", "package.json")


def write_env(path: Path, **changes: str | None) -> Path:
    """Write an env file: COMPLETE_ENV with ``changes`` applied (None removes a key)."""
    env = dict(COMPLETE_ENV)
    for key, value in changes.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    path.write_text("".join(f"{k}={v}\n" for k, v in env.items()), encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def isolated_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """No PEERCOACH_* variable or ./.env of the developer's shell leaks into a test."""
    for key in list(os.environ):
        if key.startswith("PEERCOACH_"):
            monkeypatch.delenv(key)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    yield work


@pytest.fixture(scope="session")
def node_modules() -> Path:
    """The installed npm package; missing means CI did not run the install step: fail, do not skip."""
    installed = DEFAULT_SOURCE_DIR / "node_modules" / "@microsoft" / "app-manifest" / "package.json"
    if not installed.is_file():
        pytest.fail(
            f"{installed} is missing: the official Teams schema validator is not installed; "
            f"run `{INSTALL_HINT}` from the repository root (CI must do this before pytest)",
            pytrace=False,
        )
    if shutil.which("node") is None:
        pytest.fail("Node.js is not on PATH; the manifest schema validation needs node >= 18", pytrace=False)
    return DEFAULT_SOURCE_DIR / "node_modules"


@pytest.fixture
def validator(node_modules: Path) -> NodeSchemaValidator:
    return NodeSchemaValidator(tools_dir=DEFAULT_SOURCE_DIR)


@pytest.fixture
def source_copy(tmp_path: Path, node_modules: Path) -> Path:
    """A writable copy of manifest/ (node_modules linked, not copied) for tests that alter the inputs."""
    copy = tmp_path / "manifest-src"
    copy.mkdir()
    for name in SOURCE_FILES:
        shutil.copy2(DEFAULT_SOURCE_DIR / name, copy / name)
    (copy / "node_modules").symlink_to(node_modules, target_is_directory=True)
    return copy
