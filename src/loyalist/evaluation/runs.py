"""Runs' metrics kept in the store (table ``runs``: kind, as_of, package version, metrics as
JSON), so the report, the API and the dashboard show a run's out-of-time evaluation without
the folder it wrote (``loyalist train --out``)."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

from loyalist import jsontext
from loyalist import schema as s
from loyalist.store import Store

__all__ = ["TRAIN_RUN", "save_run", "stored_run"]

#: the ``kind`` of the row ``loyalist train`` writes (its ``metrics.json``)
TRAIN_RUN = "train"


def save_run(st: Store, kind: str, ts: pd.Timestamp, metrics: dict[str, Any]) -> None:
    """Keep a run's metrics, replacing the same kind's row of that as_of."""
    from loyalist import __version__

    row = pd.DataFrame({"kind": [kind], "as_of": [pd.Timestamp(ts)], "version": [__version__],
                        "metrics": [jsontext.dumps(metrics, indent=None)]})
    st.write_frame(s.T_RUNS, row, replace_where="kind = ? AND as_of = ?",
                   params=[kind, pd.Timestamp(ts).to_pydatetime()])


def stored_run(st: Store, kind: str, ts: pd.Timestamp) -> dict[str, Any] | None:
    """The metrics of the ``kind`` run at as_of ``ts`` (None: none kept, e.g. a store trained
    by an earlier version)."""
    if not st.has_table(s.T_RUNS):
        return None
    got = st.con.execute(f"SELECT metrics FROM {s.T_RUNS} WHERE kind = ? AND as_of = ?",
                         [kind, pd.Timestamp(ts).to_pydatetime()]).fetchone()
    return json.loads(got[0]) if got else None
