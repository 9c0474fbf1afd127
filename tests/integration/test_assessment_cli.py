"""``peercoach assessment ...`` end to end on a SQLite file, and the assessment worker."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy.ext.asyncio import AsyncEngine

from teams_app.adapters.clock import FixedClock
from teams_app.adapters.db.assessment_repo import SqlAssessmentUnitOfWorkFactory
from teams_app.adapters.rubric_files import builtin_rubrics
from teams_app.entrypoints.cli import main
from teams_app.entrypoints.cli.assessment import assessment
from teams_app.service.assessment import AssessmentService
from teams_app.service.messagebus import MessageBus
from teams_app.service.use_cases import CoachingService, ParticipantInput
from teams_app.service.workers import assessment_worker

from .test_cli import write_people

RUBRIC_YAML = """
id: demo-skill
name: Demo skill
criteria:
  - id: clarity
    name: Clarity
    weight: 2
    levels:
      - {value: 1, label: Unclear}
      - {value: 2, label: Clear}
      - {value: 3, label: Crisp}
  - id: pace
    name: Pace
    levels:
      - {value: 1, label: Rushed}
      - {value: 2, label: Good}
"""


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    if "assessment" not in main.commands:
        main.add_command(assessment)  # what the lead's cli module will do
    db = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    runner = CliRunner()

    def run(*args: str) -> Result:
        return runner.invoke(main, ["--db", db, *args], catch_exceptions=False)

    return run


def test_validate_rubric_lists_every_problem(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    good = tmp_path / "good.yaml"
    good.write_text(RUBRIC_YAML, encoding="utf-8")
    result = cli("assessment", "validate-rubric", str(good))
    assert result.exit_code == 0 and "rubric 'demo-skill' (Demo skill): 2 criteria, weights clarity=2, pace=1" in \
        result.output
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"id": "x", "name": "", "criteria": [{"id": "a", "name": "A", "levels": []}]}),
                   encoding="utf-8")
    result = cli("assessment", "validate-rubric", str(bad))
    assert result.exit_code == 1
    assert "name: a rubric needs a name" in result.output and "criteria[0].levels: list 2 to 12 levels" in result.output


def test_open_status_override_and_release_from_the_cli(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    write_people(tmp_path / "people.csv", 12)
    rubric = tmp_path / "rubric.yaml"
    rubric.write_text(RUBRIC_YAML, encoding="utf-8")
    assert cli("program", "create", "--name", "Pairs", "--kind", "peer_pairs", "--cadence", "weekly").exit_code == 0
    assert cli("participants", "import", str(tmp_path / "people.csv"), "--program", "Pairs").exit_code == 0
    assert cli("round", "run", "--program", "Pairs").exit_code == 0
    refused = cli("assessment", "open", "--program", "Pairs", "--mode", "peers", "--rubric-file", str(rubric),
                  "--reviewers", "2", "--days", "3", "--self-assessment")
    assert refused.exit_code == 1 and "cannot reach the 3 reviews" in refused.output
    assert "--reviewers 3" in refused.output and "--min-reviews 2" in refused.output
    result = cli("assessment", "open", "--program", "Pairs", "--mode", "peers", "--rubric-file", str(rubric),
                 "--reviewers", "2", "--days", "3", "--self-assessment", "--min-reviews", "2")
    assert result.exit_code == 0, result.output
    assert "anonymous, shared from k=2 reviews" in result.output
    assert "(Demo skill, peers)" in result.output and "36 reviews allocated" in result.output
    assessment_id = result.output.split()[2]
    status = json.loads(cli("assessment", "status", assessment_id, "--json").output)
    assert status["pending"] == 24 and status["assessment"]["rubric"] == "demo-skill"
    assert {r["reviewer"] for r in status["reviews"]} == {""} and len(status["reviews"]) == 24
    assert status["self_pending"] == 12 and len(status["self_assessments"]) == 12
    listed = cli("assessment", "list", "--program", "Pairs").output
    assert assessment_id in listed and "peer 0/24, self 0/12" in listed and "open" in listed
    assert json.loads(cli("assessment", "list", "--json").output)[0]["id"] == assessment_id
    result = cli("assessment", "override", assessment_id, "extend_deadline", "--reason", "holidays", "--actor",
                 "admin@example.com", "--deadline", "2099-01-01T00:00+00:00")
    assert result.exit_code == 0 and "extend_deadline recorded" in result.output
    assert "deadline moved from " in result.output and "to 2099-01-01T00:00:00+00:00" in result.output
    bad = cli("assessment", "override", assessment_id, "extend_deadline", "--reason", "x", "--actor", "a",
              "--deadline", "2099-01-01T00:00")
    assert bad.exit_code == 2 and "add a UTC offset" in bad.output
    early = cli("assessment", "release", assessment_id)
    assert early.exit_code == 1 and "has not passed yet" in early.output
    result = cli("assessment", "override", assessment_id, "release_early", "--reason", "end of term", "--actor",
                 "admin@example.com")
    assert result.exit_code == 0
    assert "results released early: feedback sent to 0 people, withheld for 12" in result.output
    text = cli("assessment", "status", assessment_id).output
    assert "peer reviews 0 submitted (0 late), 24 pending" in text and "self-assessments (not counted" in text
    assert "(released)" in text and "below k" in text and "audit" in text and "release_early" in text


def test_open_refuses_a_bad_rubric_file_and_unknown_programs(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: [", encoding="utf-8")
    result = cli("assessment", "open", "--program", "Nope", "--rubric-file", str(bad))
    assert result.exit_code == 1 and "not a valid rubric" in result.output
    result = cli("assessment", "open", "--program", "Nope")
    assert result.exit_code == 1 and "program 'Nope' was not found" in result.output


async def test_worker_reminds_and_releases_then_stops(engine: AsyncEngine, service: CoachingService,
                                                      bus: MessageBus, clock: FixedClock) -> None:
    await service.create_program("Pairs", "peer_pairs", "weekly")
    for i in range(6):
        await service.enroll("Pairs", ParticipantInput(email=f"w{i}@example.com", display_name=f"W {i}"),
                             consent=True)
    await service.run_round("Pairs", seed=3)
    assessments = AssessmentService(SqlAssessmentUnitOfWorkFactory(engine), bus, clock, builtin_rubrics())
    opened = await assessments.open_assessment("Pairs", deadline=clock.now() + timedelta(days=2), mode="peers",
                                               reviewers_per_person=2, min_reviews=2)
    clock.set(clock.now() + timedelta(days=1, hours=1))  # inside the 24 h reminder window
    stop = asyncio.Event()
    worker: asyncio.Future[None] = asyncio.ensure_future(assessment_worker(assessments, 0.01)(stop))
    await asyncio.sleep(0.3)
    clock.set(datetime(2030, 1, 1, tzinfo=UTC))
    await asyncio.sleep(0.3)
    stop.set()
    await asyncio.wait_for(worker, timeout=5)
    view = await assessments.admin_view(opened.assessment.id)
    assert view.assessment.status.value == "released"
    async with SqlAssessmentUnitOfWorkFactory(engine)() as uow:
        reviews = await uow.reviews.for_assessment(opened.assessment.id)
    assert {r.reminders_sent for r in reviews} == {1}  # the 48 h moment was the opening itself: skipped


def test_rubrics_dir_is_loaded_by_id_and_bad_files_are_named(tmp_path: Path) -> None:
    from teams_app.adapters.rubric_files import load_rubric_dir
    from teams_app.domain.errors import InvalidInputs

    good = tmp_path / "rubrics"
    good.mkdir()
    (good / "demo.yaml").write_text(RUBRIC_YAML, encoding="utf-8")
    (good / "notes.txt").write_text("ignored", encoding="utf-8")
    assert list(load_rubric_dir(good)) == ["demo-skill"]
    (good / "copy.json").write_text(json.dumps(load_rubric_dir(good)["demo-skill"].to_dict()), encoding="utf-8")
    (good / "broken.yml").write_text("id: [", encoding="utf-8")
    with pytest.raises(InvalidInputs) as err:
        load_rubric_dir(good)
    fields = {p.field for p in err.value.problems}
    assert fields == {"broken.yml: rubric", "demo.yaml: id"}  # copy.json (sorted first) defined it already


def test_open_with_a_rubrics_dir_uses_the_programs_rubric(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    rubrics = tmp_path / "rubrics"
    rubrics.mkdir()
    (rubrics / "demo.yaml").write_text(RUBRIC_YAML, encoding="utf-8")
    program = tmp_path / "program.yaml"
    program.write_text("name: Demo\nkind: peer_pairs\ncadence: weekly\nrubric: demo-skill\n", encoding="utf-8")
    write_people(tmp_path / "people.csv", 4)
    assert cli("program", "create", "--file", str(program)).exit_code == 0
    assert cli("participants", "import", str(tmp_path / "people.csv"), "--program", "Demo").exit_code == 0
    assert cli("round", "run", "--program", "Demo").exit_code == 0
    result = cli("assessment", "open", "--program", "Demo", "--rubrics-dir", str(rubrics))
    assert result.exit_code == 0, result.output
    assert "(Demo skill, partners)" in result.output
