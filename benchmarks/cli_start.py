"""Benchmark: how long the ``peercoach`` command takes to start, as whole processes.

Times ``peercoach --version``, ``peercoach --help`` and ``peercoach program list`` (on an empty SQLite database
in a temporary folder, so the list run includes creating the schema), each beside ``python -c pass`` measured in
the same run, so a busy machine shows up in the baseline too. Each command runs ``--runs`` times (default 7);
the table shows the median and the fastest run.

The packages are byte-compiled first, as pip does when it installs them (``--no-compile`` skips that).

Targets on the project's machines: ``--version`` and ``--help`` <= 0.3 s, ``program list`` <= 0.6 s.

Run: ``python benchmarks/cli_start.py [--runs N]``. The last line is JSON with version_s, help_s,
program_list_s, python_s (median wall seconds) and program_list_cpu_s, python_cpu_s (median CPU seconds, user +
system: what the command costs whatever else the machine is running).
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGETS = {"version_s": 0.3, "help_s": 0.3, "program_list_s": 0.6}


def peercoach() -> list[str]:
    """The installed console script next to this interpreter, else the module."""
    script = Path(sys.executable).with_name("peercoach")
    return [str(script)] if script.exists() else [sys.executable, "-m", "teams_app.entrypoints.cli"]


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(argv: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float]:
    """Wall seconds and CPU seconds (user + system) of one run of ``argv``."""
    cpu_before = _children_cpu()
    started = time.perf_counter()
    done = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({done.returncode}):\n{done.stderr.decode(errors='replace')}")
    return elapsed, _children_cpu() - cpu_before


def byte_compile() -> None:
    """Byte-compile the project's packages, as pip does when it installs them.

    An editable checkout run with PYTHONDONTWRITEBYTECODE=1 (CI machines set it) would otherwise compile every
    module from source on every start, a cost no installed ``peercoach`` pays (pip byte-compiles a regular
    install, and Python caches the bytecode of a checkout on the first run elsewhere).
    """
    root = Path(__file__).resolve().parents[1]
    for package in ("teams_app", "lrs_bridge"):
        compileall.compile_dir(root / package, quiet=1, workers=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--no-compile", action="store_true",
                        help="time the checkout as it is, without byte-compiling it first")
    args = parser.parse_args()
    if not args.no_compile:
        byte_compile()
    work = Path(tempfile.mkdtemp(prefix="peercoach-cli-start-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PEERCOACH_")}
    database = work / "empty.db"
    env.update({"PEERCOACH_DB__URL": f"sqlite+aiosqlite:///{database}", "PEERCOACH_LOG_LEVEL": "WARNING",
                "PEERCOACH_SCHEDULER__ENABLED": "false"})
    cmd = peercoach()
    cases = {
        "version_s": [*cmd, "--version"],
        "help_s": [*cmd, "--help"],
        "program_list_s": [*cmd, "program", "list"],
        "python_s": [sys.executable, "-c", "pass"],
    }
    times: dict[str, list[float]] = {name: [] for name in cases}
    cpu: dict[str, list[float]] = {name: [] for name in cases}
    try:
        for _ in range(args.runs):
            for name, argv in cases.items():  # interleaved: load changes hit every case alike
                if name == "program_list_s":
                    database.unlink(missing_ok=True)  # always an empty database, schema created in the run
                wall, cpu_s = timed(argv, env, work)
                times[name].append(wall)
                cpu[name].append(cpu_s)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    medians = {name: round(statistics.median(values), 3) for name, values in times.items()}
    cpu_medians = {name: round(statistics.median(values), 3) for name, values in cpu.items()}
    print(f"{'command':<28} {'median s':>9} {'fastest s':>10} {'cpu s':>7} {'target s':>9}")
    for name, argv in cases.items():
        label = " ".join(Path(argv[0]).name if i == 0 else a for i, a in enumerate(argv))
        target = f"{TARGETS[name]:.1f}" if name in TARGETS else "-"
        print(f"{label[:28]:<28} {medians[name]:>9.3f} {min(times[name]):>10.3f} {cpu_medians[name]:>7.3f} "
              f"{target:>9}")
    # CPU seconds say how much work a command does whatever else the machine runs; wall seconds are the target.
    print(json.dumps({**medians, "program_list_cpu_s": cpu_medians["program_list_s"],
                      "python_cpu_s": cpu_medians["python_s"]}))


if __name__ == "__main__":
    main()
