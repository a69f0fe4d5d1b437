"""The two write endpoints' work: a plan (``POST /plans``) and a file load (``POST /ingest``),
each one call of :mod:`loyalist.pipeline` with the store to itself. Temporary files (inline
constraints, the upload) never leak into what the client sees: their paths are replaced in
results and messages."""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from loyalist import pipeline
from loyalist.api.models import PlanRequest
from loyalist.api.storegate import StoreGate
from loyalist.errors import LoyalistError


def json_safe(x: Any, replace: tuple[str, str] | None = None) -> Any:
    """Plain JSON: numpy scalars via :func:`loyalist.pipeline.json_default`, NaN -> None;
    ``replace`` = (old, new) substitutes text inside strings (a temporary path)."""
    text = json.dumps(x, default=pipeline.json_default)
    if replace is not None:
        text = text.replace(json.dumps(replace[0])[1:-1], json.dumps(replace[1])[1:-1])
    return json.loads(text, parse_constant=lambda _c: None)


@contextlib.contextmanager
def _scratch(prefix: str, shown_as: str) -> Iterator[Path]:
    """A temporary folder; a LoyalistError that names it is re-raised naming ``shown_as``."""
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        try:
            yield Path(tmp)
        except LoyalistError as e:
            msg = str(e)
            if tmp not in msg:
                raise
            raise type(e)(re.sub(re.escape(tmp) + r"/[^\s:]*", shown_as, msg)) from None


def plan(gate: StoreGate, req: PlanRequest) -> dict[str, Any]:
    """Make and save a plan; its summary (``loyalist plan --json``)."""
    with _scratch("loyalist-plan-", "the request's constraints") as tmp:
        cons = None
        if req.constraints():
            cons = tmp / "constraints.json"
            cons.write_text(json.dumps(req.constraints()))
        with gate.write() as store:
            res = pipeline.plan(store, budget=req.budget, budget_per_month=req.budget_per_month,
                                goal=req.goal, period=req.period,
                                segments=req.segments or None, constraints=cons,
                                max_segment_share=req.max_segment_share,
                                cooldown_days=req.cooldown_days,
                                as_of=str(req.as_of) if req.as_of else None, out=None,
                                offer_fit=req.offer_fit, save=True)
    return json_safe(res["summary"])  # type: ignore[no-any-return]


def safe_name(filename: str | None) -> str:
    """The upload's base name with only ``[A-Za-z0-9._-]`` (its suffix picks the reader)."""
    base = Path((filename or "").replace("\\", "/")).name
    base = re.sub(r"[^A-Za-z0-9._-]", "_", base).lstrip(".")[-120:]
    return base or "upload"


def ingest(gate: StoreGate, upload: BinaryIO, filename: str | None, *, table: str, fmt: str,
           mapping: list[str] | None) -> list[dict[str, Any]]:
    """Load one uploaded file with the CLI's validation and quarantine; its quality report."""
    name = safe_name(filename)
    with _scratch("loyalist-upload-", name) as tmp:
        path = tmp / name
        with path.open("wb") as f:
            shutil.copyfileobj(upload, f, 1024 * 1024)
        with gate.write() as store:
            reports = pipeline.ingest(store, [path], fmt=fmt, mapping=mapping or None,
                                      table=table)
    return json_safe(reports, replace=(str(path), name))  # type: ignore[no-any-return]
