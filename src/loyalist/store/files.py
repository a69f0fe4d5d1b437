"""A store's files on disk: the DuckDB file and the write-ahead log beside it."""

from __future__ import annotations

from pathlib import Path


def wal_path(path: Path) -> Path:
    """The write-ahead log DuckDB keeps beside a store file."""
    return path.with_name(path.name + ".wal")


def remove_store_files(path: Path) -> None:
    """Remove a store file and its write-ahead log (either may be absent)."""
    for p in (path, wal_path(path)):
        p.unlink(missing_ok=True)
