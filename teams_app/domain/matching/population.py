"""A population of candidates turned into arrays, and the score of every pair computed from them.

The score of a pair (documented weights come from the program's :class:`MatchingPolicy`):

* complementary skills: ``weight_skills`` for every skill one person wants and the other offers, counted in
  both directions (Ana offers SQL that Bo wants, Bo offers Python that Ana wants: two skills);
* cross-functional and diversity pairing: ``weight_cross_department`` when both departments are known and
  differ, ``weight_cross_location`` when both locations are known and differ;
* shared goals: ``weight_shared_goals`` for every goal both people named;
* mentoring only: ``weight_seniority_gap`` times 1, 2, 1 when the mentor is 1, 2 or 3 levels more senior
  than the mentee (two levels is the sweet spot; the same level or more than three levels apart adds 0).

Hard constraints (see :mod:`constraints`) make a pair infeasible; they are encoded here as a compatibility
matrix between "classes" of people (same languages and same working window), so a block of 1,000 x 10,000
pairs is scored with a handful of numpy operations. The scalar :meth:`Population.pair_score` gives the same
number for one pair together with the reasons shown on the cards
(:class:`teams_app.domain.reasons.Reason` values, said in the reader's language where they are shown).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import scipy.sparse as sp

from teams_app.domain.matching.constraints import EPSILON_HOURS, day_windows
from teams_app.domain.matching.types import Candidate, MatchHistory
from teams_app.domain.model import Participant, Program, ProgramKind
from teams_app.domain.reasons import N_, Nn_, Reason

OFFERS = N_("{giver} offers {skills}, which {taker} wants.")
SHARED_GOALS = N_("Both want to work on {goals}.")
DEPARTMENTS = N_("Different departments ({first} and {second}).")
LOCATIONS = N_("Different locations ({first} and {second}).")
SENIOR = Nn_("{mentor} is one level more senior than {mentee}.",
             "{mentor} is {count} levels more senior than {mentee}.")

NEG = np.float32(-np.inf)
# History penalties, far above any realistic score so the solver only repeats a pair when it must:
RECENT_REPEAT_PENALTY = 1e7  # met within the last K rounds
OLD_REPEAT_PENALTY = 1e4  # met before that: still meet someone new first
MAX_TYPES = 3_000  # above this many (class, department, location) types, score pairs without a lookup table
SENIORITY_CURVE = (0.0, 1.0, 2.0, 1.0)  # mentor minus mentee seniority 0..3 -> multiplier; more -> 0


def seniority_factor(gap: int) -> float:
    return SENIORITY_CURVE[gap] if 0 <= gap < len(SENIORITY_CURVE) else 0.0


@dataclass
class Population:
    """Everything the solvers need about the candidates of one round, as arrays indexed 0..n-1."""

    program: Program
    today: date
    people: list[Participant]
    priority: np.ndarray  # int64, fairness credit
    index: dict[str, int]
    cls: np.ndarray  # int32 class of each person (languages x working window)
    compat: np.ndarray  # bool C x C: may two classes meet (language and overlap rules)
    class_overlap: np.ndarray  # float C x C: hours of shared working time
    dept: np.ndarray  # int32, -1 unknown
    loc: np.ndarray
    seniority: np.ndarray  # int32
    wanted: sp.csr_matrix  # n x V skills wanted
    offered: sp.csr_matrix
    goals: sp.csr_matrix  # n x G
    wanted_t: np.ndarray  # V x n float32, dense for fast sparse @ dense
    offered_t: np.ndarray
    goals_t: np.ndarray
    excluded: dict[int, frozenset[int]]  # blocked pairs and manager/direct-report pairs
    met: dict[int, dict[int, int]]  # i -> j -> rounds ago
    skill_names: list[str]
    goal_names: list[str]
    dept_names: list[str]
    loc_names: list[str]
    wanted_bits: np.ndarray = field(default_factory=lambda: np.zeros((0, 1), dtype=np.uint64))  # n x words
    offered_bits: np.ndarray = field(default_factory=lambda: np.zeros((0, 1), dtype=np.uint64))
    goal_bits: np.ndarray = field(default_factory=lambda: np.zeros((0, 1), dtype=np.uint64))
    excluded_keys: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # sorted i*n+j
    met_keys: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # sorted i*n+j
    met_penalty: np.ndarray = field(default_factory=lambda: np.zeros(0))
    manager_of: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    def __post_init__(self) -> None:
        n = self.n
        self.wanted_bits = _bitsets(self.wanted)
        self.offered_bits = _bitsets(self.offered)
        self.goal_bits = _bitsets(self.goals)
        # Manager/direct-report pairs are checked through each person's manager index; the rest by key.
        self.manager_of = np.full(n, -1, dtype=np.int64)
        by_email = {p.email.casefold(): i for i, p in enumerate(self.people) if p.email}
        for i, p in enumerate(self.people):
            boss = by_email.get(p.manager_email.casefold(), -1) if p.manager_email else -1
            if boss != i:
                self.manager_of[i] = boss
        keys = [i * n + j for i, others in self.excluded.items() for j in others
                if self.manager_of[i] != j and self.manager_of[j] != i]
        self.excluded_keys = np.array(sorted(keys), dtype=np.int64)
        met = sorted((i * n + j, self.repeat_penalty(ago)) for i, others in self.met.items()
                     for j, ago in others.items())
        self.met_keys = np.array([k for k, _ in met], dtype=np.int64)
        self.met_penalty = np.array([v for _, v in met], dtype=np.float64)
        policy = self.program.policy
        # One popcount pass scores skills both ways and goals: left [wanted|offered|goals] & right
        # [offered|wanted|goals], each word weighted.
        self.packed_left = np.hstack([self.wanted_bits, self.offered_bits, self.goal_bits])
        self.packed_right = np.hstack([self.offered_bits, self.wanted_bits, self.goal_bits])
        skill_words, goal_words = self.wanted_bits.shape[1], self.goal_bits.shape[1]
        self.word_weight = np.array(
            [policy.weight_skills] * (2 * skill_words) + [policy.weight_shared_goals] * goal_words, dtype=np.float64)
        self._tables: dict[bool, tuple[np.ndarray, np.ndarray] | None] = {}
        self._sets: dict[int, tuple[frozenset[int], frozenset[int], frozenset[int]]] = {}

    def type_table(self, mentee_rows: bool) -> tuple[np.ndarray, np.ndarray] | None:
        """(type of each person, type x type table): feasibility (-inf), cross-department, cross-location and,
        for mentoring, the seniority term, in one lookup. None when there are too many types for a table."""
        if mentee_rows not in self._tables:
            policy = self.program.policy
            seniority = self.seniority if mentee_rows else np.zeros(self.n, dtype=np.int32)
            keys = np.stack([self.cls, self.dept, self.loc, seniority], axis=1).astype(np.int64)
            uniq, type_of = np.unique(keys, axis=0, return_inverse=True) if self.n else (keys, np.zeros(0, int))
            if len(uniq) > MAX_TYPES:
                self._tables[mentee_rows] = None
            else:
                table = np.where(self.compat[np.ix_(uniq[:, 0], uniq[:, 0])], 0.0, -np.inf)
                for column, weight in ((1, policy.weight_cross_department), (2, policy.weight_cross_location)):
                    if weight:
                        known = uniq[:, column] >= 0
                        differ = ((uniq[:, column][:, None] != uniq[:, column][None, :]) & known[:, None]
                                  & known[None, :])
                        table = table + differ * weight
                if mentee_rows and policy.weight_seniority_gap:
                    gap = np.clip(uniq[:, 3][None, :] - uniq[:, 3][:, None], 0, len(SENIORITY_CURVE))
                    table = table + np.array([*SENIORITY_CURVE, 0.0])[gap] * policy.weight_seniority_gap
                self._tables[mentee_rows] = (type_of.reshape(-1).astype(np.int64), table)
        return self._tables[mentee_rows]

    @property
    def n(self) -> int:
        return len(self.people)

    # -- construction ---------------------------------------------------------------------------------
    @staticmethod
    def build(program: Program, candidates: Sequence[Candidate], history: MatchHistory, today: date) -> Population:
        people = [c.participant for c in candidates]
        n = len(people)
        index = {p.id: i for i, p in enumerate(people)}
        policy = program.policy

        lang_sets: dict[frozenset[str], int] = {}
        window_ids: dict[tuple[tuple[float, float], ...], int] = {}
        class_ids: dict[tuple[int, int], int] = {}
        cls = np.empty(n, dtype=np.int32)
        for i, p in enumerate(people):
            langs = frozenset(lang.casefold() for lang in p.profile.languages)
            li = lang_sets.setdefault(langs, len(lang_sets))
            wi = window_ids.setdefault(day_windows(p, today), len(window_ids))
            cls[i] = class_ids.setdefault((li, wi), len(class_ids))
        lang_list = list(lang_sets)
        lang_share = np.array([[bool(a & b) for b in lang_list] for a in lang_list], dtype=bool).reshape(
            len(lang_list), len(lang_list))
        windows = np.array(list(window_ids), dtype=np.float64).reshape(len(window_ids), 3, 2)
        overlap = _window_overlap_matrix(windows)
        keys = list(class_ids)
        class_lang = np.array([k[0] for k in keys], dtype=np.int64)
        class_win = np.array([k[1] for k in keys], dtype=np.int64)
        class_overlap = overlap[np.ix_(class_win, class_win)]
        compat = class_overlap + EPSILON_HOURS >= policy.min_overlap_hours
        if policy.require_shared_language:
            compat &= lang_share[np.ix_(class_lang, class_lang)]

        dept, dept_names = _codes([p.profile.department for p in people])
        loc, loc_names = _codes([p.profile.location for p in people])
        skill_vocab: dict[str, int] = {}
        skill_names: list[str] = []
        for p in people:
            for s in (*p.profile.skills_offered, *p.profile.skills_wanted):
                key = s.casefold()
                if key not in skill_vocab:
                    skill_vocab[key] = len(skill_names)
                    skill_names.append(s)
        goal_vocab: dict[str, int] = {}
        goal_names: list[str] = []
        for p in people:
            for g in p.profile.goals:
                key = g.casefold()
                if key not in goal_vocab:
                    goal_vocab[key] = len(goal_names)
                    goal_names.append(g)
        wanted = _incidence([[skill_vocab[s.casefold()] for s in p.profile.skills_wanted] for p in people],
                            len(skill_names))
        offered = _incidence([[skill_vocab[s.casefold()] for s in p.profile.skills_offered] for p in people],
                             len(skill_names))
        goals = _incidence([[goal_vocab[g.casefold()] for g in p.profile.goals] for p in people], len(goal_names))

        excluded: dict[int, set[int]] = {}

        def exclude(i: int, j: int) -> None:
            excluded.setdefault(i, set()).add(j)
            excluded.setdefault(j, set()).add(i)

        for pair in history.blocked:
            ids = sorted(pair)
            if len(ids) == 2 and ids[0] in index and ids[1] in index:
                exclude(index[ids[0]], index[ids[1]])
        by_email = {p.email.casefold(): i for i, p in enumerate(people) if p.email}
        for i, p in enumerate(people):
            boss = by_email.get(p.manager_email.casefold()) if p.manager_email else None
            if boss is not None and boss != i:
                exclude(i, boss)
        met: dict[int, dict[int, int]] = {}
        for pair, ago in history.rounds_ago.items():
            ids = sorted(pair)
            if len(ids) == 2 and ids[0] in index and ids[1] in index:
                i, j = index[ids[0]], index[ids[1]]
                met.setdefault(i, {})[j] = min(ago, met.get(i, {}).get(j, ago))
                met.setdefault(j, {})[i] = min(ago, met.get(j, {}).get(i, ago))
        return Population(
            program=program, today=today, people=people,
            priority=np.array([c.priority for c in candidates], dtype=np.int64), index=index, cls=cls,
            compat=compat, class_overlap=class_overlap, dept=dept, loc=loc,
            seniority=np.array([p.profile.seniority for p in people], dtype=np.int32),
            wanted=wanted, offered=offered, goals=goals,
            wanted_t=np.ascontiguousarray(wanted.T.toarray(), dtype=np.float32),
            offered_t=np.ascontiguousarray(offered.T.toarray(), dtype=np.float32),
            goals_t=np.ascontiguousarray(goals.T.toarray(), dtype=np.float32),
            excluded={k: frozenset(v) for k, v in excluded.items()}, met=met, skill_names=skill_names,
            goal_names=goal_names, dept_names=dept_names, loc_names=loc_names,
        )

    # -- feasibility ------------------------------------------------------------------------------------
    def feasible(self, i: int, j: int) -> bool:
        return (i != j and bool(self.compat[self.cls[i], self.cls[j]])
                and j not in self.excluded.get(i, frozenset()))

    def feasible_with_all(self, i: int, group: Sequence[int]) -> bool:
        return all(self.feasible(i, j) for j in group)

    def recent(self, i: int, j: int) -> int | None:
        """Rounds since i and j last met, when within the program's history window K."""
        ago = self.met.get(i, {}).get(j)
        return ago if ago is not None and ago <= self.program.policy.history_rounds else None

    # -- vectorised scores --------------------------------------------------------------------------------
    def score_block(self, rows: np.ndarray, cols: np.ndarray | None = None, *, mentee_rows: bool = False,
                    adjusted: bool = True) -> np.ndarray:
        """Scores of rows x cols (cols None = everyone) as float32; infeasible pairs are -inf.

        ``adjusted`` subtracts the history penalties (the solver's view); otherwise the raw score.
        ``mentee_rows`` adds the mentoring seniority term with rows as mentees and columns as mentors.
        """
        policy = self.program.policy
        all_cols = cols is None
        col_idx = np.arange(self.n) if cols is None else cols
        wanted_t = self.wanted_t if all_cols else self.wanted_t[:, col_idx]
        offered_t = self.offered_t if all_cols else self.offered_t[:, col_idx]
        s = np.asarray(self.wanted[rows] @ offered_t, dtype=np.float32)
        s += self.offered[rows] @ wanted_t
        if policy.weight_skills != 1.0:
            s *= np.float32(policy.weight_skills)
        if policy.weight_shared_goals and self.goals.shape[1]:
            goals_t = self.goals_t if all_cols else self.goals_t[:, col_idx]
            s += (self.goals[rows] @ goals_t) * np.float32(policy.weight_shared_goals)
        for codes, weight in ((self.dept, policy.weight_cross_department), (self.loc, policy.weight_cross_location)):
            if not weight:
                continue
            r, c = codes[rows], codes[col_idx]
            differ = r[:, None] != c[None, :]
            if (r < 0).any() or (c < 0).any():
                differ &= (r >= 0)[:, None]
                differ &= (c >= 0)[None, :]
            s += differ * np.float32(weight)
        if mentee_rows and policy.weight_seniority_gap:
            gap = self.seniority[col_idx][None, :] - self.seniority[rows][:, None]
            curve = np.array([*SENIORITY_CURVE, 0.0], dtype=np.float32) * np.float32(policy.weight_seniority_gap)
            s += curve[np.clip(gap, 0, len(SENIORITY_CURVE)).astype(np.intp)]
        ok = self.compat[self.cls[rows]][:, self.cls[col_idx]]
        np.putmask(s, ~ok, NEG)
        col_pos = None if all_cols else {int(c): k for k, c in enumerate(col_idx)}
        for r_pos, i in enumerate(rows.tolist()):
            for j in self.excluded.get(i, ()):
                k = j if col_pos is None else col_pos.get(j)
                if k is not None:
                    s[r_pos, k] = NEG
            if not all_cols:
                k = col_pos.get(i) if col_pos is not None else None
                if k is not None:
                    s[r_pos, k] = NEG
            else:
                s[r_pos, i] = NEG
            if adjusted:
                for j, ago in self.met.get(i, {}).items():
                    k = j if col_pos is None else col_pos.get(j)
                    if k is not None:
                        s[r_pos, k] -= self.repeat_penalty(ago)
        return s

    def repeat_penalty(self, ago: int) -> float:
        return RECENT_REPEAT_PENALTY if ago <= self.program.policy.history_rounds else OLD_REPEAT_PENALTY

    def pair_weights(self, i: np.ndarray, j: np.ndarray, *, adjusted: bool = True,
                     mentee_rows: bool = False) -> np.ndarray:
        """Element-wise scores of pairs (i[k], j[k]) as float64; -inf when infeasible. Same rules as
        :meth:`score_block`, for scattered pairs (trios, local search, growing circles)."""
        i = np.asarray(i, dtype=np.int64)
        j = np.asarray(j, dtype=np.int64)
        s = np.bitwise_count(self.packed_left[i] & self.packed_right[j]) @ self.word_weight
        lookup = self.type_table(mentee_rows)
        if lookup is not None:
            type_of, table = lookup
            s += table[type_of[i], type_of[j]]
        else:
            s += self._dense_terms(i, j, mentee_rows)
        s[(i == j) | (self.manager_of[i] == j) | (self.manager_of[j] == i)] = -np.inf
        keys = i * self.n + j
        if len(self.excluded_keys):
            s[_contains(self.excluded_keys, keys)] = -np.inf
        if adjusted and len(self.met_keys):
            pos = np.minimum(np.searchsorted(self.met_keys, keys), len(self.met_keys) - 1)
            hit = self.met_keys[pos] == keys
            s -= np.where(hit, self.met_penalty[pos], 0.0)
        return s

    def _dense_terms(self, i: np.ndarray, j: np.ndarray, mentee_rows: bool) -> np.ndarray:
        policy = self.program.policy
        s = np.where(self.compat[self.cls[i], self.cls[j]], 0.0, -np.inf)
        for codes, weight in ((self.dept, policy.weight_cross_department), (self.loc, policy.weight_cross_location)):
            if weight:
                a, b = codes[i], codes[j]
                s = s + ((a != b) & (a >= 0) & (b >= 0)) * weight
        if mentee_rows and policy.weight_seniority_gap:
            gap = np.clip(self.seniority[j] - self.seniority[i], 0, len(SENIORITY_CURVE))
            s = s + np.array([*SENIORITY_CURVE, 0.0])[gap] * policy.weight_seniority_gap
        return np.asarray(s, dtype=np.float64)

    def _person_sets(self, i: int) -> tuple[frozenset[int], frozenset[int], frozenset[int]]:
        if i not in self._sets:
            rows = (self.wanted, self.offered, self.goals)
            self._sets[i] = tuple(  # type: ignore[assignment]
                frozenset(m.indices[m.indptr[i]:m.indptr[i + 1]].tolist()) for m in rows)
        return self._sets[i]

    # -- one pair, with reasons -----------------------------------------------------------------------
    def pair_score(self, i: int, j: int, mentor: int | None = None) -> tuple[float, list[Reason]]:
        """The score of i and j and why, in plain words; ``mentor`` is i or j in a mentoring match."""
        policy = self.program.policy
        a, b = self.people[i], self.people[j]
        score, reasons = 0.0, list[Reason]()
        wanted_i, offered_i, goals_i = self._person_sets(i)
        wanted_j, offered_j, goals_j = self._person_sets(j)
        for giver, taker, given in ((b, a, offered_j & wanted_i), (a, b, offered_i & wanted_j)):
            if not given:
                continue
            own = {x.casefold(): x for x in giver.profile.skills_offered}  # the giver's own spelling
            gets = sorted(own.get(self.skill_names[k].casefold(), self.skill_names[k]) for k in given)
            score += policy.weight_skills * len(gets)
            reasons.append(Reason.of(OFFERS, giver=giver.display_name, skills=tuple(gets), taker=taker.display_name))
        shared = goals_i & goals_j
        if shared and policy.weight_shared_goals:
            own_goals = {g.casefold(): g for g in a.profile.goals}
            shared_goals = sorted(own_goals.get(self.goal_names[k].casefold(), self.goal_names[k]) for k in shared)
            score += policy.weight_shared_goals * len(shared_goals)
            reasons.append(Reason.of(SHARED_GOALS, goals=tuple(shared_goals)))
        if policy.weight_cross_department and self.dept[i] >= 0 and self.dept[j] >= 0 and self.dept[i] != self.dept[j]:
            score += policy.weight_cross_department
            reasons.append(Reason.of(DEPARTMENTS, first=self.dept_names[self.dept[i]],
                                     second=self.dept_names[self.dept[j]]))
        if policy.weight_cross_location and self.loc[i] >= 0 and self.loc[j] >= 0 and self.loc[i] != self.loc[j]:
            score += policy.weight_cross_location
            reasons.append(Reason.of(LOCATIONS, first=self.loc_names[self.loc[i]], second=self.loc_names[self.loc[j]]))
        if mentor is not None and self.program.kind is ProgramKind.MENTORING and policy.weight_seniority_gap:
            mentee = j if mentor == i else i
            gap = int(self.seniority[mentor] - self.seniority[mentee])
            factor = seniority_factor(gap)
            if factor:
                score += policy.weight_seniority_gap * factor
                reasons.append(Reason.of(SENIOR, mentor=self.people[mentor].display_name, count=gap,
                                         mentee=self.people[mentee].display_name))
        return score, reasons

    def overlap(self, i: int, j: int) -> float:
        return float(self.class_overlap[self.cls[i], self.cls[j]])


def _window_overlap_matrix(windows: np.ndarray) -> np.ndarray:
    """D x D best overlap in hours between distinct working windows (day before, same day, day after)."""
    d = windows.shape[0]
    best = np.zeros((d, d))
    mine = windows[:, 1, :]
    for shift in range(3):
        other = windows[:, shift, :]
        shared = np.minimum(mine[:, None, 1], other[None, :, 1]) - np.maximum(mine[:, None, 0], other[None, :, 0])
        best = np.maximum(best, shared)
        best = np.maximum(best, shared.T)
    return best


def _codes(values: Sequence[str]) -> tuple[np.ndarray, list[str]]:
    seen: dict[str, int] = {}
    names: list[str] = []
    out = np.empty(len(values), dtype=np.int32)
    for i, raw in enumerate(values):
        key = (raw or "").strip().casefold()
        if not key:
            out[i] = -1
            continue
        if key not in seen:
            seen[key] = len(names)
            names.append(raw.strip())
        out[i] = seen[key]
    return out, names


def _incidence(rows: list[list[int]], width: int) -> sp.csr_matrix:
    indptr = np.zeros(len(rows) + 1, dtype=np.int64)
    indptr[1:] = np.cumsum([len(set(r)) for r in rows])
    indices = np.array([k for r in rows for k in sorted(set(r))], dtype=np.int32)
    data = np.ones(len(indices), dtype=np.float32)
    return sp.csr_matrix((data, indices, indptr), shape=(len(rows), max(width, 0)))


def _bitsets(matrix: sp.csr_matrix) -> np.ndarray:
    """Each row's set of columns as packed 64-bit words, for fast intersections with popcount."""
    n, width = matrix.shape
    words = max(1, -(-width // 64))
    bits = np.zeros((n, words), dtype=np.uint64)
    rows = np.repeat(np.arange(n), np.diff(matrix.indptr))
    cols = matrix.indices.astype(np.int64)
    np.bitwise_or.at(bits, (rows, cols // 64), np.left_shift(np.uint64(1), (cols % 64).astype(np.uint64)))
    return bits


def _contains(sorted_keys: np.ndarray, keys: np.ndarray) -> np.ndarray:
    pos = np.minimum(np.searchsorted(sorted_keys, keys), len(sorted_keys) - 1)
    return np.asarray(sorted_keys[pos] == keys)
