"""Look at a text table before DuckDB reads it: its encoding (UTF-16 with a byte-order mark,
UTF-8, else Windows-1252 or, where its words read as garbage there, another legacy encoding),
the line holding its column names below a report title, whether its columns are aligned with
spaces or its first line is already data, and its header cells as written.

Finding the header row (which cells name columns some table's reader knows) serves workbooks
and JSON records too.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Iterable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from loyalist import schema as s
from loyalist.errors import ParameterError
from loyalist.ingest.parse import CURRENCY_SIGNS

#: lines searched for the header row below a report title
HEADER_SEARCH_LINES = 30
#: delimiters DuckDB's sniffer finds (a file with none of them may be aligned with spaces);
#: a line is split on them (as a character class) to look at its cells
DELIMITERS = ",;\t|"


@functools.cache
def _known_column_names() -> frozenset[str]:
    """Every column name (normalised) any table's reader recognises."""
    from loyalist.ingest.adapters import SYNONYMS, normalise
    from loyalist.ingest.tables import SPECS

    names = set(SYNONYMS) | {normalise(c) for c in s.MAPPABLE}
    for spec in SPECS.values():
        names |= set(spec.synonyms) | {normalise(c) for c in spec.kinds}
    return frozenset(names)


def open_binary(path: Path) -> BinaryIO:
    import gzip

    if path.suffix.lower() == ".gz":
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return path.open("rb")


#: encodings a file that is not UTF-8 may be in, by preference on a tie: Windows' Western
#: European (the default, and a file's encoding unless its text reads as garbage), Central
#: European, Mac Roman, DOS Western European, Cyrillic (Windows, KOI8-R, DOS), Greek,
#: Turkish, the East Asian multi-byte ones Windows and Excel write (Japanese Shift_JIS,
#: Chinese GBK/GB18030 and Big5, Korean), Hebrew and Arabic (Windows)
LEGACY_ENCODINGS = ("cp1252", "cp1250", "mac_roman", "cp850", "cp1251", "koi8_r", "cp866",
                    "cp1253", "cp1254", "cp932", "gb18030", "big5", "cp949", "cp1255",
                    "cp1256")
#: how the report names them
ENCODING_NAMES = {
    "cp1252": "Windows-1252 (Latin-1 with the euro sign)",
    "cp1250": "Windows-1250 (Central European)", "mac_roman": "Mac Roman",
    "cp850": "DOS code page 850", "cp1251": "Windows-1251 (Cyrillic)",
    "koi8_r": "KOI8-R (Cyrillic)", "cp866": "DOS code page 866 (Cyrillic)",
    "cp1253": "Windows-1253 (Greek)", "cp1254": "Windows-1254 (Turkish)",
    "cp932": "Shift_JIS (Japanese, Windows)", "gb18030": "GB18030 (Chinese)",
    "big5": "Big5 (Traditional Chinese)", "cp949": "Windows-949 (Korean)",
    "cp1255": "Windows-1255 (Hebrew)", "cp1256": "Windows-1256 (Arabic)",
}
#: the share of a file's words with non-ASCII bytes that must read as garbage in Windows-1252
#: before another encoding is considered
GARBLED_SHARE = 0.1
#: distinct words with non-ASCII bytes a file's encoding is judged on, read a megabyte at a
#: time until there are as many or the first 8 MB are read
_WORDS, _WORDS_MEGABYTES = 2_000, 8


#: the end of the alphabetic scripts' letters (Latin, Greek, Cyrillic, Armenian): between
#: letters of the scripts after them (Chinese, Japanese), full-width punctuation is normal
#: ('急須（常滑焼）')
_ALPHABETS_END = 0x0590


def _garbled(word: str) -> bool:
    """Whether a decoded word reads as the wrong encoding's garbage: a control or undefined
    character, a non-ASCII character other than a letter, a dash, ’ or · between two letters
    of an alphabet ('K„se' is 'Käse' of DOS code page 850 read as Windows-1252, 'Kie³basa'
    Windows-1250's 'Kiełbasa'), an accented capital after a small letter ('KŠse' is a Mac's
    'Käse', 'CafÈ' Windows-1252's 'Café' read as Mac Roman; 'iPhone' is ASCII), or three
    accented Latin letters in a row ('Õëåá' is Windows-1251's 'Хлеб')."""
    import unicodedata

    if any(unicodedata.category(c) in ("Cc", "Cn", "Co") or c == "\ufffd" for c in word):
        return True
    for a, b, c in zip(word, word[1:], word[2:], strict=False):
        if a.isalpha() and c.isalpha() and ord(b) > 127 and not b.isalpha() \
                and b not in "’·" and unicodedata.category(b) != "Pd" \
                and max(ord(a), ord(c)) < _ALPHABETS_END:
            return True
    if any(a.islower() and b.isupper() and ord(b) > 127
           for a, b in zip(word, word[1:], strict=False)):
        return True
    run = 0
    for c in word:
        run = run + 1 if "\u00c0" <= c <= "\u024f" and c.isalpha() else 0
        if run >= 3:
            return True
    return False


#: the quotes and delimiters a word ends at besides white space, as white space
_WORD_ENDS = bytes.maketrans(b'";,|', b"    ")


def non_ascii_words(data: bytes) -> set[bytes]:
    """The distinct words of a text's bytes that hold a non-ASCII byte, split at white
    space, quotes and the delimiters a CSV uses. Only lines holding such a byte are split:
    most of a till export's are ASCII (a regular expression over every byte took 0.5 s on
    the 8 MB :func:`text_encoding` samples)."""
    return {w for line in data.splitlines() if not line.isascii()
            for w in line.translate(_WORD_ENDS).split() if not w.isascii()}


def legacy_encoding(words: set[bytes]) -> str:
    """The encoding (:data:`LEGACY_ENCODINGS`) of a file that is not UTF-8, from its distinct
    words holding non-ASCII bytes (:func:`non_ascii_words`): Windows-1252 unless more than
    :data:`GARBLED_SHARE` of them read as garbage there (:func:`_garbled`); else the
    encoding with the fewest garbled words, Windows-1252 on a tie with it, and between others
    the one whose letters are likeliest in a language (charset-normalizer's coherence), then
    :data:`LEGACY_ENCODINGS`'s order.

    Only the text's own evidence moves a file off Windows-1252: Czech and Turkish text mostly
    reads as plausible accented Latin there ('Chléb', 'Túró') and stays so."""
    def garbled(enc: str) -> int:
        return sum(_garbled(w.decode(enc, errors="replace")) for w in words)

    first = garbled(LEGACY_ENCODINGS[0])
    if first <= GARBLED_SHARE * len(words):
        return LEGACY_ENCODINGS[0]
    counts = {enc: garbled(enc) for enc in LEGACY_ENCODINGS[1:]}
    best = min(counts.values())
    if first <= best:
        return LEGACY_ENCODINGS[0]
    tied = [enc for enc in LEGACY_ENCODINGS[1:] if counts[enc] == best]
    if len(tied) == 1:
        return tied[0]
    import charset_normalizer

    found = charset_normalizer.from_bytes(b"\n".join(sorted(words)), cp_isolation=tied)
    coherence = {r.encoding: r.coherence for r in found}
    return max(tied, key=lambda enc: (coherence.get(enc, -1.0), -LEGACY_ENCODINGS.index(enc)))


#: the encoding the user gave for this load (``--encoding``, :func:`check_encoding`): every
#: text file of the load is read in it; None: each file's own is detected
GIVEN_ENCODING: ContextVar[str | None] = ContextVar("given_encoding", default=None)


def check_encoding(name: str | None) -> str | None:
    """``--encoding`` as Python's codec name (``windows-1255`` -> ``cp1255``), None when not
    given; an unknown name is one clear line."""
    import codecs

    if name is None:
        return None
    try:
        return codecs.lookup(str(name).strip()).name
    except LookupError:
        raise ParameterError(f"--encoding {name!r} is not a text encoding Python knows; give "
                             "one such as utf-8, cp1252, cp1250, cp1251, cp1255, latin-1 or "
                             "shift_jis") from None


def _digest(path: Path) -> Any:
    """A SHA-256 to feed a file's bytes while it is read whole for its text, so hashing it
    (:func:`loyalist.ingest.read.file_hash`) is no pass of its own; None for a gzip file,
    whose hash is of its compressed bytes, not of the text read."""
    import hashlib

    return None if path.suffix.lower() == ".gz" else hashlib.sha256()


def text_encoding(path: Path) -> str:
    """The file's encoding (:func:`detect_encoding`)."""
    return detect_encoding(path)[0]


def detect_encoding(path: Path) -> tuple[str, str | None]:
    """'utf-16' (byte-order mark: Excel's 'Unicode text'), else 'utf-8' if the whole file
    decodes as UTF-8, else the Python codec of its legacy encoding (:func:`legacy_encoding`
    of its first :data:`_WORDS` distinct words with non-ASCII bytes):
    'cp1252' for Windows-era European exports ('Käse' as one byte), 'cp1251' for a Russian
    one, 'mac_roman' for a Mac's.

    Decided before DuckDB reads the file: a failed read inside the load's transaction aborts
    the transaction, so trying UTF-8 first and falling back could never work. The user's
    ``--encoding`` (:data:`GIVEN_ENCODING`) is taken as it is: a handful of short words can
    read as plausibly in one script as in another (Hebrew as Cyrillic).

    Also returns the file's SHA-256 when telling its encoding read all of it (a UTF-8 file:
    one invalid byte, even on its last line, makes it another), else None
    (:func:`_digest`)."""
    import codecs

    given = GIVEN_ENCODING.get()
    if given is not None:
        return given, None

    digest = _digest(path)
    with open_binary(path) as f:
        head = f.read(4)
        if head[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
            return "utf-16", None
        decoder = codecs.getincrementaldecoder("utf-8")()
        try:
            for block in itertools.chain([head], iter(lambda: f.read(1 << 22), b"")):
                if digest is not None:
                    digest.update(block)
                decoder.decode(block)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            pass
        else:
            return "utf-8", None if digest is None else digest.hexdigest()
    words: set[bytes] = set()
    with open_binary(path) as f:
        for _ in range(_WORDS_MEGABYTES):
            block = f.read(1 << 20)
            words |= non_ascii_words(block)
            if len(words) >= _WORDS or not block:
                break
    with open_binary(path) as f:
        head = [f.readline() for _ in range(HEADER_SEARCH_LINES)]
    return encoding_of(words, head), None


def encoding_of(words: set[bytes], head: Sequence[bytes]) -> str:
    """The legacy encoding of a file from its non-ASCII words (:func:`legacy_encoding`),
    unless its first lines ``head`` (bytes) name more known columns in another: a Korean
    (Windows-949) header reads as Chinese in GB18030, a Turkish or Czech one as plausible
    Western European in Windows-1252 ('Fiþ No' is 'Fiş No'), while its names, read right,
    are ones Loyalist knows (a short file's words alone cannot tell). On a tie the words'
    choice stays, so an ASCII header changes nothing."""
    import re

    chosen = legacy_encoding(words)
    lines = [line for line in head if any(b > 127 for b in line)]
    if not lines:
        return chosen

    def hits(enc: str) -> int:
        return max(known_hits(re.split(f"[{DELIMITERS}]", line.decode(enc, errors="replace")))
                   for line in lines)

    counts = {enc: hits(enc) for enc in LEGACY_ENCODINGS}
    best = max(counts.values())
    return chosen if counts[chosen] == best else next(
        enc for enc in LEGACY_ENCODINGS if counts[enc] == best)


def to_utf8(path: Path, dest: Path, encoding: str = "cp1252") -> tuple[Path, str | None]:
    """A UTF-8 copy of a text file in ``encoding`` (bytes it leaves undefined become U+FFFD;
    read in blocks by an incremental decoder, so a multi-byte character split between two
    blocks is whole), and the file's SHA-256, fed as it is read (None: :func:`_digest`)."""
    import codecs

    dest.parent.mkdir(parents=True, exist_ok=True)
    decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
    digest = _digest(path)
    with open_binary(path) as src, dest.open("w", encoding="utf-8", newline="") as dst:
        for block in iter(lambda: src.read(1 << 22), b""):
            if digest is not None:
                digest.update(block)
            dst.write(decoder.decode(block))
        dst.write(decoder.decode(b"", final=True))
    return dest, None if digest is None else digest.hexdigest()


def decoded_text(path: Path) -> str:
    """The whole text of a small file, decoded as a table is read (:func:`text_encoding`:
    UTF-16 with its byte-order mark, UTF-8, else a single-byte encoding, whose undefined bytes
    become U+FFFD as in :func:`to_utf8`): a plan's catalog or constraints file."""
    enc = text_encoding(path)
    with open_binary(path) as f:
        return f.read().decode(enc, errors="replace")


def head_lines(path: Path, encoding: str = "utf-8") -> list[str]:
    """The first lines of a text file, decoded (as many as :func:`header_line` and
    :func:`text_layout` look at: at most ``2 * HEADER_SEARCH_LINES``; '' past its end), read
    once for all that looks at a file's head; [] when it cannot be read."""
    import io

    try:
        with open_binary(path) as raw, io.TextIOWrapper(raw, encoding=encoding,
                                                        errors="replace") as f:
            return [f.readline() for _ in range(2 * HEADER_SEARCH_LINES)]
    except (OSError, UnicodeError):
        return []


def header_line(head: Sequence[str]) -> int:
    """The line holding the column names, among a file's first lines ``head``
    (:func:`head_lines`): 0, unless the first line names fewer than two known columns and a
    later one (within the first :data:`HEADER_SEARCH_LINES`) names two or more, as in an
    export that starts with a report title ('Sales by line, period 2024-01') and maybe a
    blank line."""
    import re

    return header_row([re.split(f"[{DELIMITERS}]", line)
                       for line in head[:HEADER_SEARCH_LINES] if line])


def known_hits(cells: Sequence[Any]) -> int:
    """How many distinct known column names the cells hold."""
    from loyalist.ingest.adapters import normalise

    known = _known_column_names()
    return len({n for c in cells if c is not None
                and (n := normalise(str(c).strip().strip('"\ufeff'))) in known})


def header_row(rows: Sequence[Sequence[Any]]) -> int:
    """The index of the row of ``rows`` (cells) holding the column names: 0, unless the first
    names fewer than two known columns and a later one names two or more."""
    counts = [known_hits(r) for r in rows]
    if not counts or counts[0] >= 2:
        return 0
    return next((i for i, n in enumerate(counts) if n >= 2), 0)


#: a cell that is a value, not a column name: a number, an amount, a date or a time
_VALUE_CELL = rf"^[+-]?[{CURRENCY_SIGNS}]?\d[\d.,:/ T+-]*$"


def two_row_names(groups: Sequence[Any], names: Sequence[Any]) -> list[str] | None:
    """The column names of a header written on two rows, or None when ``groups`` (the first
    row) and ``names`` (the row below it) are not one.

    A workbook's group titles merged over several columns ('Beleg' over 'Nr.', 'Datum' and
    'Kunde', 'Artikel' over 'Nr.' and 'Bezeichnung') leave the first row with a title in the
    first cell of each group and nothing in the others. It is a two-row header when that row
    starts with a title and has empty cells, and the row below names a column in every cell,
    no cell a value (number, amount, date), and more known columns (two or more) than the
    first row. A name is then the second row's, prefixed with its group's title where the
    second row repeats it ('Beleg Nr.', 'Artikel Nr.'): the title is what tells those apart,
    and a name unique in its row ('Datum', 'Menge') is found as it is."""
    import re

    top = [str(c).strip() if c is not None else "" for c in groups]
    low = [str(c).strip() if c is not None else "" for c in names]
    if (not top or not top[0] or all(top) or not all(low)
            or any(re.match(_VALUE_CELL, c) for c in low)
            or known_hits(low) < max(2, known_hits(top) + 1)):
        return None
    titles = list(itertools.accumulate(top, lambda prev, cur: cur or prev))
    return [f"{g} {n}" if low.count(n) > 1 else n for g, n in zip(titles, low, strict=True)]


@dataclass(frozen=True)
class TextLayout:
    """How a text file's rows are laid out: columns aligned with runs of spaces (CDNOW's
    ``   1 19970101  1   11.77``), whether its first row is data rather than names, and
    whether that row's first cell is quoted (``"ID";"Customer"``), and its delimiter: the one
    written after a quoted first cell, else the one it holds most of."""

    spaces: bool
    headerless: bool
    columns: int
    quoted: bool = False
    #: the first row's delimiter ('' when it has none)
    delimiter: str = ""


def text_layout(head: Sequence[str], skip: int = 0) -> TextLayout:
    """A text file's layout from its first lines ``head`` (:func:`head_lines`), after ``skip``
    title lines.

    Space-aligned: no line holds a delimiter and every line splits on whitespace into the
    same number (>= 2) of cells. Headerless: the first row names no known column and every
    cell of it is a value (number, amount, date; :data:`_VALUE_CELL`)."""
    import re

    lines = head[skip:skip + HEADER_SEARCH_LINES]
    rows = [ln.strip("\r\n\ufeff") for ln in lines if ln.strip()]
    if not rows:
        return TextLayout(False, False, 0)
    counts = {len(r.split()) for r in rows}
    spaces = (not any(d in r for r in rows for d in DELIMITERS) and len(counts) == 1
              and counts.pop() >= 2)
    first = rows[0].split() if spaces else re.split(f"[{DELIMITERS}]", rows[0])
    cells = [c.strip().strip('"').strip() for c in first]
    headerless = (any(cells) and known_hits(cells) == 0
                  and all(re.match(_VALUE_CELL, c) for c in cells if c))
    quoted = rows[0].lstrip().startswith('"')
    after = re.match(rf'\s*"(?:[^"]|"")*"\s*([{DELIMITERS}])', rows[0]) if quoted else None
    most = max(DELIMITERS, key=rows[0].count)
    delimiter = after.group(1) if after else ("" if quoted or not rows[0].count(most) else most)
    return TextLayout(spaces, bool(headerless), len(cells), quoted, delimiter)


#: labels of a spreadsheet's totals or summary row, written where an id belongs; compared on
#: their letters only ('Total:', 'GRAND TOTAL', 'Gesamtsumme')
TOTAL_LABELS = ("total", "totals", "grandtotal", "subtotal", "sum", "summe", "gesamt",
                "gesamtsumme", "totaal", "totale", "totalgeneral", "somme", "suma")
#: at most this many lines below a CSV's data are read as its report footer
FOOTER_LINES = 5


def footer_lines(path: Path, encoding: str, delimiter: str, columns: int) -> list[str]:
    """The lines at the end of a CSV of ``columns`` (>= 3) columns that hold one value each:
    a report's footer below the data (eBay's '1606 record(s) downloaded, from ...' and
    'Seller ID : ...'), at most :data:`FOOTER_LINES`, blank lines between them passed over as
    the reader passes them; a totals row's label ('Total') ends them (the totals row is read
    as one). Only the file's last bytes are read (UTF-8 files; [] for others)."""
    import csv

    if columns < 3 or encoding != "utf-8" or not delimiter or path.suffix.lower() == ".gz":
        return []
    try:
        with open_binary(path) as f:
            f.seek(0, 2)
            size = f.tell()
            f.seek(max(0, size - 16384))
            tail = f.read().decode("utf-8", errors="replace")
    except (OSError, ValueError):
        return []
    lines = tail.splitlines()[1:] if size > 16384 else tail.splitlines()
    return footer_rows(next(csv.reader([line], delimiter=delimiter), [])
                       for line in reversed(lines))


def footer_rows(bottom_up: Iterable[Sequence[str]]) -> list[str]:
    """The footer lines (:func:`footer_lines`) of a table given as its rows' cells, last row
    first: the trailing rows holding one value each, at most :data:`FOOTER_LINES`, empty
    rows passed over, a totals row's label ending them."""
    import re

    found: list[str] = []
    for row in bottom_up:
        cells = [c for c in row if c.strip()]
        if not cells:
            continue
        if (len(cells) != 1 or len(found) == FOOTER_LINES
                or re.sub("[^a-z]", "", cells[0].lower()) in TOTAL_LABELS):
            break
        found.append(cells[0].strip())
    return found[::-1]


def spaces_to_tabs(path: Path, dest: Path, encoding: str) -> Path:
    """A tab-separated UTF-8 copy of a space-aligned text file (blank lines dropped)."""
    import io

    dest.parent.mkdir(parents=True, exist_ok=True)
    with open_binary(path) as raw, io.TextIOWrapper(raw, encoding=encoding,
                                                    errors="replace") as src, \
            dest.open("w", encoding="utf-8", newline="\n") as dst:
        for line in src:
            cells = line.split()
            if cells:
                dst.write("\t".join(cells) + "\n")
    return dest


def header_cells(head: Sequence[str], skip: int, spaces: bool) -> list[str]:
    """The cells of line ``skip`` (0-based) of a file's first lines ``head``
    (:func:`head_lines`) as written, split as the file is read: the header line's, or with
    ``skip`` one more, the line under it (:func:`units_line`). A space-aligned file is read
    through a copy without its blank lines (:func:`spaces_to_tabs`), so its lines are
    counted without them."""
    import csv

    lines = [ln for ln in head if ln.split()] if spaces else list(head)
    line = lines[skip].strip("\r\n\ufeff") if skip < len(lines) else ""
    if spaces:
        return line.split()
    delim = max(DELIMITERS, key=line.count)
    return [c.strip() for c in next(csv.reader([line], delimiter=delim), [])]


#: words a line under the header writes instead of values to say what a column holds: units
#: of count and measure (English, German, French, Spanish, Italian, Dutch, Polish, Czech,
#: Hungarian), value types as a data dictionary names them, and a few joining words
#: ('EUR per kg', 'in EUR'); currency codes (ISO 4217) and signs count too
UNIT_WORDS = frozenset("""
pcs pc piece pieces pce unit units ea each qty count cnt no nos nr stk st stuck stueck
stück pièce pièces pieza piezas uds ud un unid pz pezzi stuks szt ks db
kg g gr mg lb lbs oz l ltr ml cl m cm mm m2 m3 % pct percent
text string str char varchar date datetime timestamp time number numeric num integer int
decimal float double real bool boolean currency money id
in per je pro par por
""".split())
#: a date or time format written as a column's description ('YYYY-MM-DD', 'dd.mm.yyyy hh:mm')
_DATE_FORMAT = r"^[ymdhs]+(?:[-./: t][ymdhs]+)+$"


def units_line(cells: Sequence[str]) -> list[str]:
    """The filled cells of ``cells`` (the line directly under the header) when it is a units
    line, else []: an export's second header line saying what each column holds ('pcs',
    'EUR', '(text)', '(date)', 'YYYY-MM-DD') rather than a row of values. Every filled cell,
    its brackets dropped, is a date format or made of :data:`UNIT_WORDS`, currency codes
    (ISO 4217, letter case ignored) and currency signs; a line with any other word or a
    value (a number, a date, an id) is data."""
    import re

    from loyalist.money import ISO_4217

    def is_unit(cell: str) -> bool:
        text = re.sub(r"[()\[\]{}<>]", " ", cell).strip().lower()
        if re.match(_DATE_FORMAT, text):
            return True
        words = [w for w in re.split(r"[\s/]+", text) if w]
        return bool(words) and all(w in UNIT_WORDS or w.upper() in ISO_4217
                                   or all(ch in CURRENCY_SIGNS for ch in w) for w in words)

    filled = [c.strip() for c in cells if c and c.strip()]
    return filled if filled and all(is_unit(c) for c in filled) else []
