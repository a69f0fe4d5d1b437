"""How the parsers' formats are scored on a column's sample: every candidate's count as if
each were counted on its own, and a number column's parser chosen once per load."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from conftest import LOADED_AT, line, write_csv

from loyalist.ingest import ingest_files, parse
from loyalist.store import Store

#: a date column as two systems' exports appended, with a totals row and a blank
DATES = (["2024-01-02 10:00:00"] * 3 + ["03/01/2024 09:30", "13/01/2024 09:30", "01/13/2024",
          "2 janvier 2024", "June 30th, 2024", "45293", "1704189600", "Total", "",
          "12/31/10 2:05 p. m.", "[30/Jun/2024:14:05:07 +0000]", "2024-02-30 10:00:00"])


def _column(values: list[str]) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("CREATE TABLE t (x VARCHAR)")
    con.executemany("INSERT INTO t VALUES (?)", [[v] for v in values])
    return con


def _one_by_one(con: duckdb.DuckDBPyConnection, exprs: list[str], plausible: str) -> list[int]:
    """Each candidate counted on its own over the sample (what the scoring must equal)."""
    sample = parse._sample("t", "x")
    return [con.execute(f"SELECT count(*) FROM {sample} WHERE "
                        f"{plausible.replace('{e}', e.replace('{x}', 'v'))}").fetchall()[0][0]
            for e in exprs]


def test_every_date_format_is_counted_as_if_on_its_own() -> None:
    con = _column(DATES)
    exprs = ["TRY_CAST(trim(CAST({x} AS VARCHAR)) AS TIMESTAMP)"] + [
        f"try_strptime(trim(CAST({{x}} AS VARCHAR)), '{f}')" for f in parse.DATE_FORMATS]
    values = f"SELECT v FROM {parse._sample('t', 'x')}"
    counts, total, unread = parse._weighted_counts(con, values, exprs, parse.PLAUSIBLE_DATE,
                                                   unread=True)
    expected = _one_by_one(con, exprs, parse.PLAUSIBLE_DATE)
    assert counts == expected and sum(expected) > 5
    assert total == len(DATES) - 1  # the blank is no value
    parsed_any = con.execute(
        f"SELECT count(*) FROM {parse._sample('t', 'x')} WHERE "
        + " OR ".join(f"coalesce({parse.PLAUSIBLE_DATE.replace('{e}', e.replace('{x}', 'v'))},"
                      " FALSE)" for e in exprs)).fetchall()[0][0]
    assert unread == total - parsed_any > 0  # 'Total', 30 February, ...


@pytest.mark.parametrize("first", [None, 2, 5, 100])
def test_a_sample_within_the_first_values_is_ranked_as_the_whole(first: int | None) -> None:
    """Ranked on the first values only, then the whole sample when it is longer: the same
    ranking as every candidate on the whole sample wherever the first values' formats read
    it all, and a sample no longer than ``first`` is its own first values."""
    con = _column(["03/01/2024 09:30", "13/01/2024 09:30", "04/01/2024 10:00",
                   "2024-01-05 08:00:00"] * 3)
    exprs = [f"try_strptime(trim(CAST({{x}} AS VARCHAR)), '{f}')" for f in parse.DATE_FORMATS]
    got = parse._ranked(con, "t", "x", exprs, parse.PLAUSIBLE_DATE, first=first)
    whole = parse._ranked(con, "t", "x", exprs, parse.PLAUSIBLE_DATE)
    assert got == whole
    assert got[0] == ("try_strptime(trim(CAST({x} AS VARCHAR)), '%d/%m/%Y %H:%M')", 9)


def test_number_candidates_count_their_values() -> None:
    con = _column(["1,234.50", "3,50", "2.5", "abc", "1,000", "-7"])
    exprs = ["TRY_CAST(trim(CAST({x} AS VARCHAR)) AS DOUBLE)",
             "TRY_CAST(replace(trim(CAST({x} AS VARCHAR)), ',', '') AS DOUBLE)",
             "TRY_CAST(replace(trim(CAST({x} AS VARCHAR)), ',', '.') AS DOUBLE)"]
    values = f"SELECT v FROM {parse._sample('t', 'x')}"
    counts, total, unread = parse._weighted_counts(con, values, exprs, "{e} IS NOT NULL")
    assert counts == _one_by_one(con, exprs, "{e} IS NOT NULL") == [2, 5, 4]
    assert (total, unread) == (6, 0)  # unread is only counted when asked


def test_a_number_column_is_sampled_once_per_load(tmp_path: Path) -> None:
    """The units and price checks and the staging ask for the same column's parser (and its
    units, and a date column's traits): within one load its sample is read once for each;
    outside a load, every call reads it."""
    con = _column(["3,50", "1.234,50", "2"])
    seen: list[str] = []

    class Counting:
        def execute(self, sql: str, *a: object) -> duckdb.DuckDBPyConnection:
            seen.append(sql)
            return con.execute(sql, *a)

    counting = Counting()
    with parse.one_load():
        first = parse.number_expr(counting, "t", "x", "VARCHAR")  # type: ignore[arg-type]
        n = len(seen)
        assert parse.number_expr(counting, "t", "x", "VARCHAR") == first  # type: ignore[arg-type]
        assert len(seen) == n > 0
        units = parse.sampled_units(counting, "t", "x")  # type: ignore[arg-type]
        traits = parse._date_traits(counting, "t", "x")  # type: ignore[arg-type]
        assert len(seen) == n + 1  # the units were read for the parser; one query: the traits
        assert (parse.sampled_units(counting, "t", "x"),  # type: ignore[arg-type]
                parse._date_traits(counting, "t", "x")) == (units, traits)  # type: ignore[arg-type]
        assert len(seen) == n + 1
    assert parse.number_expr(counting, "t", "x", "VARCHAR") == first  # type: ignore[arg-type]
    assert len(seen) == 2 * n + 1
    # two loads of files with the same view and column names: each file's own parser
    comma = write_csv(tmp_path / "comma.csv", [line(order=f"o{i}", price=f"{i},50")
                                               for i in range(1, 4)])
    point = write_csv(tmp_path / "point.csv", [line(order=f"p{i}", price=f"1,00{i}.50")
                                               for i in range(1, 4)])
    st = Store(tmp_path / "s.duckdb")
    for f in (comma, point):
        ingest_files(st, [f], loaded_at=LOADED_AT)
    assert sorted(st.query("SELECT unit_price FROM transactions").unit_price) == [
        1.5, 2.5, 3.5, 1001.5, 1002.5, 1003.5]
