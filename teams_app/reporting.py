"""The manager report: xAPI statements read back from the LRS -> a CSV and a one-page HTML with charts.

It reads what the LMS receives (not our database), so an admin can check the records, and a manager gets
a view beside the LMS: participation over time, meetings held, usefulness, skills practised, departments.
Charts are drawn with matplotlib (Agg, no display) and embedded in the page as PNG data URIs.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import logging
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from lrs_bridge.vocabulary import Extensions, Verbs
from teams_app.adapters.csv_safe import safe_rows

logger = logging.getLogger(__name__)

# The IRIs come from the one vocabulary the statements are built with.
VERB_REGISTERED = Verbs.REGISTERED
VERB_UNREGISTERED = Verbs.UNREGISTERED
VERB_ATTENDED = Verbs.ATTENDED
VERB_TALKED_WITH = Verbs.TALKED_WITH
VERB_MENTORED = Verbs.MENTORED
VERB_REVIEWED = Verbs.REVIEWED
VERB_SCORED = Verbs.SCORED
VERB_COMPLETED = Verbs.COMPLETED
VERB_VOIDED = Verbs.VOIDED

CSV_FIELDS = ("timestamp", "verb", "actor", "object", "round", "registration", "score_raw", "score_scaled",
              "department")


def actor_key(actor: Mapping[str, Any]) -> str:
    """How the statement names its actor: mbox address, hashed mbox, or account name."""
    if actor.get("mbox"):
        return str(actor["mbox"]).removeprefix("mailto:").lower()
    if actor.get("mbox_sha1sum"):
        return str(actor["mbox_sha1sum"])
    account = actor.get("account") or {}
    return str(account.get("name", "")) or str(actor.get("name", "unknown"))


def _verb_name(verb_iri: str) -> str:
    return verb_iri.rstrip("/").rsplit("/", 1)[-1]


def _timestamp(statement: Mapping[str, Any]) -> datetime:
    return datetime.fromisoformat(str(statement.get("timestamp") or statement.get("stored")).replace("Z", "+00:00"))


def _round_of(statement: Mapping[str, Any]) -> str:
    """The round a statement belongs to: its parent activity, or its object (matched, completed a round)."""
    parents = ((statement.get("context") or {}).get("contextActivities") or {}).get("parent") or []
    for activity in [*parents, statement.get("object") or {}]:
        ident = str(activity.get("id", ""))
        if "/rounds/" in ident:
            return ident.rsplit("/rounds/", 1)[1].split("/", 1)[0]
    return ""


def _meeting_of(statement: Mapping[str, Any]) -> str:
    """The session a statement is about: its object, or the meeting among its context activities (the
    registration is per person, so it cannot stand for a meeting)."""
    others = ((statement.get("context") or {}).get("contextActivities") or {}).get("other") or []
    for activity in [statement.get("object") or {}, *others]:
        ident = str(activity.get("id", ""))
        if "/meetings/" in ident:
            return ident
    return ""


def mentions_activity(statement: Mapping[str, Any], iri: str) -> bool:
    """Whether the activity is the statement's object or one of its context activities (xAPI's
    ``related_activities``)."""
    if (statement.get("object") or {}).get("id") == iri:
        return True
    activities = ((statement.get("context") or {}).get("contextActivities") or {}).values()
    return any(a.get("id") == iri for group in activities for a in (group if isinstance(group, list) else [group]))


def is_voiding(statement: Mapping[str, Any]) -> bool:
    return (statement.get("verb") or {}).get("id") == VERB_VOIDED


def _extension_values(statement: Mapping[str, Any], suffix: str) -> list[str]:
    found: list[str] = []
    for part in ("context", "result"):
        extensions = (statement.get(part) or {}).get("extensions") or {}
        for iri, value in extensions.items():
            if iri.endswith(suffix):
                found.extend(str(v) for v in (value if isinstance(value, list) else [value]))
    return found


@dataclass
class RoundFunnel:
    """One round, as a program owner reads it: how many got from one step to the next."""

    label: str
    enrolled: int = 0
    matched: int = 0
    met: int = 0
    checked_in: int = 0
    completed: int = 0
    usefulness: list[int] = field(default_factory=list)

    @property
    def check_in_rate(self) -> float | None:
        return round(self.checked_in / self.matched, 3) if self.matched else None

    @property
    def average_usefulness(self) -> float | None:
        return round(sum(self.usefulness) / len(self.usefulness), 2) if self.usefulness else None


@dataclass
class Report:
    program: str
    since: date | None
    source: str = "the learning record store"
    statements: int = 0
    voided: int = 0
    people: int = 0
    by_verb: Counter[str] = field(default_factory=Counter)
    active_by_week: dict[date, int] = field(default_factory=dict)
    meetings_by_round: dict[str, int] = field(default_factory=dict)
    usefulness: Counter[int] = field(default_factory=Counter)
    skills: Counter[str] = field(default_factory=Counter)
    departments: Counter[str] = field(default_factory=Counter)
    rows: list[dict[str, Any]] = field(default_factory=list)
    made_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    first: datetime | None = None  # the period the statements cover
    last: datetime | None = None
    rounds: dict[str, RoundFunnel] = field(default_factory=dict)
    paused: int = 0  # people who paused at least once (suspended)
    left: int = 0  # people who left (unregistered)
    assessments_released: int = 0  # released peer results (scored, source peers)
    roles: Counter[str] = field(default_factory=Counter)  # role in matches (mentor/mentee balance)
    matches_seen: int = 0  # matched statements whose departments are known
    matches_across: int = 0  # ... of which the match spans departments
    departments_met: dict[str, int] = field(default_factory=dict)  # per person: other departments met

    @property
    def cross_department_share(self) -> float | None:
        return round(self.matches_across / self.matches_seen, 3) if self.matches_seen else None

    @property
    def average_departments_met(self) -> float | None:
        met = self.departments_met
        return round(sum(met.values()) / len(met), 2) if met else None

    @property
    def check_in_rate(self) -> float | None:
        matched = sum(r.matched for r in self.rounds.values())
        return round(sum(r.checked_in for r in self.rounds.values()) / matched, 3) if matched else None

    @property
    def average_usefulness(self) -> float | None:
        total = sum(self.usefulness.values())
        return round(sum(k * v for k, v in self.usefulness.items()) / total, 2) if total else None


def build_report(statements: Iterable[Mapping[str, Any]], program: str, *, since: date | None = None,
                 departments: Mapping[str, str] | None = None, source: str = "the learning record store") -> Report:
    """Aggregate statements. Voided statements (and the voiding ones) are left out, as the LMS does."""
    all_statements = list(statements)
    voided_ids = {str((s.get("object") or {}).get("id")) for s in all_statements
                  if (s.get("verb") or {}).get("id") == VERB_VOIDED}
    report = Report(program, since, source)
    report.voided = len(voided_ids)
    departments = departments or {}
    weekly: dict[date, set[str]] = defaultdict(set)
    meetings: dict[str, set[str]] = defaultdict(set)
    people: set[str] = set()
    for statement in all_statements:
        verb = str((statement.get("verb") or {}).get("id", ""))
        if verb == VERB_VOIDED or str(statement.get("id")) in voided_ids:
            continue
        when = _timestamp(statement)
        if since and when.date() < since:
            continue
        who = actor_key(statement.get("actor") or {})
        department = departments.get(who, "unknown")
        report.statements += 1
        report.by_verb[_verb_name(verb)] += 1
        people.add(who)
        weekly[when.date() - timedelta(days=when.weekday())].add(who)
        round_label = _round_of(statement)
        registration = str((statement.get("context") or {}).get("registration", ""))
        if verb in (VERB_ATTENDED, VERB_TALKED_WITH, VERB_MENTORED):
            meetings[round_label or "?"].add(_meeting_of(statement) or str(statement.get("id")))
        score = (statement.get("result") or {}).get("score") or {}
        if verb == Verbs.REFLECTED:  # usefulness is the actor's opinion: a result extension, not a score
            usefulness = ((statement.get("result") or {}).get("extensions") or {}).get(Extensions.USEFULNESS)
            if isinstance(usefulness, int) and not isinstance(usefulness, bool):
                report.usefulness[usefulness] += 1
        for skill in _extension_values(statement, "/extensions/skills"):
            report.skills[skill] += 1
        if verb == VERB_REGISTERED:
            report.departments[department] += 1
        report.rows.append({
            "timestamp": when.isoformat(), "verb": _verb_name(verb), "actor": who,
            "object": str((statement.get("object") or {}).get("id", "")), "round": round_label,
            "registration": registration, "score_raw": score.get("raw", ""), "score_scaled": score.get("scaled", ""),
            "department": department,
        })
    _funnel(report, [s for s in all_statements if (s.get("verb") or {}).get("id") != VERB_VOIDED
                     and str(s.get("id")) not in voided_ids and (not since or _timestamp(s).date() >= since)],
            departments)
    report.people = len(people)
    report.active_by_week = {week: len(who) for week, who in sorted(weekly.items())}
    report.meetings_by_round = {label: len(ids) for label, ids in sorted(meetings.items(),
                                                                          key=lambda kv: (len(kv[0]), kv[0]))}
    report.rows.sort(key=lambda r: r["timestamp"])
    return report


def _funnel(report: Report, statements: list[Mapping[str, Any]], departments: Mapping[str, str]) -> None:
    """Per round: enrolled (joined before the round and not gone) -> matched -> met -> checked in ->
    completed; usefulness per round; paused vs left; released assessments; roles; cross-department reach
    (from the partner-departments extension of each matched statement and the person's own department)."""
    met_departments: dict[str, set[str]] = defaultdict(set)
    steps: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    round_start: dict[str, datetime] = {}
    joined: dict[str, datetime] = {}
    gone: dict[str, datetime] = {}
    paused: set[str] = set()
    for statement in statements:
        verb = str((statement.get("verb") or {}).get("id", ""))
        who = actor_key(statement.get("actor") or {})
        when = _timestamp(statement)
        report.first = min(report.first, when) if report.first else when
        report.last = max(report.last, when) if report.last else when
        label = _round_of(statement)
        result = statement.get("result") or {}
        if verb == VERB_REGISTERED:
            joined[who] = min(joined.get(who, when), when)
        elif verb == VERB_UNREGISTERED:
            gone[who] = max(gone.get(who, when), when)
        elif verb == Verbs.SUSPENDED:
            paused.add(who)
        elif verb == VERB_SCORED and ((statement.get("context") or {}).get("extensions") or {}).get(
                Extensions.SCORE_SOURCE) == "peers":
            report.assessments_released += 1
        if not label:
            continue
        if verb == Verbs.MATCHED:
            steps[label]["matched"].add(who)
            round_start[label] = min(round_start.get(label, when), when)
            extensions = (statement.get("context") or {}).get("extensions") or {}
            role = extensions.get(Extensions.ROLE)
            if isinstance(role, str):
                report.roles[role] += 1
            partners = extensions.get(Extensions.PARTNER_DEPARTMENTS)
            own = departments.get(who, "")
            if isinstance(partners, list) and partners:
                others = {str(d) for d in partners} - {own}
                report.matches_seen += 1
                report.matches_across += 1 if (others if own else len(set(partners)) > 1) else 0
                met_departments[who] |= others
        elif verb == VERB_ATTENDED:
            steps[label]["met"].add(who)
        elif verb == Verbs.REFLECTED:
            steps[label]["checked_in"].add(who)
            usefulness = (result.get("extensions") or {}).get(Extensions.USEFULNESS)
            if isinstance(usefulness, int) and not isinstance(usefulness, bool):
                report.rounds.setdefault(label, RoundFunnel(label)).usefulness.append(usefulness)
        elif verb == VERB_COMPLETED and "/rounds/" in str((statement.get("object") or {}).get("id", "")):
            steps[label]["completed"].add(who)
    for label in sorted(set(steps) | set(report.rounds), key=lambda k: (len(k), k)):
        funnel = report.rounds.setdefault(label, RoundFunnel(label))
        start = round_start.get(label)
        funnel.enrolled = sum(1 for who, at in joined.items()
                              if (start is None or at <= start) and (who not in gone or start is None
                                                                     or gone[who] > start))
        for step in ("matched", "met", "checked_in", "completed"):
            setattr(funnel, step, len(steps[label][step]))
    report.rounds = {label: report.rounds[label] for label in sorted(report.rounds, key=lambda k: (len(k), k))}
    report.paused = len(paused)
    report.left = len(gone)
    report.departments_met = {who: len(found) for who, found in sorted(met_departments.items())}


ROUND_FIELDS = ("round", "enrolled", "matched", "met", "checked_in", "completed", "check_in_rate",
                "average_usefulness")


def round_rows(report: Report) -> list[dict[str, Any]]:
    return [{"round": f.label, "enrolled": f.enrolled, "matched": f.matched, "met": f.met,
             "checked_in": f.checked_in, "completed": f.completed,
             "check_in_rate": "" if f.check_in_rate is None else f.check_in_rate,
             "average_usefulness": "" if f.average_usefulness is None else f.average_usefulness}
            for f in report.rounds.values()]


def reach_rows(report: Report) -> list[dict[str, Any]]:
    """How many people met how many other departments (the silo-breaking the program exists for)."""
    counts = Counter(report.departments_met.values())
    return [{"other_departments_met": n, "people": counts[n]} for n in sorted(counts)]


def skill_rows(report: Report) -> list[dict[str, Any]]:
    return [{"skill": skill, "matches": n} for skill, n in report.skills.most_common()]


def role_rows(report: Report) -> list[dict[str, Any]]:
    return [{"role": role, "matches": n} for role, n in report.roles.most_common()]


def verb_rows(report: Report) -> list[dict[str, Any]]:
    return [{"verb": verb, "count": n} for verb, n in report.by_verb.most_common()]


# Every table of the page, also written as <name>-<table>.csv: (suffix, columns, rows).
TABLES: tuple[tuple[str, tuple[str, ...], Any], ...] = (
    ("rounds", ROUND_FIELDS, round_rows),
    ("reach", ("other_departments_met", "people"), reach_rows),
    ("skills", ("skill", "matches"), skill_rows),
    ("roles", ("role", "matches"), role_rows),
    ("verbs", ("verb", "count"), verb_rows),
)


def write_csv(report: Report, path: Path) -> None:
    """The statements as rows, and beside them every table of the page as ``<name>-<table>.csv``
    (rounds: the per-round funnel; reach; skills; roles; verbs). Every cell goes through
    :func:`~teams_app.adapters.csv_safe.safe_rows`: text from people cannot run as a spreadsheet formula."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=CSV_FIELDS)
        writer.writeheader()
        writer.writerows(safe_rows(report.rows))
    for suffix, columns, rows in TABLES:
        with path.with_name(f"{path.stem}-{suffix}.csv").open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=columns)
            writer.writeheader()
            writer.writerows(safe_rows(rows(report)))


def describe(title: str, labels: list[str], values: list[float], unit: str) -> str:
    """Alt text that says what a chart shows."""
    if not values:
        return f"{title}: no data yet"
    points = ", ".join(f"{label}: {value:g}" for label, value in list(zip(labels, values, strict=False))[:12])
    more = f" and {len(values) - 12} more" if len(values) > 12 else ""
    return f"{title} ({unit}): {points}{more}"


def _chart(kind: str, labels: list[str], values: list[float], title: str, xlabel: str, ylabel: str) -> str:
    import matplotlib

    matplotlib.use("Agg")  # no display on servers; set here so importing this module stays side-effect free
    logging.getLogger("matplotlib").setLevel(logging.WARNING)  # its INFO notes on category labels are noise
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    fig, ax = plt.subplots(figsize=(6.4, 3.2), dpi=100)
    if not values:
        ax.text(0.5, 0.5, "no data yet", ha="center", va="center", fontsize=12, color="#666")
        ax.set_axis_off()
    elif kind == "line":
        ax.plot(labels, values, marker="o", color="#5b5fc7")
        ax.set_ylim(bottom=0)
    elif kind == "barh":
        ax.barh(labels[::-1], values[::-1], color="#5b5fc7")
    else:
        ax.bar(labels, values, color="#5b5fc7")
    ax.set_title(title, fontsize=11)
    (ax.xaxis if kind == "barh" else ax.yaxis).set_major_locator(MaxNLocator(integer=True))  # counts are whole
    if values:
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.tick_params(axis="x", labelrotation=30 if kind == "line" else 0, labelsize=8)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


FUNNEL_STEPS = ("enrolled", "matched", "met", "checked_in", "completed")


def funnel_alt(report: Report) -> str:
    """Alt text of the funnel chart: every round's numbers, in order."""
    if not report.rounds:
        return "People per step of each round: no data yet"
    return "People per step of each round (enrolled, matched, met, checked in, completed): " + "; ".join(
        f"round {f.label}: " + ", ".join(str(getattr(f, step)) for step in FUNNEL_STEPS)
        for f in report.rounds.values())


def _funnel_chart(report: Report) -> str:
    """Grouped bars: for each round, how many people reached each step."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 3.2), dpi=100)
    funnels = list(report.rounds.values())
    if not funnels:
        ax.text(0.5, 0.5, "no data yet", ha="center", va="center", fontsize=12, color="#666")
        ax.set_axis_off()
    else:
        width = 0.8 / len(FUNNEL_STEPS)
        colours = ("#c5c7f0", "#9da0e4", "#7478d6", "#5b5fc7", "#3d3f99")
        for i, step in enumerate(FUNNEL_STEPS):
            ax.bar([n + i * width for n in range(len(funnels))], [getattr(f, step) for f in funnels], width,
                   label=step.replace("_", " "), color=colours[i])
        ax.set_xticks([n + 0.4 - width / 2 for n in range(len(funnels))], [f"round {f.label}" for f in funnels])
        ax.set_ylabel("people")
        ax.legend(fontsize=7, ncols=5, loc="upper center", bbox_to_anchor=(0.5, -0.12), frameon=False)
    ax.set_title("From enrolled to completed, per round", fontsize=11)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _table(rows: list[dict[str, Any]], columns: tuple[str, ...], empty: str = "none yet") -> str:
    if not rows:
        return f"<p>{html.escape(empty)}.</p>"
    head = "".join(f"<th>{html.escape(c.replace('_', ' '))}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(row[c]))}</td>" for c in columns) + "</tr>"
                   for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def render_html(report: Report) -> str:
    weeks = [w.isoformat() for w in report.active_by_week]
    rounds = [f"round {r}" for r in report.meetings_by_round]
    useful_rounds = [f for f in report.rounds.values() if f.average_usefulness is not None]
    usefulness = [float(report.usefulness.get(k, 0)) for k in range(1, 6)] if report.usefulness else []
    specs = [
        ("line", weeks, [float(v) for v in report.active_by_week.values()], "Participation over time",
         "week starting", "people active"),
        ("bar", rounds, [float(v) for v in report.meetings_by_round.values()], "Meetings held", "round",
         "meetings"),
        ("bar", [str(k) for k in range(1, 6)], usefulness, "How useful were the sessions?", "usefulness (1-5)",
         "check-ins"),
        ("line", [f"round {f.label}" for f in useful_rounds], [float(f.average_usefulness or 0) for f in useful_rounds],
         "Average usefulness per round", "round", "average usefulness (1-5)"),
        ("barh", [s for s, _ in report.skills.most_common(10)], [float(n) for _, n in report.skills.most_common(10)],
         "Skills practised", "matches", ""),
        ("barh", [d for d, _ in report.departments.most_common(10)],
         [float(n) for _, n in report.departments.most_common(10)], "Participants by department", "people", ""),
    ]
    esc = html.escape
    images = (f'<figure><img alt="{esc(funnel_alt(report))}" src="{_funnel_chart(report)}"></figure>'
              if report.rounds else "") + "".join(
        f'<figure><img alt="{esc(describe(title, labels, values, ylabel or xlabel))}" '
        f'src="{_chart(kind, labels, values, title, xlabel, ylabel)}"></figure>'
        for kind, labels, values, title, xlabel, ylabel in specs)
    rate = report.check_in_rate
    summary = [("People", report.people),
               ("Check-in rate", f"{rate:.0%}" if rate is not None else "-"),
               ("Average usefulness", report.average_usefulness if report.average_usefulness is not None else "-"),
               ("Paused / left", f"{report.paused} / {report.left}"),
               ("Matches across departments", f"{share:.0%}" if (share := report.cross_department_share) is not None
                else "-"),
               ("Assessments released", report.assessments_released)]
    cards = "".join(f'<div class="kpi"><b>{esc(str(value))}</b><span>{esc(label)}</span></div>'
                    for label, value in summary)
    funnel = _table(round_rows(report), ROUND_FIELDS, "no rounds yet")
    roles = ", ".join(f"{esc(role)} {n}" for role, n in report.roles.most_common()) or "-"
    share, met = report.cross_department_share, report.average_departments_met
    reach = (f"{share:.0%} of matches span departments; people met {met} other department(s) on average"
             if share is not None and met is not None else "no department data yet")
    if report.first and report.last:
        period = f"{report.first:%d %b %Y} to {report.last:%d %b %Y}"
    else:
        period = "no records yet"
    since = f" (records since {report.since.isoformat()})" if report.since else ""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>peercoach report: {esc(report.program)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body {{ font-family: "Segoe UI", system-ui, sans-serif; margin: 2rem auto; max-width: 1000px; color: #242424; }}
h1 {{ font-size: 1.5rem; margin-bottom: .2rem; }} .sub {{ color: #616161; margin-top: 0; }}
.kpis {{ display: flex; gap: 1rem; flex-wrap: wrap; margin: 1rem 0; }}
.kpi {{ background: #f5f5ff; border-radius: 8px; padding: .8rem 1.2rem; min-width: 120px; }}
.kpi b {{ display: block; font-size: 1.4rem; }} .kpi span {{ color: #616161; font-size: .85rem; }}
.charts {{ display: grid; grid-template-columns: repeat(auto-fit, minmax(440px, 1fr)); gap: 1rem; }}
figure {{ margin: 0; }} img {{ width: 100%; border: 1px solid #e0e0e0; border-radius: 8px; }}
table {{ border-collapse: collapse; margin-top: 1rem; }}
.tables {{ display: flex; gap: 2rem; flex-wrap: wrap; align-items: flex-start; }}
td, th {{ padding: .3rem .8rem; border-bottom: 1px solid #eee; text-align: right; }}
</style></head><body>
<h1>Peer coaching: {esc(report.program)}</h1>
<p class="sub">Period {esc(period)}{esc(since)}. Made {report.made_at:%d %b %Y %H:%M} UTC from {esc(report.source)};
voided records are left out, as in the LMS.</p>
<div class="kpis">{cards}</div>
<h2>Rounds: from enrolled to completed</h2>
{funnel}
<h2>Cross-department reach</h2><p>{esc(reach)}.</p>
{_table(reach_rows(report), ("other_departments_met", "people"), "no department data yet")}
<h2>Skills exchanged and mentoring roles</h2>
<p>Roles in matches: {roles}.</p>
<div class="tables">{_table(skill_rows(report)[:15], ("skill", "matches"))}
{_table(role_rows(report), ("role", "matches"), "no roles recorded")}</div>
<div class="charts">{images}</div>
<p class="sub">Every table is also a CSV beside this page (report-rounds.csv, report-reach.csv, report-skills.csv,
report-roles.csv, report-verbs.csv; the records themselves in report.csv).</p>
<h2>Records by kind</h2>{_table(verb_rows(report), ("verb", "count"))}
</body></html>
"""


def write_html(report: Report, path: Path) -> None:
    path.write_text(render_html(report), encoding="utf-8")
