"""Heavy modules the commands use, imported on first use: ``loyalist --help``, ``--version``
and a command's own option errors then start in a fraction of a second instead of importing
pandas, scikit-learn and SciPy first (4.5 CPU-seconds, 9-16 s on a loaded machine)."""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

__all__ = ["lazy"]


class _Lazy(ModuleType):
    """A stand-in for a module that imports it at the first attribute read."""

    def __getattr__(self, attr: str) -> Any:
        return getattr(importlib.import_module(self.__name__), attr)


def lazy(name: str) -> Any:
    """The module ``name``, imported when one of its attributes is first read."""
    return _Lazy(name)
