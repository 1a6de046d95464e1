"""Scanning on a Dask distributed cluster: takes as tasks, the store written here alone.

Nothing of Dask is imported unless a scheduler is given.  Each take is one task running
:func:`qc.batch._analyse` on a worker, which reads the take from the file system it
shares with this process; the result (signals and events, a few hundred KB at most)
comes back here and is stored by the one writer.  A take whose worker is lost is run
again on another one by the scheduler; a take that still fails becomes an error take,
and the scan goes on.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from qc.config import Config
from qc.errors import SchedulerError, one_line
from qc.scan import TakeAnalysis

if TYPE_CHECKING:
    from qc.batch import ScanProgress, TakeRef, _Facts

__all__ = ["scan_on_cluster", "CONNECT_TIMEOUT_S", "TASK_RETRIES"]

log = logging.getLogger("qc")

#: how long to wait for the scheduler to answer
CONNECT_TIMEOUT_S = 30
#: a task that raises is run again this many times (a lost worker is always rerun)
TASK_RETRIES = 2


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
        for fut in as_completed(list(futures), loop=client.loop):
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
