"""The shipped xAPI profile: structure per xAPI Profiles 1.0, it defines every IRI the code emits, and every
statement the code can produce matches its templates and (per registration) its primary pattern, checked by
an implementation of Profiles 1.0 Part 3 whose own semantics are tested here too."""

from __future__ import annotations

import json
import re
from typing import Any

import jsonschema
import pytest

from lrs_bridge.profile import load_profile
from lrs_bridge.profile.validate import JsonPathError, ProfileValidator, check_rule, evaluate
from lrs_bridge.statements import StatementBuilder
from lrs_bridge.vocabulary import (
    PROFILE_IRI,
    PROFILE_VERSION_IRI,
    all_activity_types,
    all_extensions,
    all_verbs,
)
from tests.lrs_bridge.conftest import ALICE, sample_records

BASE = "https://coach.example.org/xapi"


def builders() -> list[StatementBuilder]:
    return [StatementBuilder(activity_base_iri=BASE, actor_identification=mode, agent_objects=agent_objects,
                             account_homepage="https://login.example.org")
            for mode in ("mbox", "mbox_sha1sum", "account") for agent_objects in (True, False)]

CONCEPT_TYPES = {"Verb", "ActivityType", "AttachmentUsageType", "ContextExtension", "ResultExtension",
                 "ActivityExtension", "StateResource", "AgentProfileResource", "ActivityProfileResource",
                 "Activity"}
PATTERN_KINDS = ("alternates", "optional", "oneOrMore", "sequence", "zeroOrMore")


@pytest.fixture(scope="module")
def profile() -> dict[str, Any]:
    return load_profile()


def _lang_map(value: object) -> bool:
    return isinstance(value, dict) and bool(value) and all(
        re.fullmatch(r"[a-z]{2,3}(-[A-Za-z0-9]+)*", k) and isinstance(v, str) and v for k, v in value.items())


def test_profile_document_has_required_top_level_properties(profile: dict[str, Any]) -> None:
    assert profile["@context"] == "https://w3id.org/xapi/profiles/context"
    assert profile["type"] == "Profile"
    assert profile["id"] == PROFILE_IRI
    assert profile["conformsTo"] == "https://w3id.org/xapi/profiles#1.0"
    assert _lang_map(profile["prefLabel"]) and _lang_map(profile["definition"])
    assert profile["author"]["type"] in ("Organization", "Person") and profile["author"]["name"]
    assert profile["versions"][0]["id"] == PROFILE_VERSION_IRI
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", profile["versions"][0]["generatedAtTime"])


def test_every_concept_template_and_pattern_is_well_formed(profile: dict[str, Any]) -> None:
    ids: list[str] = []
    for concept in profile["concepts"]:
        ids.append(concept["id"])
        assert concept["type"] in CONCEPT_TYPES
        assert concept["inScheme"] == PROFILE_VERSION_IRI
        assert concept["id"].startswith(PROFILE_IRI + "/"), "own concepts live under the profile IRI"
        assert _lang_map(concept["prefLabel"]) and _lang_map(concept["definition"])
        if concept["type"].endswith("Extension"):
            schema = json.loads(concept["inlineSchema"])
            jsonschema.Draft7Validator.check_schema(schema)
    for template in profile["templates"]:
        ids.append(template["id"])
        assert template["type"] == "StatementTemplate" and template["inScheme"] == PROFILE_VERSION_IRI
        assert _lang_map(template["prefLabel"]) and _lang_map(template["definition"])
        for rule in template.get("rules", []):
            assert rule["location"].startswith("$.")
            assert rule.get("presence", "included") in ("included", "excluded", "recommended")
    templates = {t["id"] for t in profile["templates"]}
    patterns = {p["id"] for p in profile["patterns"]}
    for pattern in profile["patterns"]:
        ids.append(pattern["id"])
        kinds = [k for k in PATTERN_KINDS if k in pattern]
        assert len(kinds) == 1, f"{pattern['id']} must have exactly one of {PATTERN_KINDS}"
        members = pattern[kinds[0]] if isinstance(pattern[kinds[0]], list) else [pattern[kinds[0]]]
        for member in members:
            assert member in templates or member in patterns, f"{pattern['id']} refers to unknown {member}"
            assert member != pattern["id"]
        if pattern.get("primary"):
            assert _lang_map(pattern["prefLabel"]) and _lang_map(pattern["definition"])
    assert any(p.get("primary") for p in profile["patterns"])
    assert len(ids) == len(set(ids)), "ids are unique"


def _referenced(profile: dict[str, Any]) -> set[str]:
    """IRIs the profile defines or names in templates (verbs, activity types, rule locations)."""
    refs = {c["id"] for c in profile["concepts"]}
    for t in profile["templates"]:
        refs.add(t["verb"])
        for key, value in t.items():
            if key.endswith("ActivityType"):
                refs.update(value if isinstance(value, list) else [value])
        for rule in t.get("rules", []):
            refs.update(re.findall(r"\['([^']+)'\]", rule["location"]))
            for key in ("any", "all"):
                refs.update(v for v in rule.get(key, []) if isinstance(v, str) and v.startswith("http"))
    return refs


def test_every_iri_the_code_uses_is_defined_or_referenced_in_the_profile(profile: dict[str, Any]) -> None:
    refs = _referenced(profile)
    vocabulary = set(all_verbs()) | set(all_activity_types()) | set(all_extensions()) | {PROFILE_VERSION_IRI}
    assert vocabulary - refs == set()
    own = {iri for iri in vocabulary if iri.startswith(PROFILE_IRI + "/") and iri != PROFILE_VERSION_IRI}
    assert own <= {c["id"] for c in profile["concepts"]}, "our own IRIs are concepts of our profile"


def _statement_iris(statement: dict[str, Any]) -> set[str]:
    found: set[str] = set()

    def walk(node: object, key: str = "") -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                if k == "extensions" and isinstance(v, dict):
                    found.update(v)
                walk(v, k)
        elif isinstance(node, list):
            for item in node:
                walk(item, key)
        elif key in ("type",) and isinstance(node, str):
            found.add(node)

    walk(statement)
    found.add(statement["verb"]["id"])
    return found


def test_every_iri_in_produced_statements_is_in_the_profile(profile: dict[str, Any]) -> None:
    refs = _referenced(profile) | {PROFILE_VERSION_IRI}
    for agent_objects in (True, False):
        b = StatementBuilder(activity_base_iri=BASE, agent_objects=agent_objects)
        for record in sample_records():
            statement = json.loads(b.build_serialized(record).payload)
            missing = _statement_iris(statement) - refs
            assert not missing, f"{type(record).__name__} uses IRIs the profile lacks: {missing}"


def test_extension_values_validate_against_their_inline_schemas(profile: dict[str, Any]) -> None:
    schemas = {c["id"]: json.loads(c["inlineSchema"]) for c in profile["concepts"] if "inlineSchema" in c}
    checked = 0
    for mode, agent_objects in [(m, a) for m in ("mbox", "mbox_sha1sum", "account") for a in (True, False)]:
        b = StatementBuilder(activity_base_iri="https://coach.example.org/xapi", actor_identification=mode,
                             account_homepage="https://login.example.org", agent_objects=agent_objects)
        for record in sample_records():
            statement = json.loads(b.build_serialized(record).payload)
            for part in (statement.get("context", {}), statement.get("result", {})):
                for iri, value in part.get("extensions", {}).items():
                    if iri in schemas:
                        jsonschema.validate(value, schemas[iri])
                        checked += 1
    assert checked >= 6 * 6


def test_every_template_verb_is_produced_by_some_record(profile: dict[str, Any]) -> None:
    b = StatementBuilder(activity_base_iri="https://coach.example.org/xapi")
    produced = {json.loads(b.build_serialized(r).payload)["verb"]["id"] for r in sample_records()}
    assert {t["verb"] for t in profile["templates"]} == produced


def test_every_statement_kind_matches_exactly_one_template(profile: dict[str, Any]) -> None:
    validator = ProfileValidator(profile)
    matched: set[str] = set()
    for b in builders():
        for record in sample_records():
            statement = json.loads(b.build_serialized(record).payload)
            found = validator.matching_templates(statement)
            assert len(found) == 1, f"{type(record).__name__}: {found or validator.explain(statement)}"
            matched.update(found)
    assert matched == {t["id"] for t in profile["templates"]}, "every template describes something we send"


def _statement(record_index: int = 0) -> dict[str, Any]:
    return json.loads(builders()[0].build_serialized(sample_records()[record_index]).payload)


@pytest.mark.parametrize(("defect", "template_failure"), [
    (lambda s: s.update(version="1.0.3"), "$.version"),
    (lambda s: s["context"].pop("registration"), "$.context.registration"),
    (lambda s: s["context"]["contextActivities"].update(category=[{"id": "https://x.example/other"}]), None),
])
def test_statements_with_the_old_defects_match_no_template(profile: dict[str, Any], defect: Any,
                                                            template_failure: str | None) -> None:
    validator = ProfileValidator(profile)
    statement = _statement()
    assert validator.matching_templates(statement)
    defect(statement)
    assert validator.matching_templates(statement) == []
    if template_failure:
        assert template_failure in validator.explain(statement)


def test_a_reviewers_statement_with_the_reviewees_score_or_email_matches_no_template(profile: dict[str, Any]) -> None:
    validator = ProfileValidator(profile)
    reviewed = next(json.loads(builders()[0].build_serialized(r).payload) for r in sample_records()
                    if type(r).__name__ == "Reviewed")
    assert validator.matching_templates(reviewed)
    scored = {**reviewed, "result": {"score": {"raw": 16, "min": 4, "max": 16, "scaled": 1.0}}}
    assert validator.matching_templates(scored) == []
    named = json.loads(json.dumps(reviewed))
    named["context"]["extensions"][f"{PROFILE_IRI}/extensions/reviewee"] = {"mbox": f"mailto:{ALICE.email}"}
    assert validator.matching_templates(named) == []


def test_jsonpath_locations_select_what_part_2_says() -> None:
    doc = {"a": {"b": [{"c": 1}, {"c": 2}, {"d": 3}]}, "ext": {"https://x.example/e.f": True}}
    assert evaluate(doc, "$.a.b[*].c") == [1, 2]
    assert evaluate(doc, "$.a.b[1]") == [{"c": 2}]
    assert evaluate(doc, "$.ext['https://x.example/e.f']") == [True]
    assert evaluate(doc, "$.a.missing[*]") == []
    assert evaluate(doc, "$.a.b[*].c | $.a.b[*].d") == [1, 2, 3]
    assert evaluate(doc, "$.a.*") == [doc["a"]["b"]]
    with pytest.raises(JsonPathError):
        evaluate(doc, "a.b")


@pytest.mark.parametrize(("rule", "passes"), [
    ({"location": "$.x", "presence": "included"}, True),
    ({"location": "$.nope", "presence": "included"}, False),
    ({"location": "$.nope", "presence": "excluded"}, True),
    ({"location": "$.x", "presence": "excluded"}, False),
    ({"location": "$.nope", "presence": "recommended", "any": ["a"]}, True),
    ({"location": "$.list[*]", "presence": "recommended", "any": ["zz"]}, False),
    ({"location": "$.list[*]", "any": ["b", "zz"]}, True),
    ({"location": "$.list[*]", "all": ["a", "b"]}, True),
    ({"location": "$.list[*]", "all": ["a"]}, False),
    ({"location": "$.list[*]", "none": ["c"]}, True),
    ({"location": "$.list[*]", "none": ["b"]}, False),
    ({"location": "$.flag", "all": [True]}, True),
    ({"location": "$.one", "all": [True]}, False),  # JSON true is not 1
    ({"location": "$.objs[*]", "selector": "$.id", "all": ["i1", "i2"]}, True),
    ({"location": "$.objs[*]", "selector": "$.id", "presence": "included", "none": ["i2"]}, False),
])
def test_template_rules_presence_and_any_all_none(rule: dict[str, Any], passes: bool) -> None:
    doc = {"x": 0, "list": ["a", "b"], "flag": True, "one": 1, "objs": [{"id": "i1"}, {"id": "i2"}]}
    assert (check_rule(doc, rule) is None) is passes


def _toy_profile() -> dict[str, Any]:
    def template(name: str) -> dict[str, Any]:
        return {"id": f"t:{name}", "verb": f"v:{name}"}

    def pattern(name: str, kind: str, members: Any, primary: bool = False) -> dict[str, Any]:
        return {"id": f"p:{name}", kind: members, "primary": primary}

    return {"templates": [template(n) for n in "abcd"], "patterns": [
        pattern("b-or-c", "alternates", ["t:b", "t:c"]),
        pattern("many", "zeroOrMore", "p:b-or-c"),
        pattern("maybe-d", "optional", "t:d"),
        pattern("one", "sequence", ["t:a", "p:many", "p:maybe-d"]),
        pattern("main", "oneOrMore", "p:one", primary=True),
    ]}


@pytest.mark.parametrize(("verbs", "matches"), [
    ("a", True), ("abcbd", True), ("ad", True), ("abda", True), ("abdacc", True),
    ("", False), ("b", False), ("add", False), ("abdb", False), ("da", False), ("ax", False),
])
def test_patterns_sequence_alternates_optional_one_or_more_zero_or_more(verbs: str, matches: bool) -> None:
    validator = ProfileValidator(_toy_profile())
    statements = [{"verb": {"id": f"v:{v}"}} for v in verbs]
    assert (validator.matching_patterns(statements) == ["p:main"]) is matches


def test_every_iri_not_ours_comes_from_a_cited_vocabulary() -> None:
    from lrs_bridge.vocabulary import CITED

    used = set(all_verbs()) | set(all_activity_types()) | set(all_extensions())
    foreign = {iri for iri in used if not iri.startswith(PROFILE_IRI + "/")}
    assert foreign == set(CITED), "each IRI that is not ours names the vocabulary that defines it"
