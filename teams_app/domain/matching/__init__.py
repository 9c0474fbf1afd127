"""Forming the matches of a round: the one function :func:`plan_matches`, and the types around it.

The engine is split by concern: :mod:`.types` (inputs and the plan), :mod:`.constraints` (hard rules),
:mod:`.population` (features and the documented score), :mod:`.solver` (sparse candidate graphs and
assignment-based maximum-weight matching), :mod:`.engine` (pairs, mentoring, buddies), :mod:`.groups`
(forming circles), :mod:`.circles` (circles kept for a term, the rotating facilitator) and :mod:`.explain`
(reasons and the quality report).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from teams_app.domain.matching.circles import Circle, plan_circles
from teams_app.domain.matching.constraints import hard_conflict, overlap_hours, working_interval_utc
from teams_app.domain.matching.engine import plan
from teams_app.domain.matching.types import Candidate, MatchHistory, MatchPlan, Pair, ProposedMatch
from teams_app.domain.model import Program

__all__ = [
    "Candidate",
    "Circle",
    "MatchHistory",
    "MatchPlan",
    "Pair",
    "ProposedMatch",
    "hard_conflict",
    "overlap_hours",
    "plan_circle_session",
    "plan_matches",
    "working_interval_utc",
]


def plan_matches(program: Program, candidates: Sequence[Candidate], history: MatchHistory, seed: int,
                 today: date) -> MatchPlan:
    """Group ``candidates`` for one round of ``program``. Deterministic for the same inputs and seed.

    Hard constraints always hold; within them the plan maximises the documented score (see
    :mod:`teams_app.domain.matching.population`), avoids repeats from the last K rounds whenever any
    alternative exists, and favours people with fairness credit (``Candidate.priority``).
    """
    return plan(program, candidates, history, seed, today)


def plan_circle_session(program: Program, candidates: Sequence[Candidate], history: MatchHistory, seed: int,
                        today: date, circles: Sequence[Circle], session: int) -> MatchPlan:
    """The circles of one session of a circle program's term: ``circles`` are the previous session's (empty
    at the start of a term: new circles form). See :mod:`teams_app.domain.matching.circles`."""
    return plan_circles(program, candidates, history, seed, today, circles, session)
