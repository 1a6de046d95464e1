"""Supervised worker processes: each analyses one take at a time and is replaced if it fails.

A scan must survive its worst take.  Every take is analysed in a worker process that the
scan watches through two handles at once, the worker's pipe and its process sentinel:

- a worker that dies (a decoder's segfault, the kernel's out-of-memory killer) costs
  only the take it held, which becomes an error, and a new worker takes its place;
- a take still running after its time limit (plus a short grace for the worker's own
  check to report first) has its worker killed, and becomes an error;
- a worker whose resident memory exceeds the limit is killed the same way (Linux).

Results come back pickled over the worker's own pipe, from a process this module
started and nothing else can write to.  The job function and what a failure means are
the caller's (see :func:`qc.batch.scan_folder`); workers fork from a server that has
imported qc's analysis once (:mod:`qc._warm`).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import time
from collections import deque
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from multiprocessing.connection import wait
from typing import Any

__all__ = ["Limits", "run_jobs", "rss_mb", "memory_reason"]

log = logging.getLogger("qc")

#: how often the supervisor looks at deadlines and memory when nothing arrives (seconds)
POLL_S = 0.2
#: a new worker that has not begun its first job after this long is given up (seconds)
STARTUP_S = 300.0


@dataclass(frozen=True)
class Limits:
    """What one job may use before its worker is killed.

    Parameters
    ----------
    timeout_s : float
        Wall-clock seconds per job (0: no limit).  The worker is killed after
        ``timeout_s + grace_s``, so a job that checks the time itself reports first.
    memory_mb : int
        Resident memory of the worker, in MB (0: no limit; read from ``/proc``).
    """

    timeout_s: float = 0.0
    memory_mb: int = 0

    @property
    def grace_s(self) -> float:
        """Extra time before a job past its limit is killed: 10%, between 1 and 30 s."""
        return min(30.0, max(1.0, 0.1 * self.timeout_s))


def rss_mb(pid: int) -> float | None:
    """Resident memory of process ``pid`` in MB, or None where ``/proc`` cannot tell."""
    try:
        with open(f"/proc/{pid}/statm", "rb") as fh:
            pages = int(fh.read().split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def _worker_main(conn: Any, fn: Callable[..., Any]) -> None:
    """A worker: run ``fn(*args, progress=...)`` for each job received, until told to stop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C is the parent's to handle
    logging.getLogger("qc").setLevel(logging.WARNING)
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):  # the parent is gone
            return
        if msg is None:
            return
        job_id, args = msg
        conn.send(("start", job_id, None))  # the job's clock starts now, not at the fork

        def progress(done: int, _job: int = job_id) -> None:
            conn.send(("frames", _job, done))

        result = fn(*args, progress=progress)
        conn.send(("done", job_id, result))


class _Worker:
    def __init__(self, ctx: Any, fn: Callable[..., Any]) -> None:
        self.conn, child = ctx.Pipe(duplex=True)
        self.proc = ctx.Process(target=_worker_main, args=(child, fn), daemon=True,
                                name="qc-take-worker")
        self.proc.start()
        child.close()
        self.job: tuple[int, Any] | None = None  # (job id, key)
        self.given = 0.0
        self.started: float | None = None  # when the worker began the job
        self.frames = 0

    def give(self, job_id: int, key: Any, args: tuple[Any, ...]) -> None:
        self.job = (job_id, key)
        self.given = time.monotonic()
        self.started = None
        self.frames = 0
        self.conn.send((job_id, args))

    def kill(self) -> None:
        if self.proc.is_alive():
            self.proc.kill()
        self.proc.join(5)
        self.conn.close()

    def ask_to_stop(self) -> None:
        """Ask an idle worker to exit (a busy one is killed by :meth:`kill`)."""
        try:
            self.conn.send(None)
        except OSError:
            pass


def memory_reason(used_mb: float, limit_mb: int) -> str:
    """The error of a take stopped for its memory."""
    return (f"stopped: used {used_mb:.0f} MB of memory, more than the limit of"
            f" {limit_mb} MB (scan.take_memory_mb)")


def _death(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        if -exitcode == signal.SIGKILL:
            return f"the scanning process was killed ({name}; out of memory?)"
        return f"the scanning process crashed ({name}) while reading this take"
    return f"the scanning process exited unexpectedly (status {exitcode})"


def run_jobs(
    jobs: Iterable[tuple[Hashable, tuple[Any, ...]]],
    fn: Callable[..., Any],
    *,
    workers: int,
    limits: Limits,
    on_done: Callable[[Any, Any], None],
    on_failed: Callable[[Any, str], None],
    on_frames: Callable[[Any, int], None] | None = None,
    context: str = "forkserver",
) -> None:
    """Run ``fn(*args, progress=callback)`` for every ``(key, args)`` in supervised workers.

    ``fn`` must be importable by name (it is sent to the workers by reference) and return
    a picklable result.  Each job ends in exactly one call, in the calling process:
    ``on_done(key, result)``, or ``on_failed(key, reason)`` when its worker died or was
    killed for a limit (``reason`` is one line, for a person).

    Parameters
    ----------
    jobs : iterable of (key, args)
        The jobs, started in this order.
    fn : callable
        The job function, called in a worker as ``fn(*args, progress=cb)``; ``cb(n)``
        reports progress (``on_frames(key, n)`` in the caller).
    workers : int
        Jobs run at once (at least 1).
    limits : Limits
        Time and memory per job.
    context : str
        The multiprocessing start method; ``forkserver`` keeps workers independent of
        whatever threads the caller runs.
    """
    queue = deque(jobs)
    if not queue:
        return
    ctx = multiprocessing.get_context(context)
    if context == "forkserver":
        # workers fork from a server that has loaded the analysis code and the face models
        # once (qc._warm): a replaced worker, or the next scan in this process, starts in
        # milliseconds.  No effect once the server runs.
        ctx.set_forkserver_preload(["__main__", "qc._warm"])
    n = max(1, min(workers, len(queue)))
    pool = [_Worker(ctx, fn) for _ in range(n)]
    next_id = 0
    try:
        while True:
            for i, w in enumerate(pool):
                if w.job is None and queue:
                    key, args = queue.popleft()
                    if not w.proc.is_alive():  # died while idle (the OOM killer likes those)
                        w.kill()
                        pool[i] = w = _Worker(ctx, fn)
                    try:
                        w.give(next_id, key, args)
                    except OSError:  # died between the check and the send: a fresh one
                        w.kill()
                        pool[i] = w = _Worker(ctx, fn)
                        w.give(next_id, key, args)
                    next_id += 1
            busy = [w for w in pool if w.job is not None]
            if not busy:
                return
            wait([w.conn for w in busy] + [w.proc.sentinel for w in busy], timeout=POLL_S)
            for i, w in enumerate(pool):
                if w.job is None:
                    continue
                failure = _collect(w, on_done, on_frames)
                if failure is None and w.job is not None:
                    failure = _over_limit(w, limits)
                if failure is not None:
                    key = w.job[1]
                    w.kill()
                    log.debug("%s: %s", key, failure)
                    pool[i] = _Worker(ctx, fn)
                    on_failed(key, failure)
    finally:
        for w in pool:  # all told at once: an interrupted -j 8 does not wait 8 times
            w.ask_to_stop()
        deadline = time.monotonic() + 2.0
        for w in pool:
            w.proc.join(max(0.0, deadline - time.monotonic()))
            w.kill()


def _collect(w: _Worker, on_done: Callable[[Any, Any], None],
             on_frames: Callable[[Any, int], None] | None) -> str | None:
    """Read what worker ``w`` sent; the reason it failed if it is dead."""
    assert w.job is not None
    try:
        while w.conn.poll():
            kind, job_id, value = w.conn.recv()
            if w.job is None or job_id != w.job[0]:
                continue  # pragma: no cover - a late message of a finished job
            if kind == "start":
                w.started = time.monotonic()
            elif kind == "frames":
                w.frames = value
                if on_frames is not None:
                    on_frames(w.job[1], value)
            else:
                key = w.job[1]
                w.job = None
                on_done(key, value)
                return None
    except (EOFError, OSError):
        pass  # the worker died, perhaps while sending: the sentinel tells
    if not w.proc.is_alive():
        w.proc.join(1)
        return _death(w.proc.exitcode)
    return None


def _over_limit(w: _Worker, limits: Limits) -> str | None:
    if w.started is None:  # a new worker still starting (imports, on a loaded machine)
        if time.monotonic() - w.given > STARTUP_S:
            return f"the scanning process did not start within {STARTUP_S:g} s"
        return None
    if limits.timeout_s and time.monotonic() - w.started > limits.timeout_s + limits.grace_s:
        from qc.scan import timeout_reason

        return timeout_reason(limits.timeout_s, w.frames)
    if limits.memory_mb:
        used = rss_mb(w.proc.pid)
        if used is not None and used > limits.memory_mb:
            return memory_reason(used, limits.memory_mb)
    return None
