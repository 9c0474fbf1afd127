"""Rubrics: the built-in ones, loading from YAML/JSON with per-field errors, and validating a submitted review."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from teams_app.adapters.rubric_files import BUILTIN_RUBRICS, builtin_rubric, load_rubric_file, parse_rubric
from teams_app.domain.assessment import Rubric
from teams_app.domain.errors import InvalidInput, InvalidInputs
from teams_app.domain.model import MAX_TEXT


def fields(error: InvalidInputs) -> dict[str, str]:
    return {p.field: p.problem for p in error.problems}


def small_rubric_dict() -> dict[str, object]:
    return {
        "id": "demo", "name": "Demo",
        "criteria": [
            {"id": "a", "name": "A", "weight": 2,
             "levels": [{"value": 1, "label": "low"}, {"value": 3, "label": "hi"}]},
            {"id": "b", "name": "B", "levels": [{"value": 0, "label": "no"}, {"value": 1, "label": "yes"}]},
        ],
    }


def test_builtin_coaching_rubric_has_the_four_coaching_skills_with_descriptors() -> None:
    rubric = builtin_rubric("coaching-skills")
    assert [c.id for c in rubric.criteria] == ["active-listening", "powerful-questions", "goal-setting",
                                               "giving-feedback"]
    for criterion in rubric.criteria:
        assert [lv.value for lv in criterion.levels] == [1, 2, 3, 4]
        assert all(lv.descriptor for lv in criterion.levels)
        assert criterion.next_steps


def test_builtin_skill_demonstration_rubric_weights_technique_double() -> None:
    rubric = builtin_rubric("skill-demonstration")
    assert rubric.criterion("technique").weight == 2.0
    assert rubric.score({"technique": 4, "understanding": 3, "communication": 2}).raw == 13.0
    assert set(BUILTIN_RUBRICS) == {"coaching-skills", "skill-demonstration"}


def test_unknown_builtin_rubric_is_an_invalid_input() -> None:
    with pytest.raises(InvalidInput) as err:
        builtin_rubric("nope")
    assert err.value.field == "rubric"


def test_rubric_round_trips_through_json() -> None:
    rubric = builtin_rubric("coaching-skills")
    again = parse_rubric(json.dumps(rubric.to_dict()), fmt="json")
    assert again == rubric


def test_score_is_weighted_with_bounds() -> None:
    rubric = Rubric.from_dict(small_rubric_dict())
    score = rubric.score({"a": 3, "b": 0})
    assert (score.raw, score.min, score.max) == (6.0, 2.0, 7.0)
    assert score.scaled == pytest.approx(0.8)


def test_rubric_problems_are_reported_together_with_their_paths() -> None:
    data = {
        "id": "Bad Id", "name": "",
        "criteria": [
            {"id": "a", "name": "A", "weight": 0, "levels": [{"value": 2, "label": "x"}, {"value": 1, "label": "y"}]},
            {"id": "a", "name": "A again", "levels": [{"value": 1, "label": "only"}]},
            {"id": "c", "name": "C", "levels": [{"value": 1, "label": ""}, {"value": 2, "label": "ok"}],
             "next_steps": "not a list"},
        ],
    }
    with pytest.raises(InvalidInputs) as err:
        Rubric.from_dict(data)
    problems = fields(err.value)
    assert set(problems) == {"id", "name", "criteria[0].weight", "criteria[0].levels[1].value",
                             "criteria[1].levels", "criteria[2].levels[0].label", "criteria[2].next_steps"}
    assert "increase" in problems["criteria[0].levels[1].value"]


def test_duplicate_criterion_ids_are_rejected() -> None:
    data = small_rubric_dict()
    data["criteria"] = [data["criteria"][0], data["criteria"][0]]  # type: ignore[index]
    with pytest.raises(InvalidInputs) as err:
        Rubric.from_dict(data)
    assert "used twice" in fields(err.value)["criteria[1].id"]


@pytest.mark.parametrize("data", [None, [], "text", {"id": "x", "name": "X"}, {"id": "x", "name": "X", "criteria": []}])
def test_rubric_without_criteria_is_rejected(data: object) -> None:
    with pytest.raises((InvalidInput, InvalidInputs)):
        Rubric.from_dict(data)


def test_unparseable_yaml_names_the_rubric_field() -> None:
    with pytest.raises(InvalidInput) as err:
        parse_rubric("id: [unclosed")
    assert err.value.field == "rubric" and "YAML" in err.value.problem


def test_valid_submission_accepts_card_strings_and_strips_text() -> None:
    rubric = builtin_rubric("coaching-skills")
    submission = rubric.validate_submission(
        {"active-listening": "4", "powerful-questions": 3, "goal-setting": 2.0, "giving-feedback": " 1 "},
        {"goal-setting": "  be specific  ", "giving-feedback": ""}, "thanks!")
    assert submission.ratings == {"active-listening": 4, "powerful-questions": 3, "goal-setting": 2,
                                  "giving-feedback": 1}
    assert submission.comments == {"goal-setting": "be specific"}
    assert submission.comment == "thanks!"


def test_bad_submission_names_every_field() -> None:
    rubric = builtin_rubric("coaching-skills")
    with pytest.raises(InvalidInputs) as err:
        rubric.validate_submission(
            {"active-listening": 5, "powerful-questions": "lots", "goal-setting": True, "empathy": 3},
            {"active-listening": "x" * (MAX_TEXT + 1), "unknown": "hi"}, "y" * (MAX_TEXT + 1))
    problems = fields(err.value)
    assert set(problems) == {"ratings.active-listening", "ratings.powerful-questions", "ratings.goal-setting",
                             "ratings.giving-feedback", "ratings.empathy", "comments.active-listening",
                             "comments.unknown", "comment"}
    assert "choose one of 1, 2, 3, 4" in problems["ratings.active-listening"]
    assert "choose a level" in problems["ratings.giving-feedback"]
    assert f"at most {MAX_TEXT}" in problems["comment"] and str(MAX_TEXT + 1) in problems["comment"]


def test_comment_of_exactly_the_limit_is_accepted() -> None:
    rubric = builtin_rubric("skill-demonstration")
    ok = rubric.validate_submission({"technique": 1, "understanding": 2, "communication": 3}, None, "z" * MAX_TEXT)
    assert len(ok.comment) == MAX_TEXT


def test_yaml_yes_no_labels_get_a_hint_to_quote_them() -> None:
    text = ("id: t\nname: T\ncriteria:\n"
            "  - {id: ok, name: OK, levels: [{value: 0, label: no}, {value: 1, label: 'yes'}]}")
    with pytest.raises(InvalidInputs) as err:
        parse_rubric(text)
    assert "quotes" in fields(err.value)["criteria[0].levels[0].label"]


def test_the_assessment_domain_imports_no_file_or_yaml_library() -> None:
    code = ("import sys, teams_app.domain.assessment, teams_app.domain.assessment_events; "
            "print(sorted(m for m in ('yaml', 'importlib.resources', 'sqlalchemy', 'aiohttp') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_a_rubric_file_that_is_not_utf8_is_an_invalid_input(tmp_path: Path) -> None:
    path = tmp_path / "latin.yaml"
    path.write_bytes("id: caf\xe9\n".encode("latin-1"))
    with pytest.raises(InvalidInput, match="not UTF-8"):
        load_rubric_file(path)
