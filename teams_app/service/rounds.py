"""Rounds: form the matches of a program's next round (by hand or when due), with fairness carry-over."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from teams_app.domain import events as ev
from teams_app.domain.model import (
    EnrollmentStatus,
    Match,
    Participant,
    Program,
    Role,
    Round,
    RoundStatus,
    new_id,
    stable_id,
)
from teams_app.service.base import UseCases
from teams_app.service.ports import UnitOfWork
from teams_app.service.round_periods import close_ended_rounds

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import date

    from teams_app.domain.matching import Candidate, Circle, MatchHistory, MatchPlan



def plan_matches(program: Program, candidates: Sequence[Candidate], history: MatchHistory, seed: int,
                 today: date) -> MatchPlan:
    """The matcher, imported when a round runs: it loads scipy, which no other command needs."""
    from teams_app.domain.matching import plan_matches as plan

    return plan(program, candidates, history, seed, today)


def plan_circle_session(program: Program, candidates: Sequence[Candidate], history: MatchHistory, seed: int,
                        today: date, circles: Sequence[Circle], session: int) -> MatchPlan:
    """The circle planner, imported when a circle program's round runs (scipy, as above)."""
    from teams_app.domain.matching import plan_circle_session as plan

    return plan(program, candidates, history, seed, today, circles, session)

@dataclass(frozen=True)
class RoundResult:
    program: Program
    round: Round
    matches: list[Match]
    unmatched: list[tuple[str, str]]
    participants: dict[str, Participant]
    dry_run: bool = False


class Rounds(UseCases):
    async def run_round(self, program_ref: str, *, seed: int | None = None, dry_run: bool = False) -> RoundResult:
        async with self._uow() as uow:
            program = await self._program(uow, program_ref)
            result = await self._run_round(uow, program, seed, dry_run)
            if dry_run:
                await uow.rollback()
            else:
                await self._bus.commit(uow)
        return result

    async def run_due_rounds(self) -> list[RoundResult]:
        """Close rounds whose period ended, then start every round that is due (safe with several processes)."""
        await close_ended_rounds(self._uow, self._bus, self._clock)
        now = self._clock.now()
        results = []
        async with self._uow() as uow:
            for program in await uow.programs.claim_due(now):
                results.append(await self._run_round(uow, program, None, False))
            await self._bus.commit(uow)
        return results

    async def _run_round(self, uow: UnitOfWork, program: Program, seed: int | None, dry_run: bool) -> RoundResult:
        from teams_app.domain.matching import Candidate

        now = self._clock.now()
        today = now.date()
        previous = await uow.rounds.latest(program.id)
        number = (previous.number + 1) if previous else 1
        if seed is None:
            seed = int(stable_id(program.id, number).replace("-", "")[:8], 16)
        enrollments = [e for e in await uow.enrollments.for_program(program.id) if e.is_active_on(today)]
        people = {p.id: p for p in await uow.participants.get_many([e.participant_id for e in enrollments])}
        candidates = [Candidate(people[e.participant_id], e.priority) for e in enrollments
                      if e.participant_id in people]
        history = await self._history(uow, program, number)
        term = session = 0
        if program.kind.is_group:
            # Circles stay together for a term: the previous session's circles go on until the term is over.
            term, session = previous.next_term_position(program.sessions_per_term) if previous else (1, 1)
            circles = await self._circles(uow, program, previous, term) if session > 1 else []
            plan = await asyncio.to_thread(plan_circle_session, program, candidates, history, seed, today,
                                           circles, session)
        else:
            # Seconds of CPU at 10,000 people: off the event loop, so the bot keeps answering Teams meanwhile.
            plan = await asyncio.to_thread(plan_matches, program, candidates, history, seed, today)

        round_ = Round(new_id(), program.id, number, now, seed, RoundStatus.OPEN, dict(plan.quality), term,
                       session)
        matches = [
            Match(stable_id(round_.id, "match", index), round_.id, program.id, proposed.members, proposed.score,
                  proposed.reasons, registration=stable_id(program.id, number, *sorted(
                      m.participant_id for m in proposed.members)))
            for index, proposed in enumerate(plan.matches)
        ]
        result = RoundResult(program, round_, matches, list(plan.unmatched), people, dry_run)
        if dry_run:
            return result

        if previous is not None and previous.status is RoundStatus.OPEN:
            await uow.rounds.update(replace(previous, status=RoundStatus.COMPLETED))
            uow.events.append(ev.RoundCompleted(f"round-completed/{previous.id}", now, program.id, previous.id))
        await uow.rounds.add(round_)
        uow.events.append(ev.RoundStarted(f"round-started/{round_.id}", now, program.id, round_.id, number))
        for match in matches:
            await uow.matches.add(match)
            uow.events.append(ev.MatchCreated(f"matched/{match.id}", now, program.id, round_.id, match.id))
        # Fairness: a trio, no match or a weak match this round earns priority next round (the engine says
        # who: plan.needs_priority); a normal match spends it.
        deserving = set(plan.needs_priority)
        for enrollment in enrollments:
            after = enrollment.after_round(enrollment.participant_id in deserving)
            if after != enrollment:
                await uow.enrollments.update(after)
            if enrollment.status is EnrollmentStatus.PAUSED and after.status is EnrollmentStatus.ACTIVE:
                # a pause that ended by its date is a resumption too (xAPI resumed)
                uow.events.append(ev.EnrollmentResumed(f"resumed/{program.id}/{enrollment.participant_id}/"
                                                       f"{now.isoformat()}", now, program.id,
                                                       enrollment.participant_id))
        for pid, reason in plan.unmatched:
            uow.events.append(ev.ParticipantUnmatched(f"unmatched/{round_.id}/{pid}", now, program.id, round_.id,
                                                      pid, reason))
        await uow.programs.update(replace(program, next_round_at=program.cadence.next_after(now)))
        return result

    @staticmethod
    async def _circles(uow: UnitOfWork, program: Program, previous: Round | None, term: int) -> list[Circle]:
        """The circles of the previous session of this term, with who facilitated when in the term, and who
        was in each earlier in the term but missed the last session (back from a pause: their own circle)."""
        from teams_app.domain.matching import Circle

        if previous is None or previous.term != term or previous.session < 1:
            return []
        first_number = previous.number - previous.session + 1  # sessions of a term are consecutive rounds
        last_facilitated: dict[str, int] = {}
        latest: dict[str, tuple[int, Match]] = {}  # person -> their latest match this term
        for round_number, match in await uow.matches.recent_for_program(program.id, first_number):
            for member in match.members:
                if member.role is Role.FACILITATOR:
                    last_facilitated[member.participant_id] = round_number - first_number + 1
                if round_number >= latest.get(member.participant_id, (0, match))[0]:
                    latest[member.participant_id] = (round_number, match)
        circles = await uow.matches.for_round(previous.id)
        in_last = {pid for match in circles for pid in match.participant_ids}
        returning: dict[str, list[str]] = defaultdict(list)
        for pid, (_, earlier) in sorted(latest.items()):
            if pid in in_last:
                continue
            overlap = [(len(set(earlier.participant_ids) & set(m.participant_ids)), m.id) for m in circles]
            best = max(overlap, default=(0, ""))
            if best[0] > 0:
                returning[best[1]].append(pid)
        return [Circle(match.participant_ids, {pid: last_facilitated[pid] for pid in (*match.participant_ids,
                                                                                   *returning[match.id])
                                               if pid in last_facilitated}, tuple(returning[match.id]))
                for match in circles]

    @staticmethod
    async def _history(uow: UnitOfWork, program: Program, number: int) -> MatchHistory:
        from teams_app.domain.matching import MatchHistory

        rounds_ago: dict[frozenset[str], int] = {}
        role_counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for round_number, match in await uow.matches.recent_for_program(program.id, 1):
            ids = match.participant_ids
            for member in match.members:
                role_counts[member.participant_id][member.role.value] += 1
            for i, a in enumerate(ids):
                for b in ids[i + 1:]:
                    pair = frozenset((a, b))
                    ago = number - round_number
                    rounds_ago[pair] = min(ago, rounds_ago.get(pair, ago))
        blocked: set[frozenset[str]] = set()
        forced: list[frozenset[str]] = []
        for a, b, rule in await uow.pair_rules.for_program(program.id):
            (forced.append if rule == "force" else blocked.add)(frozenset((a, b)))
        return MatchHistory(rounds_ago, {k: dict(v) for k, v in role_counts.items()}, frozenset(blocked),
                            tuple(forced))
