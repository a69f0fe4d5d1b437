"""Promotion planning: budget-optimal choice of at most one promotion per customer.

- :func:`solve`: Lagrangian relaxation with hull greedy and repair (large), exact HiGHS MILP
  (small), or a naive greedy baseline, each with a proven bound and gap.
- :func:`sensitivity`: value, spend and ROI across budgets from one hull.
- :func:`synthetic_problem`: a realistic random :class:`Problem` for tests and examples.
"""

from loyalist.promote.optimize import (
    Problem,
    Solution,
    greedy_baseline,
    sensitivity,
    solve,
    synthetic_problem,
)

__all__ = ["Problem", "Solution", "greedy_baseline", "sensitivity", "solve", "synthetic_problem"]
