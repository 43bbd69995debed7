"""numba's on-disk cache of the compiled engine, keyed on every compiled module at once.

numba keys a cached function on its own source file only. A compiled function that calls one from
another file (the sweeps call ``freqtrade_kernel``, which inlines the planner and the exact roundings)
would otherwise load stale machine code after a change to that other file alone (a ``git pull`` that
touches ``compiled_freqtrade.py`` but not ``compiled_freqtrade_sweep.py``). Here the engine's
functions are cached with one stamp over all of its compiled modules, so a change to any of them
recompiles them all. Importing this module registers the locators; the compiled modules import it
before their first ``@njit``.
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path
from typing import Any

from numba.core import caching

ENGINE_DIR = Path(__file__).resolve().parent


@cache
def _sources_digest(stats: tuple[tuple[str, float, int], ...]) -> bytes:
    digest = hashlib.sha256()
    for name, _, _ in stats:
        digest.update(name.encode())
        digest.update((ENGINE_DIR / name).read_bytes())
    return digest.digest()


def engine_source_stamp() -> bytes:
    """One stamp over the source of every ``compiled*.py`` module of the engine."""
    files = sorted(ENGINE_DIR.glob("compiled*.py"))
    return _sources_digest(tuple((f.name, f.stat().st_mtime, f.stat().st_size) for f in files))


def _is_engine_file(py_file: str) -> bool:
    return Path(py_file).resolve().parent == ENGINE_DIR


class _EngineStamp:
    """Mixin for numba's locators: the engine's stamp instead of the one file's."""

    def get_source_stamp(self) -> Any:
        return engine_source_stamp()

    @classmethod
    def from_function(cls, py_func: Any, py_file: str) -> Any:
        if not _is_engine_file(py_file):
            return None
        return super().from_function(py_func, py_file)  # type: ignore[misc]


def _numba_locator(name: str) -> Any:
    """A class of numba's caching (public names in recent numba, with a leading underscore before)."""
    return getattr(caching, name, None) or getattr(caching, f"_{name}")


class EngineUserProvidedLocator(_EngineStamp, _numba_locator("UserProvidedCacheLocator")):  # type: ignore[misc]
    """``NUMBA_CACHE_DIR`` when set."""


class EngineInTreeLocator(_EngineStamp, _numba_locator("InTreeCacheLocator")):  # type: ignore[misc]
    """The engine's ``__pycache__`` (a checkout, or a writable install)."""


class EngineUserWideLocator(_EngineStamp, _numba_locator("UserWideCacheLocator")):  # type: ignore[misc]
    """The user's cache directory (a read-only install)."""


def register() -> None:
    """Put the engine's locators first, in numba's own order (idempotent); numba's serve the rest."""
    classes = _numba_locator("CacheImpl")._locator_classes
    for locator in (EngineUserWideLocator, EngineInTreeLocator, EngineUserProvidedLocator):
        if locator not in classes:
            classes.insert(0, locator)


register()
