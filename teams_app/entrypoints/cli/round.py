"""``peercoach round``: run matching rounds (or see them with --dry-run)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import click

from teams_app.entrypoints.cli.support import echo_safe, with_app

if TYPE_CHECKING:
    from teams_app.bootstrap import Application
    from teams_app.service.use_cases import RoundResult


@click.group("round")
def round_() -> None:
    """Run matching rounds."""


def round_json(result: RoundResult) -> dict[str, Any]:
    people = result.participants

    def person(pid: str) -> dict[str, str]:
        p = people.get(pid)
        return {"id": pid, "email": p.email if p else "", "name": p.display_name if p else ""}

    return {
        "program": result.program.name, "round": result.round.number, "dry_run": result.dry_run,
        "seed": result.round.seed, "quality": dict(result.round.quality),
        "term": result.round.term, "session": result.round.session,
        "matches": [{"id": m.id, "score": m.score, "explanation": [str(r) for r in m.reasons],
                     "members": [{**person(mm.participant_id), "role": mm.role.value} for mm in m.members]}
                    for m in result.matches],
        "unmatched": [{**person(pid), "reason": reason} for pid, reason in result.unmatched],
    }


@round_.command("run")
@click.option("--program", "program_ref", required=True, help="Program name or id.")
@click.option("--dry-run", is_flag=True, help="Show the matches without saving or notifying anyone.")
@click.option("--seed", type=int, help="Seed for reproducible matching.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@with_app
async def round_run(app: Application, program_ref: str, dry_run: bool, seed: int | None, as_json: bool) -> None:
    """Run the next round of a program now."""
    result = await app.service.run_round(program_ref, seed=seed, dry_run=dry_run)
    if as_json:
        click.echo(json.dumps(round_json(result), indent=2))
        return
    data = round_json(result)
    prefix = "DRY RUN: " if dry_run else ""
    term = (f" (term {result.round.term}, session {result.round.session} of {result.program.sessions_per_term})"
            if result.round.session else "")
    echo_safe(f"{prefix}round {data['round']} of {data['program']}{term}: {len(data['matches'])} matches, "
              f"{len(data['unmatched'])} unmatched")
    for match in data["matches"]:
        names = " + ".join(f"{m['name']} ({m['role']})" for m in match["members"])
        echo_safe(f"  {names}  score {match['score']}: {' '.join(match['explanation'])}")  # whole sentences
    for person in data["unmatched"]:
        echo_safe(f"  unmatched: {person['name']}: {person['reason']}")


@round_.command("book")
@with_app
async def round_book(app: Application) -> None:
    """Book (or propose) meetings for the open rounds' matches now, as the booking worker does every minute."""
    booked = await app.service.book_open_matches(app.calendar)
    cancelled = await app.service.cancel_called_off(app.calendar)
    echo_safe(f"recorded {booked} meeting(s); took {cancelled} called-off meeting(s) out of the calendar")


@round_.command("remind")
@with_app
async def round_remind(app: Application) -> None:
    """Queue the check-in cards and reminders that are due now, as the reminder worker does every hour."""
    queued = await app.check_ins.scan()
    echo_safe(f"queued {queued} check-in card(s) and reminder(s)")
