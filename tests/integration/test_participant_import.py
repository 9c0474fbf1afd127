"""participants import: refusals with line and field, batches of their own transactions, resuming a stopped import."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result
from sqlalchemy.ext.asyncio import AsyncEngine

from teams_app.adapters.clock import FixedClock
from teams_app.adapters.csv_import import CsvLimits, file_sha256, good_rows, validate_file
from teams_app.adapters.db.import_tables import SqlImportCheckpoints, participant_import_people, participant_imports
from teams_app.entrypoints.cli import main
from teams_app.service.enrollment import BatchHook
from teams_app.service.imports import ImportStopped, ParticipantImports
from teams_app.service.messagebus import MessageBus
from teams_app.service.use_cases import CoachingService, ParticipantInput

HEADER = b"email,name,department,time_zone\n"


def people(n: int, start: int = 0) -> bytes:
    return b"".join(f"p{i}@example.com,Person {i},D{i % 5},UTC\n".encode() for i in range(start, start + n))


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PEERCOACH_IMPORTS__PAUSE_MS", "0")  # nobody else writes here
    db = f"sqlite+aiosqlite:///{tmp_path / 'import.db'}"
    runner = CliRunner()

    def run(*args: str) -> Result:
        return runner.invoke(main, ["--db", db, *args])

    run("program", "create", "--name", "Pairs", "--kind", "peer_pairs", "--cadence", "weekly")
    return run


@pytest.mark.parametrize(("row", "expected"), [
    (b"ana@example.com,Caf\xe9,Sales,UTC\n", "line 2: name: not UTF-8 text (byte 0xe9); save the file as UTF-8"),
    (b"ana@example.com,Ana\x00Nul,Sales,UTC\n", "line 2: name: contains a control character (U+0000)"),
    (b"ana@example.com,\x1b]0;pwned\x07Ana,Sales,UTC\n", "line 2: name: contains a control character (U+001B)"),
    (b"ana@example.com,Ana," + b"x" * 1500 + b",UTC\n", "line 2: department: 1500 characters; at most 1000"),
    (b"ana@example.com,Ana," + b"x" * 10_000_000 + b",UTC\n", "line 2: line: longer than"),
    (b"ana@example.com,Ana,Sales,UTC\nANA@Example.com,Twin,IT,UTC\n", "line 3: email: duplicate person"),
])
def test_bad_rows_are_refused_with_line_and_field_and_nothing_is_written(cli, tmp_path: Path, row: bytes,  # type: ignore[no-untyped-def]
                                                                          expected: str) -> None:
    path = tmp_path / "people.csv"
    path.write_bytes(HEADER + row + people(3, start=10))
    result = cli("participants", "import", str(path), "--program", "Pairs")
    assert result.exit_code == 1, result.output
    assert expected in result.output
    assert "nothing was imported" in result.output
    assert "Traceback" not in result.output and "\x1b" not in result.output
    assert '"enrolled": 0' in cli("program", "show", "Pairs").output


def test_an_escape_in_a_header_is_not_echoed_to_the_terminal(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "people.csv"
    path.write_bytes(b"email,time_zone,\x1b[2Jevil\n" + b"a@example.com,UTC,x\n")
    result = cli("participants", "import", str(path), "--program", "Pairs")
    assert result.exit_code == 1 and "unknown column" in result.output and "\x1b" not in result.output


def test_skip_invalid_writes_the_good_rows_in_batches(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "people.csv"
    path.write_bytes(HEADER + people(1200) + b"bad@example.com,Bad\x01,X,UTC\n")
    result = cli("participants", "import", str(path), "--program", "Pairs", "--skip-invalid", "--batch-size", "500")
    assert result.exit_code == 0, result.output
    assert "enrolled 1200 participant(s); 0 already enrolled; 1 problem(s) skipped" in result.output
    again = cli("participants", "import", str(path), "--program", "Pairs", "--skip-invalid")
    assert "enrolled 0 participant(s); 1200 already enrolled" in again.output


class StopsAfter(CoachingService):
    """The real use case, failing on the n-th batch (as a killed process or a lost database would)."""

    def __init__(self, inner: CoachingService, batches: int) -> None:
        self.__dict__.update(inner.__dict__)
        self.left = batches

    async def import_participants(self, program_ref: str, rows: Sequence[ParticipantInput], *,
                                  before_commit: BatchHook | None = None) -> tuple[int, int]:
        if self.left == 0:
            raise ConnectionError("database went away")
        self.left -= 1
        return await super().import_participants(program_ref, rows, before_commit=before_commit)


async def test_a_stopped_import_resumes_where_it_stopped(engine: AsyncEngine, service: CoachingService,
                                                         clock: FixedClock, tmp_path: Path) -> None:
    await service.create_program("Pairs", "peer_pairs", "weekly")
    path = tmp_path / "people.csv"
    path.write_bytes(HEADER + people(250))
    limits = CsvLimits()
    checked = validate_file(path, limits)
    assert checked.ok and checked.good_rows == 250
    digest = file_sha256(path)
    checkpoints = SqlImportCheckpoints(engine)

    def rows() -> list[ParticipantInput]:
        return [row for _, row in good_rows(path, limits)]

    with pytest.raises(ImportStopped) as stopped:
        await ParticipantImports(StopsAfter(service, 2), checkpoints, clock).run(
            "Pairs", rows, file_sha256=digest, total_rows=250, batch_size=100)
    assert (stopped.value.written, stopped.value.total) == (200, 250)
    assert isinstance(stopped.value.cause, ConnectionError)
    assert (await service.status((await service.get_program("Pairs")).id)).enrolled == 200
    result = await ParticipantImports(service, checkpoints, clock).run(
        "Pairs", rows, file_sha256=digest, total_rows=250, batch_size=100)
    assert (result.resumed_at_row, result.enrolled, result.existing, result.batches) == (200, 250, 0, 1)
    assert (await service.status((await service.get_program("Pairs")).id)).enrolled == 250
    async with engine.connect() as conn:
        states = (await conn.execute(sa.select(participant_imports.c.status, participant_imports.c.next_row))).all()
    assert [tuple(s) for s in states] == [("done", 250)]


async def test_rollback_by_import_id_takes_out_only_the_people_it_enrolled(
        engine: AsyncEngine, service: CoachingService, clock: FixedClock, tmp_path: Path) -> None:
    program = await service.create_program("Pairs", "peer_pairs", "weekly")
    await service.import_participants("Pairs", [row for _, row in good_rows(_file(tmp_path, "before.csv", 30),
                                                                         CsvLimits())])
    path = _file(tmp_path, "people.csv", 120)  # p0..p29 were already enrolled
    limits = CsvLimits()
    imports = ParticipantImports(StopsAfter(service, 2), SqlImportCheckpoints(engine), clock)
    with pytest.raises(ImportStopped) as stopped:
        await imports.run("Pairs", lambda: [row for _, row in good_rows(path, limits)], file_sha256=file_sha256(path),
                          total_rows=120, batch_size=40)
    assert (await service.status(program.id)).enrolled == 80
    left = await ParticipantImports(service, SqlImportCheckpoints(engine), clock).rollback(stopped.value.import_id)
    assert left == 50  # p30..p79: the two committed batches' newcomers; the third batch never committed
    assert (await service.status(program.id)).enrolled == 30
    again = await ParticipantImports(service, SqlImportCheckpoints(engine), clock).run(
        "Pairs", lambda: [row for _, row in good_rows(path, limits)], file_sha256=file_sha256(path), total_rows=120,
        batch_size=40)
    assert (again.resumed_at_row, again.enrolled, again.existing) == (0, 90, 30)  # a rolled-back import starts over


async def test_erasing_someone_takes_them_off_the_rollback_list_and_no_address_is_kept(
        engine: AsyncEngine, service: CoachingService, clock: FixedClock, tmp_path: Path) -> None:
    program = await service.create_program("Pairs", "peer_pairs", "weekly")
    path = _file(tmp_path, "people.csv", 10)
    checkpoints = SqlImportCheckpoints(engine)
    result = await ParticipantImports(service, checkpoints, clock).run(
        "Pairs", lambda: [row for _, row in good_rows(path, CsvLimits())], file_sha256=file_sha256(path),
        total_rows=10, batch_size=4)
    erased = await service.find_participant(email="p3@example.com")
    assert erased is not None and erased.id in await checkpoints.planned(result.import_id)
    await service.erase("p3@example.com")
    planned = await checkpoints.planned(result.import_id)
    assert len(planned) == 9 and erased.id not in planned
    async with engine.connect() as conn:
        kept = (await conn.execute(sa.select(participant_import_people))).all()
    assert len(kept) == 9 and not any("@" in str(value) for row in kept for value in row)
    assert await ParticipantImports(service, checkpoints, clock).rollback(result.import_id) == 9
    assert (await service.status(program.id)).enrolled == 0


async def test_migration_core_0005_keeps_the_rollback_list_by_participant_id(db_url: str) -> None:
    """Lists written by e-mail before core_0005 carry over by id; an address with nobody behind it is dropped."""
    from alembic import command

    from teams_app.adapters.db.migrate import alembic_config, upgrade
    from teams_app.adapters.db.uow import make_engine

    engine = make_engine(db_url)
    try:
        def to_core_0004(conn: sa.Connection) -> None:
            config = alembic_config()
            config.attributes["connection"] = conn
            command.upgrade(config, "core_0004")

        async with engine.begin() as conn:
            await conn.run_sync(to_core_0004)
            at = datetime(2026, 11, 30, 9, 0)
            await conn.execute(sa.text(
                "INSERT INTO participants (id, email, display_name, profile) VALUES "
                "('01a00000-0000-7000-8000-000000000001', 'ana@example.com', 'Ana', '{}'), "
                "('01a00000-0000-7000-8000-000000000002', 'bo@example.com', 'Bo', '{}')"))
            await conn.execute(sa.text(
                "INSERT INTO participant_imports (id, program_id, file_sha256, total_rows, status, started_at, "
                "updated_at) VALUES ('imp-1', 'prog-1', 'abc', 3, 'running', :at, :at)"), {"at": at})
            await conn.execute(sa.text(
                "INSERT INTO participant_import_rows (import_id, email) VALUES ('imp-1', 'ana@example.com'), "
                "('imp-1', 'bo@example.com'), ('imp-1', 'gone@example.com')"))
        await upgrade(engine, from_metadata=False)
        async with engine.connect() as conn:
            kept = sorted((await conn.execute(sa.select(participant_import_people))).all())
            tables = await conn.run_sync(lambda c: sa.inspect(c).get_table_names())
        assert [tuple(row) for row in kept] == [("imp-1", "01a00000-0000-7000-8000-000000000001"),
                                                ("imp-1", "01a00000-0000-7000-8000-000000000002")]
        assert "participant_import_rows" not in tables
    finally:
        await engine.dispose()


def _file(tmp_path: Path, name: str, n: int) -> Path:
    path = tmp_path / name
    path.write_bytes(HEADER + people(n))
    return path


def test_import_rollback_command_undoes_a_whole_import(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = _file(tmp_path, "people.csv", 60)
    result = cli("participants", "import", str(path), "--program", "Pairs", "--batch-size", "25")
    import_id = result.output.rsplit("(import ", 1)[1].split(")")[0]
    undone = cli("participants", "import-rollback", import_id, "--yes")
    assert undone.exit_code == 0 and "60 participant(s) left the program" in undone.output
    assert '"enrolled": 0' in cli("program", "show", "Pairs").output
    unknown = cli("participants", "import-rollback", "nope", "--yes")
    assert unknown.exit_code == 1 and "import 'nope' was not found" in unknown.output


async def test_a_batch_writes_one_event_and_one_registered_record_per_new_enrollment(
        engine: AsyncEngine, bus: MessageBus, service: CoachingService, clock: FixedClock) -> None:
    from datetime import timedelta

    from lrs_bridge.statements import StatementBuilder
    from teams_app.adapters.db import tables as t
    from teams_app.adapters.xapi import XapiRecorder
    from teams_app.domain import events as ev

    XapiRecorder(StatementBuilder(activity_base_iri="https://peercoach.example/xapi"),
                 "system@peercoach.example").register(bus)
    seen: list[ev.ParticipantEnrolled] = []

    async def count(event: ev.ParticipantEnrolled, _uow: object) -> None:
        seen.append(event)

    bus.in_transaction(ev.ParticipantEnrolled, count)
    program = await service.create_program("Pairs", "peer_pairs", "weekly")
    await service.enroll("Pairs", ParticipantInput(email="p0@example.com"), consent=True)  # already enrolled
    left = await service.enroll("Pairs", ParticipantInput(email="p1@example.com"), consent=True)
    await service.leave("Pairs", left.id, erase=False)  # re-joins through the batch
    rows = [ParticipantInput(email=f"P{i}@Example.com ", display_name=f"Person {i}") for i in range(6)]
    rows.append(ParticipantInput(email="p5@example.com", display_name="Twin"))  # same person twice: counted once
    seen.clear()
    clock.advance(timedelta(minutes=1))  # the re-join is a new event, not the first one again
    assert await service.import_participants(program.id, rows) == (5, 2)
    assert len(seen) == 5 and len({e.participant_id for e in seen}) == 5
    async with engine.connect() as conn:
        keys = (await conn.execute(sa.select(t.xapi_statements.c.event_key)
                                   .where(t.xapi_statements.c.event_key.like("enrolled/%")))).scalars().all()
    assert {e.key for e in seen} <= set(keys)
    assert len(keys) == 1 + 1 + 5  # p0 and p1's own enrollments, then the batch's five
    assert (await service.status(program.id)).enrolled == 6


class FailsAfterRecording(SqlImportCheckpoints):
    """Writes the batch's bookkeeping, then fails inside the same transaction on the n-th batch."""

    def __init__(self, engine: AsyncEngine, fail_on_batch: int) -> None:
        super().__init__(engine)
        self.batch = 0
        self.fail_on_batch = fail_on_batch

    async def record_batch(self, uow: object, import_id: str, enrolled_ids: Sequence[str], next_row: int,
                           enrolled: int, existing: int, at: datetime) -> None:
        await super().record_batch(uow, import_id, enrolled_ids, next_row, enrolled, existing, at)  # type: ignore[arg-type]
        self.batch += 1
        if self.batch == self.fail_on_batch:
            raise ConnectionError("lost the database before the commit")


async def test_a_batch_and_its_checkpoint_commit_together_or_not_at_all(
        engine: AsyncEngine, service: CoachingService, clock: FixedClock, tmp_path: Path) -> None:
    program = await service.create_program("Pairs", "peer_pairs", "weekly")
    path = _file(tmp_path, "people.csv", 90)
    limits = CsvLimits()
    checkpoints = FailsAfterRecording(engine, fail_on_batch=2)
    with pytest.raises(ImportStopped) as stopped:
        await ParticipantImports(service, checkpoints, clock).run(
            "Pairs", lambda: [row for _, row in good_rows(path, limits)], file_sha256=file_sha256(path),
            total_rows=90, batch_size=40)
    assert stopped.value.written == 40
    assert (await service.status(program.id)).enrolled == 40
    saved = await checkpoints.get(stopped.value.import_id)
    assert saved is not None and (saved.next_row, saved.enrolled, saved.status) == (40, 40, "running")
    assert len(await checkpoints.planned(stopped.value.import_id)) == 40  # the failed batch noted nobody
    result = await ParticipantImports(service, SqlImportCheckpoints(engine), clock).run(
        "Pairs", lambda: [row for _, row in good_rows(path, limits)], file_sha256=file_sha256(path), total_rows=90,
        batch_size=40)
    assert (result.import_id, result.resumed_at_row, result.enrolled) == (stopped.value.import_id, 40, 90)
    assert len(await checkpoints.planned(result.import_id)) == 90


async def test_people_a_unit_of_work_inserted_read_back_as_the_database_has_them(engine: AsyncEngine) -> None:
    from teams_app.adapters.db.uow import SqlUnitOfWork
    from teams_app.domain.model import Participant, Profile

    people = [Participant.create(f"p{i}@example.com", f"Person {i}", manager_email="boss@example.com",
                                 profile=Profile.build(department="Sales", time_zone="Europe/Berlin",
                                                       skills_offered="SQL;Excel", seniority=4))
              for i in range(3)]
    async with SqlUnitOfWork(engine) as uow:
        uow.participants.pending(people)  # handlers that run before the insert see them already
        assert await uow.participants.get_many([people[1].id]) == [people[1]]
        await uow.participants.add_many(people)
        cached = await uow.participants.get_many([people[2].id, people[0].id, people[2].id, "unknown"])
        await uow.commit()
    async with SqlUnitOfWork(engine) as uow:
        stored = await uow.participants.get_many([people[2].id, people[0].id, people[2].id, "unknown"])
    assert cached == stored == [people[2], people[0]]


def test_the_spool_gives_back_exactly_the_good_rows_of_the_file(tmp_path: Path) -> None:
    import tempfile

    from teams_app.adapters.csv_import import SPOOL_CHUNK, spooled_rows

    path = tmp_path / "people.csv"
    path.write_bytes(HEADER + people(SPOOL_CHUNK + 5) + b"bad@example.com,Bad\x01,X,UTC\n" + people(3, start=5000))
    limits = CsvLimits()
    with tempfile.TemporaryFile() as spool:
        checked = validate_file(path, limits, spool)
        assert (checked.good_rows, checked.bad_rows) == (SPOOL_CHUNK + 8, 1)
        expected = [row for _, row in good_rows(path, limits)]
        assert list(spooled_rows(spool)) == expected
        assert list(spooled_rows(spool)) == expected  # every call starts from the first row


async def test_bulk_writes_relax_only_the_importers_sqlite_sync_and_checkpoint_the_wal(engine: AsyncEngine) -> None:
    from teams_app.adapters.db.uow import checkpoint_wal, use_for_bulk_writes

    await use_for_bulk_writes(engine)
    await checkpoint_wal(engine)  # PostgreSQL: nothing to do; SQLite: a passive checkpoint
    if engine.dialect.name != "sqlite":
        return
    async with engine.connect() as conn:
        assert (await conn.exec_driver_sql("PRAGMA synchronous")).scalar() == 1  # NORMAL
        assert (await conn.exec_driver_sql("PRAGMA journal_mode")).scalar() == "wal"
    from teams_app.adapters.db.uow import make_engine

    other = make_engine(str(engine.url))  # the bot's engine in its own process: untouched
    try:
        async with other.connect() as conn:
            assert (await conn.exec_driver_sql("PRAGMA synchronous")).scalar() == 2  # FULL
    finally:
        await other.dispose()


def test_the_import_gives_up_cpu_priority_for_all_its_threads(tmp_path: Path) -> None:
    """Nice for the import's own thread and the threads it starts (the database's), never the idle class (a
    batch holding SQLite's write lock must not starve). Read from /proc while a real import process runs."""
    import os
    import subprocess
    import sys
    import time

    if not Path("/proc/self/task").exists():
        pytest.skip("Linux /proc")
    db = f"sqlite+aiosqlite:///{tmp_path / 'import.db'}"
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("PEERCOACH_")}, "PEERCOACH_DB__URL": db,
           "PEERCOACH_IMPORTS__PAUSE_MS": "50"}  # slow enough to be looked at
    cli = [sys.executable, "-m", "teams_app.entrypoints.cli"]
    subprocess.run([*cli, "program", "create", "--name", "Pairs", "--kind", "peer_pairs", "--cadence", "weekly"],
                   env=env, check=True, capture_output=True)
    path = tmp_path / "people.csv"
    path.write_bytes(HEADER + people(3000))
    importer = subprocess.Popen([*cli, "participants", "import", str(path), "--program", "Pairs",
                                 "--batch-size", "20", "--nice", "7"], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
    seen: dict[int, tuple[int, int]] = {}  # thread id: (policy, nice)
    try:
        deadline = time.monotonic() + 60
        while importer.poll() is None and time.monotonic() < deadline:
            for task in Path(f"/proc/{importer.pid}/task").glob("*"):
                try:
                    fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                seen[int(task.name)] = (int(fields[38]), int(fields[16]))  # policy, nice
            if len([s for s in seen.values() if s[1] == min(os.nice(0) + 7, 19)]) >= 3:  # main and database threads
                break
            time.sleep(0.05)
    finally:
        importer.kill()
        importer.wait()
    niced = min(os.nice(0) + 7, 19)  # from this process's own nice, which the import starts from
    assert seen[importer.pid] == (os.SCHED_OTHER, niced)
    assert len([tid for tid, state in seen.items() if state == (os.SCHED_OTHER, niced)]) >= 3, seen
    assert all(policy == os.SCHED_OTHER for policy, _ in seen.values()), seen
