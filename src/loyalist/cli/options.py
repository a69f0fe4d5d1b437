"""Options every command spells the same way (one declaration, one help text)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

__all__ = ["JsonOpt", "OutOpt", "StoreOpt"]

StoreOpt = Annotated[Path, typer.Option(
    "--store", envvar="LOYALIST_STORE", help="DuckDB store file (env LOYALIST_STORE).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]
OutOpt = Annotated[Path, typer.Option("--out", help="Output folder.")]
