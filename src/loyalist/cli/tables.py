"""The console's tables: compact enough for an 80-column terminal or redirected output.

Rich's default framed table gives every column a border and a cell padding on both sides; a
table of 8-11 columns then no longer fits 80 columns and rich cuts its cells to 'categor…',
'voucher_…' or '0.6…' (a forecast's series, a plan's promotions and a recommender evaluation
all came out so). :func:`compact_table` draws only the rule under the header and leaves one
space between columns; :func:`whole` keeps a column's values whole (names one row is told apart
by), letting the others give way.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rich import box
from rich.table import Table

#: the widest a kept-whole column is made before it may be cut after all
MAX_WHOLE = 40


def compact_table(title: str | None = None, **kw: Any) -> Table:
    """A table without vertical rules or outer frame: one space between columns (the box's
    blank separator; no cell padding)."""
    return Table(title=title, header_style="bold", box=box.SIMPLE_HEAD, show_edge=False,
                 padding=(0, 0), **kw)


def whole(values: Iterable[object], header: str) -> dict[str, Any]:
    """``add_column`` keywords keeping a column's values whole (up to :data:`MAX_WHOLE`)."""
    longest = max([len(str(v)) for v in values] + [len(header)])
    return {"no_wrap": True, "min_width": min(longest, MAX_WHOLE)}
