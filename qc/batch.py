"""A folder of takes: find them, skip what is unchanged, scan the rest, store, rank."""

from __future__ import annotations

import hashlib
import logging
import os
import re
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from qc.config import Config, analysis_key, load_config
from qc.decode import read_error
from qc.errors import RootError, one_line
from qc.paths import as_text
from qc.scan import TakeAnalysis, analyse_take
from qc.scoring import rank_takes, score_take, verdict_for
from qc.store import STORE_DIRNAME, Store, default_store_path

__all__ = ["TakeRef", "ScanSummary", "find_takes", "shot_of", "content_hash", "scan_folder",
           "update_takes", "rescore"]

log = logging.getLogger("qc")


@dataclass(frozen=True)
class _Facts:
    """A take file's identity as the store keeps it, or why it could not be read."""

    hash: str | None
    size: int | None = None
    mtime_ns: int | None = None
    error: str | None = None


@dataclass(frozen=True)
class TakeRef:
    """A take found under the root: its file, its path relative to the root, its shot."""

    file: Path
    path: str
    shot: str


@dataclass
class ScanSummary:
    """What one scan did."""

    run_id: int
    found: int = 0
    scanned: int = 0
    skipped: int = 0
    errors: int = 0
    moved: int = 0
    removed: int = 0


class ScanProgress:
    """Callbacks a scan reports through; the CLI draws a progress bar with them."""

    def start(self, total: int, to_scan: int) -> None:
        """The scan found ``total`` takes, of which ``to_scan`` need scanning."""

    def frames(self, take: TakeRef, done: int) -> None:
        """``done`` frames of ``take`` are analysed (in-process scans only)."""

    def take_done(self, take: TakeRef, analysis: TakeAnalysis | None) -> None:
        """``take`` is finished (``analysis`` is None when it was skipped as unchanged)."""


def shot_of(rel: Path, root_name: str, pattern: str = "") -> str:
    """The shot a take belongs to: its parent folder relative to the root, or a regex match.

    Parameters
    ----------
    rel : Path
        The take's path relative to the root.
    root_name : str
        The root folder's own name: the shot of takes directly in it.
    pattern : str
        A regex searched in the file name; its group ``shot``, else group 1, else the
        whole match names the shot.  No match falls back to the folder.

    Examples
    --------
    >>> shot_of(Path("sc01/take_3.mp4"), "takes")
    'sc01'
    >>> shot_of(Path("sh010_v002.mp4"), "takes", r"(?P<shot>sh\\d+)_v")
    'sh010'
    """
    if pattern:
        m = re.search(pattern, rel.name)
        if m:
            if "shot" in m.groupdict():
                return m.group("shot")
            return m.group(1) if m.groups() else m.group(0)
    parent = rel.parent.as_posix()
    return root_name if parent in ("", ".") else parent


def find_takes(root: Path | str, config: Config) -> list[TakeRef]:
    """Every take under ``root``, sorted by path; hidden files and folders are skipped.

    Raises
    ------
    RootError
        ``root`` does not exist, is not a folder, or cannot be listed.
    """
    root = Path(root)
    if not root.exists():
        raise RootError(f"no such folder: {root}")
    if not root.is_dir():
        raise RootError(f"not a folder: {root}")
    if not os.access(root, os.R_OK | os.X_OK):
        raise RootError(f"cannot read the folder: {root}")
    root_name = root.resolve().name or "root"
    exts = config.scan.extensions
    out: list[TakeRef] = []
    errors: list[OSError] = []
    for dirpath, dirnames, filenames in os.walk(root, onerror=errors.append):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d != STORE_DIRNAME)
        for name in filenames:
            if name.startswith(".") or not name.lower().endswith(exts):
                continue
            file = Path(dirpath) / name
            rel = file.relative_to(root)
            # a name that is not UTF-8 is stored and reported with \xNN escapes
            shot = as_text(shot_of(rel, root_name, config.scan.shot_pattern))
            out.append(TakeRef(file, as_text(rel.as_posix()), shot))
    if errors and errors[0].filename and Path(errors[0].filename) == root:
        raise RootError(f"cannot read the folder: {root}: {errors[0].strerror}")
    for err in errors:
        log.warning("cannot list %s: %s", err.filename, err.strerror)
    return sorted(out, key=lambda t: t.path)


def content_hash(path: Path, *, chunk: int = 1 << 20) -> str:
    """BLAKE2b hash of a file's bytes (hex, 128-bit): a take's identity across renames."""
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def rescore(store: Store, config: Config) -> None:
    """Recompute every stored take's score, verdict, rank and best-in-shot from its severities."""
    takes = store.takes()
    scored = {t.path: score_take(t.severities, config.scoring) for t in takes if t.status == "ok"}
    ranks = rank_takes((t.path, t.shot, scored[t.path]) for t in takes if t.status == "ok")
    out: dict[str, tuple[float | None, str, int | None, bool]] = {}
    for t in takes:
        if t.status == "ok":
            r = ranks[t.path]
            out[t.path] = (scored[t.path], verdict_for(scored[t.path], config.scoring), r.rank,
                           r.best_in_shot)
        else:
            out[t.path] = (None, "error", None, False)
    store.set_scores(out)


def scan_folder(
    root: Path | str,
    config: Config | None = None,
    *,
    store_path: Path | str | None = None,
    force: bool = False,
    jobs: int | None = None,
    progress: ScanProgress | None = None,
    root_label: str | None = None,
    scheduler: str | None = None,
) -> ScanSummary:
    """Scan every take under ``root`` into the folder's store, then rank them all.

    Takes whose content and analysis configuration are unchanged since they were stored
    are skipped (``force`` rescans them); a renamed or moved take is recognised by its
    content hash.  Each take is written in its own transaction as soon as it is done.

    Parameters
    ----------
    root : Path
        The folder of takes.
    config : Config, optional
        The resolved configuration; by default the folder's ``qc.toml`` (or the
        built-in defaults when it has none).
    store_path : Path, optional
        The SQLite store; ``root/.qc/qc.db`` by default.
    force : bool
        Rescan every take.
    jobs : int, optional
        Takes scanned at once in separate processes; ``config.scan.jobs`` by default, 0
        meaning the CPU count.
    progress : ScanProgress, optional
        Receives progress callbacks.
    root_label : str, optional
        The root as the user gave it, for the run record.
    scheduler : str, optional
        The address of a Dask distributed scheduler (``tcp://host:8786``); the takes are
        scanned as tasks on its workers, which must see the takes at the same paths, and
        this process alone writes the store.  ``config.scan.scheduler`` by default; none
        (local processes) when empty.

    Returns
    -------
    ScanSummary

    Raises
    ------
    RootError
        The folder cannot be read.
    ConfigError
        No ``config`` was given and the folder's ``qc.toml`` is invalid.
    StoreError
        The store cannot be written.
    SchedulerError
        The Dask scheduler cannot be reached.
    """
    root = Path(root)
    if config is None:
        if not root.is_dir():
            find_takes(root, Config())  # raises the RootError that says why
        config = load_config(root=root)
    progress = progress or ScanProgress()
    refs = find_takes(root, config)
    key = analysis_key(config)
    jobs = config.scan.jobs if jobs is None else jobs
    jobs = jobs or os.cpu_count() or 1
    scheduler = config.scan.scheduler if scheduler is None else scheduler
    store = Store(store_path or default_store_path(root))
    try:
        from qc import __version__

        run_id = store.begin_run(root_label or str(root), config.to_dict(), __version__)
        summary = ScanSummary(run_id=run_id, found=len(refs))
        pending = _plan(store, refs, key, force, summary)
        progress.start(len(refs), len(pending))
        for ref in refs:
            if ref not in pending:
                progress.take_done(ref, None)

        def save(ref: TakeRef, facts: _Facts, result: TakeAnalysis) -> None:
            result = _store_result(store, ref, facts, result, key=key, run_id=run_id)
            summary.scanned += 1
            summary.errors += result.status == "error"
            progress.take_done(ref, result)

        todo = [(r, f) for r, f in pending.items() if f.error is None]
        for ref, facts in pending.items():
            if facts.error is not None:  # could not even be read for hashing
                save(ref, facts, TakeAnalysis(status="error", error=facts.error))
        if scheduler and todo:
            from qc.cluster import scan_on_cluster

            scan_on_cluster(todo, config, scheduler, save, progress)
        else:
            _scan_supervised(todo, config, jobs, save, progress)
        summary.removed = store.forget_except(r.path for r in refs)
        rescore(store, config)
        store.finish_run(run_id, scanned=summary.scanned, skipped=summary.skipped,
                         errors=summary.errors)
        return summary
    finally:
        store.close()


def _store_result(store: Store, ref: TakeRef, facts: _Facts, result: TakeAnalysis, *,
                  key: str, run_id: int | None) -> TakeAnalysis:
    """Store one take's result under the content it was planned with; return what was
    stored (an error instead when the file changed while it was analysed)."""
    changed = _changed_since(ref, facts)
    if changed is not None:
        result = TakeAnalysis(status="error", error=changed)
    store.save_take(
        path=ref.path, shot=ref.shot, content_hash=facts.hash, size=facts.size,
        mtime_ns=facts.mtime_ns, analysis_key=key, status=result.status, error=result.error,
        media=result.media.to_dict() if result.media else None,
        events=result.events, signals=result.signals, run_id=run_id,
    )
    return result


def _changed_since(ref: TakeRef, facts: _Facts) -> str | None:
    """Why a take's result cannot be stored as analysed: its file changed meanwhile.

    A file still being written is hashed at one size and decoded at another; its result
    would be stored under the wrong content.  It becomes an error instead, and the next
    scan (seeing a new size or time) analyses it again.
    """
    if facts.hash is None:
        return None
    try:
        st = os.stat(ref.file)
    except OSError as exc:
        return read_error(exc)
    if (st.st_size, st.st_mtime_ns) != (facts.size, facts.mtime_ns):
        return ("the file changed while it was scanned (still being written?):"
                " scan again when it is complete")
    return None


def _analyse_job(file: str, config: Config, *, progress: Callable[[int], None]) -> TakeAnalysis:
    """One take in a supervised worker (a top-level function: workers get it by name)."""
    try:
        return analyse_take(file, config, progress=progress)
    except Exception as exc:  # a bug must cost one take, never the scan
        log.debug("%s: unexpected error", file, exc_info=True)
        return TakeAnalysis(status="error",
                            error=one_line(f"internal error: {type(exc).__name__}: {exc}"))


def _analyse(file: str, config: Config) -> TakeAnalysis:
    """One take on a Dask worker (:mod:`qc.cluster`; a top-level function, so that
    workers get it by name).  Dask retries a task whose worker died; the supervised
    worker's time and memory limits do not apply there."""
    return _analyse_job(file, config, progress=lambda done: None)


def _scan_supervised(
    todo: list[tuple[TakeRef, _Facts]],
    config: Config,
    jobs: int,
    save: Callable[[TakeRef, _Facts, TakeAnalysis], None],
    progress: ScanProgress,
) -> None:
    """Analyse ``todo`` in supervised worker processes (:mod:`qc.workers`), saving each
    take as it ends: a take that crashes its worker, or overruns the time or memory
    limit, becomes an error take and the scan goes on."""
    from qc.workers import Limits, run_jobs

    facts_of = dict(todo)
    limits = Limits(timeout_s=config.scan.take_timeout_s, memory_mb=config.scan.take_memory_mb)
    run_jobs(
        ((ref, (str(ref.file), config)) for ref, _ in todo), _analyse_job,
        workers=jobs, limits=limits,
        on_done=lambda ref, result: save(ref, facts_of[ref], result),
        on_failed=lambda ref, reason: save(ref, facts_of[ref],
                                           TakeAnalysis(status="error", error=reason)),
        on_frames=progress.frames,
    )


def _analyse_in_process(ref: TakeRef, config: Config, progress: ScanProgress) -> TakeAnalysis:
    """One take, now, in a supervised worker process (the gate's and the watcher's way).

    As in a scan: a take that crashes its decoder, or overruns the time or memory limit,
    comes back as an error take; the caller (``qc gate``, ``qc watch``) goes on.
    """
    from qc.workers import Limits, run_jobs

    out: list[TakeAnalysis] = []
    limits = Limits(timeout_s=config.scan.take_timeout_s, memory_mb=config.scan.take_memory_mb)
    run_jobs([(ref, (str(ref.file), config))], _analyse_job, workers=1, limits=limits,
             on_done=lambda _ref, result: out.append(result),
             on_failed=lambda _ref, reason: out.append(TakeAnalysis(status="error", error=reason)),
             on_frames=progress.frames)
    return out[0]


def update_takes(
    store: Store,
    refs: list[TakeRef],
    config: Config,
    *,
    force: bool = False,
) -> list[TakeRef]:
    """Bring a few takes of a folder up to date in its store, leaving the others alone.

    The gate's counterpart of :func:`scan_folder`: the same incremental plan (size and
    mtime, then content hash, with the analysis configuration), so an unchanged take
    costs a ``stat`` and a lookup; the takes that need it are analysed one after the
    other, each in a supervised worker process.  Takes not in ``refs`` are never forgotten or moved; they are
    re-ranked when something new was stored.

    Parameters
    ----------
    store : Store
        The folder's store, open for writing.
    refs : list of TakeRef
        The takes to bring up to date, paths relative to the store's folder.
    config : Config
        The resolved configuration.
    force : bool
        Analyse the takes even if unchanged.

    Returns
    -------
    list of TakeRef
        The takes that were analysed (the others were answered from the store).
    """
    key = analysis_key(config)
    # Only a whole-folder scan knows which takes have gone: here a take with known
    # content is copied, never moved away from another path (a later scan forgets the
    # rows whose files are gone).
    summary = ScanSummary(run_id=0)
    pending = _plan(store, refs, key, force, summary, detect_moves=False)
    for ref, facts in pending.items():
        if facts.error is not None:
            result = TakeAnalysis(status="error", error=facts.error)
        else:
            result = _analyse_in_process(ref, config, ScanProgress())
        result = _store_result(store, ref, facts, result, key=key, run_id=None)
        if result.status == "error":
            log.info("%s: %s", ref.path, result.error)
    # new rows (analysed, or copied from a take with the same content) have no score yet
    if pending or any((t := store.get(r.path)) is not None and t.verdict is None for r in refs):
        rescore(store, config)
    return list(pending)


def _plan(
    store: Store,
    refs: list[TakeRef],
    key: str,
    force: bool,
    summary: ScanSummary,
    *,
    detect_moves: bool = True,
) -> dict[TakeRef, _Facts]:
    """Decide which takes need scanning; record the unchanged and the moved ones.

    A stored take with the same content at a path not among ``refs`` has moved, when
    ``refs`` is the whole folder (``detect_moves``); otherwise it is copied.
    """
    present = {r.path for r in refs}
    pending: dict[TakeRef, _Facts] = {}
    for ref in refs:
        try:
            st = os.stat(ref.file)
            if not stat.S_ISREG(st.st_mode):
                raise IsADirectoryError(21, "not a regular file", str(ref.file))
        except OSError as exc:
            pending[ref] = _Facts(None, error=read_error(exc))
            continue
        size, mtime = st.st_size, st.st_mtime_ns
        old = store.get(ref.path)
        if (not force and old is not None and old.analysis_key == key
                and old.size == size and old.mtime_ns == mtime):
            if old.shot != ref.shot:
                store.relocate(old.id, path=ref.path, shot=ref.shot, size=size, mtime_ns=mtime)
            summary.skipped += 1
            continue
        try:
            digest = content_hash(ref.file)
        except OSError as exc:
            pending[ref] = _Facts(None, size, mtime, error=read_error(exc))
            continue
        if not force:
            same = [t for t in store.find_by_hash(digest) if t.analysis_key == key]
            at_path = next((t for t in same if t.path == ref.path), None)
            if at_path is not None:  # touched, not changed
                store.relocate(at_path.id, path=ref.path, shot=ref.shot, size=size, mtime_ns=mtime)
                summary.skipped += 1
                continue
            moved = next((t for t in same if t.path not in present), None) \
                if detect_moves else None
            if moved is not None:
                log.info("%s: same content as %s (moved)", ref.path, moved.path)
                store.relocate(moved.id, path=ref.path, shot=ref.shot, size=size, mtime_ns=mtime)
                summary.skipped += 1
                summary.moved += 1
                continue
            if same:
                store.copy_take(same[0].id, path=ref.path, shot=ref.shot, size=size,
                                mtime_ns=mtime)
                summary.skipped += 1
                continue
        pending[ref] = _Facts(digest, size, mtime)
    return pending
