"""Unpack what is passed beside plain data files: a zip archive (an export of several files)
or a gzip-compressed file is extracted into a scratch folder, its data files picked by their
name endings; and a text file found in a folder or an archive is told apart as a document
(a README, notes, prose) rather than a table.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from loyalist.errors import DataError
from loyalist.ingest.text import DELIMITERS, HEADER_SEARCH_LINES, open_binary

#: file name endings of data files (a folder or an archive is read for these)
DATA_SUFFIXES = (".csv", ".txt", ".tsv", ".csv.gz", ".tsv.gz", ".txt.gz", ".parquet", ".pq",
                 ".xlsx", ".xls", ".xlsm", ".json", ".jsonl", ".ndjson", ".feather",
                 ".arrow", ".ipc")


#: base names of the documents an export ships beside its data (README.txt, notes.txt)
_DOC_NAMES = ("readme", "read_me", "read-me", "notes", "note", "license", "licence",
              "changelog", "changes", "instructions")
#: endings of text files that may be documents rather than tables
_DOC_SUFFIXES = (".txt", ".md", ".txt.gz")


def not_a_table(path: Path) -> str | None:
    """Why a text file found in a folder or an archive is a document rather than a table
    (None when it may be a table): a README or notes name, or prose, whose first lines do
    not split into the same number (>= 2) of cells on one delimiter (``,;\t|``) or on runs
    of spaces (CDNOW's aligned .txt is a table). Other kinds of file are never skipped."""
    import io
    import re

    name = path.name.lower()
    if not name.endswith(_DOC_SUFFIXES):
        return None
    stem = name.split(".", 1)[0]
    if stem in _DOC_NAMES or re.match(r"(readme|read_me|notes?)[ _.-]", stem):
        return "a README or notes file"
    try:
        with open_binary(path) as raw:
            head = raw.read(2)
            raw.seek(0)
            enc = "utf-16" if head in (b"\xff\xfe", b"\xfe\xff") else "utf-8"
            with io.TextIOWrapper(raw, encoding=enc, errors="replace") as f:
                lines = [ln.strip("\r\n\ufeff") for ln in
                         (f.readline() for _ in range(HEADER_SEARCH_LINES)) if ln.strip()]
    except (OSError, UnicodeError, EOFError):
        return None  # reading it says what is wrong
    if len(lines) < 2:
        return "text of fewer than two lines, no table"
    for d in DELIMITERS:
        counts = [ln.count(d) for ln in lines]
        if counts[0] and sum(c == counts[0] for c in counts) >= 0.8 * len(counts):
            return None
    cells = [len(ln.split()) for ln in lines]
    if cells[0] >= 2 and sum(c == cells[0] for c in cells) >= 0.8 * len(cells):
        return None
    return "text whose lines do not split into columns (prose, not a table)"


def is_archive(path: Path) -> bool:
    """A zip file that is not itself a spreadsheet (an .xlsx or .ods is a zip holding
    ``[Content_Types].xml`` or ``mimetype``): a download or export of several files."""
    import zipfile

    if path.is_dir() or not path.exists() or path.suffix.lower() in (".xlsx", ".xlsm", ".ods"):
        return False
    with path.open("rb") as f:
        if f.read(2) != b"PK":
            return False
    try:
        with zipfile.ZipFile(path) as z:
            names = set(z.namelist())
    except zipfile.BadZipFile:
        return path.suffix.lower() == ".zip"  # extracting says it is corrupt
    return not ({"[Content_Types].xml", "mimetype"} & names)


def extract_archive(path: Path, into: Path) -> list[Path]:
    """The data files of zip archive ``path`` (by name ending, :data:`DATA_SUFFIXES`; in any
    folder of it, macOS resource forks and hidden files left out), extracted under ``into`` in
    a folder named after the archive, so messages read ``.../sales.zip/orders.csv``. Two
    members with the same name in different folders keep their folder. A corrupt or encrypted
    archive, or one without a data file, is a :class:`DataError` naming it."""
    import zipfile

    try:
        z = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        raise DataError(f"{path}: is not a readable zip archive (corrupt or truncated?); "
                        "download or export it again") from None
    with z:
        members = [m for m in z.infolist() if not m.is_dir()
                   and not any(part.startswith((".", "__MACOSX")) for part in
                               Path(m.filename).parts)
                   and m.filename.lower().endswith(DATA_SUFFIXES)]
        if not members:
            inside = ", ".join(m.filename for m in z.infolist()[:8]) or "nothing"
            raise DataError(f"{path}: the archive holds no data file ({inside}); data files "
                            f"end in {', '.join(DATA_SUFFIXES)}")
        if any(m.flag_bits & 0x1 for m in members):
            raise DataError(f"{path}: the archive is password-protected; extract it and pass "
                            "the files inside")
        _check_space(path, sum(m.file_size for m in members), into)
        base = into / path.name
        names = [Path(m.filename).name for m in members]
        out = []
        for m, name in zip(members, names, strict=True):
            rel = (Path(*[p for p in Path(m.filename).parts if p not in ("..", "/", "")])
                   if names.count(name) > 1 else Path(name))
            out.append(_unpack(lambda m=m: z.open(m), base / rel,
                               f"{path}: {m.filename} cannot be extracted"))
    return sorted(out)


def _check_space(path: Path, need: int, into: Path) -> None:
    import shutil

    free = shutil.disk_usage(into).free
    if need > free:
        raise DataError(f"{path}: its data need {need / 1e9:.1f} GB unpacked and {into} has "
                        f"{free / 1e9:.1f} GB free; unpack it elsewhere (or set TMPDIR) and "
                        "pass the files")


def _unpack(open_src: Any, dest: Path, failure: str) -> Path:
    """Stream ``open_src()`` (a binary file object) into ``dest``; a corrupt, truncated or
    encrypted source is a :class:`DataError` starting with ``failure``."""
    import shutil
    import zipfile

    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        with open_src() as src, dest.open("wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
    except (zipfile.BadZipFile, OSError, EOFError, RuntimeError) as e:
        raise DataError(f"{failure} (corrupt or truncated?): {e}; download or export it "
                        "again") from None
    return dest


def is_gzip(path: Path) -> bool:
    """A gzip-compressed file (``sales.csv.gz``), by its magic bytes."""
    if path.is_dir() or not path.exists():
        return False
    with path.open("rb") as f:
        return f.read(2) == b"\x1f\x8b"


def gunzip(path: Path, into: Path) -> Path:
    """``path`` decompressed under ``into`` (``sales.csv.gz`` -> ``sales.csv``). Reading the
    plain file is faster than reading the compressed one (DuckDB splits a plain CSV across
    threads; measured on Online Retail, 47 MB as CSV: 2.4 s vs 3.8 s from the .gz), and every
    reader then sees one kind of file. A corrupt or truncated file is a :class:`DataError`."""
    import gzip

    with path.open("rb") as f:  # the trailer holds the size modulo 4 GiB
        f.seek(-4, 2)
        size = int.from_bytes(f.read(4), "little")
    _check_space(path, max(size, path.stat().st_size), into)
    name = path.name[:-3] if path.name.lower().endswith(".gz") else path.name + ".data"
    return _unpack(lambda: gzip.open(path, "rb"), into / path.name / name,
                   f"{path}: cannot be decompressed as gzip")
