"""`peercoach simulate` runs a small program end to end and delivers its statements to a real LRS."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from teams_app.entrypoints.cli import main
from tests.fixtures.ralph_lrs import RalphLrs


@pytest.mark.slow
def test_simulate_runs_rounds_through_the_adapters_and_fills_the_lrs(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ralph_lrs: RalphLrs) -> None:
    ralph_lrs.start()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PEERCOACH_LRS__ENDPOINT", ralph_lrs.endpoint)
    monkeypatch.setenv("PEERCOACH_LRS__USERNAME", ralph_lrs.username)
    monkeypatch.setenv("PEERCOACH_LRS__PASSWORD", ralph_lrs.password)
    monkeypatch.setenv("PEERCOACH_LRS__AGENT_OBJECTS", "false")
    result = CliRunner().invoke(main, ["simulate", "--participants", "40", "--rounds", "2", "--seed", "5",
                                       "--out", str(tmp_path / "sim"), "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["joined"] == 40
    assert [r["matches"] for r in summary["rounds"]] == [20, 20]
    assert all(r["meetings_booked"] + r["no_common_slot"] == 20 for r in summary["rounds"])
    assert summary["graph_events"] == sum(r["meetings_booked"] for r in summary["rounds"])
    assert summary["emails"] > 0 and summary["reached_by_email_only"] > 0  # people who blocked the bot
    statements = summary["statements"]
    assert statements["registered"] == 40 and statements["matched"] == 80
    assert summary["statements_delivered_to_lrs"] == sum(statements.values())
    page = Path(summary["report"]).read_text()
    assert page.count("data:image/png;base64,") == 5 and "no data yet" not in page
