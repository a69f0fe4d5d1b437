"""Options every command spells the same way (one declaration, one help text)."""

from __future__ import annotations

import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any

import typer

from loyalist.errors import ParameterError
from loyalist.money import Amount, parse_amount

__all__ = ["MONEY", "Amount", "JsonOpt", "OutOpt", "StoreOpt", "amount_code", "amount_value",
           "one_of", "writable_folder"]


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


def _as_typed(text: str) -> str:
    """An amount option's text as typed, read by :func:`_amount` (a ValueError raised here
    would become the boxed usage error "'5k' is not a valid float")."""
    return text


def _amount(ctx: typer.Context, param: typer.CallbackParam, text: str | None
            ) -> Amount | None:
    """An amount of money as merchants write it (5k, 5,000, €5000, 5000 EUR:
    :func:`loyalist.money.parse_amount`); what it cannot read is one line naming the option."""
    if text is None or isinstance(text, Amount):
        return text
    return parse_amount(text, param.opts[0] if param.opts else str(param.name))


#: an option taking an amount of money (``--budget``, ``--budget-per-month``)
MONEY: dict[str, Any] = {"parser": _as_typed, "callback": _amount, "metavar": "AMOUNT"}


def amount_value(amount: Amount | None) -> float | None:
    """The number of an amount option (None when not given)."""
    return None if amount is None else amount.value


def amount_code(*amounts: Amount | None) -> str | None:
    """The currency the given amount options name (the first that names one; None: none),
    checked against the store's by the pipeline."""
    return next((a.code for a in amounts if a is not None and a.code), None)
