"""Collected data: the writer thread, the line format, and readers that survive a crash."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pytest

from ml_service.collected_data import (
    DataCollector,
    ScoredRequest,
    collected_dir,
    collected_frame,
    datastore_root,
    read_collected,
)
from ml_service.errors import CollectedDataError, SettingsError
from ml_service.util.env_variables import load_env


def _record(day: date, request_id: str, rows: int = 1) -> ScoredRequest:
    return ScoredRequest(
        time=datetime(day.year, day.month, day.day, 12, tzinfo=UTC),
        request_id=request_id,
        model_name="m",
        model_version="3",
        features=("A", "B"),
        inputs=np.arange(rows * 2, dtype=np.float64).reshape(rows, 2),
        predictions=np.arange(rows, dtype=np.float64),
    )


def test_records_are_written_by_day_and_read_back(tmp_path):
    collector = DataCollector(tmp_path, "m")
    collector.start()
    days = [date(2026, 1, 1), date(2026, 1, 2), date(2026, 1, 2)]
    for i, day in enumerate(days):
        collector.collect(_record(day, f"r{i}", rows=2))
    collector.close()
    assert collector.written == 3
    folder = collected_dir(tmp_path, "m")
    assert sorted(p.name for p in folder.iterdir()) == ["date=2026-01-01", "date=2026-01-02"]
    records = read_collected(tmp_path, "m")
    assert [r["request_id"] for r in records] == ["r0", "r1", "r2"]
    assert records[0]["inputs"] == [[0.0, 1.0], [2.0, 3.0]]
    assert records[0]["model_version"] == "3"
    assert [r["request_id"] for r in read_collected(tmp_path, "m", since=date(2026, 1, 2))] == [
        "r1",
        "r2",
    ]
    assert [r["request_id"] for r in read_collected(tmp_path, "m", until=date(2026, 1, 1))] == [
        "r0"
    ]
    frame = collected_frame(tmp_path, "m")
    assert list(frame.columns) == ["A", "B", "prediction", "time", "request_id", "model_version"]
    assert len(frame) == 6


def test_reader_skips_a_partial_last_line(tmp_path):
    folder = collected_dir(tmp_path, "m") / "date=2026-01-01"
    folder.mkdir(parents=True)
    (folder / "part-1.jsonl").write_bytes(_record(date(2026, 1, 1), "ok").to_json_line() + b'{"ti')
    assert [r["request_id"] for r in read_collected(tmp_path, "m")] == ["ok"]


def test_reader_refuses_a_corrupt_complete_line(tmp_path):
    folder = collected_dir(tmp_path, "m") / "date=2026-01-01"
    folder.mkdir(parents=True)
    (folder / "part-1.jsonl").write_bytes(b"not json\n")
    with pytest.raises(CollectedDataError, match="line 1"):
        read_collected(tmp_path, "m")


def test_nothing_collected_reads_as_empty(tmp_path):
    assert read_collected(tmp_path, "m") == []
    assert collected_frame(tmp_path, "m").empty


def test_write_failures_are_counted_not_raised(tmp_path):
    blocker = tmp_path / "collected"
    blocker.write_text("a file where a folder should be")
    collector = DataCollector(tmp_path, "m")
    collector.start()
    collector.collect(_record(date(2026, 1, 1), "lost"))
    collector.close()
    assert (collector.written, collector.failed) == (0, 1)


def test_close_without_start_is_harmless(tmp_path):
    DataCollector(tmp_path, "m").close()


def test_datastore_root(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    workspace = tmp_path / "ws"
    assert datastore_root(load_env(mlops_workspace=workspace)) == workspace / "datastore"
    assert datastore_root(load_env(mlops_datastore_uri="file:///data/store")) == Path("/data/store")
    assert datastore_root(load_env(mlops_datastore_uri="store")) == tmp_path / "store"


def test_remote_datastore_is_refused_for_collection():
    with pytest.raises(SettingsError, match="SCORING_COLLECT_DATA=false"):
        datastore_root(load_env(mlops_datastore_uri="abfs://container/path"))
