"""``peercoach assessment``: rubrics, opening, status, release and admin overrides.

The background worker that reminds and releases is :func:`teams_app.service.workers.assessment_worker`.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from teams_app.adapters.rubric_files import BUILTIN_RUBRICS, load_rubric_dir, load_rubric_file, program_rubrics
from teams_app.domain.assessment import AllocationMode, LatePolicy, Rubric
from teams_app.domain.errors import InvalidInput, InvalidInputs
from teams_app.entrypoints.cli.support import echo_safe, with_app
from teams_app.service.assessment import AdminView, OverrideAction

if TYPE_CHECKING:
    from teams_app.bootstrap import Application


def _problems(exc: InvalidInput | InvalidInputs) -> str:
    problems = exc.problems if isinstance(exc, InvalidInputs) else [exc]
    return "\n".join(f"  {p.field}: {p.problem}" for p in problems)


def _parse_moment(text: str, option: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter("use ISO 8601, e.g. 2026-12-01T17:00+01:00", param_hint=option) from None
    if moment.tzinfo is None:
        raise click.BadParameter("add a UTC offset, e.g. +01:00 or Z", param_hint=option)
    return moment.astimezone(UTC)


@click.group("assessment")
def assessment() -> None:
    """Peer assessment: rubrics, opening, status, release and admin overrides."""


@assessment.command("validate-rubric")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def validate_rubric(path: Path) -> None:
    """Check a rubric file (YAML or JSON) and list every problem."""
    try:
        rubric = load_rubric_file(path)
    except (InvalidInput, InvalidInputs) as exc:
        raise click.ClickException(f"{path} is not a valid rubric:\n{_problems(exc)}") from None
    echo_safe(f"rubric '{rubric.id}' ({rubric.name}): {len(rubric.criteria)} criteria, "
               f"weights {', '.join(f'{c.id}={c.weight:g}' for c in rubric.criteria)}")


@assessment.command("open")
@click.option("--program", "program_ref", required=True, help="Program name or id.")
@click.option("--deadline", help="ISO 8601 with offset (default: --days from now).")
@click.option("--days", type=click.IntRange(1, 90), default=7, show_default=True, help="Days until the deadline.")
@click.option("--round-id", help="Round to assess (default: the latest).")
@click.option("--mode", type=click.Choice([m.value for m in AllocationMode]),
              help="partners (pairs), circle (groups) or peers (N from other teams); default by program kind.")
@click.option("--rubric", "rubric_id", help=f"Rubric id ({', '.join(BUILTIN_RUBRICS)} or --rubric-file's).")
@click.option("--rubric-file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="YAML/JSON rubric to use (it is stored with the assessment).")
@click.option("--rubrics-dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Directory of program rubrics (YAML/JSON); the program's rubric id is looked up there.")
@click.option("--reviewers", type=click.IntRange(1, 10), default=3, show_default=True,
              help="Reviewers per person (peers and big circles).")
@click.option("--self-assessment", is_flag=True, help="Also ask everyone to assess themselves.")
@click.option("--late-policy", type=click.Choice([p.value for p in LatePolicy]), default="reject", show_default=True)
@click.option("--grace-hours", type=click.IntRange(0, 720), default=0, show_default=True)
@click.option("--reminder-hours", default="48,24", show_default=True, help="Hours before the deadline to remind.")
@click.option("--admin-sees-names", is_flag=True, help="Show reviewer names in the admin view.")
@click.option("--seed", type=int, help="Allocation seed (default: derived from the assessment).")
@click.option("--min-reviews", type=click.IntRange(1, 20),
              help="k: reviews needed before anonymous results are shared (default: the program's). Lower is "
                   "weaker anonymity.")
@click.option("--named/--anonymous", "named", default=None,
              help="Show reviewers' names with partner or circle feedback (released with one review).")
@with_app
async def open_(app: Application, program_ref: str, deadline: str | None, days: int, round_id: str | None,
                mode: str | None, rubric_id: str | None, rubric_file: Path | None, rubrics_dir: Path | None,
                reviewers: int,
                self_assessment: bool, late_policy: str, grace_hours: int, reminder_hours: str,
                admin_sees_names: bool, seed: int | None, min_reviews: int | None, named: bool | None) -> None:
    """Open an assessment for a round and allocate reviewers.

    Refused when someone could not reach the reviews their feedback needs; the message says who, why and
    which settings would work. Without --mode, --min-reviews or --named the program kind's defaults apply.
    """
    rubrics: dict[str, Rubric] = program_rubrics(app.settings.assessment.rubrics_dir)
    if rubrics_dir is not None:
        try:
            rubrics.update(load_rubric_dir(rubrics_dir))
        except (InvalidInput, InvalidInputs) as exc:
            raise click.ClickException(f"{rubrics_dir} has invalid rubrics:\n{_problems(exc)}") from None
    if rubric_file is not None:
        try:
            rubric = load_rubric_file(rubric_file)
        except (InvalidInput, InvalidInputs) as exc:
            raise click.ClickException(f"{rubric_file} is not a valid rubric:\n{_problems(exc)}") from None
        rubrics[rubric.id] = rubric
        rubric_id = rubric_id or rubric.id
    try:
        hours = [int(h) for h in reminder_hours.split(",") if h.strip()]
    except ValueError:
        raise click.BadParameter("comma-separated whole hours, e.g. 48,24", param_hint="--reminder-hours") from None
    due = _parse_moment(deadline, "--deadline") if deadline else app.clock.now() + timedelta(days=days)
    # Rubric files named on the command line join the application's rubrics (one AssessmentService per process).
    app.assessment.add_rubrics(rubrics)
    service = app.assessment
    try:
        opened = await service.open_assessment(
            program_ref, deadline=due, round_id=round_id, mode=mode, rubric_id=rubric_id,
            reviewers_per_person=reviewers, self_assessment=self_assessment, late_policy=late_policy,
            grace_hours=grace_hours, reminder_hours=hours, admin_sees_names=admin_sees_names, seed=seed,
            min_reviews=min_reviews, named_feedback=named)
    except InvalidInputs as exc:
        raise click.ClickException(f"cannot open the assessment:\n{_problems(exc)}") from None
    a = opened.assessment
    echo_safe(f"opened assessment {a.id} ({a.rubric.name}, {a.mode.value}), deadline {a.deadline.isoformat()}: "
               f"{len(opened.reviews)} reviews allocated")
    privacy = "named feedback (no anonymity)" if a.named_feedback else f"anonymous, shared from k={a.threshold} reviews"
    echo_safe(f"  {privacy}")
    for note in opened.notes:
        echo_safe(f"  note: {note}")
    for person, reason in opened.allocation.unfilled:
        echo_safe(f"  fewer reviewers for {person}: {reason}")


def admin_view_json(view: AdminView) -> dict[str, Any]:
    a = view.assessment
    return {
        "assessment": {"id": a.id, "program_id": a.program_id, "round_id": a.round_id, "rubric": a.rubric.id,
                       "mode": a.mode.value, "status": a.status.value, "deadline": a.deadline.isoformat(),
                       "k": a.threshold, "named": a.named_feedback},
        "pending": view.pending, "submitted": view.submitted, "late": view.late,
        "self_pending": view.self_pending, "self_submitted": view.self_submitted,
        "self_assessments": [{**asdict(r), "submitted_at": r.submitted_at.isoformat() if r.submitted_at else None}
                             for r in view.self_assessments],
        "people": [asdict(p) for p in view.people],
        "reviews": [{**asdict(r), "submitted_at": r.submitted_at.isoformat() if r.submitted_at else None}
                    for r in view.reviews],
        "flags": [{**asdict(f), "review_ids": list(f.review_ids)} for f in view.flags],
        "audit": [{**asdict(e), "at": e.at.isoformat(), "details": dict(e.details)} for e in view.audit],
    }


@assessment.command("status")
@click.argument("assessment_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@with_app
async def status(app: Application, assessment_id: str, as_json: bool) -> None:
    """Admin view: progress, results per person, careless-reviewer flags, audit trail."""
    view = await app.assessment.admin_view(assessment_id)
    if as_json:
        click.echo(json.dumps(admin_view_json(view), indent=2))
        return
    a = view.assessment
    echo_safe(f"{a.rubric.name} ({a.status.value}), deadline {a.deadline.isoformat()}, k={a.threshold}: "
               f"peer reviews {view.submitted} submitted ({view.late} late), {view.pending} pending")
    if view.self_assessments:
        echo_safe(f"  self-assessments (not counted towards k): {view.self_submitted} submitted, "
                   f"{view.self_pending} pending")
    for p in view.people:
        score = f"{p.score_scaled:.0%}" if p.score_scaled is not None else "-"
        echo_safe(f"  {p.reviewee}\treviews {p.n_reviews}\tscore {score}\t"
                   f"{'releasable' if p.releasable else 'below k'}")
    for f in view.flags:
        who = f" {f.reviewer}:" if f.reviewer else ""
        echo_safe(f"  flag {f.kind}:{who} {f.detail} (review {', '.join(f.review_ids) or '-'})")
    for e in view.audit:
        echo_safe(f"  audit {e.at.isoformat()} {e.actor} {e.action} {e.target or ''}: {e.reason}")


@assessment.command("release")
@click.argument("assessment_id")
@with_app
async def release(app: Application, assessment_id: str) -> None:
    """Release results after the deadline (people below k are told why; nobody sees reviewer names)."""
    summary = await app.assessment.release_results(assessment_id)
    echo_safe(f"released assessment {summary.assessment.id}: feedback sent to {len(summary.released)} people, "
               f"withheld for {len(summary.withheld)} (below k={summary.assessment.threshold}; they are told why), "
               f"{len(summary.flags)} careless-review flags (see: peercoach assessment status "
               f"{summary.assessment.id})")


@assessment.command("remind")
@with_app
async def remind(app: Application) -> None:
    """Record the reminders that are due now (the worker does this on its own)."""
    sent = await app.assessment.send_reminders()
    echo_safe(f"{len(sent)} reminders due")


@assessment.command("override")
@click.argument("assessment_id")
@click.argument("action", type=click.Choice(list(OverrideAction.ALL)))
@click.option("--reason", required=True, help="Why (kept in the audit trail).")
@click.option("--actor", required=True, help="Who overrides (email of the admin).")
@click.option("--review-id", default="", help="The review (allow_late, exclude_review, reinstate_review).")
@click.option("--deadline", help="New deadline for extend_deadline (ISO 8601 with offset).")
@click.option("--until", help="Late submissions allowed until (ISO 8601 with offset) for allow_late.")
@with_app
async def override(app: Application, assessment_id: str, action: str, reason: str, actor: str, review_id: str,
                   deadline: str | None, until: str | None) -> None:
    """Override a rule for an assessment or one review; recorded in the audit trail."""
    entry = await app.assessment.admin_override(
        assessment_id, actor, action, reason, review_id=review_id,
        deadline=_parse_moment(deadline, "--deadline") if deadline else None,
        until=_parse_moment(until, "--until") if until else None)
    done = {
        OverrideAction.EXTEND_DEADLINE: "deadline moved from {from} to {to}",
        OverrideAction.ALLOW_LATE: "review {target} may be submitted late until {until}",
        OverrideAction.EXCLUDE_REVIEW: "review {target} set aside (was {previous_status}); it no longer counts",
        OverrideAction.REINSTATE_REVIEW: "review {target} counts again",
        OverrideAction.RELEASE_EARLY: "results released early: feedback sent to {released} people, withheld for "
                                      "{withheld}",
    }[entry.action]
    echo_safe(done.format_map({"target": entry.target, **entry.details}))
    echo_safe(f"{entry.action} recorded ({entry.id}) by {entry.actor}: {entry.reason}")


@assessment.command("list")
@click.option("--program", "program_ref", help="Program name or id (default: every program).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@with_app
async def list_(app: Application, program_ref: str | None, as_json: bool) -> None:
    """Assessments with their ids, status, deadline and peer/self review counts."""
    rows = await app.assessment.list_assessments(program_ref)
    if as_json:
        click.echo(json.dumps([{
            "id": r.assessment.id, "program": r.program_name, "round": r.round_number,
            "rubric": r.assessment.rubric.id, "mode": r.assessment.mode.value, "status": r.assessment.status.value,
            "deadline": r.assessment.deadline.isoformat(), "k": r.assessment.threshold,
            "named": r.assessment.named_feedback, "peer_submitted": r.peer_submitted, "peer_total": r.peer_total,
            "self_submitted": r.self_submitted, "self_total": r.self_total} for r in rows], indent=2))
        return
    if not rows:
        echo_safe("no assessments yet: open one with 'peercoach assessment open --program NAME'")
        return
    for r in rows:
        a = r.assessment
        selves = f", self {r.self_submitted}/{r.self_total}" if r.self_total else ""
        echo_safe(f"{a.id}\t{r.program_name} round {r.round_number or '?'}\t{a.rubric.id}\t{a.mode.value}\t"
                   f"{a.status.value}\tdeadline {a.deadline:%Y-%m-%d %H:%M} UTC\tpeer {r.peer_submitted}/"
                   f"{r.peer_total}{selves}")
