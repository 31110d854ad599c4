"""Start-up cost of a command: imports without the cyclic garbage collector in the way.

Importing MLflow, SQLAlchemy and pandas creates hundreds of thousands of objects
(modules, classes, functions) that live as long as the process. CPython's cyclic
collector does not know that: the allocations trigger collection after
collection, each of the oldest generation walking everything imported so far
(about a fifth of a warm `mlops run`'s CPU time). `long_lived_imports` pauses
the collector while such imports run and then moves every object alive into
the permanent generation (`gc.freeze`), which later collections skip.
Reference counting still frees objects as usual; only reference cycles alive
at the freeze are never collected, so it belongs around one-off imports, not
around work done again and again; a block that imported nothing new (the
modules were loaded already, as when a long-lived process such as a test run
calls a command again) freezes nothing.
"""

from __future__ import annotations

import gc
import importlib
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType


@contextmanager
def long_lived_imports() -> Iterator[None]:
    """Pause the cyclic collector for the block, then freeze what is alive if the block
    imported a module (see the module docstring)."""
    was_enabled = gc.isenabled()
    modules = len(sys.modules)
    gc.disable()
    try:
        yield
    finally:
        if len(sys.modules) != modules:
            gc.freeze()
        if was_enabled:
            gc.enable()


def import_ahead_of_mlflow() -> None:
    """Import scipy.special first in a process that may save or load a model with skops.

    When skops is first imported it names every SciPy ufunc by searching
    `sys.modules`, in import order, for a module that holds it: each ufunc costs
    one look-up per module imported before scipy.special. After MLflow, pandas
    and pandera (about 3,000 modules; scikit-learn imports scipy.special late)
    that search took about 1 CPU second; with scipy.special imported first, a
    fraction of that. The names found, and so the model files, are the same
    either way. Called by `mlops run`, `mlops retrain`/`watch` and the step
    packages (a step run on its own, as on Azure ML), before they import MLflow.
    """
    import_once("scipy.special")


def import_once(module: str) -> ModuleType:
    """`importlib.import_module(module)`, the first import under `long_lived_imports`."""
    if module in sys.modules:
        return importlib.import_module(module)
    with long_lived_imports():
        return importlib.import_module(module)
