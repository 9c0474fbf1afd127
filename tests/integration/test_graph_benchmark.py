"""The scheduling benchmark runs end to end at a small size and keeps its output contract."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_scheduling_benchmark_small_run_books_every_pair_once() -> None:
    result = subprocess.run([sys.executable, "-W", "ignore", "benchmarks/scheduling.py", "--pairs", "40"],
                            cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    summary = json.loads(lines[-1])
    assert list(summary) == ["availability_requests", "total_requests", "booked", "duplicates", "elapsed_s"]
    assert summary["booked"] == 40 and summary["duplicates"] == 0
    assert summary["availability_requests"] <= 60
    assert any(line.startswith("duplicate events") for line in lines)
