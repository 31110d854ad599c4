"""Imports under a paused collector, then frozen: the collector's state is left as it was."""

from __future__ import annotations

import gc
import importlib
import sys

import pytest

from ml_service.startup import import_once, long_lived_imports


def test_the_collector_is_paused_inside_and_restored_after(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delitem(sys.modules, "colorsys", raising=False)
    assert gc.isenabled()
    before = gc.get_freeze_count()
    with long_lived_imports():
        assert not gc.isenabled()
        import colorsys  # noqa: F401

        kept = [[] for _ in range(10)]
    assert gc.isenabled()
    assert gc.get_freeze_count() >= before + len(kept)


def test_a_block_that_imports_nothing_new_freezes_nothing() -> None:
    with long_lived_imports():
        importlib.import_module("colorsys")  # imported by now, or here once
    after_first = gc.get_freeze_count()
    with long_lived_imports():
        importlib.import_module("colorsys")
        kept = [[] for _ in range(10)]
    assert gc.get_freeze_count() <= after_first  # kept (alive) was not frozen
    assert kept


def test_a_disabled_collector_stays_disabled() -> None:
    gc.disable()
    try:
        with long_lived_imports():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_an_error_still_restores_the_collector() -> None:
    with pytest.raises(ValueError), long_lived_imports():
        raise ValueError("boom")
    assert gc.isenabled()


def test_import_once_imports_and_returns_the_module(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "colorsys", raising=False)
    module = import_once("colorsys")
    assert module is sys.modules["colorsys"]
    assert import_once("colorsys") is module
