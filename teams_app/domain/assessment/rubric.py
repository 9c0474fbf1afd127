"""Rubrics: criteria with ordered levels and weights, validated from a plain mapping, and submitted reviews checked
against them. Every check raises :class:`InvalidInput`/:class:`InvalidInputs` naming the field, so the rubric
card, a rubric file and the CLI report the same problems. Reading rubric files (YAML/JSON, the built-in ones)
is the job of :mod:`teams_app.adapters.rubric_files`; this module only sees parsed data.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from teams_app.domain.errors import InvalidInput, InvalidInputs
from teams_app.domain.model import MAX_TEXT

SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
MAX_CRITERIA = 30
MAX_LEVELS = 12
CANT_JUDGE = "cant_judge"  # the answer of a peer who did not see a criterion in action: never counted


@dataclass(frozen=True)
class Level:
    value: int
    label: str
    descriptor: str = ""


@dataclass(frozen=True)
class Criterion:
    id: str
    name: str
    levels: tuple[Level, ...]
    description: str = ""
    weight: float = 1.0
    next_steps: tuple[str, ...] = ()

    @property
    def min_level(self) -> int:
        return self.levels[0].value

    @property
    def max_level(self) -> int:
        return self.levels[-1].value

    def level(self, value: int) -> Level:
        for level in self.levels:
            if level.value == value:
                return level
        raise KeyError(value)

    def nearest_level(self, score: float) -> Level:
        return min(self.levels, key=lambda lv: (abs(lv.value - score), lv.value))

    def normalised(self, score: float) -> float:
        """Score on 0..1 (min level -> 0, max level -> 1)."""
        return (score - self.min_level) / (self.max_level - self.min_level)


@dataclass(frozen=True)
class Score:
    """A weighted rubric score on its own scale (what xAPI ``result.score`` carries)."""

    raw: float
    min: float
    max: float

    @property
    def scaled(self) -> float:
        return round((self.raw - self.min) / (self.max - self.min), 4)


@dataclass(frozen=True)
class Rubric:
    id: str
    name: str
    criteria: tuple[Criterion, ...]
    description: str = ""
    version: int = 1
    self_description: str = ""  # the description in the self-assessment's own words ("How well did you ...")

    def criterion(self, criterion_id: str) -> Criterion:
        for criterion in self.criteria:
            if criterion.id == criterion_id:
                return criterion
        raise KeyError(criterion_id)

    def score(self, levels: Mapping[str, float]) -> Score:
        """Weighted sum of the levels, with the weighted sums of the lowest and highest levels as bounds."""
        raw = sum(c.weight * float(levels[c.id]) for c in self.criteria)
        low = sum(c.weight * c.min_level for c in self.criteria)
        high = sum(c.weight * c.max_level for c in self.criteria)
        return Score(round(raw, 4), round(low, 4), round(high, 4))

    # -- validation of a submitted review -----------------------------------------------------------
    def validate_submission(self, ratings: Mapping[str, object], comments: Mapping[str, object] | None = None,
                            comment: object = "", *, allow_cant_judge: bool = False) -> ReviewSubmission:
        """Check a review against the rubric; every problem is reported at once, each naming its field.

        With ``allow_cant_judge`` (peers from outside the team) a criterion may be answered with
        :data:`CANT_JUDGE`: it is left out of the ratings, so it never counts in the results; at least one
        criterion must still be rated."""
        problems: list[InvalidInput] = []
        known = {c.id for c in self.criteria}
        clean: dict[str, int] = {}
        judged_none: list[str] = []
        for criterion in self.criteria:
            name = f"ratings.{criterion.id}"
            raw = ratings.get(criterion.id)
            if raw is None or (isinstance(raw, str) and not raw.strip()):
                problems.append(InvalidInput(name, f"choose a level for '{criterion.name}'"))
                continue
            if allow_cant_judge and raw == CANT_JUDGE:
                judged_none.append(criterion.id)
                continue
            value = _as_int(raw)
            allowed = [lv.value for lv in criterion.levels]
            if value is None or value not in allowed:
                problems.append(InvalidInput(
                    name, f"'{raw}' is not a level of '{criterion.name}': choose one of "
                          f"{', '.join(str(v) for v in allowed)}"))
                continue
            clean[criterion.id] = value
        if judged_none and len(judged_none) == len(self.criteria):
            problems.append(InvalidInput(f"ratings.{judged_none[0]}",
                                         "rate at least one criterion; if you cannot judge any, leave the review"))
        for extra in sorted(set(ratings) - known):
            problems.append(InvalidInput(f"ratings.{extra}", "is not a criterion of this rubric"))
        clean_comments: dict[str, str] = {}
        for key, text in (comments or {}).items():
            name = f"comments.{key}"
            if key not in known:
                problems.append(InvalidInput(name, "is not a criterion of this rubric"))
                continue
            problem = _text_problem(text)
            if problem:
                problems.append(InvalidInput(name, problem))
            elif str(text).strip():
                clean_comments[key] = str(text).strip()
        problem = _text_problem(comment)
        if problem:
            problems.append(InvalidInput("comment", problem))
        if problems:
            raise InvalidInputs(problems)
        return ReviewSubmission(clean, clean_comments, str(comment or "").strip())

    # -- (de)serialisation ---------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "name": self.name, "description": self.description, "version": self.version,
            **({"self_description": self.self_description} if self.self_description else {}),
            "criteria": [
                {"id": c.id, "name": c.name, "description": c.description, "weight": c.weight,
                 "levels": [{"value": lv.value, "label": lv.label, "descriptor": lv.descriptor} for lv in c.levels],
                 "next_steps": list(c.next_steps)}
                for c in self.criteria
            ],
        }

    @staticmethod
    def from_dict(data: object) -> Rubric:
        """Build and validate a rubric from parsed YAML/JSON; all problems are raised together."""
        if not isinstance(data, Mapping):
            raise InvalidInput("rubric", "must be a mapping with id, name and criteria")
        problems: list[InvalidInput] = []
        rubric_id = str(data.get("id") or "").strip()
        if not SLUG_RE.match(rubric_id):
            problems.append(InvalidInput("id", "use 1-64 lower-case letters, digits, '-' or '_'"))
        name = str(data.get("name") or "").strip()
        if not name:
            problems.append(InvalidInput("name", "a rubric needs a name"))
        version = _as_int(data.get("version", 1))
        if version is None or version < 1:
            problems.append(InvalidInput("version", "must be a whole number >= 1"))
        raw_criteria = data.get("criteria")
        criteria: list[Criterion] = []
        if not isinstance(raw_criteria, list) or not raw_criteria:
            problems.append(InvalidInput("criteria", "list at least one criterion"))
        elif len(raw_criteria) > MAX_CRITERIA:
            problems.append(InvalidInput("criteria", f"at most {MAX_CRITERIA} criteria"))
        else:
            seen: set[str] = set()
            for index, raw in enumerate(raw_criteria):
                criterion = _criterion_from(raw, f"criteria[{index}]", problems)
                if criterion is None:
                    continue
                if criterion.id in seen:
                    problems.append(InvalidInput(f"criteria[{index}].id", f"'{criterion.id}' is used twice"))
                seen.add(criterion.id)
                criteria.append(criterion)
        if problems:
            raise InvalidInputs(problems)
        return Rubric(rubric_id, name, tuple(criteria), str(data.get("description") or "").strip(), version or 1,
                      str(data.get("self_description") or "").strip())


def _criterion_from(raw: object, where: str, problems: list[InvalidInput]) -> Criterion | None:
    if not isinstance(raw, Mapping):
        problems.append(InvalidInput(where, "must be a mapping with id, name, weight and levels"))
        return None
    before = len(problems)
    cid = str(raw.get("id") or "").strip()
    if not SLUG_RE.match(cid):
        problems.append(InvalidInput(f"{where}.id", "use 1-64 lower-case letters, digits, '-' or '_'"))
    name = str(raw.get("name") or "").strip()
    if not name:
        problems.append(InvalidInput(f"{where}.name", "a criterion needs a name"))
    weight = _as_float(raw.get("weight", 1.0))
    if weight is None or not 0 < weight <= 100:
        problems.append(InvalidInput(f"{where}.weight", "must be a number above 0 and at most 100"))
    raw_levels = raw.get("levels")
    levels: list[Level] = []
    if not isinstance(raw_levels, list) or not 2 <= len(raw_levels) <= MAX_LEVELS:
        problems.append(InvalidInput(f"{where}.levels", f"list 2 to {MAX_LEVELS} levels"))
    else:
        for li, level in enumerate(raw_levels):
            at = f"{where}.levels[{li}]"
            if not isinstance(level, Mapping):
                problems.append(InvalidInput(at, "must be a mapping with value, label and descriptor"))
                continue
            value = _as_int(level.get("value"))
            raw_label = level.get("label")
            label = "" if isinstance(raw_label, bool) else str(raw_label or "").strip()
            if value is None or not 0 <= value <= 100:
                problems.append(InvalidInput(f"{at}.value", "must be a whole number from 0 to 100"))
            elif levels and value <= levels[-1].value:
                problems.append(InvalidInput(f"{at}.value", "level values must increase"))
            if isinstance(raw_label, bool):
                problems.append(InvalidInput(f"{at}.label", "put the label in quotes (YAML reads yes/no/on/off as "
                                                            "true/false)"))
            elif not label:
                problems.append(InvalidInput(f"{at}.label", "a level needs a label"))
            if value is not None and label:
                levels.append(Level(value, label, str(level.get("descriptor") or "").strip()))
    steps = raw.get("next_steps") or []
    if not isinstance(steps, list) or not all(isinstance(s, str) for s in steps):
        problems.append(InvalidInput(f"{where}.next_steps", "must be a list of sentences"))
        steps = []
    if len(problems) > before:
        return None
    return Criterion(cid, name, tuple(levels), str(raw.get("description") or "").strip(), float(weight or 1.0),
                     tuple(s.strip() for s in steps if s.strip()))


def _as_int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return None
    return None


def _as_float(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        result = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return result if math.isfinite(result) else None


def _text_problem(text: object) -> str:
    if text is None:
        return ""
    if not isinstance(text, str):
        return "must be text"
    if len(text) > MAX_TEXT:
        return f"at most {MAX_TEXT} characters (you wrote {len(text)})"
    return ""


@dataclass(frozen=True)
class ReviewSubmission:
    """A review that passed the rubric's checks."""

    ratings: Mapping[str, int]
    comments: Mapping[str, str] = field(default_factory=dict)
    comment: str = ""
