"""Rubric files: the built-in rubrics shipped as package data and program rubrics written as YAML or JSON.

The domain builds a :class:`Rubric` from a plain mapping (:meth:`Rubric.from_dict`); reading files and parsing
their text happens here. Syntax errors and unreadable files become ``InvalidInput`` naming the file, so the
CLI and the bootstrap report them like any other invalid rubric.
"""

from __future__ import annotations

import json
import logging
from functools import cache
from importlib import resources
from pathlib import Path

import yaml

from teams_app.domain.assessment import Rubric
from teams_app.domain.errors import InvalidInput, InvalidInputs

logger = logging.getLogger(__name__)

BUILTIN_RUBRICS = ("coaching-skills", "skill-demonstration")
RUBRIC_SUFFIXES = (".yaml", ".yml", ".json")


def parse_rubric(text: str, *, fmt: str = "yaml") -> Rubric:
    """Parse rubric text (``fmt`` 'yaml' or 'json'); syntax errors become InvalidInput('rubric', ...)."""
    try:
        data = json.loads(text) if fmt == "json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise InvalidInput("rubric", f"cannot read the {fmt.upper()}: {exc}") from None
    return Rubric.from_dict(data)


@cache
def builtin_rubric(rubric_id: str) -> Rubric:
    """One of the default rubrics shipped as package data (read on first use, then cached)."""
    if rubric_id not in BUILTIN_RUBRICS:
        raise InvalidInput("rubric", f"unknown rubric '{rubric_id}': choose one of {', '.join(BUILTIN_RUBRICS)}")
    text = resources.files("teams_app.adapters").joinpath("rubrics", f"{rubric_id}.yaml").read_text("utf-8")
    return parse_rubric(text)


def builtin_rubrics() -> dict[str, Rubric]:
    """Every built-in rubric, by id (what the assessment service falls back on)."""
    return {rubric_id: builtin_rubric(rubric_id) for rubric_id in BUILTIN_RUBRICS}


def load_rubric_file(path: Path) -> Rubric:
    """A rubric from a ``.yaml``/``.yml``/``.json`` file; problems are raised as InvalidInput(s)."""
    fmt = "json" if path.suffix.lower() == ".json" else "yaml"
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InvalidInput("rubric", f"{path} is not UTF-8 text") from None
    except OSError as exc:
        raise InvalidInput("rubric", f"cannot read {path}: {exc.strerror}") from None
    return parse_rubric(text, fmt=fmt)


def load_rubric_dir(directory: Path) -> dict[str, Rubric]:
    """Every ``*.yaml``/``*.yml``/``*.json`` rubric in a directory, by id (program-level rubrics).

    All files are checked; problems are reported together, each prefixed with its file name.
    """
    if not directory.is_dir():
        raise InvalidInput("rubrics_dir", f"{directory} is not a directory")
    rubrics: dict[str, Rubric] = {}
    problems: list[InvalidInput] = []
    for path in sorted(directory.iterdir()):
        if path.suffix.lower() not in RUBRIC_SUFFIXES:
            continue
        try:
            rubric = load_rubric_file(path)
        except InvalidInputs as exc:
            problems.extend(InvalidInput(f"{path.name}: {p.field}", p.problem) for p in exc.problems)
            continue
        except InvalidInput as exc:
            problems.append(InvalidInput(f"{path.name}: {exc.field}", exc.problem))
            continue
        if rubric.id in rubrics:
            problems.append(InvalidInput(f"{path.name}: id", f"'{rubric.id}' is already defined by another file"))
            continue
        rubrics[rubric.id] = rubric
    if problems:
        raise InvalidInputs(problems)
    logger.info("loaded %s rubrics from %s", len(rubrics), directory)
    return rubrics


def program_rubrics(directory: Path | None) -> dict[str, Rubric]:
    """The built-in rubrics, then a program rubrics folder's (a file may replace a built-in of the same id)."""
    rubrics = builtin_rubrics()
    if directory is not None:
        rubrics.update(load_rubric_dir(directory))
    return rubrics
