"""The pipeline's side process: jobs run in a second process when enabled, here otherwise,
and a job that fails or cannot travel there gives the same outcome as an in-process call."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator

import pytest

from ml_service.pipelines import side_process


def pid_and_sum(a: int, b: int) -> tuple[int, int]:
    return os.getpid(), a + b


def fail(message: str) -> None:
    raise ValueError(message)


def modules_loaded(names: tuple[str, ...]) -> list[str]:
    return [name for name in names if name in sys.modules]


@pytest.fixture
def enabled() -> Iterator[None]:
    side_process.enable()
    yield
    side_process.stop()


def test_without_enable_nothing_starts_and_jobs_run_here() -> None:
    assert side_process.start() is False
    assert side_process.submit(pid_and_sum, 1, 2) is None
    assert side_process.run(pid_and_sum, 1, 2) == (os.getpid(), 3)


def test_jobs_run_in_another_process_in_order(enabled: None) -> None:
    assert side_process.start(preload=["colorsys"]) is True
    first = side_process.submit(pid_and_sum, 1, 2)
    second = side_process.submit(pid_and_sum, 3, 4)
    assert first is not None and second is not None
    pid, total = side_process.run(pid_and_sum, 3, 4, future=second)
    assert total == 7 and pid != os.getpid()
    assert first.done() and first.result() == (pid, 3)
    # What `preload` named was imported there.
    assert side_process.run(modules_loaded, ("colorsys",)) == ["colorsys"]


def test_a_failing_job_fails_the_same_way_here(enabled: None) -> None:
    side_process.start()
    with pytest.raises(ValueError, match="bad input"):
        side_process.run(fail, "bad input")


def test_arguments_that_cannot_travel_run_the_job_here(enabled: None) -> None:
    side_process.start()
    assert side_process.run(modules_loaded, (lambda: None,)) == []  # type: ignore[arg-type]


def test_a_dead_side_process_is_replaced_by_in_process_calls(enabled: None) -> None:
    side_process.start()
    side = side_process._side
    assert side is not None
    side.process.kill()
    side.process.wait()
    assert side_process.run(pid_and_sum, 5, 6) == (os.getpid(), 11)


def test_stop_ends_the_process_and_drops_queued_work(enabled: None) -> None:
    side_process.start(preload=["json"])
    side = side_process._side
    assert side is not None
    queued = side_process.submit(pid_and_sum, 1, 1)
    side_process.stop()
    assert side.process.poll() is not None
    assert queued is not None and queued.done()
    # Stopped means disabled: the next pipeline run enables it again.
    assert side_process.start() is False
