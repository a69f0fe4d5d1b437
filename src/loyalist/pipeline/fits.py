"""The plan's response fits, kept for reuse: in this process (the last :data:`FITS_KEPT`) and
on disk beside their store (``<store>.fits/``, the last :data:`FITS_KEPT` of each store), each
under a digest of everything the fit reads (:func:`fit_key`). A plan re-made with another
budget, goal or period, in this process or by the next ``loyalist plan`` command, reuses the
fit while the store's rows, the catalog, the priors, the settings and the versions of the
package and its libraries are unchanged; anything else fits again.

A saved fit is a pickle (joblib), trusted as the store beside it is: whoever can write the
store's folder can already change its data. A fit file that cannot be read (truncated,
of an older form) is removed with a warning and the plan fits again; one that cannot be
written (a read-only folder, a full disk) costs only the reuse, with a warning.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sys
import threading
import uuid
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import pandas as pd

from loyalist import __version__
from loyalist import schema as s
from loyalist.store import Store

log = logging.getLogger(__name__)

#: the tables the response model's fit and its customers' features read
FIT_TABLES = (s.T_TRANSACTIONS, s.T_CUSTOMERS, s.T_PROMOTIONS, s.T_PRODUCTS)
#: response fits kept: in this process, and on disk for each store
FITS_KEPT = 2
#: the libraries whose versions a saved fit's pickle depends on (part of the key)
LIBRARIES = ("numpy", "pandas", "sklearn", "lightgbm", "scipy", "duckdb", "pyarrow")
SUFFIX = ".joblib"


class ResponseFit(NamedTuple):
    """What a plan keeps of a response fit: the fitted model, the customers' features and
    predictions at the plan's as_of, and of the training exposures only what the plan reads
    (their notes, the days campaigns and each promotion were sent; the exposures themselves
    would be most of a saved fit's size)."""

    notes: list[str]
    campaign_days: list[Any]
    promotion_days: dict[str, list[Any]]
    model: Any
    features: pd.DataFrame
    predictions: pd.DataFrame

    @classmethod
    def of(cls, training: Any, model: Any, features: pd.DataFrame) -> ResponseFit:
        """The fit of ``model`` on ``training`` (a :class:`loyalist.response.TrainingSet`),
        with its predictions for ``features``."""
        f = training.frame
        sent = (pd.to_datetime(f[s.SENT_AT]).dt.normalize() if s.SENT_AT in f
                else pd.Series(dtype="datetime64[ns]"))
        by_promotion = ({str(p): sorted(d.unique()) for p, d in
                         sent[f[s.PROMOTION] != s.CONTROL].groupby(f[s.PROMOTION])}
                        if s.PROMOTION in f and len(sent) else {})
        return cls(notes=list(training.notes), campaign_days=sorted(sent.unique()),
                   promotion_days=by_promotion, model=model, features=features,
                   predictions=model.predict(features))


_FITS: OrderedDict[str, ResponseFit] = OrderedDict()
_FITS_LOCK = threading.Lock()


def fits_dir(store_path: Path) -> Path:
    """Where the fits of the store at ``store_path`` are saved: ``<store>.fits`` beside it."""
    return store_path.with_name(store_path.name + ".fits")


def _versions() -> str:
    out = [f"python {sys.version_info[0]}.{sys.version_info[1]}"]
    for name in LIBRARIES:
        mod = sys.modules.get(name)
        if mod is None:
            try:
                mod = __import__(name)
            except ImportError:
                continue
        out.append(f"{name} {getattr(mod, '__version__', '?')}")
    return ", ".join(out)


def fit_key(st: Store, ts: pd.Timestamp, parts: Sequence[Any]) -> str:
    """A digest of everything a response fit at ``ts`` reads: the rows of
    :data:`FIT_TABLES` (count and an order-free sum of row hashes, one scan each), the
    versions of the package and of :data:`LIBRARIES`, and ``parts`` (the catalog, item
    prices, priors and settings), so a changed store, catalog or priors never reuses an old
    fit."""
    from loyalist.evaluation.splits import fingerprint

    h = hashlib.sha256(f"{__version__}|{_versions()}|{ts.isoformat()}".encode())
    for table in FIT_TABLES:
        if st.has_table(table):
            n, total = st.con.execute(f"SELECT count(*), sum(hash(x)) FROM {table} x"
                                      ).fetchone()
            h.update(f"|{table}:{n}:{total}".encode())
    for part in parts:
        h.update(b"|" + (fingerprint(part.astype(str)) if isinstance(part, pd.DataFrame)
                         else repr(part)).encode())
    return h.hexdigest()


def _keep_in_memory(key: str, fit: ResponseFit) -> None:
    with _FITS_LOCK:
        _FITS[key] = fit
        _FITS.move_to_end(key)
        while len(_FITS) > FITS_KEPT:
            _FITS.popitem(last=False)


def kept(store_path: Path, key: str) -> ResponseFit | None:
    """The fit saved under ``key``: this process's, else the one saved beside the store
    (then kept in this process too), else None."""
    with _FITS_LOCK:
        fit = _FITS.get(key)
        if fit is not None:
            _FITS.move_to_end(key)
            log.info("response model: the fit on the same data, catalog and priors made "
                     "earlier in this process is reused")
            return fit
    path = fits_dir(store_path) / f"{key}{SUFFIX}"
    if not path.is_file():
        return None
    import joblib

    try:
        fit = joblib.load(path)
        if not isinstance(fit, ResponseFit):
            raise TypeError(f"it holds a {type(fit).__name__}, not a {ResponseFit.__name__}")
    except Exception as e:  # noqa: BLE001 - any unreadable file only costs the reuse
        log.warning("%s: a saved response fit could not be read (%s: %s); it is removed "
                    "and the response model is fitted again", path, type(e).__name__,
                    str(e).splitlines()[0] if str(e) else "")
        try:
            path.unlink(missing_ok=True)
        except OSError:  # the next fit writes over it
            pass
        return None
    try:
        os.utime(path)  # the most recently used is kept longest
    except OSError:
        pass
    log.info("response model: the fit on the same data, catalog and priors saved in %s is "
             "reused", path)
    _keep_in_memory(key, fit)
    return fit


def keep(store_path: Path, key: str, fit: ResponseFit) -> None:
    """Keep ``fit`` under ``key`` in this process and beside the store (written to a
    temporary file, then renamed into place, so a reader never sees half a fit), leaving the
    store's :data:`FITS_KEPT` most recently used."""
    import joblib

    _keep_in_memory(key, fit)
    folder = fits_dir(store_path)
    tmp = folder / f".{key}.{uuid.uuid4().hex}.tmp"
    try:
        folder.mkdir(exist_ok=True)
        joblib.dump(fit, tmp)
        os.replace(tmp, folder / f"{key}{SUFFIX}")
    except OSError as e:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:  # e.g. a file where the folder should be
            pass
        log.warning("%s: the response fit could not be saved for the next plan (%s); this "
                    "plan is unaffected", folder, e.strerror or e)
        return
    try:  # another process may be pruning the same folder
        saved = sorted(folder.glob(f"*{SUFFIX}"), key=lambda p: p.stat().st_mtime,
                       reverse=True)
        for old in saved[FITS_KEPT:]:
            old.unlink(missing_ok=True)
    except OSError:
        pass


def forget(store_path: Path | str | None = None) -> None:
    """Drop the fits this process keeps and, with ``store_path``, the ones saved beside that
    store (the next plan on it fits again)."""
    with _FITS_LOCK:
        _FITS.clear()
    if store_path is not None:
        folder = fits_dir(Path(store_path))
        for path in folder.glob(f"*{SUFFIX}"):
            path.unlink(missing_ok=True)
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
