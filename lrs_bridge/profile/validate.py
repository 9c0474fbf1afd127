"""xAPI Profiles 1.0, Part 3 (communication and validation): statement templates and patterns.

``ProfileValidator(profile)`` checks statements against the profile's statement templates (determining
properties: verb, object activity type, context activity types, StatementRef targets; then rules: a
JSONPath ``location`` with an optional ``selector``, ``presence`` included / excluded / recommended, and
``any`` / ``all`` / ``none``) and groups of statements sharing a ``context.registration`` against its
primary patterns (``sequence``, ``alternates``, ``optional``, ``oneOrMore``, ``zeroOrMore``), matched over
the registration's statements in timestamp order. It is what the profile tests and ``lrs audit`` use.

The JSONPath subset is what statement template locations need: ``$``, ``.name``, ``['name']`` (also with
dots or slashes inside, for extension IRIs), ``[*]``, ``.*``, ``[n]`` and ``|`` between alternative paths.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

_TOKEN = re.compile(r"""\.(?P<name>[A-Za-z_][\w-]*)|\.\*"""
                    r"""|\[(?:'(?P<quoted>[^']*)'|"(?P<dquoted>[^"]*)"|(?P<index>\d+)|(?P<star>\*))\]""")


class JsonPathError(ValueError):
    """A template rule's location is not a JSONPath this validator understands."""


def _steps(path: str) -> list[str | int | None]:
    """``$.a['b'][*]`` -> ["a", "b", None]; None is a wildcard."""
    path = path.strip()
    if not path.startswith("$"):
        raise JsonPathError(f"a location starts with $: {path!r}")
    steps: list[str | int | None] = []
    pos = 1
    while pos < len(path):
        match = _TOKEN.match(path, pos)
        if match is None:
            raise JsonPathError(f"cannot read {path!r} at {path[pos:]!r}")
        if match.group("name") is not None:
            steps.append(match.group("name"))
        elif match.group("quoted") is not None:
            steps.append(match.group("quoted"))
        elif match.group("dquoted") is not None:
            steps.append(match.group("dquoted"))
        elif match.group("index") is not None:
            steps.append(int(match.group("index")))
        else:
            steps.append(None)
        pos = match.end()
    return steps


def _split_alternatives(path: str) -> list[str]:
    """``$.a | $.b`` -> two paths (a ``|`` inside quotes is part of a name)."""
    parts: list[str] = []
    current: list[str] = []
    quote = ""
    for char in path:
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "|":
            parts.append("".join(current).strip())
            current = []
            continue
        current.append(char)
    parts.append("".join(current).strip())
    return parts


def evaluate(document: Any, path: str) -> list[Any]:
    """Every value ``path`` selects in ``document`` (missing parts select nothing)."""
    found: list[Any] = []
    for alternative in _split_alternatives(path):
        nodes = [document]
        for step in _steps(alternative):
            nxt: list[Any] = []
            for node in nodes:
                if step is None:
                    if isinstance(node, list):
                        nxt.extend(node)
                    elif isinstance(node, dict):
                        nxt.extend(node.values())
                elif isinstance(step, int):
                    if isinstance(node, list) and step < len(node):
                        nxt.append(node[step])
                elif isinstance(node, dict) and step in node:
                    nxt.append(node[step])
            nodes = nxt
        found.extend(nodes)
    return found


def _same(a: Any, b: Any) -> bool:
    # JSON equality: True is not 1.
    return type(a) is type(b) and a == b if isinstance(a, bool) or isinstance(b, bool) else a == b


def _contains(values: Iterable[Any], wanted: Any) -> bool:
    return any(_same(v, wanted) for v in values)


@dataclass(frozen=True)
class RuleFailure:
    location: str
    reason: str


@dataclass
class TemplateResult:
    template_id: str
    determining_ok: bool
    failures: list[RuleFailure] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.determining_ok and not self.failures


def check_rule(statement: dict[str, Any], rule: dict[str, Any]) -> RuleFailure | None:
    """One statement template rule (Profiles 1.0, Part 2 §9.1.1 and Part 3 §2.1)."""
    location = rule["location"]
    values = evaluate(statement, location)
    if "selector" in rule:
        values = [v for value in values for v in evaluate(value, rule["selector"])]
    values = [v for v in values if v is not None]
    presence = rule.get("presence")
    if presence == "included" and not values:
        return RuleFailure(location, "must be present")
    if presence == "excluded":
        return RuleFailure(location, f"must be absent, found {values[:3]!r}") if values else None
    if not values:
        # Nothing to compare: "recommended" (or no presence) passes; "all" needs a value to judge.
        return None
    if "any" in rule and not any(_contains(rule["any"], v) for v in values):
        return RuleFailure(location, f"none of {values[:3]!r} is one of {rule['any']!r}")
    if "all" in rule and not all(_contains(rule["all"], v) for v in values):
        return RuleFailure(location, f"{values[:3]!r} are not all in {rule['all']!r}")
    if "none" in rule and any(_contains(rule["none"], v) for v in values):
        return RuleFailure(location, f"{values[:3]!r} includes one of {rule['none']!r}")
    return None


def _activity_types(statement: dict[str, Any], kind: str) -> list[Any]:
    return evaluate(statement, f"$.context.contextActivities.{kind}[*].definition.type")


def check_template(statement: dict[str, Any], template: dict[str, Any],
                   statements_by_id: dict[str, dict[str, Any]] | None = None) -> TemplateResult:
    """Determining properties first (a statement that fails them is simply not this template's kind),
    then every rule."""
    result = TemplateResult(template["id"], True)
    determining: list[bool] = []
    if "verb" in template:
        determining.append(evaluate(statement, "$.verb.id") == [template["verb"]])
    if "objectActivityType" in template:
        determining.append(evaluate(statement, "$.object.definition.type") == [template["objectActivityType"]])
    for key, kind in (("contextGroupingActivityType", "grouping"), ("contextParentActivityType", "parent"),
                      ("contextOtherActivityType", "other"), ("contextCategoryActivityType", "category")):
        present = _activity_types(statement, kind)
        determining.extend(_contains(present, wanted) for wanted in template.get(key, []))
    for key in ("objectStatementRefTemplate", "contextStatementRefTemplate"):
        if key in template:
            path = "$.object" if key.startswith("object") else "$.context.statement"
            refs = evaluate(statement, path)
            target = (statements_by_id or {}).get(refs[0].get("id", "")) if refs and isinstance(refs[0], dict) else None
            determining.append(target is not None and any(
                check_template(target, t).ok for t in template[key] if isinstance(t, dict)))
    result.determining_ok = all(determining)
    if result.determining_ok:
        for rule in template.get("rules", []):
            failure = check_rule(statement, rule)
            if failure is not None:
                result.failures.append(failure)
    return result


class ProfileValidator:
    """Templates and primary patterns of one profile document."""

    def __init__(self, profile: dict[str, Any]) -> None:
        self.profile = profile
        self.templates: dict[str, dict[str, Any]] = {t["id"]: t for t in profile.get("templates", [])}
        self.patterns: dict[str, dict[str, Any]] = {p["id"]: p for p in profile.get("patterns", [])}
        self.primary = [p["id"] for p in profile.get("patterns", []) if p.get("primary")]

    # -- templates -------------------------------------------------------------------------------

    def candidates(self, statement: dict[str, Any]) -> list[TemplateResult]:
        """Results for every template whose determining properties the statement has."""
        results = [check_template(statement, t) for t in self.templates.values()]
        return [r for r in results if r.determining_ok]

    def matching_templates(self, statement: dict[str, Any]) -> list[str]:
        return [r.template_id for r in self.candidates(statement) if r.ok]

    def explain(self, statement: dict[str, Any]) -> str:
        """Why a statement matches no template, in one line."""
        candidates = self.candidates(statement)
        if not candidates:
            return f"no template has verb {evaluate(statement, '$.verb.id')} with this object and context"
        best = min(candidates, key=lambda r: len(r.failures))
        reasons = "; ".join(f"{f.location} {f.reason}" for f in best.failures[:3])
        return f"{best.template_id.rsplit('/', 1)[-1]}: {reasons}"

    # -- patterns --------------------------------------------------------------------------------

    def _ends(self, component: str, statements: Sequence[set[str]], start: int,
              memo: dict[tuple[str, int], frozenset[int]]) -> frozenset[int]:
        """Positions where ``component`` can finish when it starts at ``start`` (its possible matches)."""
        key = (component, start)
        if key in memo:
            return memo[key]
        memo[key] = frozenset()  # a pattern referring to itself matches nothing more through that loop
        if component in self.templates:
            ends = frozenset({start + 1}) if start < len(statements) and component in statements[start] else frozenset()
            memo[key] = ends
            return ends
        pattern = self.patterns[component]
        ends_set: set[int] = set()
        if "sequence" in pattern:
            current = {start}
            for member in pattern["sequence"]:
                current = {e for s in current for e in self._ends(member, statements, s, memo)}
            ends_set = current
        elif "alternates" in pattern:
            ends_set = {e for member in pattern["alternates"] for e in self._ends(member, statements, start, memo)}
        elif "optional" in pattern:
            ends_set = {start, *self._ends(pattern["optional"], statements, start, memo)}
        elif "oneOrMore" in pattern or "zeroOrMore" in pattern:
            member = pattern.get("oneOrMore") or pattern["zeroOrMore"]
            frontier = set(self._ends(member, statements, start, memo))
            reached = set(frontier)
            while frontier:
                nxt = {e for s in frontier for e in self._ends(member, statements, s, memo) if e > s} - reached
                reached |= nxt
                frontier = nxt
            ends_set = reached | ({start} if "zeroOrMore" in pattern else set())
        result = frozenset(ends_set)
        memo[key] = result
        return result

    def matching_patterns(self, statements: Sequence[dict[str, Any]]) -> list[str]:
        """Primary patterns that the whole sequence of one registration's statements matches (the
        statements in the order they happened)."""
        kinds = [set(self.matching_templates(s)) for s in statements]
        memo: dict[tuple[str, int], frozenset[int]] = {}
        return [p for p in self.primary if len(statements) in self._ends(p, kinds, 0, memo)]


def _instant(value: object) -> datetime:
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return datetime.min.replace(tzinfo=UTC)
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def in_order(statements: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Statements in the order they happened: by timestamp, then by when the LRS stored them; equal ones
    keep the order given (read them ascending)."""
    return sorted(statements, key=lambda s: (_instant(s.get("timestamp")), _instant(s.get("stored"))))


def by_registration(statements: Iterable[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for statement in statements:
        registration = evaluate(statement, "$.context.registration")
        if registration:
            groups.setdefault(str(registration[0]), []).append(statement)
    return {reg: in_order(group) for reg, group in groups.items()}


__all__ = ["JsonPathError", "ProfileValidator", "RuleFailure", "TemplateResult", "by_registration", "check_rule",
           "check_template", "evaluate", "in_order"]
