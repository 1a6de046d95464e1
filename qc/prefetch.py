"""Run an iterator in a background thread, a bounded number of items ahead.

Decoding a take (PyAV) and analysing its frames (OpenCV, numba, dlib) both spend most of
their time outside the GIL, so a decoding thread that feeds a small queue lets the
analysis of frame ``t`` overlap the decoding of frame ``t + 1``: a scan takes about as
long as the slower of the two instead of their sum.  The queue is bounded, so memory
stays flat in take length.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import Generic, TypeVar

__all__ = ["Prefetch"]

T = TypeVar("T")

_END = object()


class Prefetch(Generic[T]):
    """Iterate ``source`` in a daemon thread, at most ``depth`` items ahead of the reader.

    Use as a context manager: leaving the block (normally, on an exception, or after a
    ``break``) stops the thread and waits for it, so whatever ``source`` reads from can
    be closed safely afterwards.  An exception raised by ``source`` is raised again in
    the reading thread, after the items produced before it.

    Parameters
    ----------
    source : iterable
        Iterated once, entirely in the background thread.
    depth : int
        Items produced ahead of the reader (at least 1).

    Examples
    --------
    >>> with Prefetch(range(5), depth=2) as items:
    ...     list(items)
    [0, 1, 2, 3, 4]
    """

    def __init__(self, source: Iterable[T], *, depth: int) -> None:
        if depth < 1:
            raise ValueError(f"depth must be at least 1, got {depth}")
        self._source = source
        self._queue: queue.Queue[object] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="qc-decode", daemon=True)
        self._started = False

    def _put(self, item: object) -> bool:
        """Queue ``item`` unless asked to stop; return whether it was queued."""
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def _run(self) -> None:
        it = iter(self._source)
        try:
            for item in it:
                if not self._put(item):
                    return
            self._put(_END)
        except BaseException as exc:  # handed to the reader, raised there
            self._put(_Raised(exc))
        finally:
            close = getattr(it, "close", None)
            if close is not None:  # a generator's cleanup runs in the thread that ran it
                close()

    def __enter__(self) -> Iterator[T]:
        self._thread.start()
        self._started = True
        return self._items()

    def _items(self) -> Iterator[T]:
        while True:
            item = self._queue.get()
            if item is _END:
                return
            if isinstance(item, _Raised):
                raise item.exc
            yield item  # type: ignore[misc]

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the background thread and wait for it (safe to call twice)."""
        self._stop.set()
        if self._started:
            while self._thread.is_alive():
                try:  # unblock a producer waiting on a full queue
                    self._queue.get_nowait()
                except queue.Empty:
                    pass
                self._thread.join(timeout=0.05)


class _Raised:
    __slots__ = ("exc",)

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc
