"""Spyne 2.14 on Python 3.12 and later.

Spyne ships its own copy of six (1.14), whose importer for ``spyne.util.six.moves`` only speaks the
``find_module``/``load_module`` protocol; Python 3.12 stopped asking importers that way, so ``import
spyne`` fails with ``No module named 'spyne.util.six.moves'``. Spyne 2.14 is its last release. This
finder answers for that importer with the ``find_spec`` protocol, exactly as six 1.16 does for itself.
It is installed when ``gateway`` is imported, before anything imports spyne, and is harmless on 3.11.

(Spyne's other casualty, the ``cgi`` module removed in 3.13, comes back from the ``legacy-cgi``
package: a dependency on 3.13 and later, setup.cfg.)
"""

from __future__ import annotations

import importlib.util
import sys
from importlib.machinery import ModuleSpec
from types import ModuleType
from typing import Any

__all__ = ["install"]

VENDORED_SIX = "spyne.util.six"


class _SixLoader:
    def __init__(self, importer: Any):
        self._importer = importer

    def create_module(self, spec: ModuleSpec) -> ModuleType:
        return self._importer.load_module(spec.name)

    def exec_module(self, module: ModuleType) -> None:
        """load_module() has already run it."""


class _VendoredSixFinder:
    @staticmethod
    def find_spec(fullname: str, path: Any = None, target: Any = None) -> ModuleSpec | None:
        if not fullname.startswith(VENDORED_SIX + "."):
            return None
        for importer in sys.meta_path:
            if type(importer).__module__ == VENDORED_SIX and fullname in getattr(importer, "known_modules", ()):
                return importlib.util.spec_from_loader(fullname, _SixLoader(importer))  # type: ignore[arg-type]
        return None


def install() -> None:
    if not any(isinstance(finder, _VendoredSixFinder) for finder in sys.meta_path):
        sys.meta_path.append(_VendoredSixFinder())
