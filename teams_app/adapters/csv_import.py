"""Reading participants from a CSV file: every bad row is reported with its line number and field."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass

from teams_app.domain.errors import InvalidInput, InvalidInputs
from teams_app.domain.model import Participant, Profile
from teams_app.service.use_cases import ParticipantInput

COLUMNS = ("email", "name", "department", "location", "time_zone", "working_hours", "languages", "seniority",
           "skills_offered", "skills_wanted", "goals", "start_date", "manager_email", "role_preference")
REQUIRED = ("email", "time_zone")
MAX_ROWS = 100_000


@dataclass(frozen=True)
class RowProblem:
    line: int
    field: str
    problem: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.field}: {self.problem}"


def parse_participants(lines: Iterable[str]) -> tuple[list[ParticipantInput], list[RowProblem]]:
    """Parse CSV text; returns the good rows and one problem per bad field (line numbers are 1-based)."""
    reader = csv.DictReader(lines)
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    problems: list[RowProblem] = []
    missing = [c for c in REQUIRED if c not in header]
    unknown = [h for h in header if h not in COLUMNS]
    if missing:
        problems.append(RowProblem(1, ",".join(missing), "required column missing from the header"))
    if unknown:
        problems.append(RowProblem(1, ",".join(unknown), f"unknown column; known columns: {', '.join(COLUMNS)}"))
    if problems:
        return [], problems
    reader.fieldnames = header
    rows: list[ParticipantInput] = []
    first_line_of: dict[str, int] = {}
    for raw in reader:
        line = reader.line_num
        if len(rows) + len(problems) >= MAX_ROWS:
            problems.append(RowProblem(line, "file", f"more than {MAX_ROWS} rows; split the file"))
            break
        if None in raw:
            problems.append(RowProblem(line, "row", "more values than columns in the header"))
            continue
        cells = {k: (v or "").strip() for k, v in raw.items()}
        row_problems: list[InvalidInput] = []
        email = cells.get("email", "").lower()
        if not email:
            row_problems.append(InvalidInput("email", "is missing"))
        elif email in first_line_of:
            row_problems.append(InvalidInput("email", f"duplicate person: {email} is already on line "
                                                      f"{first_line_of[email]}"))
        else:
            first_line_of[email] = line
        profile: Profile | None = None
        try:
            profile = Profile.build(
                department=cells.get("department", ""), location=cells.get("location", ""),
                time_zone=cells.get("time_zone", ""),
                working_hours=cells.get("working_hours") or "09:00-17:00",
                languages=cells.get("languages") or "en", seniority=cells.get("seniority") or 2,
                skills_offered=cells.get("skills_offered", ""), skills_wanted=cells.get("skills_wanted", ""),
                goals=cells.get("goals", ""), start_date=cells.get("start_date") or None,
                role_preference=cells.get("role_preference") or "either",
            )
        except InvalidInputs as exc:
            row_problems.extend(exc.problems)
        if email and not any(p.field == "email" for p in row_problems):
            try:
                Participant.create(email, cells.get("name", ""), manager_email=cells.get("manager_email", ""))
            except InvalidInputs as exc:
                row_problems.extend(exc.problems)
        if row_problems:
            problems.extend(RowProblem(line, p.field, p.problem) for p in row_problems)
            continue
        assert profile is not None
        rows.append(ParticipantInput(email=email, display_name=cells.get("name", ""), profile=profile,
                                     manager_email=cells.get("manager_email", "")))
    return rows, problems
