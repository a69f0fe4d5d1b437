"""One exception hierarchy for the whole package, and the one check of a number of days that
every command's ``--horizon`` / ``--test-days`` and the library's ``horizon`` parameters share
(:func:`check_days`, :func:`is_whole_number`).

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


class DateRangeError(ParameterError, DataError):
    """A date parameter (``as_of``, a window's end) lies where the data cannot support it: a
    parameter error (HTTP 422, like any other impossible argument) about the data's range."""


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


def is_whole_number(value: object) -> bool:
    """True for an integer of any kind (``int``, ``numpy.int64``, ... any
    :class:`numbers.Integral`) except a bool: ``True`` is not a number of days."""
    import numbers

    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def check_days(value: object, option: str, *, max_days: int, example: int) -> int:
    """A number of days given as ``option``: a whole number (any :class:`numbers.Integral`
    but bool, see :func:`is_whole_number`) from 1 to ``max_days``; anything else is a
    ParameterError naming the option and its range (before a date is computed from it: 100,000
    days overflow a timestamp).

    ``option`` is the name the caller knows: a command-line option (``--horizon``,
    ``--test-days``), whose example then reads ``e.g. --horizon 30``, or a library parameter
    (``horizon``), whose example is the bare number, so the line reads right from Python."""
    example_text = f"{option} {example}" if option.startswith("-") else f"{example}"
    if not is_whole_number(value):
        raise ParameterError(f"{option} {value!r} must be a whole number of days (1 to "
                             f"{max_days:,}), e.g. {example_text}")
    days = int(value)  # type: ignore[call-overload]
    if not 1 <= days <= max_days:
        raise ParameterError(f"{option} {days} is impossible: it must be between 1 and "
                             f"{max_days:,} days, e.g. {example_text}")
    return days
