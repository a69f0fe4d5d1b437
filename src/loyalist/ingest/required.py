"""Whether a file's columns, as its adapter maps them, make sales lines: every required
canonical column comes from a source column or is derived, else one error saying which are
missing and how to name them (with a hint for order lines without their orders, order headers
without lines, a clickstream without prices, or a file without a header row), or that the
file is no sales lines at all and which other table it may be loaded as.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

from loyalist import schema as s
from loyalist.errors import DataError
from loyalist.ingest.adapters import Adapter, guest_lines, is_positional
from loyalist.ingest.read import UNNAMED


def not_sales_lines(cols: Mapping[str, str]) -> str | None:
    """Why a file with the canonical columns ``cols`` (as
    :func:`~loyalist.ingest.adapters.generic` finds them) is clearly
    no sales lines, or None when it may be: it is not order lines (order id and product), not
    order headers (order id, customer and date), and has no price or line total beside a date,
    customer or product, so no ``--map`` of its own columns can make it sales lines (payments
    per order, campaign definitions, reviews, a coupon or seller list)."""
    have = set(cols)
    if {s.ORDER_ID, s.PRODUCT_ID} <= have or {s.ORDER_ID, s.CUSTOMER_ID, s.ORDERED_AT} <= have:
        return None
    if s.QUANTITY in have:  # sales lines whose other columns have names of their own: --map
        return None
    money = bool({s.UNIT_PRICE, s.AMOUNT} & have)
    if money and have & {s.ORDERED_AT, s.CUSTOMER_ID, s.PRODUCT_ID}:
        return None
    if money:
        return "it has a sum but no product, customer or date column"
    lacks = [w for c, w in ((s.PRODUCT_ID, "product"), (s.ORDERED_AT, "date"))
             if c not in have]
    return "it has no price or line total" + (
        f" and no {' or '.join(lacks)} column" if lacks else " column")


#: the --table choices a file that is no sales lines may be loaded as
OTHER_TABLES = "customers|products|promotions|promotion_catalog|competitor_events|inventory"


def check_required(adapter: Adapter, headers: Sequence[str], file: str,
                   first_row: Sequence[object] | None = None,
                   dated: Sequence[str] = (), empty: Collection[str] = ()) -> None:
    """Every required canonical column must come from a source column or be derived.
    ``first_row``: the file's first values, shown when its columns are named by position (a
    file without a header row) so the message says which is which; ``dated``: the columns
    whose values are dates, named when the order date is missing; ``empty``: the columns
    without a value in any row (never guessed), named beside the file's columns."""
    have = set(adapter.columns) | set(adapter.derived)
    if adapter.name == "generic" and guest_lines(adapter.columns):
        have.add(s.CUSTOMER_ID)  # every line a guest line, as generic's report says
    missing = [c for c in s.TRANSACTION_REQUIRED if c not in have]
    if s.UNIT_PRICE in missing and adapter.amount_given:
        missing.remove(s.UNIT_PRICE)
    if s.UNIT_PRICE in missing and s.QUANTITY in missing:
        missing.remove(s.QUANTITY)  # a line total alone would do: one unit per line
    if s.CUSTOMER_ID in missing or s.ORDERED_AT in missing:
        # an order id and a product are derived once the customer and the date are mapped
        missing = [c for c in missing if c not in (s.ORDER_ID, s.PRODUCT_ID)]
    unnamed = [h for h in headers if h.startswith(UNNAMED)]
    if missing and len(unnamed) >= 2 and not headers[0].startswith(UNNAMED):
        raise DataError(
            f"{file}: missing required column(s) {', '.join(missing)}; {len(unnamed)} of its "
            f"{len(headers)} column names are empty ({', '.join(headers)}), so the names "
            "seem to span two rows, titles merged over groups of columns above them: write "
            "each column's whole name in one row (the title and the name under it, as "
            "'Receipt No.') and delete the other row, then load it again")
    blank = [h for h in headers if h in empty]
    columns = ", ".join(headers) + (f" ({', '.join(map(repr, blank))} empty in every row)"
                                    if blank else "")
    if missing and not is_positional(headers):
        why = not_sales_lines(adapter.columns)
        if why is not None:
            raise DataError(
                f"{file}: this file does not look like sales lines ({why}; its columns are: "
                f"{columns}); leave it out, or load it with --table "
                f"{OTHER_TABLES} if it is one of those; if it is sales lines whose columns "
                "have names Loyalist does not know, name them with --map, e.g. --map "
                "unit_price=<column> --map ordered_at=<column>")
    if missing:
        names = [c if c != s.UNIT_PRICE else f"{c} (or {s.AMOUNT}, the line total)"
                 for c in missing]
        hint = ""
        if s.ORDERED_AT in missing and dated:
            hint = (f" Its column{'s' if len(dated) > 1 else ''} "
                    f"{', '.join(map(repr, dated))} hold{'' if len(dated) > 1 else 's'} dates: "
                    f"name the order date, e.g. --map {s.ORDERED_AT}={dated[0]}.")
        elif (s.UNIT_PRICE in missing and s.ORDERED_AT in adapter.columns
                and s.PRODUCT_ID in adapter.columns):
            hint = (" The file has dates but no price or line total, so the value of its "
                    "lines is unknown (a clickstream of views and purchases, say): give the "
                    "prices with --map unit_price=<column> (or amount=<column>), or join them "
                    "to the file first.")
        elif s.ORDER_ID in adapter.columns and s.PRODUCT_ID in adapter.columns and (
                s.ORDERED_AT in missing):
            hint = (" It looks like order lines without their orders: give the orders file "
                    "(order id, customer, date) in the same command and the two are joined "
                    "on the order id.")
        elif s.ORDER_ID in adapter.columns and s.UNIT_PRICE in missing and not (
                {s.CUSTOMER_ID, s.ORDERED_AT} & set(missing)):
            hint = (" It looks like order headers without lines or totals: give the "
                    "order-lines file (order id, product, price) in the same command and the "
                    "two are joined on the order id, or map the order total with "
                    "--map amount=<column>.")
        if is_positional(headers):
            shown = [f"{h} = {str(v)[:20]!r}" for h, v in zip(headers, first_row or (),
                                                              strict=False)]
            hint = (" The file has no header row, so its columns are named by position"
                    + (f" (first line: {', '.join(shown)})" if shown else "")
                    + f"; map each one, e.g. --map {missing[0]}={headers[0]}.")
        raise DataError(
            f"{file}: missing required column(s) {', '.join(names)} "
            f"(format {adapter.name}); the file's columns are: {columns}. "
            f"Name them with --map, e.g. --map {missing[0]}=<your column>.{hint}"
        )
