"""Watch a folder: gate each take once it has landed, run hooks, move failed takes aside.

Polling only (no inotify dependency): every ``poll_s`` the folder is listed as
``qc scan`` would list it.  A file is **complete** when its size and modification time
have not changed for ``settle_s`` seconds and it can be opened for reading; partial
downloads (``.part``, ``.tmp``, ``.crdownload``, ...), hidden files, the ``.qc`` folder
and the folder failed takes are moved to are never taken.  Each take is gated once per
content: it is gated again only when its size or modification time change.
"""

from __future__ import annotations

import logging
import os
import shlex
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from qc.batch import TakeRef, find_takes
from qc.config import Config
from qc.errors import ConfigError, QCError, RootError, StoreError, one_line
from qc.gate import GatePolicy, GateResult, gate_ref, write_sidecar
from qc.store import Store, default_store_path

__all__ = [
    "PARTIAL_SUFFIXES",
    "SettleTracker",
    "can_open",
    "parse_hook",
    "run_hook",
    "move_aside",
    "WatchedTake",
    "WatchSummary",
    "watch",
]

log = logging.getLogger("qc")

#: name endings of files still being downloaded or written
PARTIAL_SUFFIXES = (".part", ".partial", ".tmp", ".temp", ".crdownload", ".download", ".filepart")


class SettleTracker:
    """Tells when files have stopped growing.

    A file settles once the same ``(size, mtime_ns)`` has been seen for at least
    ``settle_s`` seconds (by the clock passed to :meth:`observe`).

    Examples
    --------
    >>> t = SettleTracker(2.0)
    >>> t.observe("a.mp4", (10, 1), now=0.0), t.observe("a.mp4", (20, 2), now=1.5)
    (False, False)
    >>> t.observe("a.mp4", (20, 2), now=3.0), t.observe("a.mp4", (20, 2), now=3.5)
    (False, True)
    """

    def __init__(self, settle_s: float) -> None:
        if settle_s < 0:
            raise ValueError("settle_s must be 0 or more")
        self.settle_s = settle_s
        self._seen: dict[str, tuple[tuple[int, int], float]] = {}

    def observe(self, key: str, state: tuple[int, int], *, now: float) -> bool:
        """Record the file's ``(size, mtime_ns)`` at ``now``; True once it has settled."""
        prev = self._seen.get(key)
        if prev is None or prev[0] != state:
            self._seen[key] = (state, now)
            return self.settle_s == 0
        return now - prev[1] >= self.settle_s

    def forget(self, key: str) -> None:
        """Stop tracking a file (it was gated or has gone)."""
        self._seen.pop(key, None)

    def keep_only(self, keys: set[str]) -> None:
        """Forget every file not in ``keys``."""
        for k in [k for k in self._seen if k not in keys]:
            del self._seen[k]

    @property
    def pending(self) -> int:
        """How many files are waiting to settle."""
        return len(self._seen)


def can_open(path: Path) -> bool:
    """Whether the file can be opened for reading now."""
    try:
        with open(path, "rb") as fh:
            fh.read(1)
        return True
    except OSError:
        return False


def parse_hook(cmd: str) -> list[str]:
    """Split a hook command once, like a shell would, but never run through a shell.

    Raises
    ------
    ConfigError
        The command is empty or its quotes do not balance.

    Examples
    --------
    >>> parse_hook("notify-send 'take passed'")
    ['notify-send', 'take passed']
    """
    try:
        argv = shlex.split(cmd)
    except ValueError as exc:
        raise ConfigError(f"hook command {cmd!r}: {exc}") from exc
    if not argv:
        raise ConfigError("hook command is empty")
    return argv


def run_hook(
    argv: Sequence[str],
    path: Path,
    *,
    env: dict[str, str] | None = None,
    timeout_s: float | None = None,
) -> int | None:
    """Run ``argv + [path]`` without a shell; the take's path is one argument, whatever
    its characters.

    Parameters
    ----------
    argv : sequence of str
        The command, already split (see :func:`parse_hook`).
    path : Path
        The take; appended as the last argument.
    env : dict, optional
        Extra environment variables for the command.
    timeout_s : float, optional
        Kill the command after this long.

    Returns
    -------
    int or None
        The command's exit status, or None when it could not be started or timed out
        (logged; a hook never stops the watch).
    """
    full = [*argv, str(path)]
    try:
        proc = subprocess.run(full, shell=False, check=False, timeout=timeout_s,
                              env={**os.environ, **(env or {})}, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        log.warning("hook %s timed out after %gs on %s", argv[0], timeout_s, path)
        return None
    except OSError as exc:
        log.warning("hook %s could not run: %s", argv[0], exc.strerror or exc)
        return None
    if proc.returncode != 0:
        log.warning("hook %s exited with %d on %s", argv[0], proc.returncode, path)
    return proc.returncode


def move_aside(path: Path, folder: Path) -> Path:
    """Move a take into ``folder`` (created), never overwriting: ``x.mp4`` becomes
    ``x-1.mp4``, ``x-2.mp4``, ... when the name is taken.  Its sidecar goes with it.

    Returns
    -------
    Path
        Where the take is now.
    """
    from qc.gate import sidecar_path

    folder.mkdir(parents=True, exist_ok=True)
    dest = folder / path.name
    n = 0
    while dest.exists() or dest.is_symlink():
        n += 1
        dest = folder / f"{path.stem}-{n}{path.suffix}"
    shutil.move(str(path), str(dest))
    side = sidecar_path(path)
    if side.exists():
        shutil.move(str(side), str(sidecar_path(dest)))
    return dest


@dataclass(frozen=True)
class WatchedTake:
    """One take the watch gated, and what it did about it."""

    result: GateResult
    moved_to: Path | None = None
    hook_status: int | None = None

    def line(self) -> str:
        """The log line: the gate's line, then where it was moved and a failed hook."""
        from qc.gate import format_line

        out = format_line(self.result)
        if self.moved_to is not None:
            out += f"  -> {self.moved_to}"
        return out


@dataclass
class WatchSummary:
    """What a watch did before it stopped."""

    gated: int = 0
    passed: int = 0
    failed: int = 0
    unreadable: int = 0
    takes: list[WatchedTake] = field(default_factory=list)


def _candidates(root: Path, config: Config, skip: list[Path]) -> list[TakeRef]:
    refs = find_takes(root, config)
    out = []
    for ref in refs:
        if ref.file.name.lower().endswith(PARTIAL_SUFFIXES):
            continue
        if any(ref.file.resolve().is_relative_to(s) for s in skip):
            continue
        out.append(ref)
    return out


def watch(
    root: Path | str,
    config: Config,
    *,
    store_path: Path | str | None = None,
    on_pass: str | None = None,
    on_fail: str | None = None,
    move_failed: Path | str | None = None,
    sidecar: bool = False,
    settle_s: float = 2.0,
    poll_s: float = 1.0,
    new_only: bool = False,
    max_takes: int | None = None,
    idle_timeout_s: float | None = None,
    stop: threading.Event | None = None,
    on_take: Callable[[WatchedTake], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> WatchSummary:
    """Gate every take that lands under ``root``, until stopped.

    Parameters
    ----------
    root : Path
        The folder to watch (with its subfolders).
    config : Config
        The resolved configuration (scoring and ``[gate]`` decide pass or fail).
    store_path : Path, optional
        The store; ``root/.qc/qc.db`` by default.
    on_pass, on_fail : str, optional
        Commands run with the take's path appended as one argument, never through a
        shell; ``QC_VERDICT``, ``QC_SCORE`` and ``QC_REASON`` are set in their
        environment.  ``on_fail`` runs for unreadable takes too, after any move, with
        the take's new path.
    move_failed : Path, optional
        Move takes that fail (or cannot be read) into this folder, never overwriting.
    sidecar : bool
        Write ``take.mp4.qc.json`` beside each take.
    settle_s : float
        A file is complete once its size and mtime have not changed for this long.
    poll_s : float
        How often the folder is listed.
    new_only : bool
        Leave alone the takes already in the folder when the watch starts.
    max_takes : int, optional
        Stop after gating this many takes.
    idle_timeout_s : float, optional
        Stop after this long with nothing gated and nothing waiting to settle.
    stop : threading.Event, optional
        Stop when set (checked between takes and polls).
    on_take : callable, optional
        Called with each gated take (the CLI prints :meth:`WatchedTake.line`).
    clock : callable
        Monotonic seconds (tests may pass a fake).

    Returns
    -------
    WatchSummary

    Raises
    ------
    RootError
        ``root`` is not a readable folder when the watch starts.
    ConfigError
        A hook command cannot be parsed.
    StoreError
        The store cannot be opened.
    """
    root = Path(root)
    find_takes(root, config)  # raises RootError early
    pass_argv = parse_hook(on_pass) if on_pass else None
    fail_argv = parse_hook(on_fail) if on_fail else None
    moved_dir = Path(move_failed) if move_failed else None
    skip = [moved_dir.resolve()] if moved_dir is not None else []
    policy = GatePolicy.from_config(config)
    stop = stop or threading.Event()
    tracker = SettleTracker(settle_s)
    done: dict[str, tuple[int, int]] = {}
    summary = WatchSummary()
    store = Store(store_path or default_store_path(root))
    if new_only:
        for ref in _candidates(root, config, skip):
            try:
                st = ref.file.stat()
                done[ref.path] = (st.st_size, st.st_mtime_ns)
            except OSError:
                pass
    last_activity = clock()
    log.info("watching %s (settle %gs, poll %gs)", root, settle_s, poll_s)
    try:
        while not stop.is_set():
            try:
                refs = _candidates(root, config, skip)
            except RootError as exc:  # a network folder that went away: try again
                log.warning("%s", exc)
                refs = []
            tracker.keep_only({r.path for r in refs})
            for ref in refs:
                if stop.is_set():
                    break
                try:
                    st = ref.file.stat()
                except OSError:
                    continue
                state = (st.st_size, st.st_mtime_ns)
                if done.get(ref.path) == state:
                    continue
                if not tracker.observe(ref.path, state, now=clock()) or not can_open(ref.file):
                    continue
                tracker.forget(ref.path)
                try:
                    watched = _handle(ref, config, store, policy, sidecar, moved_dir,
                                      pass_argv, fail_argv)
                except StoreError as exc:  # busy or full: try again once it settles again
                    log.warning("%s: %s", ref.path, exc)
                    continue
                done[ref.path] = state
                if watched is None:
                    continue
                last_activity = clock()
                summary.gated += 1
                summary.passed += watched.result.passed
                summary.unreadable += watched.result.unreadable
                summary.failed += not watched.result.passed and not watched.result.unreadable
                summary.takes.append(watched)
                log.debug("%s", watched.line())
                if on_take is not None:
                    on_take(watched)
                if max_takes is not None and summary.gated >= max_takes:
                    return summary
            idle = clock() - last_activity
            if idle_timeout_s is not None and tracker.pending == 0 and idle >= idle_timeout_s:
                return summary
            stop.wait(poll_s)
        return summary
    finally:
        store.close()


def _handle(
    ref: TakeRef,
    config: Config,
    store: Store,
    policy: GatePolicy,
    sidecar: bool,
    moved_dir: Path | None,
    pass_argv: list[str] | None,
    fail_argv: list[str] | None,
) -> WatchedTake | None:
    """Gate one settled take and act on it.

    A bad file is a take with verdict ``error``; a store error is raised (the take is
    tried again); anything else is logged and costs this take only (None).
    """
    try:
        result = gate_ref(ref, config, store=store, policy=policy)
        if sidecar:
            write_sidecar(result)
    except StoreError:
        raise
    except QCError as exc:
        log.warning("%s: %s", ref.path, exc)
        return None
    except Exception as exc:  # a bug must cost one take, never the watch
        log.warning("%s: internal error: %s", ref.path, one_line(f"{type(exc).__name__}: {exc}"),
                    exc_info=log.isEnabledFor(logging.DEBUG))
        return None
    path = ref.file
    moved_to = None
    if not result.passed and moved_dir is not None:
        try:
            moved_to = path = move_aside(ref.file, moved_dir)
        except OSError as exc:
            log.warning("%s: cannot move it to %s: %s", ref.path, moved_dir, exc.strerror or exc)
    argv = pass_argv if result.passed else fail_argv
    status = None
    if argv is not None:
        env = {"QC_VERDICT": result.verdict,
               "QC_SCORE": "" if result.take.score is None else f"{result.take.score:.2f}",
               "QC_REASON": "; ".join(result.reasons)}
        status = run_hook(argv, path, env=env)
    return WatchedTake(result, moved_to, status)
