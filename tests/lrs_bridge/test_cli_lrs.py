"""`peercoach lrs check|status|relay|replay` through click's CliRunner, against ralph and SQLite."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import update

from lrs_bridge.outbox import enqueue, outbox_table
from lrs_bridge.statements import StatementBuilder
from teams_app.adapters.db.migrate import upgrade
from teams_app.adapters.db.uow import make_engine
from teams_app.entrypoints.cli_lrs import lrs
from tests.fixtures.learning_locker import LearningLockerLrs
from tests.fixtures.ralph_lrs import RalphLrs, free_port
from tests.lrs_bridge.test_ralph_lrs import attended_records

BUILDER = StatementBuilder(activity_base_iri="https://coach.example.org/xapi")


def env_for(db: Path, endpoint: str = "", username: str = "", password: str = "") -> dict[str, str]:
    return {"PEERCOACH_DB__URL": f"sqlite+aiosqlite:///{db}", "PEERCOACH_BOT__DEV_MODE": "true",
            "PEERCOACH_LRS__ENDPOINT": endpoint, "PEERCOACH_LRS__USERNAME": username,
            "PEERCOACH_LRS__PASSWORD": password, "PEERCOACH_LRS__BATCH_SIZE": "7"}


def seed(db: Path, n: int, dead: int = 0) -> list[uuid.UUID]:
    async def main() -> list[uuid.UUID]:
        engine = make_engine(f"sqlite+aiosqlite:///{db}")
        await upgrade(engine)  # the application's migrations create the outbox
        items = [BUILDER.build_serialized(r) for r in attended_records(n, uuid.uuid4())]
        async with engine.begin() as conn:
            await enqueue(conn, items)
            if dead:
                ids = [str(i.id) for i in items[:dead]]
                await conn.execute(update(outbox_table).where(outbox_table.c.statement_id.in_(ids))
                                   .values(status="dead", last_status=422, last_error="bad actor"))
        await engine.dispose()
        return [i.id for i in items]

    return asyncio.run(main())


def test_status_prints_counts_and_json(tmp_path: Path) -> None:
    db = tmp_path / "app.db"
    seed(db, 5, dead=2)
    runner = CliRunner()
    result = runner.invoke(lrs, ["status"], env=env_for(db))
    assert result.exit_code == 0, result.output
    assert "queued     3" in result.output and "dead       2" in result.output
    result = runner.invoke(lrs, ["status", "--json"], env=env_for(db))
    data = json.loads(result.output)
    assert (data["queued"], data["delivered"], data["dead"]) == (3, 0, 2)
    assert data["oldest_queued_age_s"] >= 0


def test_status_on_a_new_database_migrates_and_reports_an_empty_outbox(tmp_path: Path) -> None:
    result = CliRunner().invoke(lrs, ["status", "--json"], env=env_for(tmp_path / "empty.db"))
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["queued"] == 0


def test_invalid_settings_are_reported_by_name(tmp_path: Path) -> None:
    env = env_for(tmp_path / "x.db")
    env["PEERCOACH_DB__URL"] = "mysql://nope"
    result = CliRunner().invoke(lrs, ["status"], env=env)
    assert result.exit_code == 1 and "PEERCOACH_DB__URL" in result.output


def test_check_against_ralph_passes_and_warns_about_missing_about(tmp_path: Path,
                                                                  ralph_lrs: RalphLrs) -> None:
    ralph_lrs.start()
    env = env_for(tmp_path / "a.db", ralph_lrs.endpoint, ralph_lrs.username, ralph_lrs.password)
    result = CliRunner().invoke(lrs, ["check"], env=env)
    assert result.exit_code == 0, result.output
    assert "WARN" in result.output and "/about" in result.output
    assert "credentials accepted" in result.output and "LRS check passed" in result.output


def test_check_with_wrong_password_fails_and_says_why(tmp_path: Path, ralph_lrs: RalphLrs) -> None:
    ralph_lrs.start()
    env = env_for(tmp_path / "a.db", ralph_lrs.endpoint, ralph_lrs.username, "wrong")
    result = CliRunner().invoke(lrs, ["check"], env=env)
    assert result.exit_code == 1
    assert "refused our credentials (401" in result.output and "PEERCOACH_LRS__PASSWORD" in result.output


def test_check_without_endpoint_explains(tmp_path: Path) -> None:
    result = CliRunner().invoke(lrs, ["check"], env=env_for(tmp_path / "a.db"))
    assert result.exit_code == 1 and "PEERCOACH_LRS__ENDPOINT" in result.output


def test_relay_once_delivers_then_replay_dead_requeues(tmp_path: Path, ralph_lrs: RalphLrs) -> None:
    ralph_lrs.start()
    db = tmp_path / "app.db"
    ids = seed(db, 20, dead=3)
    env = env_for(db, ralph_lrs.endpoint, ralph_lrs.username, ralph_lrs.password)
    runner = CliRunner()
    result = runner.invoke(lrs, ["relay", "--once"], env=env)
    assert result.exit_code == 0, result.output
    assert "posts 3, delivered 17, dead 0" in result.output  # batch size 7 from the settings
    result = runner.invoke(lrs, ["replay", "--dead", "--id", str(ids[0])], env=env)
    assert result.exit_code == 0 and "re-queued 1 dead statements" in result.output
    assert "bad actor" in result.output
    result = runner.invoke(lrs, ["replay", "--dead"], env=env)
    assert "re-queued 2 dead statements" in result.output
    result = runner.invoke(lrs, ["relay", "--once"], env=env)
    assert "delivered 3" in result.output
    status = json.loads(runner.invoke(lrs, ["status", "--json"], env=env).output)
    assert (status["queued"], status["delivered"], status["dead"]) == (0, 20, 0)


def test_replay_requires_dead_flag_and_valid_ids(tmp_path: Path) -> None:
    db = tmp_path / "app.db"
    seed(db, 1)
    runner = CliRunner()
    assert runner.invoke(lrs, ["replay"], env=env_for(db)).exit_code == 2
    result = runner.invoke(lrs, ["replay", "--dead", "--id", "not-a-uuid"], env=env_for(db))
    assert result.exit_code == 2 and "--id" in result.output


def test_relay_once_with_lrs_down_exits_nonzero(tmp_path: Path) -> None:
    db = tmp_path / "app.db"
    seed(db, 2)
    env = env_for(db, f"http://127.0.0.1:{free_port()}/xAPI/", "u", "p")
    result = CliRunner().invoke(lrs, ["relay", "--once"], env=env)
    assert result.exit_code == 1
    assert "deferred 2" in result.output and "nothing could be delivered" in result.output


def test_audit_reads_learning_locker_and_reports_per_verb(tmp_path: Path,
                                                          learning_locker_lrs: LearningLockerLrs) -> None:
    from dataclasses import replace

    from lrs_bridge.client import LrsClient
    from lrs_bridge.records import ProgramRef
    from tests.lrs_bridge.conftest import sample_records

    program = ProgramRef(f"cli-audit-{uuid.uuid4().hex[:6]}", "CLI audit")
    builder = StatementBuilder(activity_base_iri="https://peercoach.example/xapi")  # the settings' default
    records = [replace(r, program=program, round=replace(r.round, program_id=program.id) if r.round else None)
               for r in sample_records() if type(r).__name__ != "Unregistered"]

    async def post() -> None:
        async with LrsClient(learning_locker_lrs.endpoint, username="a", password="b") as client:
            assert (await client.post_statements([builder.build_serialized(r).payload for r in records])).ok

    asyncio.run(post())
    env = env_for(tmp_path / "app.db", learning_locker_lrs.endpoint, "peercoach", "x")
    result = CliRunner().invoke(lrs, ["audit", "--program", program.id], env=env)
    assert result.exit_code == 0, result.output
    assert "100.0% match a profile template, 0 xAPI rule violation(s)" in result.output
    assert "1 of 1 registrations match a primary pattern" in result.output
    assert "http://adlnet.gov/expapi/verbs/scored" in result.output
    as_json = CliRunner().invoke(lrs, ["audit", "--program", program.id, "--json"], env=env)
    assert json.loads(as_json.output)["template_conformance"] == 1.0


def test_audit_without_endpoint_explains(tmp_path: Path) -> None:
    result = CliRunner().invoke(lrs, ["audit"], env=env_for(tmp_path / "app.db"))
    assert result.exit_code != 0 and "PEERCOACH_LRS__ENDPOINT" in result.output
