"""The assignment kernel finishes: scipy's sparse LAPJVsp looped forever on this feasible 11 x 11 graph,
so graphs of this size go to the dense solver. A hang inside C cannot be interrupted by pytest-timeout,
so the solve runs in a subprocess with a limit.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
# Found by the matching property test (hypothesis seed 7): costs full of ties, the diagonal always feasible.
GRAPH = [
    [25.0, 0.0, 12.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
    [0.0, 25.0, 0.0, 0.0, 0.0, 12.0, 0.0, 5.8, 12.0, 9.0, 12.0],
    [12.0, 0.0, 25.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
    [0.0, 0.0, 0.0, 25.0, 0.0, 0.0, 0.0, 0.0, 12.0, 0.0, 9.0],
    [0.0, 0.0, 0.0, 0.0, 25.0, 0.0, 12.0, 0.0, 0.0, 0.0, 0.0],
    [0.0, 12.0, 0.0, 0.0, 0.0, 25.0, 0.0, 0.0, 12.0, 12.0, 9.0],
    [0.0, 0.0, 0.0, 0.0, 12.0, 0.0, 25.0, 0.0, 0.0, 0.0, 0.0],
    [0.0, 5.8, 0.0, 0.0, 0.0, 0.0, 0.0, 25.0, 1.0, 0.0, 9.0],
    [0.0, 12.0, 0.0, 12.0, 0.0, 12.0, 0.0, 1.0, 25.0, 12.0, 3.0],
    [0.0, 9.0, 0.0, 0.0, 0.0, 12.0, 0.0, 0.0, 12.0, 25.0, 9.0],
    [0.0, 12.0, 0.0, 9.0, 0.0, 9.0, 0.0, 9.0, 3.0, 9.0, 25.0],
]

SOLVE = """
import numpy as np
import scipy.sparse as sp
from teams_app.domain.matching import solver
graph = sp.csr_matrix(np.array({graph}))
rows, cols = solver.solve_assignment(graph)
dense = np.array({graph})
assert sorted(cols.tolist()) == list(range(dense.shape[0])), cols
assert all(dense[r, c] > 0 for r, c in zip(rows, cols)), "only existing edges"
print(round(float(sum(dense[r, c] for r, c in zip(rows, cols))), 6))
"""


def test_assignment_of_a_tie_heavy_graph_finishes_with_the_optimal_cost() -> None:
    done = subprocess.run([sys.executable, "-c", SOLVE.format(graph=GRAPH)], cwd=REPO,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert float(done.stdout) == pytest.approx(101.0)  # the optimum, from the dense solver
