"""``lrs audit``: what does the LRS really hold, and does it conform?

Reads statements back from an LRS (through :class:`~lrs_bridge.client.LrsClient`, following ``more``
pages), optionally only those of one program (its activity as object or in context, with
``related_activities``) and a time range, and reports per verb how many statements match a template of
the shipped profile and follow the xAPI rules peercoach promises:

- ``version``, if present, is "1.0.0" (xAPI 1.0.3 Data 2.4.10; producers should not set it at all);
- no timestamp later than the moment the statement was stored (Data 2.4.7), beyond a clock-skew margin;
- a voiding statement never targets a voiding statement (Data 2.3.2);
- ``context.platform`` only when the object is an Activity (Data 2.4.6).

Per registration it checks the profile's primary pattern over the registration's statements in time
order. :func:`audit` returns an :class:`AuditReport`; :func:`render` turns it into text for people.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from lrs_bridge.client import LrsClient
from lrs_bridge.profile import load_profile
from lrs_bridge.profile.validate import ProfileValidator, by_registration
from lrs_bridge.vocabulary import Verbs

logger = logging.getLogger(__name__)

EXAMPLES = 3  # failing examples kept per verb and for patterns


def _parse_time(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def spec_problems(statement: dict[str, Any], statements_by_id: dict[str, dict[str, Any]],
                  now: datetime, skew: timedelta = timedelta(seconds=5)) -> list[str]:
    """The xAPI rules above that ``statement`` breaks (empty when it keeps them all)."""
    problems: list[str] = []
    version = statement.get("version")
    if version is not None and version != "1.0.0":
        problems.append(f"version is {version!r} (xAPI 1.0.3 Data 2.4.10: not set, or \"1.0.0\")")
    timestamp = _parse_time(statement.get("timestamp"))
    made = _parse_time(statement.get("stored")) or now
    if timestamp is not None and timestamp > made + skew:
        problems.append(f"timestamp {statement['timestamp']} is after it was stored ({made.isoformat()})")
    obj = statement.get("object") or {}
    if (statement.get("verb") or {}).get("id") == Verbs.VOIDED and obj.get("objectType") == "StatementRef":
        target = statements_by_id.get(str(obj.get("id")))
        if target is not None and (target.get("verb") or {}).get("id") == Verbs.VOIDED:
            problems.append(f"voids {obj.get('id')}, itself a voiding statement (Data 2.3.2)")
    if (statement.get("context") or {}).get("platform") is not None and obj.get("objectType") in ("Agent", "Group"):
        problems.append("context.platform with an Agent/Group object (Data 2.4.6)")
    return problems


@dataclass(frozen=True)
class Example:
    statement_id: str
    reason: str


@dataclass
class VerbReport:
    verb: str
    statements: int = 0
    match_template: int = 0
    keep_spec: int = 0
    examples: list[Example] = field(default_factory=list)

    @property
    def conforming(self) -> int:
        return min(self.match_template, self.keep_spec)


@dataclass
class AuditReport:
    endpoint: str
    program: str | None
    since: datetime | None
    until: datetime | None
    made_at: datetime
    statements: int = 0
    template_matches: int = 0
    spec_violations: int = 0
    future_timestamps: int = 0
    registrations: int = 0
    registrations_matching: int = 0
    verbs: dict[str, VerbReport] = field(default_factory=dict)
    pattern_examples: list[Example] = field(default_factory=list)

    @property
    def template_conformance(self) -> float:
        return self.template_matches / self.statements if self.statements else 1.0

    @property
    def pattern_conformance(self) -> float:
        return self.registrations_matching / self.registrations if self.registrations else 1.0

    @property
    def ok(self) -> bool:
        return (self.template_matches == self.statements and self.spec_violations == 0
                and self.registrations_matching == self.registrations)

    def as_dict(self) -> dict[str, Any]:
        return {
            "endpoint": self.endpoint, "program": self.program, "made_at": self.made_at.isoformat(),
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "statements": self.statements, "template_conformance": round(self.template_conformance, 4),
            "pattern_conformance": round(self.pattern_conformance, 4), "registrations": self.registrations,
            "spec_violations": self.spec_violations, "future_timestamps": self.future_timestamps,
            "verbs": {v.verb: {"statements": v.statements, "match_template": v.match_template,
                               "keep_spec": v.keep_spec,
                               "examples": [{"id": e.statement_id, "reason": e.reason} for e in v.examples]}
                      for v in self.verbs.values()},
            "pattern_examples": [{"registration": e.statement_id, "reason": e.reason} for e in self.pattern_examples],
        }


def _mentions(statement: dict[str, Any], activity_iri: str) -> bool:
    if (statement.get("object") or {}).get("id") == activity_iri:
        return True
    context = (statement.get("context") or {}).get("contextActivities") or {}
    return any(isinstance(a, dict) and a.get("id") == activity_iri
               for kind in ("parent", "grouping", "category", "other") for a in context.get(kind) or [])


async def read_statements(client: LrsClient, *, program_iri: str | None = None, since: datetime | None = None,
                          until: datetime | None = None) -> list[dict[str, Any]]:
    """The program's statements (or all) in the time range, plus the voiding statements of that range
    (they carry no program context). Falls back to filtering here when the LRS ignores the activity
    filter (ralph's file backend)."""
    # Ascending: statements with equal timestamps keep the order they were stored in (the order they
    # were made), which the pattern check relies on.
    if program_iri is None:
        return [s async for s in client.get_statements(since=since, until=until, ascending=True)]
    found = [s async for s in client.get_statements(activity=program_iri, related_activities=True, since=since,
                                                    until=until, ascending=True)]
    if not found:
        everything = [s async for s in client.get_statements(since=since, until=until, ascending=True)]
        return [s for s in everything if _mentions(s, program_iri)
                or (s.get("verb") or {}).get("id") == Verbs.VOIDED]
    voiding = [s async for s in client.get_statements(verb=Verbs.VOIDED, since=since, until=until, ascending=True)]
    seen = {s.get("id") for s in found}
    return found + [s for s in voiding if s.get("id") not in seen]


def audit_statements(statements: Iterable[dict[str, Any]], *, endpoint: str = "", program: str | None = None,
                     since: datetime | None = None, until: datetime | None = None, now: datetime | None = None,
                     profile: dict[str, Any] | None = None) -> AuditReport:
    """The report for statements already read (the tests and the benchmark call this directly)."""
    items = list(statements)
    now = now or datetime.now(UTC)
    validator = ProfileValidator(profile or load_profile())
    by_id = {str(s.get("id")): s for s in items}
    report = AuditReport(endpoint=endpoint, program=program, since=since, until=until, made_at=now)
    for statement in items:
        verb = str((statement.get("verb") or {}).get("id", "?"))
        entry = report.verbs.setdefault(verb, VerbReport(verb))
        entry.statements += 1
        report.statements += 1
        matched = validator.matching_templates(statement)
        problems = spec_problems(statement, by_id, now)
        if matched:
            entry.match_template += 1
            report.template_matches += 1
        if not problems:
            entry.keep_spec += 1
        report.spec_violations += len(problems)
        report.future_timestamps += sum(1 for p in problems if p.startswith("timestamp "))
        if (not matched or problems) and len(entry.examples) < EXAMPLES:
            reasons = ([] if matched else [f"no template: {validator.explain(statement)}"]) + problems
            entry.examples.append(Example(str(statement.get("id")), "; ".join(reasons)))
    for registration, group in by_registration(items).items():
        report.registrations += 1
        if validator.matching_patterns(group):
            report.registrations_matching += 1
        elif len(report.pattern_examples) < EXAMPLES:
            verbs = " ".join(str((s.get("verb") or {}).get("id", "?")).rsplit("/", 1)[-1] for s in group)
            report.pattern_examples.append(Example(registration, f"no primary pattern matches: {verbs}"))
    return report


async def audit(client: LrsClient, *, program_iri: str | None = None, since: datetime | None = None,
                until: datetime | None = None) -> AuditReport:
    """Read from the LRS and audit (see the module docstring)."""
    statements = await read_statements(client, program_iri=program_iri, since=since, until=until)
    logger.info("audit: %s statements read from %s", len(statements), client.endpoint)
    return audit_statements(statements, endpoint=client.endpoint, program=program_iri, since=since, until=until)


def render(report: AuditReport) -> str:
    """The report as text: a summary line, a table per verb, the first failing examples."""
    period = f"{report.since.isoformat() if report.since else 'the beginning'} to " \
             f"{report.until.isoformat() if report.until else 'now'}"
    lines = [
        f"LRS audit of {report.endpoint} ({report.program or 'all programs'}), {period}; "
        f"made {report.made_at:%Y-%m-%d %H:%M} UTC",
        f"{report.statements} statements: {report.template_conformance:.1%} match a profile template, "
        f"{report.spec_violations} xAPI rule violation(s) ({report.future_timestamps} future timestamps); "
        f"{report.registrations_matching} of {report.registrations} registrations match a primary pattern "
        f"({report.pattern_conformance:.1%})",
        "",
        f"{'verb':<48} {'statements':>10} {'template':>9} {'xAPI rules':>10}",
    ]
    counts = Counter({v: e.statements for v, e in report.verbs.items()})
    for verb, _ in counts.most_common():
        entry = report.verbs[verb]
        lines.append(f"{verb:<48} {entry.statements:>10} {entry.match_template:>9} {entry.keep_spec:>10}")
    failing = [(v, e) for v, e in report.verbs.items() if e.examples]
    if failing or report.pattern_examples:
        lines += ["", "First failing examples:"]
        for verb, entry in failing:
            for example in entry.examples:
                lines.append(f"  {verb.rsplit('/', 1)[-1]} {example.statement_id}: {example.reason}")
        for example in report.pattern_examples:
            lines.append(f"  registration {example.statement_id}: {example.reason}")
    lines += ["", "OK: everything conforms" if report.ok else "NOT OK: see the examples above"]
    return "\n".join(lines)


__all__ = ["AuditReport", "Example", "VerbReport", "audit", "audit_statements", "read_statements", "render",
           "spec_problems"]
