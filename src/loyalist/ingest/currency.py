"""The currency a sales file's amounts are in, and the store's currency kept across loads.

Evidence, strongest first: ``--currency XXX`` (the user's word); a currency column holding
ISO codes (Shopify's ``Currency``); the signs or codes written in the amount cells (£, €,
R$, zł, EUR); a format whose data are documented in one currency (UCI Online Retail: GBP); a
generated scenario's ``scenario.json``. Without any, the currency is unknown (None): nothing
is guessed. ``$`` alone and ``¥`` are taken (USD, JPY) with a note saying what else they may
be; ``kr``, ``Rs`` and ``Fr`` name several currencies and leave it unknown with a note.
Amounts are never converted: a load in another currency than the store's is refused.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from loyalist import money
from loyalist import schema as s
from loyalist.errors import DataError
from loyalist.ingest import parse
from loyalist.ingest.adapters import Adapter, normalise
from loyalist.ingest.read import Source
from loyalist.store import CURRENCY_EVIDENCE_KEY, CURRENCY_KEY, META, stored_currency

#: normalised names of a column giving each line's currency (Shopify's Currency, WooCommerce's
#: Order Currency, currency_code)
COLUMN_NAMES = ("currency", "currencycode", "ordercurrency")

#: what a sign or word written in an amount (upper-cased, as :mod:`parse` strips them) means
SIGNS = {"£": "GBP", "￡": "GBP", "€": "EUR", "¥": "JPY", "￥": "JPY", "₹": "INR", "₩": "KRW",
         "₺": "TRY", "₽": "RUB", "₪": "ILS", "₫": "VND", "฿": "THB", "₦": "NGN", "₱": "PHP",
         "$": "USD", "＄": "USD", "US$": "USD", "R$": "BRL", "A$": "AUD", "AU$": "AUD",
         "NZ$": "NZD", "HK$": "HKD", "C$": "CAD", "CA$": "CAD", "S$": "SGD", "MX$": "MXN",
         "ZŁ": "PLN", "KČ": "CZK", "FT": "HUF", "LEI": "RON", "RM": "MYR", "RP": "IDR",
         "TL": "TRY", "S/": "PEN"}
#: signs taken with a note: what else they are written for
LOOSE = {"$": "$ is written for US, Canadian, Australian and other dollars",
         "＄": "＄ is written for US, Canadian, Australian and other dollars",
         "¥": "¥ is written for the Japanese yen and the Chinese yuan (CNY)",
         "￥": "￥ is written for the Japanese yen and the Chinese yuan (CNY)"}
#: words that name several currencies: the currency stays unknown
UNSURE = {"KR": ("kr", "Swedish, Norwegian, Danish and Icelandic crowns", "SEK (or NOK, DKK)"),
          "RS": ("Rs", "Indian, Pakistani, Sri Lankan and Nepalese rupees", "INR (or PKR)"),
          "FR": ("Fr", "Swiss and CFA francs", "CHF (or XOF, XAF)")}
#: formats whose data are documented in one currency
FORMATS = {"online-retail": "GBP"}  # UCI Online Retail (I and II): a UK retailer, in pounds


@dataclass(frozen=True)
class Found:
    """A file's currency (None: unknown), what showed it, and notes for its report;
    ``unsure``: the notes that a sign names several currencies, which ``--currency``
    settles (so they are left out when it is given)."""

    code: str | None = None
    evidence: str | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)
    unsure: tuple[str, ...] = field(default_factory=tuple)


def detect(con: duckdb.DuckDBPyConnection, src: Source, a: Adapter) -> Found:
    """The currency of one sales file by the evidence in the module's order (``--currency``
    is the caller's)."""
    found = from_column(con, src)
    if found.code:
        return found
    signs = from_amounts(con, src, a)
    notes, unsure = (*found.notes, *signs.notes), signs.unsure
    if signs.code:
        return Found(signs.code, signs.evidence, notes, unsure)
    if a.name in FORMATS:
        return Found(FORMATS[a.name], f"format {a.name}", notes, unsure)
    code = scenario_currency(src.path)
    if code:
        return Found(code, "the generated scenario's scenario.json", notes, unsure)
    return Found(None, None, notes, unsure)


def from_column(con: duckdb.DuckDBPyConnection, src: Source) -> Found:
    """A currency column's ISO codes (letter case ignored): the most common is the file's;
    several are said with the rows in the others (they are added up as they are)."""
    col = next((h for h in src.headers if normalise(h) in COLUMN_NAMES), None)
    if col is None:
        return Found()
    rows = con.execute(
        f"SELECT upper(trim(CAST({parse.q(col)} AS VARCHAR))) AS c, count(*) FROM {src.view} "
        f"WHERE {parse.plain_text_expr(col)} IS NOT NULL GROUP BY c").fetchall()
    counts = Counter({c: int(n) for c, n in rows if money.is_code(c)})
    return _most_common(counts, f"column {col!r}", f"the column {col!r}")


def from_amounts(con: duckdb.DuckDBPyConnection, src: Source, a: Adapter) -> Found:
    """The signs and codes written in the file's text amount columns (unit price, line total):
    numbers stored as numbers carry none, and are not read."""
    cols = [c for c in (a.columns.get(s.UNIT_PRICE), a.columns.get(s.AMOUNT))
            if c in src.types and parse.is_text(src.types[c])]
    for col in cols:
        found = _signs_in(con, src.view, col)
        if found.code or found.notes or found.unsure:
            return found
    return Found()


def _signs_in(con: duckdb.DuckDBPyConnection, view: str, col: str) -> Found:
    x = f"upper(trim(CAST({parse.q(col)} AS VARCHAR)))"
    token = (f"coalesce(nullif(regexp_extract({x}, '{parse.CURRENCY_BEFORE}', 2), ''), "
             f"nullif(regexp_extract({x}, '{parse.CURRENCY_AFTER}', 1), ''), "
             f"nullif(regexp_extract({x}, '{parse.CURRENCY_CODES}', 1), ''), "
             f"nullif(regexp_extract({x}, '[{parse.CURRENCY_SIGNS}]', 0), ''))")
    rows = con.execute(f"SELECT {token} AS t, count(*) FROM {view} WHERE t IS NOT NULL "
                       "GROUP BY t ORDER BY 2 DESC, 1").fetchall()
    codes: Counter[str] = Counter()
    unsure: list[str] = []
    for tok, n in rows:
        code = SIGNS.get(tok) or (tok if money.is_code(tok) else None)
        if code:
            codes[code] += int(n)
        elif tok in UNSURE:
            word, what, which = UNSURE[tok]
            unsure.append(f"{word!r} in column {col!r} is written for {what}: the currency is "
                          f"left unknown; give it with --currency {which}")
    if not codes:
        return Found(None, None, (), tuple(unsure))
    best = codes.most_common(1)[0][0]
    sign = next(t for t, _ in rows if (SIGNS.get(t) or t) == best)
    unsure += [f"{t} in column {col!r} read as {best}: {LOOSE[t]}; if the amounts are in "
               "another, give it with --currency (e.g. --currency CAD)"
               for t, _ in rows if t in LOOSE and SIGNS[t] == best]
    found = _most_common(codes, f"{sign} in column {col!r}", f"the column {col!r}")
    return Found(found.code, found.evidence, found.notes, tuple(unsure))


def _most_common(counts: Counter[str], evidence: str, where: str) -> Found:
    """The most common code of ``counts`` (code -> rows), with a note when there are
    several."""
    if not counts:
        return Found()
    (best, _), *others = counts.most_common()
    if not others:
        return Found(best, evidence)
    n = sum(c for _, c in others)
    listed = ", ".join(f"{c} on {k:,} row{'' if k == 1 else 's'}"
                       for c, k in counts.most_common(10))
    return Found(best, evidence, (
        f"{where} holds {len(counts)} currencies ({listed}): {best}, the most common, is the "
        f"store's, and the {n:,} row(s) in the others are added up as they are, without "
        f"exchange rates; convert them to {best} before loading for revenue, value and plans "
        "in one currency",))


def scenario_currency(path: Path) -> str | None:
    """The currency of a file written by ``loyalist generate``: the ``currency`` of the
    ``scenario.json`` beside it that names it among its ``files``."""
    meta = Path(path).parent / "scenario.json"
    try:
        data = json.loads(meta.read_text(encoding="utf-8"))
        named = set((data.get("files") or {}).values())
    except (OSError, ValueError, AttributeError):
        return None
    code = data.get("currency")
    return code if Path(path).name in named and money.is_code(code) else None


@dataclass
class Keeper:
    """The store's currency through one load: checks each file's against it and records a
    new one. ``given``: ``--currency``; ``store``: the store's name in messages."""

    store: str
    given: str | None
    code: str | None = None
    evidence: str | None = None
    #: the file that set the currency in this load (None: the store's, or --currency)
    source: str | None = None
    changed: bool = False

    @classmethod
    def open(cls, con: duckdb.DuckDBPyConnection, store: str, given: str | None) -> Keeper:
        code, evidence = stored_currency(con)
        keeper = cls(store, given, code, evidence)
        if given:
            keeper.take(given, "--currency", None)
        return keeper

    def take(self, code: str, evidence: str, file: str | None) -> None:
        """Record ``code`` for the store, refusing one that differs from what it holds."""
        if self.code is None:
            self.code, self.evidence, self.source, self.changed = code, evidence, file, True
            return
        if code == self.code:
            return
        held = (f"{self.source} is in {self.code} ({self.evidence})" if self.source else
                f"{self.store} holds amounts in {self.code} ({self.evidence})")
        what = (f"{file}'s amounts are in {code} ({evidence})" if file else
                f"--currency says the amounts are in {code}")
        raise DataError(
            f"{held}, and {what}; nothing was loaded: amounts are "
            f"never converted. Load it into a store of its own (--store other.duckdb), or, if "
            f"its amounts are in fact {self.code}, say so with --currency {self.code}")

    def file(self, report: dict[str, Any]) -> None:
        """One sales file's report, holding the currency found in it (``currency``,
        ``currency_evidence``: :func:`detect`), checked against the store's and completed:
        ``--currency`` over what was found, the store's where nothing was."""
        code, evidence = report.get("currency"), report.get("currency_evidence")
        unsure = report.pop("currency_unsure", [])
        if self.given:  # it settles what a sign may mean: those notes are left out
            if code and code != self.given:
                report.setdefault("assumptions", []).append(
                    f"the amounts look like {code} ({evidence}); read as {self.given}, as "
                    "--currency says")
            code, evidence = self.given, "--currency"
        else:
            report.setdefault("assumptions", []).extend(unsure)
        if code:
            self.take(code, str(evidence), str(report.get("file")))
        elif self.code:
            code, evidence = self.code, f"the store's ({self.evidence})"
        report["currency"], report["currency_evidence"] = code, evidence

    def save(self, con: duckdb.DuckDBPyConnection) -> None:
        """Record a currency this load set (inside the load's transaction)."""
        if self.changed:
            con.execute(f"INSERT OR REPLACE INTO {META} VALUES (?, ?), (?, ?)",
                        [CURRENCY_KEY, self.code, CURRENCY_EVIDENCE_KEY, self.evidence])
