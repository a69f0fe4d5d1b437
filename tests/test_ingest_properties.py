"""Property tests: whatever the rows, loaded + quarantined = read, and loads are idempotent."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd
from conftest import LOADED_AT
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loyalist.errors import DataError
from loyalist.ingest import ingest_files
from loyalist.store import Store

cell_qty = st.one_of(st.integers(-5, 5), st.sampled_from(["", "x", "1e9", "2.5", "nan"]))
cell_price = st.one_of(st.floats(-10, 100, allow_nan=False).map(lambda v: round(v, 2)),
                       st.sampled_from(["", "abc", "0", "3,50"]))
cell_date = st.sampled_from(["2024-01-01 10:00:00", "2024-01-02", "", "garbage",
                             "2024-02-30 10:00:00", "2024-03-05 23:59:59"])
row = st.fixed_dictionaries({
    "order_id": st.sampled_from(["o1", "o2", "o3", "", "C9"]),
    "product_id": st.sampled_from(["a", "b", "", "POST"]),
    "quantity": cell_qty, "unit_price": cell_price,
    "customer_id": st.sampled_from(["c1", "c2", "", "17850.0"]),
    "ordered_at": cell_date,
})


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(row, min_size=1, max_size=40))
def test_counts_add_up_and_reload_adds_nothing(rows: list[dict[str, object]]) -> None:
    with tempfile.TemporaryDirectory() as d:
        f = Path(d) / "t.csv"
        pd.DataFrame(rows).astype(str).to_csv(f, index=False)
        s = Store(Path(d) / "s.duckdb")
        try:
            r = ingest_files(s, [f], loaded_at=LOADED_AT)[0]
        except DataError as e:  # a mostly-bad column is refused as a whole: store untouched
            assert "cannot be read" in str(e) or "is empty in all" in str(e)
            assert s.count("transactions") == s.count("quarantine") == s.count("loads") == 0
            return
        assert r["rows_loaded"] + r["rows_quarantined"] == r["rows_read"] == len(rows)
        assert s.count("transactions") == r["rows_loaded"]
        assert s.count("quarantine") == r["rows_quarantined"]
        assert sum(v for k, v in r["rules"].items()
                   if k not in ("cancellation", "return", "non_product", "guest")
                   ) == r["rows_quarantined"]
        n = s.count("transactions")
        # the same rows again under another file name (different path, same content)
        g = Path(d) / "copy.csv"
        g.write_bytes(f.read_bytes() + b"")
        ingest_files(s, [g], loaded_at=LOADED_AT)
        assert s.count("transactions") == n
        # the same rows in a file that differs by one extra good line: only that line lands
        h = Path(d) / "more.csv"
        extra = {"order_id": "new", "product_id": "new", "quantity": "1", "unit_price": "9",
                 "customer_id": "c9", "ordered_at": "2024-06-01 10:00:00"}
        pd.DataFrame(rows + [extra]).astype(str).to_csv(h, index=False)
        try:
            ingest_files(s, [h], loaded_at=LOADED_AT)
        except DataError as e:
            assert "cannot be read" in str(e)
            return
        assert s.count("transactions") == n + 1
        s.close()


@settings(max_examples=300, deadline=None)
@given(data=st.lists(st.sampled_from([b"a", b"Z", b"7", b" ", b"\t", b"\r", b"\n", b"\x0b",
                                      b"\x0c", b";", b",", b"|", b'"', b"'", b"\x80", b"\xe4",
                                      b"\xff", b"\xc3\xa4"]), max_size=60).map(b"".join))
def test_non_ascii_words_are_the_words_with_a_non_ascii_byte(data: bytes) -> None:
    """The words with a non-ASCII byte are found a line at a time, ASCII lines passed over;
    they are what the pattern that defines them finds: maximal runs of bytes other than
    white space, quotes and delimiters that hold a byte of 0x80 or more."""
    import re

    from loyalist.ingest.text import non_ascii_words

    assert non_ascii_words(data) == set(re.findall(rb"[^\s;,|\"]*[\x80-\xff][^\s;,|\"]*", data))
