"""Save and load fitted models with their metadata, refusing incompatible versions.

A saved model is a directory holding ``metadata.json`` (format, package version, model class,
as_of, data fingerprint, metrics, library versions) and ``model.joblib`` (the pickled object).
The metadata is read and checked *before* anything is unpickled, so a model written by an
incompatible version is refused with :class:`~loyalist.errors.ModelVersionError` instead of
failing somewhere inside pickle. Compatible = same major version and, before 1.0, the same
minor version (``0.1.x`` reads ``0.1.y``). Model files are outputs: never commit them.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import joblib

from loyalist import __version__, jsontext
from loyalist.errors import DataError, ModelVersionError

__all__ = ["FORMAT", "compatible", "load", "read_metadata", "save"]

FORMAT = "loyalist.model/1"
META = "metadata.json"
BLOB = "model.joblib"


def _major_minor(version: str) -> tuple[int, int]:
    m = re.match(r"^(\d+)\.(\d+)", str(version))
    if not m:
        raise ModelVersionError(f"version {version!r} is not of the form MAJOR.MINOR[.PATCH]")
    return int(m.group(1)), int(m.group(2))


def compatible(saved: str, running: str = __version__) -> bool:
    """Same major version and, before 1.0, the same minor version."""
    a, b = _major_minor(saved), _major_minor(running)
    return a[0] == b[0] and (a[0] > 0 or a[1] == b[1])


def _versions() -> dict[str, str]:
    out = {"python": sys.version.split()[0]}
    for mod in ("numpy", "pandas", "sklearn", "lightgbm", "scipy"):
        module = sys.modules.get(mod)
        if module is not None:
            out[mod] = str(getattr(module, "__version__", "?"))
    return out


def _text(x: Any) -> str | None:
    return None if x is None else str(x)


def save(model: Any, path: str | Path, *, as_of: Any = None, data_fingerprint: str | None = None,
         metrics: dict[str, Any] | None = None, extra: dict[str, Any] | None = None) -> Path:
    """Write ``model`` into the directory ``path`` (created; a model already there is replaced).

    ``as_of``, ``data_fingerprint`` and ``metrics`` default to the model's ``as_of_``,
    ``data_fingerprint_`` and ``metrics_`` attributes when it has them.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise DataError(f"{path}: a file is in the way; a model is saved as a directory")
    if path.is_dir() and any(path.iterdir()) and not (path / META).exists():
        raise DataError(f"{path}: the directory holds other files; save the model into an "
                        "empty or new directory")
    path.mkdir(parents=True, exist_ok=True)
    meta = {
        "format": FORMAT,
        "loyalist_version": __version__,
        "model_class": f"{type(model).__module__}.{type(model).__qualname__}",
        "as_of": _text(as_of if as_of is not None else getattr(model, "as_of_", None)),
        "data_fingerprint": data_fingerprint or getattr(model, "data_fingerprint_", None),
        "metrics": metrics if metrics is not None else getattr(model, "metrics_", None),
        "versions": _versions(),
        **(extra or {}),
    }
    text = jsontext.dumps(meta)  # fail before writing anything
    joblib.dump(model, path / BLOB, compress=3)
    (path / META).write_text(text)
    return path


def read_metadata(path: str | Path) -> dict[str, Any]:
    """The metadata of a saved model, without unpickling it."""
    path = Path(path)
    meta_path = path / META
    if not meta_path.is_file():
        raise DataError(f"{path}: not a saved loyalist model (no {META}); train one with "
                        "`loyalist train`")
    try:
        meta = json.loads(meta_path.read_text())
    except json.JSONDecodeError as e:
        raise DataError(f"{meta_path}: unreadable metadata ({e.msg} at line {e.lineno})"
                        ) from None
    if not isinstance(meta, dict):
        raise DataError(f"{meta_path}: metadata is not a JSON object")
    return meta


def load(path: str | Path) -> Any:
    """Load a model saved by :func:`save`; refuse one from an incompatible version."""
    path = Path(path)
    meta = read_metadata(path)
    fmt = meta.get("format")
    saved = str(meta.get("loyalist_version", "?"))
    if fmt == FORMAT and not str(meta.get("loyalist_version") or "").strip():
        raise ModelVersionError(
            f"{path / META}: the model's loyalist version is missing (no "
            f"'loyalist_version'), so it cannot be checked against this loyalist "
            f"{__version__}; retrain with `loyalist train --out DIR` and use DIR/model")
    if fmt == FORMAT and not re.match(r"^\d+\.\d+", saved):
        raise ModelVersionError(
            f"{path / META}: the model's loyalist version {saved!r} is not of the form "
            f"MAJOR.MINOR[.PATCH], so it cannot be checked against this loyalist "
            f"{__version__}; retrain with `loyalist train --out DIR` and use DIR/model")
    if fmt != FORMAT:
        raise ModelVersionError(
            f"{path}: model format {fmt!r} is not {FORMAT!r} (written by loyalist {saved}); "
            f"this is loyalist {__version__}: retrain with `loyalist train`"
        )
    if not compatible(saved):
        raise ModelVersionError(
            f"{path}: model written by loyalist {saved}; this is loyalist {__version__}, which "
            f"reads models from {_major_minor(__version__)[0]}.{_major_minor(__version__)[1]}.x"
            " only (models are not portable across minor versions before 1.0): retrain with "
            "`loyalist train`"
        )
    blob = path / BLOB
    if not blob.is_file():
        raise DataError(f"{path}: {BLOB} is missing; the model directory is incomplete")
    model = joblib.load(blob)
    cls = f"{type(model).__module__}.{type(model).__qualname__}"
    if cls != meta.get("model_class"):
        raise DataError(f"{path}: {BLOB} holds a {cls}, the metadata says "
                        f"{meta.get('model_class')}; the directory was tampered with")
    return model
