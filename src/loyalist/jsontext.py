"""The JSON text of every document Loyalist writes: ``--json`` output, ``plan.json``,
``run.json``, ``metrics.json``, quality reports and the plan summaries stored for the API.

Strict JSON (RFC 8259 has no NaN): a number that is not finite, such as the value per spend of
a budget-sensitivity point with nothing spent, is written ``null``, as the API sends it.
Python's ``json`` wrote a bare ``NaN`` there, which ``JSON.parse`` and ``jq`` refuse
(exploratory report 7, I6).
"""

from __future__ import annotations

import json
import math
from typing import Any

__all__ = ["dumps", "finite"]


def dumps(doc: Any, *, indent: int | None = 2) -> str:
    """``doc`` as JSON text: non-finite floats as null, numpy scalars as numbers, any other
    object JSON does not know as its ``str`` (dates, paths)."""
    return json.dumps(finite(doc), indent=indent, default=_plain, allow_nan=False)


def finite(x: Any) -> Any:
    """``x`` with every non-finite float (NaN, infinities) as None, through dicts, lists and
    tuples (a tuple becomes a list), as JSON has it."""
    if isinstance(x, float):  # numpy's float64 too
        return x if math.isfinite(x) else None
    if isinstance(x, dict):
        return {k: finite(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [finite(v) for v in x]
    return x


def _plain(x: Any) -> Any:
    item = getattr(x, "item", None)  # a numpy scalar: its Python number
    if callable(item) and getattr(x, "shape", None) == ():
        return finite(item())
    return str(x)
