"""Collected data: the writer thread, the line format, and readers that survive a crash."""

from __future__ import annotations

from datetime import UTC, date, datetime

import fsspec
import numpy as np
import orjson
import pytest

from ml_service.data.collected import (
    DataCollector,
    ScoredRequest,
    _json_line,
    collected_frame,
    collected_path,
    read_collected,
)
from ml_service.errors import CollectedDataError


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
    store = str(tmp_path)
    collector = DataCollector(store, "m")
    collector.start()
    days = [date(2026, 1, 1), date(2026, 1, 2), date(2026, 1, 2)]
    for i, day in enumerate(days):
        collector.collect(_record(day, f"r{i}", rows=2))
    collector.close()
    assert collector.written == 3
    folder = tmp_path / "collected" / "m"
    assert collected_path(store, "m") == str(folder)
    assert sorted(p.name for p in folder.iterdir()) == ["date=2026-01-01", "date=2026-01-02"]
    # On a local disk a writer appends to one file a day.
    assert len(list((folder / "date=2026-01-02").iterdir())) == 1
    records = read_collected(store, "m")
    assert [r["request_id"] for r in records] == ["r0", "r1", "r2"]
    assert records[0]["inputs"] == [[0.0, 1.0], [2.0, 3.0]]
    assert records[0]["model_version"] == "3"
    assert [r["request_id"] for r in read_collected(store, "m", since=date(2026, 1, 2))] == [
        "r1",
        "r2",
    ]
    assert [r["request_id"] for r in read_collected(store, "m", until=date(2026, 1, 1))] == ["r0"]
    frame = collected_frame(store, "m")
    assert list(frame.columns) == ["A", "B", "prediction", "time", "request_id", "model_version"]
    assert len(frame) == 6


def test_reader_skips_a_partial_last_line(tmp_path):
    folder = tmp_path / "collected" / "m" / "date=2026-01-01"
    folder.mkdir(parents=True)
    (folder / "part-1.jsonl").write_bytes(_record(date(2026, 1, 1), "ok").to_json_line() + b'{"ti')
    assert [r["request_id"] for r in read_collected(str(tmp_path), "m")] == ["ok"]


def test_reader_refuses_a_corrupt_complete_line(tmp_path):
    folder = tmp_path / "collected" / "m" / "date=2026-01-01"
    folder.mkdir(parents=True)
    (folder / "part-1.jsonl").write_bytes(b"not json\n")
    with pytest.raises(CollectedDataError, match="line 1"):
        read_collected(str(tmp_path), "m")


def test_nothing_collected_reads_as_empty(tmp_path):
    assert read_collected(str(tmp_path), "m") == []
    assert collected_frame(str(tmp_path), "m").empty


def test_write_failures_are_counted_not_raised(tmp_path):
    blocker = tmp_path / "collected"
    blocker.write_text("a file where a folder should be")
    collector = DataCollector(str(tmp_path), "m")
    collector.start()
    collector.collect(_record(date(2026, 1, 1), "lost"))
    collector.close()
    assert (collector.written, collector.failed) == (0, 1)


def test_a_non_contiguous_array_is_collected(tmp_path):
    # A column slice or a transposed matrix is not C-contiguous; orjson refuses those.
    record = _record(date(2026, 1, 1), "sliced", rows=2)
    wide = np.arange(8, dtype=np.float64).reshape(2, 4)
    sliced = ScoredRequest(**{**record.__dict__, "inputs": wide[:, ::2]})
    assert not sliced.inputs.flags["C_CONTIGUOUS"]
    collector = DataCollector(str(tmp_path), "m")
    collector.start()
    collector.collect(sliced)
    collector.close()
    assert (collector.written, collector.failed) == (1, 0)
    assert read_collected(str(tmp_path), "m")[0]["inputs"] == [[0.0, 2.0], [4.0, 6.0]]


def test_a_record_that_cannot_be_serialised_does_not_stop_the_writer(tmp_path):
    record = _record(date(2026, 1, 1), "bad")
    bad = ScoredRequest(**{**record.__dict__, "inputs": np.array([[object()]], dtype=object)})
    collector = DataCollector(str(tmp_path), "m")
    collector.start()
    collector.collect(bad)
    collector.close()  # the writer thread has finished the first batch
    later = DataCollector(str(tmp_path), "m")
    later.start()
    for request_id in ("after-1", "after-2"):
        later.collect(bad)
        later.collect(_record(date(2026, 1, 1), request_id))
    later.close()
    assert (collector.written, collector.failed) == (0, 1)
    assert (later.written, later.failed) == (2, 2)
    assert [r["request_id"] for r in read_collected(str(tmp_path), "m")] == ["after-1", "after-2"]


def test_close_without_start_is_harmless(tmp_path):
    DataCollector(str(tmp_path), "m").close()


def test_writers_sharing_a_store_never_share_a_file(tmp_path):
    store = str(tmp_path)
    writers = [DataCollector(store, "m") for _ in range(3)]
    for number, writer in enumerate(writers):
        writer.start()
        writer.collect(_record(date(2026, 1, 1), f"w{number}"))
        writer.close()
    files = list((tmp_path / "collected" / "m" / "date=2026-01-01").iterdir())
    assert len(files) == 3
    assert sorted(r["request_id"] for r in read_collected(store, "m")) == ["w0", "w1", "w2"]


def test_an_object_store_gets_one_file_per_batch_and_reads_back():
    # fsspec's in-memory filesystem stands for a remote store (abfs://, s3://): no appends.
    store = "memory://collect-test/store"
    collector = DataCollector(store, "m")
    collector.start()
    collector.collect(_record(date(2026, 1, 1), "a"))
    collector.close()
    second = DataCollector(store, "m")
    second.start()
    second.collect(_record(date(2026, 1, 1), "b"))
    second.close()
    fs = fsspec.filesystem("memory")
    files = fs.glob("/collect-test/store/collected/m/date=2026-01-01/*.jsonl")
    assert len(files) == 2
    assert collector.location == "memory:///collect-test/store/collected/m"
    assert [r["request_id"] for r in read_collected(store, "m")] in (["a", "b"], ["b", "a"])
    fs.rm("/collect-test", recursive=True)


def test_a_burst_of_records_is_written_in_few_batches(tmp_path, monkeypatch):
    # Under load, one file write per request cost the service more than scoring it.
    batches: list[int] = []
    write = DataCollector._write

    def counting(self, batch):
        batches.append(len(batch))
        write(self, batch)

    monkeypatch.setattr(DataCollector, "_write", counting)
    collector = DataCollector(str(tmp_path), "m")
    collector.start()
    for i in range(200):
        collector.collect(_record(date(2026, 1, 1), f"r{i}"))
    collector.close()
    assert sum(batches) == collector.written == 200
    assert len(batches) < 20
    assert [r["request_id"] for r in read_collected(str(tmp_path), "m")] == [
        f"r{i}" for i in range(200)
    ]


def test_collect_scored_writes_what_collect_writes(tmp_path):
    inputs = np.arange(6, dtype=np.float64).reshape(3, 2)[:, ::-1]  # not C-contiguous
    predictions = np.array([1.5, -2.0, 3.25])
    collector = DataCollector(str(tmp_path), "m")
    collector.start()
    before = datetime.now(UTC)
    collector.collect_scored("direct", "m", "3", ("A", "B"), inputs, predictions)
    after = datetime.now(UTC)
    collector.close()
    assert (collector.written, collector.failed) == (1, 0)
    [path] = (tmp_path / "collected" / "m").glob("date=*/*.jsonl")
    line = path.read_bytes()
    written = datetime.fromisoformat(orjson.loads(line)["time"])
    assert before <= written <= after
    assert path.parent.name == f"date={written.date().isoformat()}"
    same = ScoredRequest(written, "direct", "m", "3", ("A", "B"), inputs, predictions)
    assert line == same.to_json_line()


@pytest.mark.parametrize(
    "moment",
    [
        datetime(2026, 3, 1, 12, 30, 5, 123456, tzinfo=UTC),
        datetime(2026, 3, 1, 12, 30, 5, 5, tzinfo=UTC),
        datetime(2026, 3, 1, 0, 0, 0, tzinfo=UTC),  # no microseconds: isoformat leaves them out
    ],
)
def test_a_collected_time_is_written_as_isoformat_writes_it(moment):
    # `collect_scored` hands orjson the datetime; `to_json_line` its isoformat.
    args = ("r", "m", "3", ("A",), np.array([[1.0]]), np.array([2.0]))
    assert _json_line(moment, *args) == _json_line(moment.isoformat(), *args)


def test_collect_scored_counts_what_cannot_be_serialised(tmp_path):
    collector = DataCollector(str(tmp_path), "m")
    collector.start()
    odd = np.array([[object()]], dtype=object)
    collector.collect_scored("bad", "m", "3", ("A",), odd, np.array([1.0]))
    collector.collect_scored("good", "m", "3", ("A",), np.array([[1.0]]), np.array([1.0]))
    collector.close()
    assert (collector.written, collector.failed) == (1, 1)
    assert [r["request_id"] for r in read_collected(str(tmp_path), "m")] == ["good"]
