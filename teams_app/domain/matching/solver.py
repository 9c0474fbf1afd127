"""Optimisation kernels: sparse candidate graphs and assignment-based maximum-weight matching.

Exact maximum-weight matching on a complete graph is far too slow at 10,000 people (blossom is cubic), so:

1. :func:`candidate_edges` scores every pair in blocks of rows with numpy and keeps each person's ``k`` best
   feasible partners (plus the best raw score, which gives the upper bound of half the sum of everyone's
   best partner).
2. :func:`max_weight_pairs` solves the assignment problem on the symmetric sparse graph with scipy's
   LAPJV (dense when small, sparse LAPJVsp otherwise; see :func:`solve_assignment`). Its optimum is at least
   twice the best matching, and its permutation splits into 2-cycles (pairs), even cycles (take the better
   half of alternating edges: nothing lost) and odd cycles (drop the one person whose absence costs least).
   Leaving yourself unassigned is allowed at a price above any pair, so everyone who can be paired is paired.
3. :func:`assign_to_slots` is the bipartite version with capacities (mentors and buddies).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linear_sum_assignment
from scipy.sparse.csgraph import min_weight_full_bipartite_matching

from teams_app.domain.matching.population import MAX_TYPES, NEG, SENIORITY_CURVE, Population

BLOCK_CELLS = 8_000_000  # rows per block x columns: bounds the memory of one scoring block (~32 MB float32)
PRIORITY_SHARE = 0.2  # each level of fairness credit (max 3) makes a person's edges worth 20% more ...
PRIORITY_BONUS = 1.0  # ... plus a flat bonus, so the odd one out is someone without credit
SLOT_STEP = 0.05  # a mentor's second, third... mentee costs a little more: spread the load
EXACT_COLUMNS = 1_500  # up to this many columns, rank every candidate exactly
THREADS = min(2, os.cpu_count() or 1)  # score row blocks on two cores (more adds memory, not speed here)
SLICE = 32  # the fast path keeps the best column of each slice of 32
NOISE_STRIDE = 97  # rows read the tie-breaking noise at shifted offsets


def candidate_edges(pop: Population, rows: np.ndarray, cols: np.ndarray | None, k: int, *,
                    mentee_rows: bool = False, offset: np.ndarray | None = None, k_offset: int = 0
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Each row's ``k`` best feasible columns: (row, col, adjusted weight) arrays and each row's best raw score.

    ``cols`` None means every person; returned column numbers are person indices either way. Small column
    sets are ranked exactly; large ones go through :class:`BlockScorer`, which keeps the best of each
    random slice of columns (the true top ``k`` unless two of them share a slice).

    ``offset`` (per person) ranks columns by weight minus the column's offset instead of by weight. With
    half of everyone's best score as the offset this finds "tight" pairs, good for both people, which a plain
    top-k misses when many people compete for the same few partners. With ``k_offset`` the fast path returns
    both rankings from one pass (``k`` by weight, ``k_offset`` by weight minus offset); the exact path
    makes two.
    """
    col_ids = np.arange(pop.n, dtype=np.int64) if cols is None else np.asarray(cols, dtype=np.int64)
    n_cols = len(col_ids)
    best_raw = np.full(len(rows), -np.inf, dtype=np.float64)
    empty = np.zeros(0, dtype=np.int64)
    if n_cols == 0 or len(rows) == 0 or k <= 0:
        return empty, empty, np.zeros(0), best_raw
    if n_cols <= EXACT_COLUMNS or max(k, k_offset) * SLICE >= n_cols:
        if offset is None or not k_offset:
            return _exact_candidates(pop, rows, col_ids, k, mentee_rows, best_raw, offset)
        a, b, w, best = _exact_candidates(pop, rows, col_ids, k, mentee_rows, best_raw, None)
        a2, b2, w2, _ = _exact_candidates(pop, rows, col_ids, k_offset, mentee_rows, best_raw.copy(), offset)
        return np.concatenate([a, a2]), np.concatenate([b, b2]), np.concatenate([w, w2]), best
    scorer = BlockScorer(pop, col_ids, mentee_rows)
    return scorer.candidates(rows, k, best_raw, offset, k_offset)


def _exact_candidates(pop: Population, rows: np.ndarray, col_ids: np.ndarray, k: int, mentee_rows: bool,
                      best_raw: np.ndarray, offset: np.ndarray | None
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    n_cols = len(col_ids)
    step = max(1, BLOCK_CELLS // n_cols)
    col_pos = {int(c): p for p, c in enumerate(col_ids.tolist())}
    out_r, out_c, out_w = [], [], []
    for start in range(0, len(rows), step):
        block = rows[start:start + step]
        s = pop.score_block(block, col_ids, mentee_rows=mentee_rows, adjusted=False)
        best_raw[start:start + len(block)] = s.max(axis=1)
        _penalise(pop, s, block, col_pos)
        key = s if offset is None else s - offset[col_ids][None, :].astype(np.float32)
        kk = min(k, n_cols)
        if kk < n_cols:
            top = np.argpartition(-key, kk - 1, axis=1)[:, :kk]
        else:
            top = np.broadcast_to(np.arange(n_cols), s.shape)
        vals = np.take_along_axis(s, top, axis=1)
        keep = np.isfinite(vals)
        out_r.append(np.broadcast_to(block[:, None], top.shape)[keep])
        out_c.append(col_ids[top[keep]])
        out_w.append(vals[keep].astype(np.float64))
    return (np.concatenate(out_r).astype(np.int64), np.concatenate(out_c).astype(np.int64),
            np.concatenate(out_w), best_raw)


def _penalise(pop: Population, s: np.ndarray, block: np.ndarray, col_pos: dict[int, int]) -> None:
    """History penalties on the few pairs in this block that met before."""
    for r_pos, i in enumerate(block.tolist()):
        for j, ago in pop.met.get(i, {}).items():
            p = col_pos.get(j)
            if p is not None:
                s[r_pos, p] -= np.float32(pop.repeat_penalty(ago))


class BlockScorer:
    """Scores row blocks against a large, fixed column set with as few full-size numpy passes as possible.

    Columns are sorted by "type" (class, department, location, and seniority for mentoring), so the dense
    part of the score (feasibility, cross-department, cross-location, seniority gap) is one ``np.repeat`` of
    a small type x type table; skills and goals are sparse rows times dense, pre-weighted columns.
    """

    def __init__(self, pop: Population, col_ids: np.ndarray, mentee_rows: bool) -> None:
        self.pop = pop
        policy = pop.program.policy
        self.mentee_rows = mentee_rows
        seniority = pop.seniority if mentee_rows else np.zeros(pop.n, dtype=np.int32)
        keys = np.stack([pop.cls, pop.dept, pop.loc, seniority], axis=1).astype(np.int64)
        uniq, type_of = np.unique(keys, axis=0, return_inverse=True)
        # Many departments x locations would make the type table huge: then types are (class, seniority) only
        # and the department/location terms are added block by block.
        self.split_terms = len(uniq) > MAX_TYPES
        if self.split_terms:
            keys[:, 1:3] = -1
            uniq, type_of = np.unique(keys, axis=0, return_inverse=True)
        self.type_of = type_of.reshape(-1)
        order = np.argsort(self.type_of[col_ids], kind="stable")
        self.cols = col_ids[order]
        col_types = self.type_of[self.cols]
        counts = np.bincount(col_types, minlength=len(uniq))
        pad = (-len(self.cols)) % SLICE
        self.counts = np.append(counts, pad)
        self.n_cols = len(self.cols)
        self.width = self.n_cols + pad
        base = np.where(pop.compat[np.ix_(uniq[:, 0], uniq[:, 0])], np.float32(0), NEG).astype(np.float32)
        for column, weight in ((1, policy.weight_cross_department), (2, policy.weight_cross_location)):
            if weight:
                known = uniq[:, column] >= 0
                differ = (uniq[:, column][:, None] != uniq[:, column][None, :]) & known[:, None] & known[None, :]
                base += differ.astype(np.float32) * np.float32(weight)
        if mentee_rows and policy.weight_seniority_gap:
            gap = uniq[:, 3][None, :] - uniq[:, 3][:, None]  # column (mentor) minus row (mentee)
            curve = np.array([*SENIORITY_CURVE, 0.0], dtype=np.float32) * np.float32(policy.weight_seniority_gap)
            base += curve[np.clip(gap, 0, len(SENIORITY_CURVE))]
        self.base = np.concatenate([base, np.full((len(uniq), 1), NEG, dtype=np.float32)], axis=1)
        self.col_terms = [(pop.dept[self.cols], pop.dept, np.float32(policy.weight_cross_department)),
                          (pop.loc[self.cols], pop.loc, np.float32(policy.weight_cross_location))]
        self.offered_t = pop.offered_t[:, self.cols] * np.float32(policy.weight_skills)
        self.wanted_t = pop.wanted_t[:, self.cols] * np.float32(policy.weight_skills)
        self.goals_t = (pop.goals_t[:, self.cols] * np.float32(policy.weight_shared_goals)
                        if policy.weight_shared_goals and pop.goals.shape[1] else None)
        self.col_pos = {int(c): p for p, c in enumerate(self.cols.tolist())}
        # Tie-breaking noise far below any score difference, so equal scores do not all pick the same people.
        weights = [w for w in (policy.weight_skills, policy.weight_cross_department, policy.weight_cross_location,
                               policy.weight_seniority_gap, policy.weight_shared_goals) if w > 0]
        self.noise_scale = np.float32(0.01 * min(weights, default=1.0))
        self.step = max(1, BLOCK_CELLS // self.width)
        rng = np.random.default_rng(len(self.cols) * 7919 + pop.n)
        self.noise = rng.random(self.step * NOISE_STRIDE + self.width, dtype=np.float32) * self.noise_scale

    def scores(self, block: np.ndarray) -> np.ndarray:
        """Raw scores of ``block`` x columns (padded to a multiple of SLICE with -inf), float32."""
        pop = self.pop
        s = np.repeat(self.base[self.type_of[block]], self.counts, axis=1)
        view = s[:, :self.n_cols]
        view += pop.wanted[block] @ self.offered_t
        view += pop.offered[block] @ self.wanted_t
        if self.split_terms:
            for col_codes, codes, weight in self.col_terms:
                if weight:
                    row_codes = codes[block]
                    differ = (row_codes[:, None] != col_codes[None, :]) & (row_codes >= 0)[:, None]
                    differ &= (col_codes >= 0)[None, :]
                    view += differ * weight
        if self.goals_t is not None:
            view += pop.goals[block] @ self.goals_t
        for r_pos, i in enumerate(block.tolist()):
            for j in (i, *pop.excluded.get(i, ())):
                p = self.col_pos.get(j)
                if p is not None:
                    s[r_pos, p] = NEG
        return s

    def candidates(self, rows: np.ndarray, k: int, best_raw: np.ndarray, offset: np.ndarray | None = None,
                   k_offset: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Top ``k`` by weight, or by weight minus ``offset`` when no ``k_offset``; with ``k_offset`` both
        rankings come from the same pass (``k`` by weight plus ``k_offset`` by weight minus offset)."""
        n_slices = self.width // SLICE
        col_offset = None
        if offset is not None:
            col_offset = np.zeros(self.width, dtype=np.float32)
            col_offset[:self.n_cols] = offset[self.cols]
        rankings: list[tuple[int, bool]] = [(k, offset is not None and not k_offset)]
        if offset is not None and k_offset:
            rankings.append((k_offset, True))

        def one_block(start: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
            block = rows[start:start + self.step]
            s = self.scores(block)
            best_raw[start:start + len(block)] = s.max(axis=1)
            _penalise(self.pop, s, block, self.col_pos)
            noise = np.lib.stride_tricks.as_strided(
                self.noise[(start % 7) * len(block):], shape=(len(block), self.width),
                strides=(NOISE_STRIDE * self.noise.itemsize, self.noise.itemsize), writeable=False)
            s += noise
            shifted = False
            found_r, found_c = [], []
            for count, use_offset in rankings:
                if use_offset and not shifted and col_offset is not None:
                    s -= col_offset
                    shifted = True
                kk = min(count, n_slices)
                sliced = s.reshape(len(block), n_slices, SLICE)
                inner = sliced.argmax(axis=2)  # best column of every slice
                slice_best = np.take_along_axis(sliced, inner[:, :, None], axis=2)[:, :, 0]
                top = np.argpartition(-slice_best, kk - 1, axis=1)[:, :kk]
                pos = top * SLICE + np.take_along_axis(inner, top, axis=1)
                keep = np.isfinite(np.take_along_axis(slice_best, top, axis=1))
                found_r.append(np.broadcast_to(block[:, None], pos.shape)[keep])
                found_c.append(self.cols[pos[keep]])
            return found_r, found_c

        starts = list(range(0, len(rows), self.step))
        if len(starts) > 1 and THREADS > 1:
            # numpy and scipy release the GIL in these kernels; map keeps block order, so results are identical.
            with ThreadPoolExecutor(max_workers=THREADS) as pool:
                results = list(pool.map(one_block, starts))
        else:
            results = [one_block(start) for start in starts]
        out_r = [x for found_r, _ in results for x in found_r]
        out_c = [x for _, found_c in results for x in found_c]
        r = np.concatenate(out_r).astype(np.int64)
        c = np.concatenate(out_c).astype(np.int64)
        # Exact float64 weights (the float32 ranking carried tie-breaking noise).
        return r, c, self.pop.pair_weights(r, c, mentee_rows=self.mentee_rows), best_raw


DENSE_CELLS = 4_000_000  # up to 2,000 x 2,000: a 32 MB dense cost matrix


def solve_assignment(graph: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
    """Minimum-cost assignment of every row of ``graph`` (r <= c; missing entries are forbidden).

    Problems up to ``DENSE_CELLS`` use scipy's dense LAPJV (``linear_sum_assignment``): scipy 1.17's sparse
    LAPJVsp looped forever on a feasible 11 x 11 graph from the property test (and perturbing the costs did
    not make it reliable). Larger rounds keep the sparse solver, which the benchmarks run at 10,000-50,000
    people; its candidate graphs there are far from the tiny, tie-heavy ones that trip it.
    """
    r, c = graph.shape
    if r * c <= DENSE_CELLS:
        coo = graph.tocoo()
        dense = np.full((r, c), np.inf)
        dense[coo.row, coo.col] = coo.data
        row_ind, col_ind = linear_sum_assignment(dense)
        return row_ind, col_ind
    row_ind, col_ind = min_weight_full_bipartite_matching(graph)
    return np.asarray(row_ind), np.asarray(col_ind)


def with_priority(pop: Population, a: np.ndarray, b: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Fairness: edges of people with credit (a trio, bye or weak match before) weigh more."""
    if not pop.priority.any():
        return w
    credit = np.minimum(pop.priority, 3)
    both = credit[a] + credit[b]
    return w + PRIORITY_SHARE * both * np.maximum(w, 0) + PRIORITY_BONUS * both


def max_weight_pairs(nodes: np.ndarray, a: np.ndarray, b: np.ndarray, w: np.ndarray
                     ) -> tuple[list[tuple[int, int]], list[int]]:
    """A heavy matching of ``nodes`` using edges (a, b, w) between them; returns pairs and unpaired nodes."""
    m = len(nodes)
    if m == 0:
        return [], []
    order = np.argsort(nodes, kind="stable")
    sorted_nodes = nodes[order]
    keys = np.zeros(0, dtype=np.int64)
    if len(a):
        la = order[np.searchsorted(sorted_nodes, a)]
        lb = order[np.searchsorted(sorted_nodes, b)]
        lo, hi = np.minimum(la, lb), np.maximum(la, lb)
        keep = lo != hi
        lo, hi, ww = lo[keep], hi[keep], w[keep]
        keys, first = np.unique(lo * m + hi, return_index=True)  # both directions give the same weight
        lo, hi, ww = lo[first], hi[first], ww[first]
    else:
        lo = hi = np.zeros(0, dtype=np.int64)
        ww = np.zeros(0)
    top = float(ww.max()) if len(ww) else 0.0
    bottom = float(ww.min()) if len(ww) else 0.0
    cost = (top - ww) + 1.0
    alone = 2.0 * (top - bottom + 1.0) + 1.0  # being unpaired costs more than any pair of edges
    rows = np.concatenate([lo, hi, np.arange(m)])
    cols = np.concatenate([hi, lo, np.arange(m)])
    data = np.concatenate([cost, cost, np.full(m, alone)])
    graph = sp.csr_matrix((data, (rows, cols)), shape=(m, m))
    _, perm = solve_assignment(graph)

    def edge(x: int, y: int) -> float:
        key = min(x, y) * m + max(x, y)
        return float(ww[int(np.searchsorted(keys, key))])

    pairs: list[tuple[int, int]] = []
    alone_nodes: list[int] = []
    seen = np.zeros(m, dtype=bool)
    perm_list = perm.tolist()
    for start in range(m):
        if seen[start]:
            continue
        cycle = [start]
        seen[start] = True
        nxt = perm_list[start]
        while nxt != start:
            cycle.append(nxt)
            seen[nxt] = True
            nxt = perm_list[nxt]
        length = len(cycle)
        if length == 1:
            alone_nodes.append(start)
            continue
        if length == 2:
            pairs.append((cycle[0], cycle[1]))
            continue
        edges = [edge(cycle[t], cycle[(t + 1) % length]) for t in range(length)]
        if length % 2 == 0:
            even = sum(edges[0::2])
            odd = sum(edges[1::2])
            offset = 0 if even >= odd else 1
            pairs.extend((cycle[(offset + t) % length], cycle[(offset + t + 1) % length])
                         for t in range(0, length, 2))
            continue
        # Odd cycle: leave out the person j whose path j+1 .. j-1 (even) keeps the most weight.
        doubled = edges + edges
        alt = [0.0] * (2 * length)  # alt[t] = doubled[t] + doubled[t-2] + ...
        for t in range(2 * length):
            alt[t] = doubled[t] + (alt[t - 2] if t >= 2 else 0.0)
        half = (length - 1) // 2
        best_j, best_val = 0, -np.inf
        for j in range(length):
            first_e, last_e = j + 1, j + 1 + 2 * (half - 1)
            val = alt[last_e] - (alt[first_e - 2] if first_e >= 2 else 0.0)
            if val > best_val:
                best_j, best_val = j, val
        alone_nodes.append(cycle[best_j])
        for t in range(half):
            x = cycle[(best_j + 1 + 2 * t) % length]
            y = cycle[(best_j + 2 + 2 * t) % length]
            pairs.append((x, y))
    return ([(int(nodes[x]), int(nodes[y])) for x, y in pairs], [int(nodes[x]) for x in alone_nodes])


def assign_to_slots(row_nodes: np.ndarray, col_nodes: np.ndarray, capacity: np.ndarray, a: np.ndarray,
                    b: np.ndarray, w: np.ndarray) -> tuple[list[tuple[int, int]], list[int]]:
    """Assign each row (mentee) to at most one column (mentor) with capacity; returns (row, col) and unassigned."""
    r = len(row_nodes)
    if r == 0:
        return [], []
    row_pos = {int(x): p for p, x in enumerate(row_nodes.tolist())}
    col_pos = {int(x): p for p, x in enumerate(col_nodes.tolist())}
    slot_start = np.concatenate([[0], np.cumsum(capacity)]).astype(np.int64)
    n_slots = int(slot_start[-1])
    keep = [(row_pos[int(x)], col_pos[int(y)], float(v)) for x, y, v in zip(a.tolist(), b.tolist(), w.tolist(),
                                                                              strict=True)
            if int(x) in row_pos and int(y) in col_pos and capacity[col_pos[int(y)]] > 0]
    top = max((v for _, _, v in keep), default=0.0)
    bottom = min((v for _, _, v in keep), default=0.0)
    alone = (top - bottom + 1.0) + SLOT_STEP * int(capacity.max(initial=1)) + 1.0
    rows_l: list[int] = []
    cols_l: list[int] = []
    data_l: list[float] = []
    for rp, cp, v in keep:
        for t in range(int(capacity[cp])):
            rows_l.append(rp)
            cols_l.append(int(slot_start[cp]) + t)
            data_l.append((top - v) + 1.0 + SLOT_STEP * t)
    rows_l.extend(range(r))
    cols_l.extend(range(n_slots, n_slots + r))
    data_l.extend([alone] * r)
    graph = sp.csr_matrix((np.array(data_l), (np.array(rows_l, dtype=np.int64), np.array(cols_l, dtype=np.int64))),
                          shape=(r, n_slots + r))
    row_ind, col_ind = solve_assignment(graph)
    slot_owner = np.repeat(np.arange(len(col_nodes)), capacity)
    assigned: list[tuple[int, int]] = []
    unassigned: list[int] = []
    for rp, sc in zip(row_ind.tolist(), col_ind.tolist(), strict=True):
        if sc >= n_slots:
            unassigned.append(int(row_nodes[rp]))
        else:
            assigned.append((int(row_nodes[rp]), int(col_nodes[slot_owner[sc]])))
    return assigned, unassigned


def improve_pairs(pop: Population, pairs: list[tuple[int, int]], alone: list[int], a: np.ndarray, b: np.ndarray,
                  max_passes: int = 6) -> tuple[list[tuple[int, int]], list[int]]:
    """Local search after the assignment: augment through a pair to pair up leftovers, then 2-opt swaps.

    Augmenting: leftover u, pair (x, y), leftover v becomes (u, x), (y, v) when both are feasible. Swaps: for
    every candidate edge (x, c) between two pairs (x, y), (c, d), replace them by (x, c), (y, d) when that
    weighs more; improving swaps that touch disjoint pairs are applied together, pass after pass.
    """
    partner = np.full(pop.n, -1, dtype=np.int64)
    for p, q in pairs:
        partner[p], partner[q] = q, p
    alone = _augment(pop, partner, alone, a, b)
    keys = np.unique(np.minimum(a, b) * pop.n + np.maximum(a, b))
    src, dst = keys // pop.n, keys % pop.n
    w_edge = _weights(pop, src, dst)
    for _ in range(max_passes):
        matched = np.flatnonzero(partner >= 0)
        current = np.full(pop.n, -np.inf)
        current[matched] = _weights(pop, matched, partner[matched])
        ceiling = float(current[matched].max()) if len(matched) else 0.0  # no pair beats the best current one
        ok = ((partner[src] >= 0) & (partner[dst] >= 0) & (partner[src] != dst)
              & (w_edge + ceiling - current[src] - current[dst] > 1e-6))
        x, c, w_xc = src[ok], dst[ok], w_edge[ok]
        if not len(x):
            break
        y, d = partner[x], partner[c]
        gain = w_xc + _weights(pop, y, d) - current[x] - current[c]
        better = np.flatnonzero(np.isfinite(gain) & (gain > 1e-6))
        if not len(better):
            break
        touched = np.zeros(pop.n, dtype=bool)
        applied = 0
        for k in better[np.argsort(-gain[better], kind="stable")].tolist():
            quad = (int(x[k]), int(y[k]), int(c[k]), int(d[k]))
            if touched[list(quad)].any():
                continue
            touched[list(quad)] = True
            xx, yy, cc, dd = quad
            partner[xx], partner[cc], partner[yy], partner[dd] = cc, xx, dd, yy
            applied += 1
        if not applied:
            break
    out = sorted({(int(min(i, partner[i])), int(max(i, partner[i]))) for i in np.flatnonzero(partner >= 0)})
    return out, alone


def _weights(pop: Population, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return with_priority(pop, x, y, pop.pair_weights(x, y))


def _augment(pop: Population, partner: np.ndarray, alone: list[int], a: np.ndarray, b: np.ndarray) -> list[int]:
    """Pair up leftovers u and v through a pair (x, y): (u, x) and (y, v), best total weight first."""
    left = sorted(alone)
    if len(left) < 2:
        return left
    src = np.concatenate([a, b])
    dst = np.concatenate([b, a])
    order = np.argsort(src, kind="stable")
    src, dst = src[order], dst[order]
    changed = True
    while changed and len(left) >= 2:
        changed = False
        for u in list(left):
            lo, hi = np.searchsorted(src, u), np.searchsorted(src, u, side="right")
            xs = dst[lo:hi]
            xs = xs[partner[xs] >= 0]
            others = np.array([v for v in left if v != u], dtype=np.int64)
            if not len(xs) or not len(others):
                continue
            ys = partner[xs]
            first = _weights(pop, np.full(len(xs), u), xs) - _weights(pop, xs, ys)
            second = _weights(pop, np.repeat(ys, len(others)), np.tile(others, len(xs))).reshape(len(xs), -1)
            total = first[:, None] + second
            if not np.isfinite(total).any():
                continue
            k, m = np.unravel_index(int(np.argmax(total)), total.shape)
            x, y, v = int(xs[k]), int(ys[k]), int(others[m])
            partner[u], partner[x], partner[y], partner[v] = x, u, v, y
            left = [p for p in left if p not in (u, v)]
            changed = True
            break
    return left
