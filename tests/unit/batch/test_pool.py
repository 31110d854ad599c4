"""The ordered pool: results come back in input order, with a bounded number in flight."""

from __future__ import annotations

import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from ml_service.batch.pool import ordered_map


def test_results_come_back_in_input_order_however_long_each_takes() -> None:
    delays = [random.Random(i).uniform(0, 0.01) for i in range(60)]

    def slow_square(i: int) -> int:
        time.sleep(delays[i])
        return i * i

    with ThreadPoolExecutor(max_workers=4) as executor:
        results = list(ordered_map(executor, slow_square, range(60), window=8))
    assert results == [(i, i * i) for i in range(60)]


@pytest.mark.parametrize("window", [1, 3, 8])
def test_at_most_window_items_are_taken_ahead_of_the_consumer(window: int) -> None:
    taken = 0
    lock = threading.Lock()

    def items():
        nonlocal taken
        for i in range(40):
            with lock:
                taken += 1
            yield i

    with ThreadPoolExecutor(max_workers=4) as executor:
        for consumed, (item, result) in enumerate(
            ordered_map(executor, lambda i: -i, items(), window), start=1
        ):
            assert result == -item
            assert taken - consumed < window


def test_a_failing_item_raises_in_order() -> None:
    def fail_on_five(i: int) -> int:
        if i == 5:
            raise ValueError("five")
        return i

    seen = []
    with ThreadPoolExecutor(max_workers=2) as executor, pytest.raises(ValueError, match="five"):
        for item, _ in ordered_map(executor, fail_on_five, range(10), window=4):
            seen.append(item)
    assert seen == [0, 1, 2, 3, 4]


def test_window_must_be_positive() -> None:
    with ThreadPoolExecutor(max_workers=1) as executor, pytest.raises(ValueError):
        list(ordered_map(executor, abs, [1], window=0))
