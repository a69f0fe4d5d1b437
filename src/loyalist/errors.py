"""One exception hierarchy for the whole package.

Messages name the table/file, column, rule, count, an example and the fix. Entry points turn a
:class:`LoyalistError` into one line and exit code 2; anything else is a bug and keeps its
traceback.
"""

from __future__ import annotations


class LoyalistError(Exception):
    """Base class for every error a user can act on."""


class DataError(LoyalistError):
    """Input data is missing, unreadable, or does not satisfy the contract."""


class ParameterError(LoyalistError, ValueError):
    """An argument is impossible (negative horizon, unknown goal, ...)."""


class NotFittedError(LoyalistError, AttributeError):
    """A model method was called before ``fit``."""


class ConvergenceError(LoyalistError):
    """An optimiser did not converge; the message says what was tried."""


class StoreError(LoyalistError):
    """The DuckDB store is missing, locked, or lacks a table a step needs."""


class ModelVersionError(LoyalistError):
    """A saved model was written by an incompatible version."""


class InfeasibleError(LoyalistError):
    """The constraints of an optimisation admit no solution; the message names which and why."""
