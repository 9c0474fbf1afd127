"""``lrs audit`` on statements: conformance counted per verb, the xAPI rules, patterns, examples, text."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from lrs_bridge.audit import audit_statements, render, spec_problems
from lrs_bridge.statements import StatementBuilder
from lrs_bridge.vocabulary import Verbs
from tests.lrs_bridge.conftest import sample_records

NOW = datetime(2026, 3, 3, 12, 0, tzinfo=UTC)
BUILDER = StatementBuilder(activity_base_iri="https://coach.example.org/xapi", clock=lambda: NOW)


def stored(statements: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """As an LRS returns them: stored time and version filled in."""
    return [{**s, "stored": NOW.isoformat(), "version": "1.0.0"} for s in statements]


def produced() -> list[dict[str, Any]]:
    """Every kind of statement, in one registration: joined, ... (leaving would end it: left out)."""
    return stored([json.loads(BUILDER.build_serialized(r).payload) for r in sample_records()
                   if type(r).__name__ != "Unregistered"])


def test_what_the_code_produces_passes_the_audit() -> None:
    report = audit_statements(produced(), endpoint="http://lrs.example/xAPI/", now=NOW)
    assert report.ok, render(report)
    assert (report.template_conformance, report.spec_violations, report.future_timestamps) == (1.0, 0, 0)
    assert report.registrations == 1 and report.pattern_conformance == 1.0
    assert report.verbs[Verbs.TALKED_WITH].statements == 2
    assert "OK: everything conforms" in render(report)


def test_the_audit_counts_each_defect_and_shows_examples() -> None:
    statements = produced()
    by_verb = {s["verb"]["id"]: s for s in statements}
    by_verb[Verbs.REGISTERED]["version"] = "1.0.3"
    by_verb[Verbs.ATTENDED]["timestamp"] = (NOW + timedelta(days=14)).isoformat()
    by_verb[Verbs.REVIEWED]["result"] = {"score": {"raw": 16, "min": 4, "max": 16, "scaled": 1.0}}
    void_of_void = {"id": str(uuid.uuid4()), "actor": {"mbox": "mailto:system@peercoach.example"},
                    "verb": {"id": Verbs.VOIDED}, "timestamp": NOW.isoformat(), "stored": NOW.isoformat(),
                    "object": {"objectType": "StatementRef", "id": by_verb[Verbs.VOIDED]["id"]}}
    report = audit_statements([*statements, void_of_void], now=NOW)
    assert not report.ok
    assert report.verbs[Verbs.REGISTERED].keep_spec == 0 and report.verbs[Verbs.REGISTERED].match_template == 0
    assert report.future_timestamps == 1
    assert report.verbs[Verbs.REVIEWED].match_template == 0
    assert report.verbs[Verbs.VOIDED].keep_spec == 1 and report.verbs[Verbs.VOIDED].statements == 2
    assert report.spec_violations == 3
    assert report.registrations_matching == 0  # the broken statements break the registration's pattern
    text = render(report)
    assert "version is '1.0.3'" in text and "itself a voiding statement" in text
    assert "no template: reviewed: $.result must be absent" in text
    assert "NOT OK" in text
    assert json.loads(json.dumps(report.as_dict()))["spec_violations"] == 3


def test_platform_with_an_agent_object_breaks_the_rule() -> None:
    statement = {"object": {"objectType": "Agent"}, "context": {"platform": "Microsoft Teams"}, "verb": {"id": "x"}}
    assert spec_problems(statement, {}, NOW) == ["context.platform with an Agent/Group object (Data 2.4.6)"]
