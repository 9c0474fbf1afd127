"""`peercoach simulate` plays a whole program safely: its own LRS unless told otherwise, marked statements,
no future timestamps, erasure that erases, and a non-zero exit when the LRS refuses statements."""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import socket
import subprocess
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from lrs_bridge.audit import audit_statements
from lrs_bridge.vocabulary import Extensions, Verbs
from teams_app.entrypoints.cli import main
from teams_app.entrypoints.simulate import SIMULATED_HOMEPAGE
from tests.fixtures.ralph_lrs import RalphLrs


@dataclass(frozen=True)
class Shown:
    images: int
    decoded: int
    text: str


def render_in_chromium(page: Path, workdir: Path, screenshot: Path) -> Shown:
    """The report as a browser shows it: Debian's headless Chromium counts the images that decoded (a
    probe script, read back with --dump-dom) and takes a screenshot."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    assert chromium, "the report test renders the page in a real browser: install chromium"
    workdir.mkdir(parents=True, exist_ok=True)
    probe = ("<script>window.addEventListener('load', () => { const imgs = [...document.images];"
             " document.body.dataset.images = imgs.length + ':' +"
             " imgs.filter(i => i.complete && i.naturalWidth > 0).length; });</script>")
    probed = workdir / "probed.html"
    probed.write_text(page.read_text().replace("</body>", probe + "</body>"), encoding="utf-8")
    flags = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             f"--user-data-dir={workdir / 'profile'}", "--virtual-time-budget=5000"]
    dom = subprocess.run([*flags, "--dump-dom", probed.as_uri()], capture_output=True, text=True, timeout=120,
                         check=True).stdout
    found = re.search(r'data-images="(\d+):(\d+)"', dom)
    assert found, "the page loaded"
    subprocess.run([*flags, "--hide-scrollbars", "--window-size=1100,3400", f"--screenshot={screenshot}",
                    page.as_uri()], capture_output=True, timeout=120, check=True)
    assert screenshot.stat().st_size > 10_000
    text = html.unescape(re.sub(r"<[^>]+>", " ", dom))
    return Shown(int(found[1]), int(found[2]), " ".join(text.split()))


def _stored(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.mark.slow
def test_simulate_plays_the_whole_lifecycle_into_its_own_lrs_never_the_configured_one(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The configured LRS is a listening socket that must never see a connection.
    trap = socket.socket()
    trap.bind(("127.0.0.1", 0))
    trap.listen(16)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PEERCOACH_LRS__ENDPOINT", f"http://127.0.0.1:{trap.getsockname()[1]}/xAPI/")
    monkeypatch.setenv("PEERCOACH_LRS__USERNAME", "production")
    monkeypatch.setenv("PEERCOACH_LRS__PASSWORD", "not-for-simulations")
    started = datetime.now(UTC)
    result = CliRunner().invoke(main, ["simulate", "--participants", "40", "--rounds", "2", "--seed", "5",
                                       "--out", str(tmp_path / "sim"), "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    trap.setblocking(False)
    with pytest.raises(BlockingIOError):
        trap.accept()  # nobody connected to the configured LRS
    trap.close()

    summary = json.loads(result.stdout)
    assert summary["lrs"]["local"] is True and summary["lrs"]["endpoint"] != ""
    assert summary["joined"] == 40
    first, second = (r["matches"] for r in summary["rounds"])
    assert first == 20 and 17 <= second < 20  # people paused after the first round sit the second out
    assert all(r["meetings_booked"] + r["no_common_slot"] == r["matches"] for r in summary["rounds"])
    assert summary["graph_events"] == sum(r["meetings_booked"] for r in summary["rounds"]) > 0
    assert summary["emails"] > 0 and summary["reached_by_email_only"] > 0  # people who blocked the bot
    life = summary["lifecycle"]
    assert life["paused"] >= 2 and life["resumed"] >= 1 and life["left"] >= 1 and life["erased"] == 2
    assert life["reviews_submitted"] > 0 and life["feedback_released"] > 0
    assert summary["refused"] == summary["dead_lettered"] == summary["undelivered"] == 0
    verbs = summary["statements"]
    # The erased people's own statements leave the outbox with them (and are voided in the LRS).
    assert verbs["registered"] == 40 - 2 and 2 * (first + second) - 4 <= verbs["matched"] <= 2 * (first + second)
    for verb in ("suspended", "resumed", "unregistered", "reviewed", "scored", "completed", "voided"):
        assert verbs.get(verb, 0) > 0, (verb, verbs)
    assert summary["statements_delivered_to_lrs"] > sum(verbs.values())  # + the erased people's, voided

    stored = _stored(tmp_path / "sim" / "lrs" / "data" / "fs_lrs.jsonl")
    assert len(stored) == summary["statements_delivered_to_lrs"]
    ended = datetime.fromisoformat(summary["simulated_to"])
    assert ended <= datetime.now(UTC) and datetime.fromisoformat(summary["simulated_from"]) < started
    for statement in stored:
        if statement["verb"]["id"] != Verbs.VOIDED:  # a voiding statement has no context to mark
            assert statement["context"]["extensions"][Extensions.SIMULATED] is True, statement
        assert statement["actor"].get("account", {}).get("homePage") in (SIMULATED_HOMEPAGE, None), statement
        assert datetime.fromisoformat(statement["timestamp"].replace("Z", "+00:00")) <= ended, statement
    people = [s for s in stored if "account" in s["actor"]]
    assert people and all(s["actor"]["account"]["homePage"] == SIMULATED_HOMEPAGE for s in people)
    voided = {s["object"]["id"] for s in stored if s["verb"]["id"] == Verbs.VOIDED}
    live = [json.dumps(s) for s in stored if s["id"] not in voided]
    for person in summary["erased_people"]:
        assert not [t for t in live if person["email"] in t or person["name"] in t], person
    audit = audit_statements(stored)
    assert audit.spec_violations == 0 and audit.future_timestamps == 0
    assert audit.template_conformance == 1.0, audit
    page = Path(summary["report"]).read_text()
    assert "data:image/png;base64," in page and "no data yet" not in page
    shown = render_in_chromium(Path(summary["report"]), tmp_path / "browser",
                               Path(os.environ.get("PEERCOACH_REPORT_SCREENSHOT", tmp_path / "report.png")))
    assert shown.images == page.count("data:image/png;base64,") == shown.decoded, "no broken images"
    for text in ("Peer coaching: Simulation 5", "Rounds: from enrolled to completed", "Cross-department reach",
                 "Skills exchanged and mentoring roles", "Paused / left", "Assessments released", "Made "):
        assert text in shown.text, text


@pytest.mark.slow
def test_simulate_exits_non_zero_and_counts_statements_the_lrs_refused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ralph_lrs: RalphLrs) -> None:
    ralph_lrs.start()
    monkeypatch.chdir(tmp_path)
    # ralph refuses Agent/Group statement objects (talked-with): the summary must say so, and the exit code.
    result = CliRunner().invoke(main, [
        "simulate", "--participants", "12", "--rounds", "1", "--seed", "3", "--no-assessments", "--erasures", "0",
        "--out", str(tmp_path / "sim"), "--json", "--lrs-endpoint", ralph_lrs.endpoint,
        "--lrs-username", ralph_lrs.username, "--lrs-password", ralph_lrs.password, "--lrs-agent-objects"],
        catch_exceptions=False)
    assert result.exit_code == 1, result.output
    summary = json.loads(result.stdout[: result.stdout.rindex("}") + 1])
    assert summary["lrs"] == {"endpoint": ralph_lrs.endpoint, "local": False}
    assert summary["refused"] > 0 and summary["dead_lettered"] == summary["refused"]
    assert "refused" in result.output.splitlines()[-1]
    assert Counter(summary["statements"])["registered"] == 12
