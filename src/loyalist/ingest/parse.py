"""Typed parsing of source columns, with the format chosen per column from a sample of its values.

Every parser is a SQL expression that yields NULL where a value cannot be parsed, so a bad value
sends its row to quarantine (``unparseable_*``) instead of failing the load.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date
from typing import TypeVar, cast

import duckdb

T = TypeVar("T")

#: date formats tried on text columns, in order of preference for ties
DATE_FORMATS = (
    "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d",
    "%m/%d/%Y %H:%M", "%m/%d/%Y %H:%M:%S", "%m/%d/%Y", "%m/%d/%y %H:%M", "%m/%d/%y",
    "%d/%m/%Y %H:%M", "%d/%m/%Y %H:%M:%S", "%d/%m/%Y", "%d/%m/%y",
    "%d.%m.%Y %H:%M:%S", "%d.%m.%Y %H:%M", "%d.%m.%Y",
    "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M", "%Y/%m/%d",
    "%d-%m-%Y %H:%M", "%d-%m-%Y", "%Y%m%d", "%d-%b-%Y", "%d %b %Y", "%b %d, %Y",
    # 12-hour clocks (US exports): 12/01/2010 08:26 AM
    "%m/%d/%Y %I:%M %p", "%m/%d/%Y %I:%M:%S %p", "%m/%d/%y %I:%M %p", "%d/%m/%Y %I:%M %p",
    "%d/%m/%Y %I:%M:%S %p", "%Y-%m-%d %I:%M %p", "%Y-%m-%d %I:%M:%S %p",
    # two-digit years with times (Excel's default CSV export: 12/31/10 14:00), month names,
    # e-mail/HTTP style (Tue, 02 Jan 2024 10:00:00 GMT)
    "%m/%d/%y %H:%M:%S", "%d/%m/%y %H:%M", "%d.%m.%y %H:%M", "%d.%m.%y",
    "%d-%b-%Y %H:%M", "%d-%b-%Y %H:%M:%S", "%d-%b-%y", "%b %d, %Y %I:%M %p", "%b %d, %Y %H:%M",
    "%d %B %Y", "%B %d, %Y", "%d %B %Y %H:%M", "%a, %d %b %Y %H:%M:%S GMT",
    "%a, %d %b %Y %H:%M:%S UTC", "%b %d, %Y %I:%M:%S %p",
    # compact ISO (20240102T100000), dotted year-first (2024.01.02 10:00)
    "%Y%m%dT%H%M%S", "%Y%m%d %H%M%S", "%Y.%m.%d %H:%M:%S", "%Y.%m.%d %H:%M", "%Y.%m.%d",
    # a day with a full stop before the month's name (German: 30. Juni 2024)
    "%d. %b %Y", "%d. %b %Y %H:%M", "%d. %B %Y",
    # long dates with the weekday (Friday, January 5, 2024 / Friday, 5 January 2024), French
    # hours (05/01/2024 14h05), compact date and time (20240105140507)
    "%A, %B %d, %Y", "%A, %d %B %Y", "%d/%m/%Y %Hh%M", "%Y%m%d%H%M%S",
    # Oracle's default (05-JAN-24 02.05.07.000000 PM)
    "%d-%b-%y %I.%M.%S.%f %p", "%d-%b-%y %I.%M.%S %p",
    # Japanese and Chinese (2024年1月5日 14:05), Korean (2024. 1. 5.)
    "%Y年%m月%d日", "%Y年%m月%d日 %H:%M", "%Y年%m月%d日 %H:%M:%S", "%Y. %m. %d.",
    "%Y. %m. %d. %H:%M", "%Y. %m. %d. %H:%M:%S",
    # day-month-year with seconds (Dutch exports), a month's name with the time, SQL Server's
    # default (Jun 30 2024  2:05PM: its time read by :func:`_twelve_hour`), C's asctime
    "%d-%m-%Y %H:%M:%S", "%d %b %Y %H:%M", "%d %b %Y %H:%M:%S", "%b %d %Y", "%b %d %Y %H:%M",
    "%a %b %d %H:%M:%S %Y",
    # fractional seconds after a day-first or US date (a database's export: 30/06/2024
    # 14:05:07.123)
    "%d/%m/%Y %H:%M:%S.%f", "%m/%d/%Y %H:%M:%S.%f", "%d.%m.%Y %H:%M:%S.%f",
    # milliseconds after a comma (Python's logging, German and Nordic formats), hours and
    # minutes with a dot (Italian, Finnish, Danish: 30/06/2024 14.05, 30.6.2024 14.05)
    "%Y-%m-%d %H:%M:%S,%f", "%d.%m.%Y %H:%M:%S,%f", "%d/%m/%Y %H.%M", "%d/%m/%Y %H.%M.%S",
    "%d.%m.%Y %H.%M", "%d.%m.%Y %H.%M.%S", "%Y-%m-%d %H.%M.%S",
    # a web server's access log (Apache, nginx: [30/Jun/2024:14:05:07 +0000], brackets and
    # offset dropped by :func:`_undecorated`)
    "%d/%b/%Y:%H:%M:%S",
    # a month's name first with dashes (eBay's May-01-25), a day-month-year with a 12-hour
    # time (Clover's 01-May-2025 04:01 PM EDT, the zone dropped by :func:`_undecorated`)
    "%b-%d-%y", "%b-%d-%Y", "%d-%b-%Y %I:%M %p", "%d-%b-%Y %I:%M:%S %p",
)

#: month names and abbreviations of the languages whose column names the adapters know
#: (German, French, Spanish, Italian, Dutch, Portuguese, Polish; nominative and genitive),
#: by the English abbreviation :data:`DATE_FORMATS`' ``%b`` reads (which is also listed,
#: for its full stop: 'Jan.'); longer names first
MONTH_NAMES: dict[str, tuple[str, ...]] = {
    "jan": ("januar", "jänner", "janvier", "janv", "enero", "ene", "gennaio", "gen",
            "januari", "janeiro", "stycznia", "styczeń", "sty", "jan"),
    "feb": ("februar", "feber", "février", "fevrier", "févr", "fevr", "febrero", "febbraio",
            "februari", "fevereiro", "fév", "fev", "lutego", "luty", "lut", "feb"),
    "mar": ("märz", "maerz", "mrz", "mars", "marzo", "maart", "mrt", "março", "marco",
            "marca", "marzec", "mar"),
    "apr": ("avril", "avr", "abril", "abr", "aprile", "kwietnia", "kwiecień", "kwi", "apr"),
    "may": ("maggio", "mayo", "maio", "maja", "maj", "mag", "mai", "mei"),
    "jun": ("juni", "juin", "junio", "giugno", "giu", "junho", "czerwca", "czerwiec", "cze",
            "jun"),
    "jul": ("juli", "juillet", "juil", "julio", "luglio", "lug", "julho", "lipca", "lipiec",
            "lip", "jul"),
    "aug": ("août", "aout", "agosto", "ago", "augustus", "sierpnia", "sierpień", "sie",
            "aug"),
    "sep": ("septembre", "septiembre", "setiembre", "settembre", "setembro", "sept", "set",
            "września", "wrzesień", "wrz", "sep"),
    "oct": ("oktober", "okt", "octobre", "octubre", "ottobre", "ott", "outubro", "out",
            "października", "październik", "paź", "paz", "oct"),
    "nov": ("novembre", "noviembre", "novembro", "listopada", "listopad", "lis", "nov"),
    "dec": ("dezember", "dez", "décembre", "decembre", "déc", "diciembre", "dic", "dicembre",
            "dezembro", "grudnia", "grudzień", "gru", "dec"),
}
_MONTH_WORD = ("(^|[^\\pL])(" + "|".join(sorted({n for v in MONTH_NAMES.values() for n in v},
                                                 key=lambda n: (-len(n), n)))
               + ")\\.?([^\\pL]|$)")


#: weekday names (and the usual abbreviations) of :data:`MONTH_NAMES`' languages, dropped
#: before a date's day: 'Montag, 5. Januar 2024', 'lundi 5 janvier 2024' (not 'mar', French
#: Tuesday, which is March in English and Spanish)
WEEKDAY_NAMES = (
    "montag", "dienstag", "mittwoch", "donnerstag", "freitag", "samstag", "sonnabend",
    "sonntag", "mo", "di", "mi", "do", "fr", "sa", "so",
    "lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche", "lun", "mer",
    "jeu", "ven", "sam", "dim",
    "lunes", "martes", "miércoles", "miercoles", "jueves", "viernes", "sábado", "sabado",
    "domingo",
    "lunedì", "lunedi", "martedì", "martedi", "mercoledì", "mercoledi", "giovedì", "giovedi",
    "venerdì", "venerdi", "sabato", "domenica",
    "maandag", "dinsdag", "woensdag", "donderdag", "vrijdag", "zaterdag", "zondag",
    "segunda-feira", "terça-feira", "terca-feira", "quarta-feira", "quinta-feira",
    "sexta-feira", "segunda", "terça", "quarta", "quinta", "sexta",
    "poniedziałek", "wtorek", "środa", "czwartek", "piątek", "sobota", "niedziela",
)


def _english_months(t: str) -> str:
    """SQL: the date text ``t`` with a month written in one of :data:`MONTH_NAMES`' languages
    as its English abbreviation, a leading weekday (:data:`WEEKDAY_NAMES`), the Spanish and
    Portuguese ``de`` and the French ``1er`` dropped ('30 de junio de 2024' -> '30 jun 2024',
    'lundi 1er mars 2024' -> '1 mar 2024')."""
    days = "|".join(sorted(WEEKDAY_NAMES, key=lambda n: (-len(n), n)))
    e = f"regexp_replace(lower({t}), '^({days})[.,]*\\s+([0-9])', '\\2')"
    for eng, names in MONTH_NAMES.items():
        alt = "|".join(sorted(names, key=lambda n: (-len(n), n)))
        e = f"regexp_replace({e}, '(^|[^\\pL])({alt})\\.?([^\\pL]|$)', '\\1{eng}\\3')"
    e = f"regexp_replace({e}, '\\s+de\\s+', ' ', 'g')"
    return f"regexp_replace({e}, '^([0-9]{{1,2}})er([^\\pL])', '\\1\\2')"


def _month_formats(formats: tuple[str, ...]) -> tuple[str, ...]:
    """The formats that write the month's name, each with its abbreviation (what
    :func:`_english_months` leaves)."""
    return tuple(dict.fromkeys(f.replace("%B", "%b") for f in formats
                               if "%b" in f or "%B" in f))


#: a 12-hour clock's marker as exports other than US English write it: 'p. m.' (Spanish),
#: 'pm' after the time (or joined to it), or before it in Korean (오후), Chinese (下午) and
#: Japanese (午後)
_MERIDIEM = {"AM": ("오전", "上午", "午前"), "PM": ("오후", "下午", "午後")}
#: a marker :data:`DATE_FORMATS`' own ``%p`` does not read (it reads ' PM' after the time), or
#: an ' at ' before the time
_OTHER_MERIDIEM = ("(" + "|".join(w for v in _MERIDIEM.values() for w in v)
                   + "|[0-9]\\s*[AaPp]\\.\\s?[Mm]|[0-9]\\s*[ap]m|[0-9][AP]M|\\s[Aa][Tt]\\s[0-9])")


def _twelve_hour(t: str) -> str:
    """SQL: the date text ``t`` with its 12-hour clock written as :data:`DATE_FORMATS`' ``%p``
    reads it: upper case, 'P. M.' -> 'PM', the marker after the time and apart from it
    ('2:05PM' -> '2:05 PM', '오후 2:05' -> '2:05 PM') and runs of spaces as one."""
    e = f"regexp_replace(upper({t}), '\\s+', ' ', 'g')"
    e = f"regexp_replace({e}, '([AP])\\. ?M\\.?$', '\\1M')"
    e = f"regexp_replace({e}, '([0-9])([AP]M)$', '\\1 \\2')"
    for mark, words in _MERIDIEM.items():
        e = (f"regexp_replace({e}, '({'|'.join(words)}) ?([0-9]{{1,2}}:[0-9]{{2}}(:[0-9]{{2}})?)',"
             f" '\\2 {mark}')")
    return e


def _twelve_hour_formats(formats: tuple[str, ...]) -> tuple[str, ...]:
    """Each date-only format with a 12-hour time after it, to minutes and to seconds."""
    dates = [f for f in formats if "%H" not in f and "%I" not in f and "%M" not in f]
    return tuple(f"{d} {clock}" for d in dates for clock in ("%I:%M %p", "%I:%M:%S %p"))


#: an English ordinal day ('30th', '1st') before or after a month's name
_ORDINAL_DAY = "([0-9])(st|nd|rd|th)([^[:alpha:]]|$)"
#: a word joining the date to its time ('30 June 2024 at 14:05', French 'à', German 'um',
#: Dutch 'om', Italian 'alle', Portuguese 'às', Spanish 'a las')
_CLOCK_WORD = "\\s(at|à|um|om|alle|às|a las)\\s([0-9])"
#: a time zone's abbreviation after the time (North America, Europe, Asia-Pacific; UTC and
#: GMT are read where they are written)
_ZONE = ("\\s(([ecmpa]|ak)[sd]t|hst|bst|ist|ces?t|ees?t|wes?t|ms[kd]|jst|kst|ae[sd]t|acst"
         "|awst|nz[sd]t|sgt|hkt)$")
#: what a date may carry around it that no format reads: a web server log's brackets
#: ([30/Jun/2024:14:05:07 +0000]), a numeric offset or a zone's abbreviation (:data:`_ZONE`)
#: after the time, a :data:`_CLOCK_WORD`
_DECORATION = f"^\\[|\\s[+-][0-9]{{4}}\\]?$|{_CLOCK_WORD}|{_ZONE}"


def _undecorated(t: str) -> str:
    """SQL: the date text ``t`` without its :data:`_DECORATION`: brackets around it, and a
    numeric offset or a zone after it, dropped (the clock time shown is kept, as for an ISO
    offset), and a :data:`_CLOCK_WORD` as one space."""
    e = f"regexp_replace({t}, '^\\[(.*)\\]$', '\\1')"
    e = f"regexp_replace({e}, '\\s[+-][0-9]{{4}}$', '')"
    e = f"regexp_replace({e}, '{_ZONE}', '', 'i')"
    return f"regexp_replace({e}, '{_CLOCK_WORD}', ' \\2', 'i')"


@dataclass(frozen=True)
class _DateTraits:
    """What a sample of a date column's text values writes, each deciding extra candidates
    of :func:`timestamp_expr`: months named in one of :data:`MONTH_NAMES`' languages (tried
    as English abbreviations), English ordinal days ('June 30th, 2024', '1st Jan 2024';
    tried without the suffix), values ending in a 12-hour clock's marker (a cast to
    TIMESTAMP ignores it), markers :data:`DATE_FORMATS` do not read (every date is then
    tried with a 12-hour time, :func:`_twelve_hour`: about 0.4 s more on a large file), and
    a :data:`_DECORATION` (every format then reads the text without it, :func:`_undecorated`)."""

    month_names: bool
    ordinals: bool
    meridiem_last: bool
    other_meridiem: bool
    decorated: bool


def _date_traits(con: duckdb.DuckDBPyConnection, view: str, col: str) -> _DateTraits:
    """:class:`_DateTraits` of a sample of the column, in one pass (once per load,
    :func:`one_load`)."""
    return _once(_sampled_traits, con, view, col)


def _sampled_traits(con: duckdb.DuckDBPyConnection, view: str, col: str) -> _DateTraits:
    row = con.execute(
        f"SELECT count(*) FILTER (WHERE regexp_matches(lower(v), '{_MONTH_WORD}')), "
        f"count(*) FILTER (WHERE regexp_matches(lower(v), '{_ORDINAL_DAY}')), "
        f"count(*) FILTER (WHERE right(v, 1) IN ('M', 'm', '.') "
        f"OR regexp_matches(lower(v), '[ap]m{_ZONE}')), "
        f"count(*) FILTER (WHERE regexp_matches(v, '{_OTHER_MERIDIEM}')), "
        f"count(*) FILTER (WHERE regexp_matches(lower(v), '{_DECORATION}')) "
        f"FROM (SELECT CAST(v AS VARCHAR) AS v FROM {_sample(view, col)})").fetchall()[0]
    return _DateTraits(*(bool(n) for n in row))


_SAMPLE = 20_000
#: the values every date format is tried on before only those that read any of them try
#: the whole sample (:func:`_ranked`)
_FIRST_VALUES = 2_000


def q(name: str) -> str:
    """Quote an identifier."""
    return '"' + name.replace('"', '""') + '"'


def is_text(dtype: str) -> bool:
    return dtype.upper() in ("VARCHAR", "STRING", "TEXT") or dtype.upper().startswith("VARCHAR")


def _is_numeric(dtype: str) -> bool:
    d = dtype.upper()
    return any(k in d for k in ("INT", "DOUBLE", "FLOAT", "DECIMAL", "REAL", "NUMERIC"))


def _sample(view: str, col: str) -> str:
    """SQL: a subquery of up to :data:`_SAMPLE` of the column's non-empty values, as ``v``
    (what the parsers' formats are chosen on)."""
    return (f"(SELECT {q(col)} AS v FROM {view} WHERE {plain_text_expr(col)} IS NOT NULL "
            f"LIMIT {_SAMPLE})")


def _ranked(con: duckdb.DuckDBPyConnection, view: str, col: str, exprs: list[str],
            plausible: str = "{e} IS NOT NULL", *, first: int | None = None
            ) -> list[tuple[str, int]]:
    """The candidate expressions with how many of a sample of the column's non-empty values
    each parses into ``plausible`` ones (a SQL predicate over ``{e}``, the parsed value), most
    first (ties: the earlier candidate). Each distinct value is parsed once, weighted by how
    often the sample has it (a date column of whole days holds a few hundred distinct values
    in 20,000, and every candidate format is tried on each).

    ``first``: try every candidate on the sample's first ``first`` values only, and on the
    whole sample those that read any of them; where those read every value of the sample, the
    others count 0 (they read nothing the first values hold, and nothing the chosen ones do
    not); where the sample has no more than ``first`` values, theirs are its counts.
    Otherwise every candidate is tried on the whole sample. With ~90 date formats this
    halves the choice's time again on a large file."""
    def weighted(idx: list[int], limit: str = "", unread: bool = False
                 ) -> tuple[list[int], int, int]:
        return _weighted_counts(con, f"SELECT v FROM {_sample(view, col)}{limit}",
                                [exprs[i] for i in idx], plausible, unread=unread)

    counts: list[int] | None = None
    if first is not None:
        pre, n, _ = weighted(list(range(len(exprs))), f" LIMIT {int(first)}")
        live = [i for i, k in enumerate(pre) if k]
        if n < first:  # the first values are the whole sample: nothing more to read
            counts = pre
        elif live and len(live) < len(exprs):
            row, _, unread = weighted(live, unread=True)
            if unread == 0:
                counts = [0] * len(exprs)
                for i, k in zip(live, row, strict=True):
                    counts[i] = k
    if counts is None:
        counts = weighted(list(range(len(exprs))))[0]
    order = sorted(range(len(exprs)), key=lambda i: (-counts[i], i))
    return [(exprs[i], counts[i]) for i in order]


def _weighted_counts(con: duckdb.DuckDBPyConnection, values: str, exprs: list[str],
                     plausible: str, *, unread: bool = False) -> tuple[list[int], int, int]:
    """For each candidate of ``exprs`` (SQL over ``{x}``), how many of the values ``values``
    (a query of one column ``v``) it parses into ``plausible`` ones; with how many values
    there are and (``unread``; else 0) how many no candidate reads. Each distinct value is
    parsed once, weighted by how often it occurs. The candidates are the elements of one
    list, unnested, and ``plausible`` is tested once on the list's elements: written as one
    aggregate per candidate, DuckDB spent ~0.1 s planning ~90 date formats (its
    common-subexpression pass alone ~50 ms), 30 times the work of reading a small file's
    few values."""
    listed = ", ".join(e.replace("{x}", "v") for e in exprs)
    parsed = (f"SELECT v, w, i, coalesce({plausible.replace('{e}', 'p')}, FALSE) AS ok "
              f"FROM (SELECT v, w, unnest(l) AS p, generate_subscripts(l, 1) AS i FROM "
              f"(SELECT v, count(*) AS w, [{listed}] AS l FROM ({values}) GROUP BY v))")
    per = "SELECT i, sum(w) FILTER (WHERE ok), sum(w) FROM t GROUP BY i"
    if unread:  # i = 0: the values no candidate reads
        per += (" UNION ALL SELECT 0, sum(w) FILTER (WHERE NOT ok), sum(w) FROM "
                "(SELECT any_value(w) AS w, bool_or(ok) AS ok FROM t GROUP BY v)")
    got = {int(i): (int(n or 0), int(total or 0))
           for i, n, total in con.execute(f"WITH t AS ({parsed}) {per}").fetchall()}
    total = max((n for _, n in got.values()), default=0)
    return [got.get(i + 1, (0, 0))[0] for i in range(len(exprs))], total, got.get(0, (0, 0))[0]


def _best(con: duckdb.DuckDBPyConnection, view: str, col: str, exprs: list[str],
          plausible: str = "{e} IS NOT NULL") -> str:
    """The candidate that parses most of a sample of the column (:func:`_ranked`)."""
    return _ranked(con, view, col, exprs, plausible)[0][0]


#: a spreadsheet's error value in a cell, as Excel writes it in English, German, French,
#: Spanish, Italian, Dutch, Portuguese or Polish, and Google Sheets (#N/A, #NV, #N/D,
#: #VALUE!, #WERT!, #¡VALOR!, #REF!, #DIV/0!, #NAME?, #¿NOMBRE?, #NUM!, #NULL!, #SPILL!,
#: #ERROR!): a failed lookup or formula, read as an empty cell (:func:`not_error`)
SPREADSHEET_ERROR = "#(N/?[A-Z]|NV)!?|#[¡¿]?[A-Z/0]{2,12}[!?]|#GETTING_DATA"


def is_error(t: str) -> str:
    """SQL: whether the text ``t`` is a spreadsheet's error value (:data:`SPREADSHEET_ERROR`;
    the pattern only for text starting with '#')."""
    # a CASE, not AND: a projection evaluates both sides of an AND on every row, and the
    # pattern on every cell of a million-line file's text columns cost a second
    return (f"(CASE WHEN left({t}, 1) = '#' THEN regexp_full_match(upper({t}), "
            f"'{SPREADSHEET_ERROR}') ELSE FALSE END)")


def error_cell(col: str) -> str:
    """SQL: whether the cell of column ``col`` holds a spreadsheet's error value, spaces
    around it aside (:func:`is_error`)."""
    return is_error(f"trim(CAST({q(col)} AS VARCHAR))")


def not_error(t: str) -> str:
    """SQL: the text ``t``, NULL where it is a spreadsheet's error value (:func:`is_error`)."""
    return f"CASE WHEN {is_error(t)} THEN NULL ELSE {t} END"


def text_expr(col: str, dtype: str) -> str:
    """Identifier-like text: trimmed, empty or a spreadsheet's error value -> NULL; a number
    stored as 17850.0 -> '17850'."""
    x = q(col)
    if _is_numeric(dtype):
        return (f"CASE WHEN {x} = trunc({x}) THEN CAST(CAST({x} AS HUGEINT) AS VARCHAR) "
                f"ELSE CAST({x} AS VARCHAR) END")
    clean = not_error(f"trim(CAST({x} AS VARCHAR))")
    return f"nullif(regexp_replace({clean}, '^([0-9]+)\\.0+$', '\\1'), '')"


#: an e-mail address (name@domain.tld): compared without letter case
EMAIL = r"[^@\s]+@[^@\s]+\.[^@\s.]+"


def customer_key(value: str) -> str:
    """A customer id as a user types it (CLI, API, dashboard) in the form the store holds it:
    trimmed, an e-mail address lower-cased (:func:`customer_id_expr`)."""
    v = value.strip()
    return v.lower() if re.fullmatch(EMAIL, v) else v


def customer_id_expr(col: str, dtype: str, *, parsed: bool = False) -> str:
    """A customer id (:func:`text_expr`), an e-mail address lower-cased: 'User@Example.COM'
    and 'user@example.com' reach one mailbox, so they are one customer wherever ids are
    matched (sales, customer lists, promotion histories). ``parsed``: ``col`` already holds
    the parsed text (a column name, used as it is)."""
    e = col if parsed else text_expr(col, dtype)
    if _is_numeric(dtype):
        return e
    # the regular expression only where there is an '@' (it is costly on every line)
    return (f"CASE WHEN NOT contains({e}, '@') THEN {e} "
            f"WHEN regexp_full_match({e}, '{EMAIL}') THEN lower({e}) ELSE {e} END")


def email_case_note(con: duckdb.DuckDBPyConnection, view: str, col: str, dtype: str
                    ) -> list[str]:
    """The report's sentence (once per file) when customer ids in ``col`` are e-mail addresses
    written with capital letters, which :func:`customer_id_expr` lower-cases; else none."""
    if _is_numeric(dtype):
        return []
    e = text_expr(col, dtype)
    n, ex = con.execute(
        f"SELECT count(*), any_value({e}) FROM {view} WHERE contains({e}, '@') "
        f"AND {e} <> lower({e}) AND regexp_full_match({e}, '{EMAIL}')").fetchall()[0]
    if not n:
        return []
    return [f"{n:,} customer id(s) in {col!r} are e-mail addresses with capital letters "
            f"(e.g. {ex!r}): e-mail addresses are compared without letter case and stored "
            "lower-cased, so one mailbox is one customer"]


def plain_text_expr(col: str, table: str | None = None) -> str:
    """SQL: the column as trimmed text, NULL when empty or a spreadsheet's error value
    (:func:`not_error`; ``table``: its alias in a join)."""
    ref = f"{table}.{q(col)}" if table else q(col)
    return f"nullif({not_error(f'trim(CAST({ref} AS VARCHAR))')}, '')"


#: spaces written inside numbers besides the ordinary one: no-break (U+00A0, Excel and
#: French locales: '1 234,50', '12,50 €'), narrow no-break (U+202F, CLDR and newer Excel)
#: and thin (U+2009) spaces; SQL's trim and RE2's \s know none of them
NUMBER_SPACES = "\u00a0\u202f\u2009"

#: a number followed by a unit of count, weight or volume (upper case, without spaces, as
#: :func:`_number_text` leaves it): '2 PCS', '0,5 KG', '1 STK.', '3X', '2 UDS'
UNIT_SUFFIX = ("^([-+]?[0-9][0-9.,]*)(X|PCS|PC|PCE|PIECES?|UNITS?|ITEMS?|EA|STK|STÜCK|STUECK|ST|"
               "KG|G|GR|L|ML|CL|LB|LBS|OZ|UN|UDS?|PZ|SZT|KPL|PAAR|PR|"
               # Tally's and India's 'Nos' (numbers), and units a price is given per
               "NOS|KGS|SETS?|BOX(ES)?|PKTS?|PACKS?|BTLS?|CTNS?|PRS)[.]?$")

#: currency signs written beside amounts (a sign alone; R$, kr and zł are
#: :data:`CURRENCY_BEFORE` and :data:`CURRENCY_AFTER`), full-width ones too (Japanese and
#: Chinese shops: ￥1,200)
CURRENCY_SIGNS = "£$€¥₹₩₺₽₪₫฿₦₱￥＄￡"
#: currencies written with letters before or after an amount (upper case): Brazil's R$ and
#: the other dollars (US$, A$, NZ$, HK$), Nordic kr, Polish zł, Czech Kč, Hungarian Ft,
#: Romanian lei, Malaysian RM, Indonesian Rp, Indian and Pakistani Rs., Swiss Fr., Turkish
#: TL, Peruvian S/ (a minus before them kept: -R$ 12,50)
CURRENCY_BEFORE = "^([-−]?)\\s*([A-Z]{1,2}[$]|KR|ZŁ|KČ|FT|LEI|RM|RP|RS|FR|TL|S/)[.]?"
CURRENCY_AFTER = "\\s*(KR|ZŁ|KČ|FT|LEI|RM|TL|FR)[.]?$"

CURRENCY_CODES = ("(EUR|USD|GBP|CHF|JPY|CAD|AUD|NZD|SEK|NOK|DKK|PLN|CZK|HUF|RON|BGN|INR|CNY"
                   "|BRL|MXN|ZAR|TRY|SGD|HKD)")


def _number_text(words: bool = True) -> str:
    """SQL: the text of a number column's value ``{x}`` with currency signs, codes and (with
    ``words``: the column writes them) words, spaces (:data:`NUMBER_SPACES` too) and
    apostrophes (1'234.50) out, upper-cased; accounting negatives (12.50), trailing minus
    signs (12.50-, SAP exports) and the minus sign U+2212 (−12,50) become a leading minus."""
    text = "upper(trim(CAST({x} AS VARCHAR)))"
    if words:  # two more patterns on every cell: 0.9 s on a 1M-line file's two columns
        text = (f"regexp_replace(regexp_replace({text}, '{CURRENCY_BEFORE}', '\\1'), "
                f"'{CURRENCY_AFTER}', '')")
    bare = (f"regexp_replace({text}, "
            f"'[\\s{NUMBER_SPACES}{CURRENCY_SIGNS}''’]|{CURRENCY_CODES}', '', 'g')")
    # the minus sign (U+2212) that Swedish, Finnish or Norwegian number formats and Apple's
    # Numbers write for negatives: an ASCII minus
    bare = f"replace({bare}, '\u2212', '-')"
    return (f"regexp_replace(regexp_replace({bare}, '^\\((.*)\\)$', '-\\1'), "
            "'^([^-].*)-$', '-\\1')")


#: a unit of weight or volume -> the larger unit of its kind and what one of it is in that
#: unit: a column that writes both (500 g beside 0,5 kg) is read in the larger one
UNIT_SCALE = {"G": ("KG", 0.001), "GR": ("KG", 0.001), "ML": ("L", 0.001), "CL": ("L", 0.01),
              "OZ": ("LB", 1 / 16)}


@dataclass(frozen=True)
class Units:
    """A number column's units after its numbers, as a sample of it writes them
    (:data:`UNIT_SUFFIX`): one value as the file has it ('2 pcs', '0,5 kg'; None when the
    sample has no units), and the units read in a larger unit of their kind because the
    column writes that one too (500 g beside 0,5 kg: both 0.5 kg; a price per kg would
    otherwise make the 500 g line a thousand times too dear): unit -> (the larger unit, its
    factor), empty where no kind is mixed."""

    example: str | None
    conversions: dict[str, tuple[str, float]]
    #: the sample writes a currency in letters (R$ 388,50, 12,50 kr: :data:`CURRENCY_BEFORE`)
    currency_words: bool = False


def sampled_units(con: duckdb.DuckDBPyConnection, view: str, col: str) -> Units:
    """:class:`Units` of a sample of the column, in one pass (once per load,
    :func:`one_load`)."""
    return _once(_sampled_units, con, view, col)


def _sampled_units(con: duckdb.DuckDBPyConnection, view: str, col: str) -> Units:
    text = _number_text().replace("{x}", "v")
    example, found, words = con.execute(
        f"SELECT any_value(v) FILTER (WHERE u <> ''), list(DISTINCT u) FILTER (WHERE u <> ''), "
        f"count(*) FILTER (WHERE regexp_matches(upper(trim(CAST(v AS VARCHAR))), "
        f"'{CURRENCY_BEFORE}|{CURRENCY_AFTER}')) "
        f"FROM (SELECT v, regexp_extract({text}, '{UNIT_SUFFIX}', 2) AS u "
        f"FROM {_sample(view, col)})").fetchall()[0]
    units = set(found or ())
    return Units(example, {u: UNIT_SCALE[u] for u in units
                           if u in UNIT_SCALE and UNIT_SCALE[u][0] in units}, bool(words))


#: what was read from the columns' samples during one load (:func:`one_load`): by what
#: (the function's name), connection, view, column
_CHOSEN: ContextVar[dict[tuple[object, ...], object] | None] = ContextVar(
    "parsers_chosen", default=None)


@contextmanager
def one_load() -> Iterator[None]:
    """Within it, a column of a view has its sample read once for its number parser
    (:func:`number_expr`), its units (:func:`sampled_units`) and its dates' traits
    (:func:`_date_traits`): the ingest asks for the same column's parser up to three times
    (the units and price checks, then the staging), and each choice is three queries over
    its sample. The views of one load (``__src0``, ...) are not redefined while it runs;
    the next load reads afresh."""
    token = _CHOSEN.set({})
    try:
        yield
    finally:
        _CHOSEN.reset(token)


def _once(what: Callable[..., T], con: duckdb.DuckDBPyConnection, view: str, col: str,
          *args: str) -> T:
    """``what(con, view, col, *args)``, computed once per column of a view within
    :func:`one_load`."""
    chosen = _CHOSEN.get()
    if chosen is None:
        return what(con, view, col, *args)
    key = (what.__name__, id(con), view, col, *args)
    if key not in chosen:
        chosen[key] = what(con, view, col, *args)
    return cast(T, chosen[key])


def number_expr(con: duckdb.DuckDBPyConnection, view: str, col: str, dtype: str) -> str:
    """The parser of a number column (:func:`_number_expr`), chosen once per column of a
    view within :func:`one_load`."""
    return _once(_number_expr, con, view, col, dtype)


def _number_expr(con: duckdb.DuckDBPyConnection, view: str, col: str, dtype: str) -> str:
    x = q(col)
    if _is_numeric(dtype):
        return f"CAST({x} AS DOUBLE)"
    if dtype.upper() == "BOOLEAN":
        return f"CAST(CAST({x} AS INTEGER) AS DOUBLE)"
    units = sampled_units(con, view, col)
    clean = _number_text(units.currency_words)
    scale = ""
    if units.example is not None:  # 2 pcs, 0,5 kg, 1 Stk., 3x: the number
        mixed = units.conversions
        if mixed:  # 500 g beside 0,5 kg: each in the larger unit
            whens = " ".join(f"WHEN '{u}' THEN {f!r}" for u, (_, f) in sorted(mixed.items()))
            scale = (f" * CASE regexp_extract({clean}, '{UNIT_SUFFIX}', 2) {whens} "
                     "ELSE 1.0 END")
        clean = f"regexp_replace({clean}, '{UNIT_SUFFIX}', '\\1')"
    candidates = [
        "TRY_CAST(trim(CAST({x} AS VARCHAR)) AS DOUBLE)",
        # 1,234.50 / £3.50 (thousands commas, decimal point; a group never follows a lone 0:
        # 0,350 is a decimal comma); ₹1,23,456.00 (Indian grouping: lakhs and crores)
        f"CASE WHEN regexp_full_match({clean}, "
        f"'[-+]?([1-9][0-9]{{0,2}}(,[0-9]{{3}})+|[1-9][0-9]?(,[0-9]{{2}})+,[0-9]{{3}})"
        f"([.][0-9]*)?') "
        f"THEN TRY_CAST(replace({clean}, ',', '') AS DOUBLE) ELSE TRY_CAST({clean} AS DOUBLE) END",
        # 1.234,50 / 3,50 € (decimal comma)
        f"CASE WHEN regexp_full_match({clean}, "
        f"'[-+]?[0-9]{{1,3}}([.][0-9]{{3}})*(,[0-9]+)?|[-+]?[0-9]+(,[0-9]+)?') "
        f"THEN TRY_CAST(replace(replace({clean}, '.', ''), ',', '.') AS DOUBLE) "
        f"ELSE TRY_CAST({clean} AS DOUBLE) END",
    ]
    ranked = _ranked(con, view, col, candidates)
    best = ranked[0][0]
    counts = dict(ranked)
    if (best == candidates[1] and counts[candidates[2]] == counts[candidates[1]]
            and counts[candidates[1]] > counts[candidates[0]]
            and decimal_comma_file(con, view)):
        # 1,000 / 2,500 alone read either way (a quantity of 1 kg with three decimals, or a
        # thousand): the file's other numbers decide (2,80 beside them is a decimal comma)
        best = candidates[2]
    return (f"({best}){scale}" if scale else best).replace("{x}", x)


def number_value(text: str) -> float | None:
    """One number as a file's cell may write it ('5,000', '1.234,56', '5 000', '€5000',
    '(12)'), read by the parser a column of that one value gets (:func:`number_expr`); None
    when it reads no number. For a number the user types (``--budget``), so that it is read
    as the files are."""
    with duckdb.connect() as con:
        con.execute("CREATE TEMP TABLE one AS SELECT CAST(? AS VARCHAR) AS v", [text])
        row = con.execute(f"SELECT {number_expr(con, 'one', 'v', 'VARCHAR')} FROM one"
                          ).fetchone()
    return None if row is None or row[0] is None else float(row[0])


def decimal_comma_file(con: duckdb.DuckDBPyConnection, view: str) -> bool:
    """Whether the file writes decimals with a comma: more of a sample of its text values
    are numbers with a comma followed by 1, 2 or 4+ digits (3,50; 0,3333) or a dot group
    before a comma (1.234,50) than are numbers with a comma group before a dot (1,234.50)
    or a decimal point (3.50)."""
    cols = [c for c, typ in con.execute(f"SELECT column_name, column_type FROM "
                                        f"(DESCRIBE {view})").fetchall() if is_text(str(typ))]
    if not cols:
        return False
    comma = ("'[-+]?[0-9]+,([0-9]{1,2}|[0-9]{4,})|[-+]?[0-9]{1,3}([.][0-9]{3})+,[0-9]+'")
    point = "'[-+]?[0-9]{1,3}(,[0-9]{3})+[.][0-9]+|[-+]?[0-9]+[.][0-9]{1,2}'"
    parts = " + ".join(
        f"count(*) FILTER (WHERE regexp_full_match(trim({q(c)}), {{p}}))" for c in cols)
    sample = f"(SELECT * FROM {view} LIMIT {_SAMPLE})"
    n_comma, n_point = con.execute(
        f"SELECT {parts.replace('{p}', comma)}, {parts.replace('{p}', point)} FROM {sample}"
    ).fetchall()[0]
    return int(n_comma or 0) > int(n_point or 0)


#: spreadsheet serial day numbers taken as dates (1927-05-18 .. 2173-10-14); a date column that
#: lost its format in Excel exports as 45293 for 2024-01-02 (days since 1899-12-30)
SERIAL_MIN, _SERIAL_MAX = 10_000, 100_000


#: Unix times as text: seconds (1973-2286, maybe with a fraction) and milliseconds
UNIX_SECONDS = "[0-9]{9,10}([.][0-9]+)?"
UNIX_MILLISECONDS = "[0-9]{12,13}"


def _serial(v: str) -> str:
    """Serial days as a timestamp, to the nearest second (a spreadsheet writes 08:26 as
    40513.3513888889, which is 08:25:59.99999 to the microsecond)."""
    return (f"(TIMESTAMP '1899-12-30' + "
            f"to_microseconds(CAST(round({v} * 86400) AS BIGINT) * 1000000))")


def _day_first(formats: tuple[str, ...]) -> tuple[str, ...]:
    """The formats with every day-first one ahead of the month-first ones (ties go to the
    earlier candidate)."""
    return (tuple(f for f in formats if not f.startswith("%m"))
            + tuple(f for f in formats if f.startswith("%m")))


#: a parsed date ``{e}`` a shop's data can hold: '12/31/10 14:00' reads as the year 10 under
#: %Y and as 2010 under %y, and only the second is a real date
PLAUSIBLE_DATE = "{e} BETWEEN TIMESTAMP '1900-01-01' AND TIMESTAMP '2199-12-31 23:59:59'"


def timestamp_expr(con: duckdb.DuckDBPyConnection, view: str, col: str, dtype: str, *,
                   day_first: bool = False) -> str:
    """The parser of a date column. Text is tried in every :data:`DATE_FORMATS` format on a
    sample (a month's name in another language read as its English abbreviation,
    :func:`_english_months`, when the sample has such names) and the format reading most
    values wins; where a day-first and a month-first format read the same values
    (02/01/2024), the month-first one wins unless ``day_first``."""
    x = q(col)
    d = dtype.upper()
    if "TIME ZONE" in d or d.startswith("TIMESTAMPTZ"):  # zone unknown here: UTC wall time
        return f"timezone('UTC', {x})"
    if d.startswith("TIMESTAMP") or d == "DATE":
        return f"CAST({x} AS TIMESTAMP)"
    if _is_numeric(dtype):
        # yyyymmdd and yyyymmddHHMMSS integers (the second above any Unix time in milliseconds
        # before the year 2500), epoch seconds / milliseconds (UTC), spreadsheet serial days
        return (f"CASE WHEN {x} BETWEEN 19000101 AND 21001231 "
                f"THEN try_strptime(CAST(CAST({x} AS BIGINT) AS VARCHAR), '%Y%m%d') "
                f"WHEN {x} BETWEEN 19000101000000 AND 21001231235959 "
                f"THEN try_strptime(CAST(CAST({x} AS BIGINT) AS VARCHAR), '%Y%m%d%H%M%S') "
                f"WHEN {x} > 1e11 THEN timezone('UTC', to_timestamp({x} / 1000)) "
                f"WHEN {x} > 1e8 THEN timezone('UTC', to_timestamp({x})) "
                f"WHEN {x} BETWEEN {SERIAL_MIN} AND {_SERIAL_MAX} THEN {_serial(x)} END")
    traits = _date_traits(con, view, col)
    t = "trim(CAST({x} AS VARCHAR))"
    num = "TRY_CAST(" + t + " AS DOUBLE)"
    if traits.decorated:  # [30/Jun/2024:14:05:07 +0000], 30 June 2024 at 14:05
        t = _undecorated(t)
    formats = _day_first(DATE_FORMATS) if day_first else DATE_FORMATS
    # '30 juin 2024', '30. Juni 2024', '30 de junio de 2024': the month in English first
    named = ([f"try_strptime({_english_months(t)}, '{f}')" for f in _month_formats(formats)]
             if traits.month_names else [])
    if traits.ordinals:  # June 30th, 2024 / 1st Jan 2024: the day's number
        plain = f"regexp_replace({t}, '{_ORDINAL_DAY}', '\\1\\3', 'i')"
        named += [f"try_strptime({plain}, '{f}')"
                  for f in dict.fromkeys(f for f in formats if "%b" in f or "%B" in f)]
    # JavaScript's Date.toString() (Fri Jan 05 2024 14:05:07 GMT+0100 (Central European
    # Standard Time)): the clock time it shows, offset dropped as for other offsets
    named.append(f"try_strptime(regexp_replace({t}, ' GMT[+-][0-9]{{4}}( [(].*[)])?$', ''), "
                 "'%a %b %d %Y %H:%M:%S')")
    if traits.other_meridiem:
        named += [f"try_strptime({_twelve_hour(t)}, '{f}')" for f in _twelve_hour_formats(formats)]
    # a cast to TIMESTAMP ignores a 12-hour clock's marker ('2024-06-30 2:05 PM' as 02:05)
    cast = (f"CASE WHEN right({t}, 1) NOT IN ('M', 'm', '.') THEN TRY_CAST({t} AS TIMESTAMP) END"
            if traits.meridiem_last else f"TRY_CAST({t} AS TIMESTAMP)")
    candidates = [cast] + [
        f"try_strptime({t}, '{f}')" for f in formats
    ] + named + [f"CASE WHEN {num} BETWEEN {SERIAL_MIN} AND {_SERIAL_MAX} THEN {_serial(num)} END",
         # Unix time in seconds or milliseconds (app databases, payment exports), as UTC
         f"CASE WHEN regexp_full_match({t}, '{UNIX_SECONDS}') "
         f"THEN timezone('UTC', to_timestamp({num})) END",
         f"CASE WHEN regexp_full_match({t}, '{UNIX_MILLISECONDS}') "
         f"THEN timezone('UTC', to_timestamp({num} / 1000)) END"]
    plausible = PLAUSIBLE_DATE  # the format that gives real dates wins
    ranked = [(e, n) for e, n in _ranked(con, view, col, candidates, plausible,
                                         first=_FIRST_VALUES) if n]
    if len(ranked) <= 1:
        return (ranked[0][0] if ranked else candidates[0]).replace("{x}", x)
    # a file that mixes formats (two systems' exports appended): the format that reads most
    # values decides, and a value it cannot read takes the next format that reads it
    # plausibly (so '01/13/2024' in a d/m/Y file is the 13th of January, not lost)
    parts = [f"CASE WHEN {plausible.replace('{e}', e)} THEN {e} END" for e, _ in ranked]
    return ("coalesce(" + ", ".join(parts) + ")").replace("{x}", x)


#: the share of a text column's sampled values that must read as dates for
#: :func:`holds_dates`
DATES_SHARE = 0.95


def holds_dates(con: duckdb.DuckDBPyConnection, view: str, col: str, dtype: str) -> bool:
    """Whether a column holds dates by its values, whatever its name: typed as a date or a
    timestamp by the reader, or text of which at least :data:`DATES_SHARE` of a sample of the
    non-empty values reads as a plausible date (1900-2199) in one of :data:`DATE_FORMATS`
    (months named in :data:`MONTH_NAMES`' languages too) or as an ISO timestamp. Numbers do
    not count, in a numeric column or written as text (ids, amounts, serial days and Unix
    times look alike): a value must have a separator or a letter."""
    d = dtype.upper()
    if d.startswith("TIMESTAMP") or d == "DATE":
        return True
    if not is_text(dtype):
        return False
    traits = _date_traits(con, view, col)
    v = "trim(CAST(v AS VARCHAR))"
    if traits.decorated:
        v = _undecorated(v)
    named = (f", try_strptime({_english_months(v)}, "
             f"[{', '.join(repr(f) for f in _month_formats(DATE_FORMATS))}])"
             if traits.month_names else "")
    parsed = (f"coalesce(TRY_CAST({v} AS TIMESTAMP), try_strptime({v}, "
              f"[{', '.join(repr(f) for f in DATE_FORMATS)}]){named})")
    n, dated = con.execute(
        f"SELECT count(*), count(CASE WHEN NOT regexp_full_match({v}, '[0-9]+') AND "
        f"{PLAUSIBLE_DATE.replace('{e}', parsed)} THEN 1 END) "
        f"FROM {_sample(view, col)}").fetchall()[0]
    return bool(n) and dated >= DATES_SHARE * n


#: a date written with two numbers before the year and slashes (02/01/2024): the only form
#: :data:`DATE_FORMATS` reads both ways (02.01.2024 and 02-01-2024 are day first)
_TWO_NUMBERS = r"^\s*([0-9]{1,2})/([0-9]{1,2})/[0-9]{2,4}([^0-9].*)?$"


def date_order_evidence(con: duckdb.DuckDBPyConnection, view: str, col: str
                        ) -> tuple[int, int, int]:
    """How many values of a sample of a text date column only read day first (13/02/2024),
    how many only month first (02/13/2024), and how many are written with two numbers before
    the year at all: a file of one day's or the first twelve days' sales reads both ways, and
    another file of the same shop can tell which."""
    v = f"CAST({q(col)} AS VARCHAR)"
    day, month = (f"TRY_CAST(regexp_extract({v}, '{_TWO_NUMBERS}', {g}) AS INTEGER)"
                  for g in (1, 2))
    got = con.execute(f"""SELECT count(*) FILTER (WHERE {day} > 12 AND {month} <= 12),
                                 count(*) FILTER (WHERE {month} > 12 AND {day} <= 12),
                                 count(*) FILTER (WHERE {day} >= 1)
                          FROM (SELECT {q(col)} FROM {view} LIMIT {_SAMPLE})""").fetchall()[0]
    return int(got[0] or 0), int(got[1] or 0), int(got[2] or 0)


def day_number_expr(col: str, day_one: date) -> str:
    """Day numbers (1 = ``day_one``, 2 = the next day...) as timestamps; anything that is not a
    whole number from 0 up to :data:`SERIAL_MIN` is NULL (its row is quarantined)."""
    num = f"TRY_CAST(trim(CAST({q(col)} AS VARCHAR)) AS DOUBLE)"
    return (f"CASE WHEN {num} = trunc({num}) AND {num} BETWEEN 0 AND {SERIAL_MIN} "
            f"THEN TIMESTAMP '{day_one.isoformat()}' + to_days(CAST({num} - 1 AS INTEGER)) END")


def time_expr(col: str, dtype: str) -> str:
    """A time of day (TIME): ``18:40``, ``18:40:05``, ``6:40 PM``, ``1840``/``184005``, or the
    time part of a timestamp (spreadsheets store times as datetimes on 1899-12-30)."""
    x = q(col)
    d = dtype.upper()
    if d == "TIME":
        return x
    if d.startswith("TIMESTAMP"):
        return f"CAST({x} AS TIME)"
    t = "trim(CAST({x} AS VARCHAR))"
    if _is_numeric(dtype):  # 1840 / 184005
        t = ("lpad(CAST(CAST({x} AS BIGINT) AS VARCHAR), "
             "CASE WHEN {x} > 9999 THEN 6 ELSE 4 END, '0')")
    else:  # 826 (8:26) or 21 (0:21): a clock time stored as a number in a text file, read
        # as the numeric branch reads it (dunnhumby's TRANS_TIME writes 00:21 as 21)
        t = (f"CASE WHEN regexp_full_match({t}, '[0-9]{{1,4}}') THEN lpad({t}, 4, '0') "
             f"WHEN regexp_full_match({t}, '[0-9]{{5}}') THEN lpad({t}, 6, '0') "
             f"ELSE {t} END")
    # unlike dates (is 03/04 March or April?), time formats cannot be mistaken for each other,
    # so every value takes the first that reads it
    candidates = ["TRY_CAST(" + t + " AS TIME)"] + [
        f"CAST(try_strptime({t}, '{f}') AS TIME)"
        for f in ("%I:%M %p", "%I:%M:%S %p", "%H%M", "%H%M%S", "%H.%M", "%H.%M.%S")
    ]
    return ("coalesce(" + ", ".join(candidates) + ")").replace("{x}", x)


def bool_expr(col: str, dtype: str) -> str:
    x = q(col)
    if dtype.upper() == "BOOLEAN":
        return x
    if _is_numeric(dtype):
        return f"({x} <> 0)"
    v = f"lower(strip_accents(trim(CAST({x} AS VARCHAR))))"
    return (f"CASE WHEN {v} IN {_TRUE} THEN TRUE WHEN {v} IN {_FALSE} THEN FALSE END")


#: yes / no as English and European tills and shops write them (accents stripped)
_TRUE = ("('1','true','t','yes','y','x','ja','j','wahr','oui','vrai','si','sim','vero',"
         "'verdadero','tak')")
_FALSE = ("('0','false','f','no','n','nein','falsch','non','faux','nao','falso','nee','nie')")


def column_expr(con: duckdb.DuckDBPyConnection, view: str, col: str, dtype: str, kind: str,
                *, day_first: bool = False) -> str:
    """The parser for one source column of a given kind (id, customer (an id, e-mail addresses
    lower-cased), text, number, timestamp, time, bool); ``day_first`` as
    :func:`timestamp_expr`."""
    if kind == "id":
        return text_expr(col, dtype)
    if kind == "customer":
        return customer_id_expr(col, dtype)
    if kind == "text":
        return plain_text_expr(col)
    if kind == "number":
        return number_expr(con, view, col, dtype)
    if kind == "timestamp":
        return timestamp_expr(con, view, col, dtype, day_first=day_first)
    if kind == "time":
        return time_expr(col, dtype)
    if kind == "bool":
        return bool_expr(col, dtype)
    raise ValueError(f"unknown column kind {kind!r}")
