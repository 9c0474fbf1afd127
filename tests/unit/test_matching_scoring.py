"""The vectorised scorers (block, element-wise, column-sorted fast path) agree with the scalar score that
explains a match, and with hard_conflict on feasibility."""

from __future__ import annotations

import random

import numpy as np

from teams_app.domain.matching import MatchHistory, hard_conflict, population, solver
from teams_app.domain.matching.population import Population
from teams_app.domain.matching.solver import BlockScorer, candidate_edges
from teams_app.domain.model import ProgramKind
from tests.unit.matching_helpers import TODAY, candidates, person, program

ZONES = ["Europe/Berlin", "America/New_York", "Asia/Tokyo", "Asia/Kolkata", "America/Los_Angeles"]


def _population(kind: ProgramKind, n: int = 60, seed: int = 7) -> tuple[Population, MatchHistory]:
    rng = random.Random(seed)
    skills = [f"s{i}" for i in range(90)]  # more than 64: bitsets span two words
    people = [person(f"p{i:03d}", dept=rng.choice(["", "A", "B", "C"]), loc=rng.choice(["", "X", "Y"]),
                     tz=rng.choice(ZONES), langs=rng.choice([("en",), ("es",), ("en", "de")]),
                     offers=rng.sample(skills, 3), wants=rng.sample(skills, 2), goals=rng.sample(["g1", "g2"], 1),
                     seniority=rng.randint(1, 5), manager=f"p{rng.randrange(n):03d}@example.org")
              for i in range(n)]
    history = MatchHistory(rounds_ago={frozenset(("p000", "p001")): 1, frozenset(("p002", "p003")): 9},
                           blocked=frozenset({frozenset(("p004", "p005"))}))
    prog = program(kind, weight_seniority_gap=1.5)
    return Population.build(prog, candidates(*people), history, TODAY), history


def test_all_scorers_agree_with_the_scalar_score_and_hard_conflict() -> None:
    for kind in (ProgramKind.PEER_PAIRS, ProgramKind.MENTORING):
        pop, history = _population(kind)
        mentoring = kind is ProgramKind.MENTORING
        everyone = np.arange(pop.n)
        block = pop.score_block(everyone, None, mentee_rows=mentoring, adjusted=False)
        i, j = np.meshgrid(everyone, everyone, indexing="ij")
        pairwise = pop.pair_weights(i.ravel(), j.ravel(), mentee_rows=mentoring, adjusted=False).reshape(block.shape)
        scorer = BlockScorer(pop, everyone, mentee_rows=mentoring)
        fast = np.empty_like(block)
        fast[:, scorer.cols] = scorer.scores(everyone)[:, :pop.n]
        for a in range(pop.n):
            for b in range(pop.n):
                conflict = a == b or hard_conflict(pop.people[a], pop.people[b], pop.program, history, TODAY)
                assert np.isfinite(block[a, b]) == (not conflict), (a, b, conflict)
                if conflict:
                    assert not np.isfinite(pairwise[a, b]) and not np.isfinite(fast[a, b])
                    continue
                expected = pop.pair_score(a, b, mentor=b if mentoring else None)[0]
                assert block[a, b] == pairwise[a, b] == fast[a, b] == expected, (a, b)


def test_scorers_agree_without_type_tables_when_there_are_too_many_types(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(solver, "MAX_TYPES", 2)
    monkeypatch.setattr(population, "MAX_TYPES", 2)
    pop, _ = _population(ProgramKind.MENTORING, n=40, seed=11)
    assert pop.type_table(True) is None
    everyone = np.arange(pop.n)
    block = pop.score_block(everyone, None, mentee_rows=True, adjusted=False)
    scorer = BlockScorer(pop, everyone, mentee_rows=True)
    assert scorer.split_terms
    fast = np.empty_like(block)
    fast[:, scorer.cols] = scorer.scores(everyone)[:, :pop.n]
    i, j = np.meshgrid(everyone, everyone, indexing="ij")
    pairwise = pop.pair_weights(i.ravel(), j.ravel(), mentee_rows=True, adjusted=False).reshape(block.shape)
    assert np.array_equal(block, fast) and np.array_equal(block, pairwise.astype(np.float32))


def test_history_penalty_applies_only_to_pairs_that_met() -> None:
    pop, _ = _population(ProgramKind.PEER_PAIRS)
    raw = pop.pair_weights(np.array([0, 2, 0]), np.array([1, 3, 2]), adjusted=False)
    adjusted = pop.pair_weights(np.array([0, 2, 0]), np.array([1, 3, 2]))
    finite = np.isfinite(raw)
    assert (adjusted[finite] <= raw[finite]).all()
    assert adjusted[2] == raw[2] or not finite[2]  # p000 and p002 never met


def test_fast_candidates_find_each_rows_best_partner() -> None:
    pop, _ = _population(ProgramKind.PEER_PAIRS, n=300, seed=3)
    everyone = np.arange(pop.n)
    a, _, w, best = BlockScorer(pop, everyone, mentee_rows=False).candidates(everyone, 8, np.zeros(pop.n))
    exact_a, _, exact_w, exact_best = candidate_edges(pop, everyone, None, 8)
    assert np.array_equal(best, exact_best)
    for row in range(pop.n):
        mine, theirs = w[a == row], exact_w[exact_a == row]
        if len(theirs):
            assert mine.max() == theirs.max() == best[row]
