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


def import_once(module: str) -> ModuleType:
    """`importlib.import_module(module)`, the first import under `long_lived_imports`."""
    if module in sys.modules:
        return importlib.import_module(module)
    with long_lived_imports():
        return importlib.import_module(module)
