"""A program described by flags and/or a YAML/JSON file, checked field by field before it reaches the domain.

Every problem becomes one line naming the field (``policy: must be a mapping of matching settings``) instead of
a traceback: wrong types from YAML (a list for a name, a string for a policy, a number or a bare date for a
start time), a file that is not UTF-8, a start time without a UTC offset. Kinds and cadences are compared
without regard to case ("PEER_PAIRS" is ``peer_pairs``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import yaml

from teams_app.domain.model import Cadence, MatchingPolicy, ProgramKind

MAX_FILE_BYTES = 1_000_000  # a program file is a few lines; refuse anything that could not be one


class ProgramInputError(Exception):
    """The program description has problems; the message lists them, one per line."""


@dataclass(frozen=True)
class ProgramSpec:
    name: str
    kind: str
    cadence: str
    options: dict[str, Any]


_TEXT_FIELDS = ("tenant_id", "cohort", "description", "rubric", "activity_iri", "preferred_hours",
                "announcement_channel")
_INT_FIELDS = ("min_reviews", "meeting_minutes", "buffer_minutes", "sessions_per_term")
_BOOL_FIELDS = ("named_feedback",)
_POLICY_FIELDS = {f.name: f.type for f in dataclasses.fields(MatchingPolicy)}


def program_input(path: Path | None, flags: dict[str, str]) -> ProgramSpec:
    """Merge a program file (if any) with flags (which win) and check every field."""
    data: dict[str, Any] = read_program_file(path) if path is not None else {}
    data.update(flags)
    missing = [k for k in ("name", "kind", "cadence") if data.get(k) is None or data.get(k) == ""
               or (isinstance(data[k], str) and not data[k].strip())]
    if missing:
        raise ProgramInputError(f"missing {', '.join(missing)} (give --{' --'.join(missing)} or a file)")
    problems: list[str] = []
    name = data.pop("name")
    if not isinstance(name, str):
        problems.append(f"name: must be text, not {_what(name)}")
    kind = _choice(data.pop("kind", None), "kind", [k.value for k in ProgramKind], problems)
    cadence = _choice(data.pop("cadence", None), "cadence", [c.value for c in Cadence], problems)
    options: dict[str, Any] = {}
    starts = [key for key in ("first_round_at", "next_round_at") if key in data]
    if len(starts) == 2:
        problems.append("first_round_at: give first_round_at or next_round_at, not both")
    for start in starts:
        moment = _moment(data.pop(start), start, problems)
        if moment is not None:
            options["next_round_at"] = moment
    for key, value in data.items():
        if key in _TEXT_FIELDS:
            if not isinstance(value, str):
                problems.append(f"{key}: must be text, not {_what(value)}")
            else:
                options[key] = value
        elif key in _INT_FIELDS:
            if isinstance(value, bool) or not isinstance(value, int):
                problems.append(f"{key}: must be a whole number, not {_what(value)}")
            else:
                options[key] = value
        elif key in _BOOL_FIELDS:
            if not isinstance(value, bool):
                problems.append(f"{key}: must be true or false, not {_what(value)}")
            else:
                options[key] = value
        elif key == "preferred_days":
            if not isinstance(value, list) or not all(isinstance(d, int) and not isinstance(d, bool) for d in value):
                problems.append("preferred_days: must be a list of weekday numbers (Monday = 0)")
            else:
                options[key] = tuple(value)
        elif key == "policy":
            policy = _policy(value, problems)
            if policy is not None:
                options[key] = policy
        else:
            problems.append(f"{key}: not a program field")
    if problems:
        raise ProgramInputError("invalid program:\n" + "\n".join(f"  {p}" for p in problems))
    assert isinstance(name, str) and kind is not None and cadence is not None
    return ProgramSpec(name.strip(), kind, cadence, options)


def read_program_file(path: Path) -> dict[str, Any]:
    """The mapping in a YAML or JSON program file; unreadable, non-UTF-8 or non-mapping files are refused."""
    try:
        raw = path.read_bytes()[: MAX_FILE_BYTES + 1]
    except OSError as exc:
        raise ProgramInputError(f"{path}: cannot read it: {exc.strerror}") from None
    if len(raw) > MAX_FILE_BYTES:
        raise ProgramInputError(f"{path}: larger than {MAX_FILE_BYTES // 1000} KB, not a program file")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ProgramInputError(f"{path}: not UTF-8 text (byte 0x{raw[exc.start]:02x} on line {line}); "
                                "save it as UTF-8") from None
    try:
        loaded = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ProgramInputError(f"{path}: not valid YAML/JSON: {exc}") from None
    if not isinstance(loaded, dict) or not all(isinstance(k, str) for k in loaded):
        raise ProgramInputError(f"{path}: expected a mapping of program fields (name, kind, cadence, ...)")
    return loaded


def _choice(value: object, key: str, allowed: list[str], problems: list[str]) -> str | None:
    if not isinstance(value, str):
        problems.append(f"{key}: must be one of {', '.join(allowed)}, not {_what(value)}")
        return None
    normal = value.strip().lower()
    if normal not in allowed:
        problems.append(f"{key}: '{value}' is not one of {', '.join(allowed)}")
        return None
    return normal


def _moment(value: object, key: str, problems: list[str]) -> datetime | None:
    """An ISO 8601 date and time with a UTC offset (text, or a timestamp YAML already parsed)."""
    hint = "write a date and time with a UTC offset, e.g. 2026-12-01T09:00+01:00"
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            problems.append(f"{key}: '{value}' is not a date and time; {hint}")
            return None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            problems.append(f"{key}: {value.isoformat()} has no UTC offset; {hint}")
            return None
        return value.astimezone(UTC)
    if isinstance(value, date):
        problems.append(f"{key}: {value.isoformat()} is a day without a time; {hint}")
        return None
    problems.append(f"{key}: must be a date and time, not {_what(value)}; {hint}")
    return None


def _policy(value: object, problems: list[str]) -> MatchingPolicy | None:
    if not isinstance(value, dict):
        problems.append(f"policy: must be a mapping of matching settings, not {_what(value)}")
        return None
    before = len(problems)
    clean: dict[str, Any] = {}
    for key, item in value.items():
        kind = _POLICY_FIELDS.get(str(key))
        if kind is None:
            problems.append(f"policy.{key}: not a matching setting (known: {', '.join(_POLICY_FIELDS)})")
        elif kind == "bool":
            if not isinstance(item, bool):
                problems.append(f"policy.{key}: must be true or false, not {_what(item)}")
            clean[key] = item
        elif isinstance(item, bool) or not isinstance(item, int | float) or (kind == "int" and
                                                                          not isinstance(item, int)):
            problems.append(f"policy.{key}: must be a {'whole ' if kind == 'int' else ''}number, not {_what(item)}")
        else:
            clean[key] = item
    if len(problems) > before:
        return None
    return MatchingPolicy(**clean)


def _what(value: object) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, bool):
        return f"{str(value).lower()} (a yes/no value)"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, str):
        return f"'{value}'"
    return type(value).__name__
