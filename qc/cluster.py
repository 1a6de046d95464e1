"""Scanning on a Dask distributed cluster: takes as tasks, the store written here alone.

Nothing of Dask is imported unless a scheduler is given.  Each take is one task running
:func:`qc.batch._analyse` on a worker, which reads the take from the file system it
shares with this process; the result (signals and events, a few hundred KB at most)
comes back here and is stored by the one writer.  A take whose worker is lost is run
again on another one by the scheduler; a take that still fails becomes an error take,
and the scan goes on.

A take's own analysis stops itself at the time limit (``scan.take_timeout_s``) between
frames; one stuck inside a frame (a decoder that never returns) cannot.  Every
:data:`WATCH_S` this process asks the workers what they are running and how much memory
their processes hold: a take still running past the limit and its grace, or running on
a worker whose resident memory is over ``scan.take_memory_mb`` (with one thread a
worker, as recommended, that is the take's own), becomes an error take here, its task
is cancelled and its worker restarted by its nanny (the only way to stop a thread stuck
in native code, and to give its memory back), and the scan goes on.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from qc.config import Config
from qc.errors import SchedulerError, one_line
from qc.scan import TakeAnalysis, timeout_reason
from qc.workers import memory_reason

if TYPE_CHECKING:
    from qc.batch import ScanProgress, TakeRef, _Facts

__all__ = ["scan_on_cluster", "CONNECT_TIMEOUT_S", "TASK_RETRIES", "WATCH_S"]

log = logging.getLogger("qc")

#: how long to wait for the scheduler to answer
CONNECT_TIMEOUT_S = 30
#: a task that raises is run again this many times (a lost worker is always rerun)
TASK_RETRIES = 2
#: how often the workers are asked which takes they are running (seconds)
WATCH_S = 5.0
#: how often the finished takes are collected (seconds)
_POLL_S = 0.1


def _executing(dask_worker: Any) -> tuple[list[str], float | None]:
    """The keys of the tasks a worker is running now and the resident memory (MB) of its
    process (run on each worker by the client)."""
    import os

    from qc.workers import rss_mb

    return [str(ts.key) for ts in dask_worker.state.executing], rss_mb(os.getpid())


class _Watch:
    """When each running take started, as seen by asking the workers now and then."""

    def __init__(self, client: Any, limit_s: float, memory_mb: int = 0) -> None:
        from qc.workers import Limits

        self.client = client
        self.limit_s = limit_s
        self.memory_mb = memory_mb
        self.after_s = limit_s + Limits(timeout_s=limit_s).grace_s
        self.every_s = min(WATCH_S, max(0.5, limit_s / 2)) if limit_s else WATCH_S
        self.started: dict[str, float] = {}
        self.next_s = time.monotonic()

    def overrun(self) -> list[tuple[str, str, str]]:
        """``(key, worker, reason)`` of the takes running past the time limit or on a
        worker whose memory is over the limit (none between looks)."""
        now = time.monotonic()
        if not (self.limit_s or self.memory_mb) or now < self.next_s:
            return []
        self.next_s = now + self.every_s
        try:
            running = self.client.run(_executing, on_error="ignore",
                                      callback_timeout=4 * self.every_s)
        except Exception:  # a worker too busy to answer is asked again next time
            log.debug("the workers did not say what they run", exc_info=True)
            return []
        # a take is timed from the first look that finds it running; the takes no longer
        # running are forgotten
        started = {key: self.started.get(key, now) for keys, _ in running.values() for key in keys}
        self.started = started
        out = []
        for worker, (keys, used) in running.items():
            for key in keys:
                if self.memory_mb and used is not None and used > self.memory_mb:
                    out.append((key, worker, memory_reason(used, self.memory_mb)))
                elif self.limit_s and now - started[key] > self.after_s:
                    out.append((key, worker, timeout_reason(self.limit_s)))
        return out

    def stop(self, worker: str) -> None:
        """Restart ``worker`` (a nanny's), to free it from a take stuck in native code."""
        try:
            self.client.restart_workers([worker], timeout=max(30.0, 4 * self.every_s),
                                        raise_for_error=False)
        except Exception:  # no nanny: the task was cancelled, the thread runs on
            log.debug("could not restart %s", worker, exc_info=True)


def scan_on_cluster(
    todo: list[tuple[TakeRef, _Facts]],
    config: Config,
    scheduler: str,
    save: Callable[[TakeRef, _Facts, TakeAnalysis], None],
    progress: ScanProgress,
) -> None:
    """Analyse ``todo`` on the Dask cluster at ``scheduler``, saving each result here.

    Raises
    ------
    SchedulerError
        ``distributed`` is missing or the scheduler does not answer.
    """
    try:
        from distributed import Client, as_completed
    except ImportError as exc:  # pragma: no cover - a dependency of qc
        raise SchedulerError("scanning on a cluster needs the 'distributed' package") from exc
    from qc.batch import _analyse

    try:
        client = Client(scheduler, timeout=f"{CONNECT_TIMEOUT_S}s", set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        raise SchedulerError(f"cannot reach the Dask scheduler at {scheduler}: "
                             f"{one_line(exc) or type(exc).__name__}") from exc
    futures: dict[Any, tuple[TakeRef, _Facts]] = {}
    try:
        try:  # a scheduler with no workers would take the tasks and never run them
            client.wait_for_workers(1, timeout=CONNECT_TIMEOUT_S)
        except TimeoutError as exc:
            raise SchedulerError(f"the Dask scheduler at {scheduler} has no workers "
                                 f"(waited {CONNECT_TIMEOUT_S} s)") from exc
        log.info("scanning %d takes on %s (%d workers)", len(todo), scheduler,
                 len(client.scheduler_info().get("workers", {})))
        for ref, facts in todo:
            # the key names the take on the cluster's dashboard; unique, so never reused
            fut = client.submit(_analyse, str(ref.file.resolve()), config, pure=False,
                                retries=TASK_RETRIES, key=f"qc-scan-{ref.path}-{uuid.uuid4().hex}")
            futures[fut] = (ref, facts)
        by_key = {fut.key: fut for fut in futures}
        watch = _Watch(client, config.scan.take_timeout_s, config.scan.take_memory_mb)
        done = as_completed(list(futures), loop=client.loop)
        while futures:
            for key, worker, reason in watch.overrun():
                fut = by_key.get(key)
                if fut is None or fut not in futures:
                    continue
                ref, facts = futures.pop(fut)
                log.debug("%s: stopped on %s: %s", ref.path, worker, reason)
                save(ref, facts, TakeAnalysis(status="error", error=reason))
                fut.cancel()
                watch.stop(worker)
            if not done.has_ready():
                time.sleep(_POLL_S)
                continue
            fut = next(done)
            if fut not in futures:  # stopped at the time limit, cancelled
                continue
            ref, facts = futures.pop(fut)
            try:
                result = fut.result()
            except Exception as exc:  # KilledWorker, a worker that cannot import qc, ...
                log.debug("%s: failed on the cluster", ref.path, exc_info=True)
                result = TakeAnalysis(status="error", error=one_line(
                    f"the cluster could not scan it: {type(exc).__name__}: {exc}"))
            save(ref, facts, result)
            fut.release()
    except BaseException:
        for fut in futures:
            fut.cancel()
        raise
    finally:
        client.close()
