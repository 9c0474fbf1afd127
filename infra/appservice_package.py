"""Package peercoach for App Service's zip deploy: a wheel plus a requirements.txt installing it with gunicorn.

App Service (SCM_DO_BUILD_DURING_DEPLOYMENT=true) creates the site's virtual environment and runs
``pip install -r requirements.txt`` there; the startup command in infra/modules/appservice.bicep then runs
``peercoach db upgrade`` and gunicorn. Usage: ``python infra/appservice_package.py build/appservice``.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def package(out: Path) -> Path:
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir", str(out),
                    str(ROOT)], check=True)
    wheels = sorted(out.glob("peercoach-*.whl"))
    if len(wheels) != 1:
        raise SystemExit(f"expected one peercoach wheel in {out}, found {len(wheels)}")
    # A path relative to requirements.txt's folder, where App Service's build runs pip.
    (out / "requirements.txt").write_text(f"./{wheels[0].name}[server]\n", encoding="utf-8")
    return wheels[0]


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "build" / "appservice"
    wheel = package(target)
    print(f"{target}: {wheel.name} and requirements.txt")
