"""The two write endpoints' work: a plan (``POST /plans``) and a file load (``POST /ingest``),
each one call of :mod:`loyalist.pipeline` with the store to itself. Temporary files (inline
constraints, the upload) never leak into what the client sees: their paths are replaced in
results, messages and the ``loads`` table, and messages name request fields, not CLI options."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

import pandas as pd

from loyalist import jsontext, pipeline
from loyalist.api.models import PlanRequest
from loyalist.api.reads import option_fields
from loyalist.api.storegate import StoreGate
from loyalist.errors import LoyalistError
from loyalist.schema import NEW_SEGMENT


def json_safe(x: Any, replace: tuple[str, str] | None = None) -> Any:
    """Plain JSON (:func:`loyalist.jsontext.dumps`: numpy scalars as numbers, NaN -> None);
    ``replace`` = (old, new) substitutes text inside strings (a temporary path)."""
    text = jsontext.dumps(x, indent=None)
    if replace is not None:
        text = text.replace(json.dumps(replace[0])[1:-1], json.dumps(replace[1])[1:-1])
    return json.loads(text)


@contextlib.contextmanager
def _reworded(reword: Callable[[str], str]) -> Iterator[None]:
    """Re-raise a LoyalistError with its message passed through ``reword`` (as it was when
    ``reword`` changes nothing)."""
    try:
        yield
    except LoyalistError as e:
        msg = reword(str(e))
        if msg == str(e):
            raise
        raise type(e)(msg) from None


@contextlib.contextmanager
def _scratch(prefix: str, shown_as: str) -> Iterator[Path]:
    """A temporary folder; a LoyalistError that names it is re-raised naming ``shown_as``."""
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp, \
            _reworded(lambda m: re.sub(re.escape(tmp) + r"/[^\s:]*", shown_as, m)):
        yield Path(tmp)


#: the ``loyalist plan`` options that :func:`loyalist.pipeline.plan`'s messages name, as the
#: fields of :class:`~loyalist.api.models.PlanRequest`
PLAN_OPTIONS = {"--budget": "budget", "--budget-per-month": "budget_per_month", "--goal": "goal",
                "--period": "period", "--segments": "segments", "--as-of": "as_of",
                "--max-segment-share": "max_segment_share", "--cooldown": "cooldown_days",
                "--offer-fit": "offer_fit", "--no-offer-fit": "offer_fit", "--clear": "clear",
                "--priors": "priors", "--holdout": "holdout"}


def plan_message(msg: str) -> str:
    """A :func:`loyalist.pipeline.plan` message as the API's: request fields for the CLI's
    options (outside the `commands` it suggests), training as a command for the server,
    and why its segment of customers with no purchase has no customer list."""
    msg = option_fields(msg, PLAN_OPTIONS)
    msg = re.sub(r"^\S+: no customer scores", "no customer scores", msg)
    msg = re.sub(r"run `loyalist train --store \S+ --as-of ([0-9-]+)` first",
                 r"train the models at that date on the server (`loyalist train --as-of \1`)",
                 msg)
    if msg.startswith("segments ") and NEW_SEGMENT in msg:
        msg += (f" ({NEW_SEGMENT!r}: registered customers with no purchase yet; they have no "
                "scores, so GET /customers and GET /segments do not list them)")
    return msg


def plan(gate: StoreGate, req: PlanRequest) -> dict[str, Any]:
    """Make and save a plan; its summary (``loyalist plan --json``). Errors name the request's
    fields (:func:`plan_message`)."""
    with _reworded(plan_message), _scratch("loyalist-plan-", "the request's constraints") as tmp:
        cons = None
        if req.constraints():
            cons = tmp / "constraints.json"
            cons.write_text(json.dumps(req.constraints()))
        priors = None
        if req.priors:
            priors = pd.DataFrame([r.model_dump() for r in req.priors])
            priors.attrs["source"] = "the request"  # in messages and the assumptions
        # made as a reader (minutes on a large store: reads go on meanwhile), saved as the
        # store's one writer
        with gate.read():
            res = pipeline.plan(gate.path, budget=req.budget,
                                budget_per_month=req.budget_per_month, goal=req.goal,
                                period=req.period, segments=req.segments or None,
                                constraints=cons, max_segment_share=req.max_segment_share,
                                cooldown_days=req.cooldown_days,
                                as_of=str(req.as_of) if req.as_of else None, out=None,
                                clear=req.clear or None, offer_fit=req.offer_fit,
                                save=False, priors=priors, holdout=req.holdout)
        with gate.write() as store:
            pipeline.save_plan(store, res)
    return json_safe(res["summary"])  # type: ignore[no-any-return]


def safe_name(filename: str | None) -> str:
    """The upload's base name with only ``[A-Za-z0-9._-]`` (its suffix picks the reader)."""
    base = Path((filename or "").replace("\\", "/")).name
    base = re.sub(r"[^A-Za-z0-9._-]", "_", base).lstrip(".")[-120:]
    return base or "upload"


def ingest(gate: StoreGate, upload: BinaryIO, filename: str | None, *, table: str, fmt: str,
           mapping: list[str] | None, currency: str | None = None,
           encoding: str | None = None) -> list[dict[str, Any]]:
    """Load one uploaded file with the CLI's validation and quarantine; its quality report
    (``currency``: the ISO 4217 code of its amounts, as ``--currency``; ``encoding``: its
    text encoding, as ``--encoding``).
    The report, the ``loads`` table and error messages name the file as the client did
    (:func:`safe_name`), never by the server's temporary copy."""
    name = safe_name(filename)
    with tempfile.TemporaryDirectory(prefix="loyalist-upload-") as tmp:
        show = client_names(Path(tmp), name)
        path = Path(tmp) / name
        with path.open("wb") as f:
            shutil.copyfileobj(upload, f, 1024 * 1024)
        with _reworded(lambda m: ingest_message(show(m))), gate.write() as store:
            reports = pipeline.ingest(store, [path], fmt=fmt, mapping=mapping or None,
                                      table=table, display=show,  # reports already shown
                                      currency=currency, encoding=encoding)
    return json_safe(reports)  # type: ignore[no-any-return]


def ingest_message(msg: str) -> str:
    """An ingest message as the API's: the form fields ``map``, ``table``, ``format``,
    ``currency`` and ``encoding`` for the CLI's options (``--map unit_price=<column>`` ->
    ``map=unit_price=<column>``)."""
    fields = "map|table|format|currency|encoding"
    parts = msg.split("`")
    parts[::2] = [re.sub(rf"(?<![\w-])--({fields})\b", r"the form field \1",
                         re.sub(rf"(?<![\w-])--({fields})[ =]", r"\1=", x))
                  for x in parts[::2]]
    return "`".join(parts)


def client_names(tmp: Path, name: str) -> Callable[[str], str]:
    """``text`` -> ``text`` with the server's paths of the upload ``name`` saved in ``tmp``
    shown as the client named it: the upload itself and members of an uploaded archive
    (``shop.zip/lines.csv``), and the copies :mod:`loyalist.ingest` makes in temporary folders
    of its own (``/tmp/loyalist-XXXX/__src0/lines.csv``)."""
    folders = sorted({str(tmp), str(tmp.resolve())}, key=len, reverse=True)
    temp = Path(tempfile.gettempdir())
    roots = "|".join(re.escape(str(r)) for r in sorted({temp, temp.resolve()},
                                                       key=lambda r: -len(str(r))))
    scratch = re.compile(rf"(?:{roots})[/\\]loyalist-[\w-]+[/\\][^\s\"'`]*[^\s\"'`.,;:)]")
    archive = name.lower().endswith(".zip")

    def shown(m: re.Match[str]) -> str:
        base = re.split(r"[/\\]", m.group())[-1]
        return f"{name}/{base}" if archive and base != name else name

    def show(text: str) -> str:
        for folder in folders:
            text = text.replace(folder + os.sep, "").replace(folder + "/", "")
        return scratch.sub(shown, text)

    return show


def unload_message(msg: str) -> str:
    """An unload message as the API's: the requests for the commands it suggests."""
    msg = re.sub(r"`loyalist unload ([0-9 ]+)`",
                 lambda m: f"`DELETE /loads/{','.join(m.group(1).split())}`", msg)
    msg = msg.replace("`loyalist loads`", "`GET /loads`")
    return re.sub(r"`loyalist run --store [^`]*` \(or train, recommend, forecast, plan\)",
                  "`loyalist run` on the server (POST /plans for a plan)", msg)


def unload(gate: StoreGate, ids: list[str],
           reword: Callable[[str], str] = unload_message) -> dict[str, Any]:
    """Remove loads and every row they wrote (``loyalist unload --json``); its errors and
    notes pass through ``reword`` (the API's requests for the CLI's commands; the dashboard
    gives its buttons)."""
    with _reworded(reword), gate.write() as store:
        res = pipeline.unload(store, ids)
    res["notes"] = [reword(n) for n in res["notes"]]
    return json_safe(res)  # type: ignore[no-any-return]
