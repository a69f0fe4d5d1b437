"""Options every command spells the same way (one declaration, one help text)."""

from __future__ import annotations

import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated

import typer

from loyalist.errors import ParameterError

__all__ = ["JsonOpt", "OutOpt", "StoreOpt", "one_of", "writable_folder"]


def one_of(choices: Iterable[str], lead: str = "One of") -> str:
    """An option's help naming its choices with a space after each comma, so that an 80-column
    terminal wraps the list (``retention|revenue|...`` has no space and was cut to
    ``retention|revenue|p…``)."""
    return f"{lead}: {', '.join(choices)}."


def writable_folder(path: Path | None) -> Path | None:
    """``--out``: a folder that exists or can be made, and that may be written to, checked
    before a command does its work (it used to fail with a traceback after minutes of
    training). Nothing is created here: a probe file in the nearest existing folder is made
    and removed at once."""
    if path is None:
        return None
    if path.exists() and not path.is_dir():
        raise ParameterError(f"--out {path}: a file, not a folder; give a folder path")
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        raise ParameterError(f"--out {path}: {probe} is a file, so no folder can be made "
                             "under it; give another path")
    try:
        with tempfile.TemporaryFile(dir=probe):
            pass
    except OSError as e:
        raise ParameterError(f"--out {path}: cannot write in {probe} ({e.strerror or e}); give "
                             "a folder you may write to") from None
    return path


StoreOpt = Annotated[Path, typer.Option(
    "--store", envvar="LOYALIST_STORE", help="DuckDB store file.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]
OutOpt = Annotated[Path, typer.Option("--out", help="Output folder.", callback=writable_folder)]
