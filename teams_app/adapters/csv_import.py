"""Reading participants from a CSV file: every bad row is reported with its line number and field.

The file is read as a stream (one physical line at a time, each at most ``max_line_bytes``), so memory stays
bounded whatever its size: what is kept is one row and the e-mail addresses seen (for duplicates). Bytes that
are not UTF-8, cells longer than ``max_cell_chars``, NUL bytes and other control characters are refused with
the line and the field, never a traceback. E-mail addresses are compared without regard to case.
"""

from __future__ import annotations

import csv
import hashlib
import pickle
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from teams_app.domain.errors import InvalidInput, InvalidInputs
from teams_app.domain.model import Participant, Profile
from teams_app.service.use_cases import ParticipantInput

COLUMNS = ("email", "name", "department", "location", "time_zone", "working_hours", "languages", "seniority",
           "skills_offered", "skills_wanted", "goals", "start_date", "manager_email", "role_preference")
REQUIRED = ("email", "time_zone")
MAX_ROWS = 100_000
MAX_CELL_CHARS = 1000
SPOOL_CHUNK = 1000  # good rows per pickled chunk of the spool file
MAX_PROBLEMS_KEPT = 1000  # more are counted, not kept (a 100,000-line file of garbage must not fill memory)

_CONTROL_CHARS = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"
_UNDECODABLE_CHARS = r"\udc80-\udcff"  # what surrogateescape leaves for a byte that is not UTF-8
_CONTROL = re.compile(f"[{_CONTROL_CHARS}]")
_UNDECODABLE = re.compile(f"[{_UNDECODABLE_CHARS}]")
_REFUSED = re.compile(f"[{_CONTROL_CHARS}{_UNDECODABLE_CHARS}]")  # either: one search per row


@dataclass(frozen=True)
class RowProblem:
    line: int
    field: str
    problem: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.field}: {self.problem}"


@dataclass(frozen=True)
class CsvLimits:
    max_cell_chars: int = MAX_CELL_CHARS
    max_rows: int = MAX_ROWS

    @property
    def max_line_bytes(self) -> int:
        # Every column at its longest, four bytes a character, quotes and commas.
        return (self.max_cell_chars * 4 + 3) * len(COLUMNS) + 2


@dataclass(frozen=True)
class ParsedRow:
    line: int
    row: ParticipantInput | None  # None when the row has problems
    problems: tuple[RowProblem, ...] = ()


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def decoded_lines(handle: BinaryIO, limits: CsvLimits, problems: list[RowProblem]) -> Iterator[str]:
    """Physical lines as text; bytes that are not UTF-8 survive as lone surrogates (checked per cell later).

    A line longer than ``max_line_bytes`` is reported and replaced by an empty line (its rest is skipped), so
    one 10 MB cell costs one bounded read, not 10 MB of memory.
    """
    number, most = 0, limits.max_line_bytes
    while True:
        raw = handle.readline(most + 1)
        if not raw:
            return
        number += 1
        if len(raw) > most and not raw.endswith(b"\n"):
            problems.append(RowProblem(number, "line", f"longer than {most} bytes: a cell is "
                                                       f"too large (at most {limits.max_cell_chars} characters)"))
            while raw and not raw.endswith(b"\n"):  # skip the rest of this line
                raw = handle.readline(most + 1)
            yield "\n"
            continue
        if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]  # byte order mark of "UTF-8 with BOM" (Excel)
        yield raw.decode("utf-8", errors="surrogateescape")


def iter_participants(lines: Iterable[str], limits: CsvLimits | None = None,
                      problems: list[RowProblem] | None = None) -> Iterator[ParsedRow]:
    """Check the header, then yield every data row, parsed or with its problems (line numbers are 1-based).

    Header problems go to ``problems`` and nothing is yielded. Duplicates (same e-mail, any case) are
    problems of the later line.
    """
    limits = limits or CsvLimits()
    problems = problems if problems is not None else []
    csv.field_size_limit(max(limits.max_line_bytes, 131072))
    reader = csv.reader(lines)
    try:
        raw_header = next(reader, [])
    except csv.Error as exc:
        problems.append(RowProblem(1, "header", f"not a CSV header: {exc}"))
        return
    header = [h.strip().lower() for h in raw_header]
    missing = [c for c in REQUIRED if c not in header]
    unknown = [h for h in header if h not in COLUMNS]
    if missing:
        problems.append(RowProblem(1, ",".join(missing), "required column missing from the header"))
    if unknown:
        shown = ",".join(_printable_name(h) for h in unknown)
        problems.append(RowProblem(1, shown, f"unknown column; known columns: {', '.join(COLUMNS)}"))
    if len(set(header)) != len(header):
        problems.append(RowProblem(1, "header", "a column appears twice"))
    if missing or unknown or len(set(header)) != len(header):
        return
    first_line_of: dict[str, int] = {}
    rows = 0
    while True:
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield ParsedRow(reader.line_num, None, (RowProblem(reader.line_num, "row", f"not valid CSV: {exc}"),))
            continue
        line = reader.line_num
        if not values or all(not v.strip() for v in values):
            continue  # blank line
        rows += 1
        if rows > limits.max_rows:
            yield ParsedRow(line, None, (RowProblem(line, "file", f"more than {limits.max_rows} rows; split the "
                                                                  "file"),))
            return
        yield _parse_row(line, header, values, limits, first_line_of)


def _parse_row(line: int, header: list[str], values: list[str], limits: CsvLimits,
               first_line_of: dict[str, int]) -> ParsedRow:
    if len(values) > len(header):
        return ParsedRow(line, None, (RowProblem(line, "row", "more values than columns in the header"),))
    cells = dict(zip(header, map(str.strip, values), strict=False))
    row_problems: list[InvalidInput] = []
    # One search over the whole row first: almost every row is clean, and then no cell is searched alone.
    if _REFUSED.search("".join(cells.values())) or max(map(len, cells.values()), default=0) > limits.max_cell_chars:
        row_problems = _cell_problems(cells, limits)
    if row_problems:
        return ParsedRow(line, None, tuple(RowProblem(line, p.field, p.problem) for p in row_problems))
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
        row_problems.extend(Participant.field_problems(email, cells.get("name", ""), cells.get("manager_email", "")))
    if row_problems:
        return ParsedRow(line, None, tuple(RowProblem(line, p.field, p.problem) for p in row_problems))
    assert profile is not None
    return ParsedRow(line, ParticipantInput(email=email, display_name=cells.get("name", ""), profile=profile,
                                            manager_email=cells.get("manager_email", "")))


def _cell_problems(cells: dict[str, str], limits: CsvLimits) -> list[InvalidInput]:
    """Each cell's first problem: bytes that are not UTF-8, too long, a control character."""
    row_problems: list[InvalidInput] = []
    for name, value in cells.items():
        if _UNDECODABLE.search(value):
            byte = ord(_UNDECODABLE.search(value).group()) - 0xDC00  # type: ignore[union-attr]
            row_problems.append(InvalidInput(name, f"not UTF-8 text (byte 0x{byte:02x}); save the file as UTF-8"))
        elif len(value) > limits.max_cell_chars:
            row_problems.append(InvalidInput(name, f"{len(value)} characters; at most {limits.max_cell_chars}"))
        elif _CONTROL.search(value):
            char = _CONTROL.search(value).group()  # type: ignore[union-attr]
            row_problems.append(InvalidInput(name, f"contains a control character (U+{ord(char):04X})"))
    return row_problems


def _printable_name(text: str) -> str:
    return _CONTROL.sub("?", _UNDECODABLE.sub("?", text))[:60]


def parse_participants(lines: Iterable[str], limits: CsvLimits | None = None,
                       ) -> tuple[list[ParticipantInput], list[RowProblem]]:
    """Parse CSV text in memory; returns the good rows and one problem per bad field (small files, tests)."""
    problems: list[RowProblem] = []
    rows: list[ParticipantInput] = []
    for parsed in iter_participants(lines, limits, problems):
        if parsed.row is not None:
            rows.append(parsed.row)
        problems.extend(parsed.problems)
    return rows, problems


@dataclass
class Validation:
    """What a first pass over a file found: counts, and the first problems (up to MAX_PROBLEMS_KEPT)."""

    good_rows: int = 0
    bad_rows: int = 0
    problem_count: int = 0
    problems: list[RowProblem] | None = None

    @property
    def ok(self) -> bool:
        return self.problem_count == 0


def validate_file(path: Path, limits: CsvLimits, spool: BinaryIO | None = None) -> Validation:
    """Read the whole file once, keeping counts and the first problems only (bounded memory).

    With ``spool`` (a temporary file), the good rows are also written there, parsed, in file order, so the
    writing pass reads them back (:func:`spooled_rows`) instead of parsing the CSV a second time.
    """
    kept: list[RowProblem] = []
    line_problems: list[RowProblem] = []
    result = Validation(problems=kept)
    chunk: list[ParticipantInput] = []
    with path.open("rb") as handle:
        for parsed in iter_participants(decoded_lines(handle, limits, line_problems), limits, line_problems):
            if parsed.row is not None and not _line_refused(parsed.line, line_problems):
                result.good_rows += 1
                if spool is not None:
                    chunk.append(parsed.row)
                    if len(chunk) >= SPOOL_CHUNK:
                        pickle.dump(chunk, spool, protocol=pickle.HIGHEST_PROTOCOL)
                        chunk = []
            else:
                result.bad_rows += 1
            for problem in parsed.problems:
                result.problem_count += 1
                if len(kept) < MAX_PROBLEMS_KEPT:
                    kept.append(problem)
    if spool is not None:
        if chunk:
            pickle.dump(chunk, spool, protocol=pickle.HIGHEST_PROTOCOL)
        spool.flush()
    for problem in line_problems:  # header and over-long lines
        result.problem_count += 1
        if len(kept) < MAX_PROBLEMS_KEPT:
            kept.append(problem)
    kept.sort(key=lambda p: p.line)
    return result


def spooled_rows(spool: BinaryIO) -> Iterator[ParticipantInput]:
    """The good rows :func:`validate_file` spooled, from the start, in file order (a chunk in memory at a time).

    Only this process's own temporary file is unpickled: nothing from outside is ever loaded this way.
    """
    spool.seek(0)
    while True:
        try:
            chunk: list[ParticipantInput] = pickle.load(spool)
        except EOFError:
            return
        yield from chunk


def good_rows(path: Path, limits: CsvLimits) -> Iterator[tuple[int, ParticipantInput]]:
    """Second pass: the rows without problems, in file order, with their line numbers."""
    line_problems: list[RowProblem] = []
    with path.open("rb") as handle:
        for parsed in iter_participants(decoded_lines(handle, limits, line_problems), limits, line_problems):
            if parsed.row is not None and not _line_refused(parsed.line, line_problems):
                yield parsed.line, parsed.row


def _line_refused(line: int, line_problems: list[RowProblem]) -> bool:
    # An over-long physical line became an empty one; a row ending on it lost a cell.
    return bool(line_problems) and line_problems[-1].line == line and line_problems[-1].field == "line"
