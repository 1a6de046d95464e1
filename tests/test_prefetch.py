"""Decoding ahead in a thread: same items, same errors, a thread that always stops."""

from __future__ import annotations

import threading
import time

import pytest

from qc.prefetch import Prefetch


def test_items_arrive_in_order():
    with Prefetch(iter(range(100)), depth=3) as items:
        assert list(items) == list(range(100))


def test_an_error_in_the_source_is_raised_after_the_items_before_it():
    def source():
        yield 1
        yield 2
        raise ValueError("bad packet")

    got = []
    with pytest.raises(ValueError, match="bad packet"), Prefetch(source(), depth=4) as items:
        for x in items:
            got.append(x)
    assert got == [1, 2]


def test_leaving_early_stops_the_thread_and_closes_the_source():
    closed = threading.Event()

    def source():
        try:
            for i in range(10_000):
                yield i
        finally:
            closed.set()

    prefetch = Prefetch(source(), depth=2)
    with prefetch as items:
        for x in items:
            if x == 3:
                break
    assert closed.wait(5)
    assert not prefetch._thread.is_alive()  # stopped and joined by the context's exit


def test_the_source_runs_at_most_depth_items_ahead():
    produced = []

    def source():
        for i in range(50):
            produced.append(i)
            yield i

    with Prefetch(source(), depth=4) as items:
        next(items)
        time.sleep(0.2)
        assert len(produced) <= 1 + 4 + 1  # the one read, the queue, one waiting to be put


def test_depth_must_be_positive():
    with pytest.raises(ValueError, match="depth"):
        Prefetch([], depth=0)
