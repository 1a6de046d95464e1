"""The Python API for generation scripts: scan or gate one take, scan a folder, read a report.

Every function answers from the take's folder's store (``<folder>/.qc/qc.db``) when the
take's content and analysis configuration are unchanged, and stores what it analyses,
exactly like the command line.  ``store=False`` analyses without reading or writing one.

Examples
--------
Regenerate a take until it passes (``render`` is the script's own function)::

    import qc

    for attempt in range(5):
        path = render(prompt, seed=attempt)
        result = qc.gate_take(path, min_score=70, fail_on=("faces",))
        if result.passed:
            break
        print(result.verdict, result.take.score, result.reasons)
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from qc.batch import TakeRef, scan_folder, shot_of
from qc.config import Config, load_config
from qc.gate import GatePolicy, GateResult, evaluate, gate_ref, write_sidecar
from qc.paths import as_text
from qc.report import Report, TakeResult, build_report, read_report
from qc.store import Store, default_store_path

__all__ = ["scan_take", "gate_take", "scan_folder", "folder_report", "read_report"]


def _take(path: Path | str, config: Config | None) -> tuple[Path, TakeRef, Config]:
    file = Path(path)
    root = file.parent
    if config is None:
        config = load_config(root=root if root.is_dir() else None)
    shot = shot_of(Path(file.name), root.resolve().name or "root", config.scan.shot_pattern)
    return root, TakeRef(file, as_text(file.name), as_text(shot)), config


def _open_store(root: Path, store: Path | str | bool) -> Store | None:
    if store is False or not root.is_dir():
        return None
    if store is True:
        return Store(default_store_path(root))
    return Store(store)


def scan_take(
    path: Path | str,
    config: Config | None = None,
    *,
    store: Path | str | bool = True,
    force: bool = False,
) -> TakeResult:
    """Scan one take and score it (without gating).

    Parameters
    ----------
    path : Path
        The video file.
    config : Config, optional
        The configuration; by default the take's folder's ``qc.toml``, else the defaults.
    store : Path or bool
        True: the take's folder's store; a path: that store; False: no store.
    force : bool
        Analyse even if the store holds the take unchanged.

    Returns
    -------
    TakeResult
        Its ``path`` is ``path`` as given; ``status="error"`` (verdict ``error``) when the
        take cannot be read: never raises for a bad file.

    Raises
    ------
    ConfigError
        The folder's ``qc.toml`` is invalid.
    StoreError
        The store cannot be opened or written.
    """
    root, ref, config = _take(path, config)
    db = _open_store(root, store) if ref.file.exists() else None
    try:
        entry, _ = evaluate(ref, config, store=db, force=force)
    finally:
        if db is not None:
            db.close()
    return TakeResult.from_entry(dict(entry, path=str(path)))


def gate_take(
    path: Path | str,
    config: Config | None = None,
    *,
    profile: str | None = None,
    min_score: float | None = None,
    fail_on: Sequence[str] | None = None,
    fail_level: float | None = None,
    strict: bool | None = None,
    store: Path | str | bool = True,
    force: bool = False,
    sidecar: bool = False,
) -> GateResult:
    """Gate one take: does it go on to a person?  The same decision as ``qc gate``.

    Parameters
    ----------
    path : Path
        The video file.
    config : Config, optional
        The configuration; by default the take's folder's ``qc.toml``, else the defaults.
    profile, min_score, fail_on, fail_level, strict : optional
        Override the configuration's ``[scoring] profile`` and ``[gate]`` values, like
        the command line's flags.
    store : Path or bool
        True: the take's folder's store; a path: that store; False: no store.
    force : bool
        Analyse even if the store holds the take unchanged.
    sidecar : bool
        Also write ``take.mp4.qc.json`` beside the take.

    Returns
    -------
    GateResult
        ``passed``, ``verdict``, ``reasons`` and the take's result; an unreadable take
        has verdict ``error`` and never passes.

    Raises
    ------
    ConfigError
        An option or the folder's ``qc.toml`` is invalid.
    StoreError
        The store cannot be opened or written.
    """
    root, ref, config = _take(path, config)
    overrides: dict[str, dict[str, Any]] = {}
    if profile is not None:
        overrides["scoring"] = {"profile": profile}
    gate = {k: v for k, v in (("min_score", min_score), ("fail_level", fail_level),
                              ("strict", strict)) if v is not None}
    if fail_on is not None:
        gate["fail_on"] = [fail_on] if isinstance(fail_on, str) else list(fail_on)
    if gate:
        overrides["gate"] = gate
    if overrides:
        config = Config.from_dict(overrides, base=config)
    db = _open_store(root, store) if ref.file.exists() else None
    try:
        result = gate_ref(ref, config, store=db, display=str(path), force=force,
                          policy=GatePolicy.from_config(config))
    finally:
        if db is not None:
            db.close()
    if sidecar and ref.file.is_file():
        write_sidecar(result)
    return result


def folder_report(root: Path | str, *, store_path: Path | str | None = None) -> Report:
    """The report of a scanned folder, from its store (what ``qc report`` prints).

    Raises
    ------
    StoreError
        The folder has no store (scan it first with :func:`scan_folder`).
    """
    root = Path(root)
    with Store(store_path or default_store_path(root), readonly=True) as db:
        run = db.last_run()
        config = run["config"] if run else load_config(root=root).to_dict()
        return Report.from_dict(build_report(db, root=str(root), config=config,
                                             created=run["finished"] if run else None))
