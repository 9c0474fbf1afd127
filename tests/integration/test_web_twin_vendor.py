"""The committed Adaptive Cards renderer is exactly the pinned npm package's dist file, and ships in the wheel.

``npm ci`` runs here into a temporary copy of ``teams_app/adapters/web/static`` (its package.json and lock file),
so the check needs npm and the registry but leaves the source tree alone.
"""

from __future__ import annotations

import fnmatch
import json
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STATIC = ROOT / "teams_app" / "adapters" / "web" / "static"
VENDORED = {"vendor/adaptivecards.min.js": "dist/adaptivecards.min.js",
            "vendor/adaptivecards.min.js.LICENSE.txt": "dist/adaptivecards.min.js.LICENSE.txt",
            "vendor/adaptivecards.LICENSE": "LICENSE"}


@pytest.mark.slow
def test_the_vendored_renderer_equals_the_pinned_package(tmp_path: Path) -> None:
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail("npm (Node.js) is needed to check the vendored Adaptive Cards renderer", pytrace=False)
    pinned = json.loads((STATIC / "package.json").read_text())["dependencies"]["adaptivecards"]
    assert pinned[0].isdigit(), "pin an exact version, not a range"
    for name in ("package.json", "package-lock.json"):
        shutil.copy(STATIC / name, tmp_path / name)
    result = subprocess.run([npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--prefix", str(tmp_path)],
                            capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr[-1500:]
    package = tmp_path / "node_modules" / "adaptivecards"
    assert json.loads((package / "package.json").read_text())["version"] == pinned
    for committed, original in VENDORED.items():
        assert (STATIC / committed).read_bytes() == (package / original).read_bytes(), committed


def test_the_page_files_are_package_data() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["teams_app.adapters.web"]
    needed = ["static/twin.js", "static/twin.css", *(f"static/{name}" for name in VENDORED)]
    assert all(any(fnmatch.fnmatch(path, p) for p in patterns) for path in needed), (needed, patterns)
    assert all((STATIC.parent / path).is_file() for path in needed)
