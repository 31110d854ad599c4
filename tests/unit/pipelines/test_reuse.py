"""The reuse key: every part of what decides a model changes it; nothing else does."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from ml_service.pipelines.reuse import cache_key


class Training(BaseModel):
    alpha: float


class Other(BaseModel):
    alpha: float


def _code(folder: Path, body: str) -> Path:
    folder.mkdir(exist_ok=True)
    (folder / "train.py").write_text(body)
    return folder


def test_the_same_inputs_give_the_same_key(tmp_path: Path) -> None:
    code = _code(tmp_path / "code", "x = 1\n")
    first = cache_key("d" * 64, [Training(alpha=0.4)], code, ["scikit-learn"])
    assert first == cache_key("d" * 64, [Training(alpha=0.4)], code, ["scikit-learn"])


def test_each_part_changes_the_key(tmp_path: Path) -> None:
    code = _code(tmp_path / "code", "x = 1\n")
    base = cache_key("d" * 64, [Training(alpha=0.4)], code, ["scikit-learn"])
    assert cache_key("e" * 64, [Training(alpha=0.4)], code, ["scikit-learn"]) != base
    assert cache_key("d" * 64, [Training(alpha=0.5)], code, ["scikit-learn"]) != base
    assert cache_key("d" * 64, [Other(alpha=0.4)], code, ["scikit-learn"]) != base
    assert cache_key("d" * 64, [Training(alpha=0.4)], code, ["scikit-learn", "numpy"]) != base
    changed = _code(tmp_path / "changed", "x = 2\n")
    assert cache_key("d" * 64, [Training(alpha=0.4)], changed, ["scikit-learn"]) != base
    (code / "notes.txt").write_text("not code")
    assert cache_key("d" * 64, [Training(alpha=0.4)], code, ["scikit-learn"]) == base
