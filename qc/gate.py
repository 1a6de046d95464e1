"""The pipeline gate: pass, review or fail for single takes, answered from the store when
nothing changed.

A take **fails the gate** when any of these holds:

- its score is below the profile's fail score (verdict ``fail``);
- its score is below ``gate.min_score`` (``--min-score``);
- an artifact named in ``gate.fail_on`` (``--fail-on``) has a severity above
  ``gate.fail_level`` (``--fail-level``); by default ``1 - pass_score / 100`` (0.2 with
  the default profile), the severity at which that artifact alone would keep the take
  from passing;
- it is ``review`` and the gate is ``strict``;
- it cannot be read (verdict ``error``): an unreadable take never passes.

Exit status of a gate over several takes: 3 if any take cannot be read, else 1 if any
take fails, else 0.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from qc.batch import TakeRef, find_takes, shot_of, update_takes
from qc.paths import as_text
from qc.config import Config, load_config
from qc.detectors.base import ARTIFACTS, Event
from qc.errors import ConfigError, StoreError
from qc.report import SCHEMA_ID, TakeResult, analysis_entry, take_entry, write_json
from qc.scoring import rank_takes, score_take, verdict_for
from qc.store import Store, default_store_path

__all__ = [
    "EXIT_PASS",
    "EXIT_FAIL",
    "EXIT_UNREADABLE",
    "GatePolicy",
    "GateDecision",
    "GateResult",
    "gate_verdict",
    "gate_exit_code",
    "parse_artifacts",
    "evaluate",
    "gate_paths",
    "gate_report",
    "sidecar_path",
    "write_sidecar",
    "format_line",
]

log = logging.getLogger("qc")

EXIT_PASS = 0
EXIT_FAIL = 1
EXIT_UNREADABLE = 3
SIDECAR_SUFFIX = ".qc.json"


@dataclass(frozen=True)
class GatePolicy:
    """Everything that decides whether a take passes the gate.

    Parameters
    ----------
    pass_score, fail_score : float
        The scoring thresholds: pass at ``score >= pass_score``, fail below ``fail_score``.
    strict : bool
        ``review`` does not pass.
    min_score : float, optional
        Fail every take that scores below this.
    fail_on : tuple of str
        Artifacts that fail a take on their own when their severity is above
        :attr:`level`.
    fail_level : float, optional
        The severity (0-1) above which a ``fail_on`` artifact fails the take; by default
        ``1 - pass_score / 100``.
    """

    pass_score: float = 80.0
    fail_score: float = 50.0
    strict: bool = False
    min_score: float | None = None
    fail_on: tuple[str, ...] = ()
    fail_level: float | None = None

    @classmethod
    def from_config(cls, config: Config) -> GatePolicy:
        """The policy of a resolved configuration (``[scoring]`` and ``[gate]``)."""
        pass_score, fail_score = config.scoring.thresholds()
        g = config.gate
        return cls(pass_score=pass_score, fail_score=fail_score, strict=g.strict,
                   min_score=g.min_score, fail_on=g.fail_on, fail_level=g.fail_level)

    @property
    def level(self) -> float:
        """The severity above which a ``fail_on`` artifact fails the take."""
        if self.fail_level is not None:
            return self.fail_level
        return round(1.0 - self.pass_score / 100.0, 6)


@dataclass(frozen=True)
class GateDecision:
    """What the gate decided for one take.

    ``verdict`` is the scoring verdict made stricter by the policy (``min_score`` and
    ``fail_on`` turn ``pass`` or ``review`` into ``fail``); ``passed`` is whether the
    take goes on; ``reasons`` say why it does not (empty when it passes);
    ``failed_on`` names the ``fail_on`` artifacts above the fail level.
    """

    verdict: str
    passed: bool
    reasons: tuple[str, ...] = ()
    failed_on: tuple[str, ...] = ()


def gate_verdict(take: TakeResult, policy: GatePolicy) -> GateDecision:
    """Decide pass or fail for one take; pure.

    The score is judged against the policy's thresholds (not the verdict stored with the
    take), so a take scanned under one profile can be gated under another.

    Parameters
    ----------
    take : TakeResult
        The take's result.
    policy : GatePolicy
        The thresholds and rules.

    Returns
    -------
    GateDecision

    Examples
    --------
    >>> t = TakeResult("a.mp4", "s", "ok", "pass", score=85.0,
    ...                severities={"flicker": 0.0, "faces": 0.15, "morphing": 0.0, "physics": 0.0})
    >>> gate_verdict(t, GatePolicy()).verdict
    'pass'
    >>> gate_verdict(t, GatePolicy(fail_on=("faces",), fail_level=0.1)).reasons
    ('faces severity 0.15 is above the fail level 0.10',)
    >>> gate_verdict(t, GatePolicy(min_score=90)).verdict
    'fail'
    """
    if not take.ok or take.score is None:
        return GateDecision("error", False, (f"unreadable: {take.error or 'unknown error'}",))
    score = take.score
    reasons: list[str] = []
    if score < policy.fail_score:
        reasons.append(f"score {score:.1f} is below the fail score {policy.fail_score:g}")
    if policy.min_score is not None and score < policy.min_score:
        reasons.append(f"score {score:.1f} is below the minimum score {policy.min_score:g}")
    failed_on = tuple(a for a in policy.fail_on if take.severities.get(a, 0.0) > policy.level)
    for a in failed_on:
        reasons.append(f"{a} severity {take.severities[a]:.2f} is above the fail level"
                       f" {policy.level:.2f}")
    if reasons:
        return GateDecision("fail", False, tuple(reasons), failed_on)
    verdict = "pass" if score >= policy.pass_score else "review"
    if verdict == "review" and policy.strict:
        return GateDecision("review", False, (
            f"score {score:.1f} is below the pass score {policy.pass_score:g} (strict)",))
    return GateDecision(verdict, True)


def parse_artifacts(text: str) -> tuple[str, ...]:
    """``"flicker, faces"`` -> ``("flicker", "faces")``; raises ConfigError on unknown names."""
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    unknown = [n for n in names if n not in ARTIFACTS]
    if unknown:
        raise ConfigError(f"--fail-on: unknown artifact{'s' if len(unknown) > 1 else ''}"
                          f" {', '.join(map(repr, unknown))} (known: {', '.join(ARTIFACTS)})")
    return names


@dataclass(frozen=True)
class GateResult:
    """One take through the gate.

    Attributes
    ----------
    file : Path
        The take's file.
    verdict : str
        ``pass``, ``review``, ``fail`` or ``error`` (see :class:`GateDecision`).
    passed : bool
        Whether the take goes on.
    reasons : tuple of str
        Why it does not pass (empty when it does).
    failed_on : tuple of str
        The ``fail_on`` artifacts that failed it.
    take : TakeResult
        Its result (with ``verdict`` the gate's verdict).
    entry : dict
        The same as a report entry (``qc.report/1``), with a ``gate`` object added:
        ``{"passed": bool, "reasons": [str]}``.
    from_store : bool
        It was answered from the store without decoding.
    config : Config
        The resolved configuration it was judged with.
    """

    file: Path
    verdict: str
    passed: bool
    reasons: tuple[str, ...]
    failed_on: tuple[str, ...]
    take: TakeResult
    entry: dict[str, Any] = field(repr=False)
    from_store: bool = False
    config: Config = field(default_factory=Config, repr=False, compare=False)

    @property
    def unreadable(self) -> bool:
        """Whether the take could not be read."""
        return self.verdict == "error"

    @property
    def exit_code(self) -> int:
        """0 passes, 1 fails, 3 cannot be read."""
        return EXIT_PASS if self.passed else EXIT_UNREADABLE if self.unreadable else EXIT_FAIL


def gate_exit_code(results: Iterable[GateResult]) -> int:
    """3 if any take cannot be read, else 1 if any fails, else 0 (no takes: 0)."""
    codes = {r.exit_code for r in results}
    return EXIT_UNREADABLE if EXIT_UNREADABLE in codes else EXIT_FAIL if EXIT_FAIL in codes \
        else EXIT_PASS


# -- evaluating one take ------------------------------------------------------------------


def _missing_entry(path: str, shot: str, error: str) -> dict[str, Any]:
    return {"path": path, "shot": shot, "status": "error", "error": error, "score": None,
            "rank": None, "verdict": "error", "best_in_shot": False}


def evaluate(
    ref: TakeRef,
    config: Config,
    *,
    store: Store | None,
    force: bool = False,
) -> tuple[dict[str, Any], bool]:
    """One take's report entry, from the store when unchanged, else analysed (and stored).

    Parameters
    ----------
    ref : TakeRef
        The take, its path relative to the folder ``store`` belongs to.
    config : Config
        The resolved configuration; the score is computed with its ``[scoring]``.
    store : Store or None
        The folder's store, or None to analyse without one.
    force : bool
        Analyse even if the store holds the take unchanged.

    Returns
    -------
    (dict, bool)
        The entry (rank 1, as a one-take report) and whether it was answered from the
        store without decoding.
    """
    if not ref.file.exists():
        msg = "no such file" if not ref.file.is_symlink() else "a broken link"
        return _missing_entry(ref.path, ref.shot, msg), False
    if store is None:
        from qc.batch import ScanProgress, _analyse_in_process

        analysis = _analyse_in_process(ref, config, ScanProgress())
        return analysis_entry(ref.path, ref.shot, analysis, config.scoring), False
    analysed = update_takes(store, [ref], config, force=force)
    stored = store.get(ref.path)
    if stored is None:  # pragma: no cover - update_takes always stores the take
        raise StoreError(f"{ref.path} was not stored in {store.path}")
    entry = take_entry(store, stored)
    if stored.status == "ok":  # scored with this configuration, whatever the store holds
        entry["score"] = score_take(stored.severities, config.scoring)
        entry["verdict"] = verdict_for(entry["score"], config.scoring)
        entry["rank"], entry["best_in_shot"] = 1, True
    return entry, not analysed


def _decide(file: Path, display: str, entry: dict[str, Any], policy: GatePolicy,
            from_store: bool, config: Config) -> GateResult:
    entry = dict(entry, path=display)
    decision = gate_verdict(TakeResult.from_entry(entry), policy)
    entry["verdict"] = decision.verdict
    entry["gate"] = {"passed": decision.passed, "reasons": list(decision.reasons)}
    return GateResult(file=file, verdict=decision.verdict, passed=decision.passed,
                      reasons=decision.reasons, failed_on=decision.failed_on,
                      take=TakeResult.from_entry(entry), entry=entry, from_store=from_store,
                      config=config)


def gate_ref(
    ref: TakeRef,
    config: Config,
    *,
    store: Store | None,
    display: str | None = None,
    force: bool = False,
    policy: GatePolicy | None = None,
) -> GateResult:
    """Gate one take of a folder (see :func:`evaluate`); ``display`` names it in the result."""
    entry, from_store = evaluate(ref, config, store=store, force=force)
    return _decide(ref.file, display or ref.path, entry,
                   policy or GatePolicy.from_config(config), from_store, config)


# -- sidecars and reports ------------------------------------------------------------------


def sidecar_path(file: Path | str) -> Path:
    """Where a take's sidecar goes: ``take.mp4`` -> ``take.mp4.qc.json`` beside it."""
    file = Path(file)
    return file.with_name(file.name + SIDECAR_SUFFIX)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def gate_report(results: Sequence[GateResult], *, root: str,
                config: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A ``qc.report/1`` report of gated takes, ranked among themselves.

    Each entry carries the gate's ``verdict`` and a ``gate`` object
    (``{"passed": bool, "reasons": [str]}``).  ``config`` is by default the one the
    first take was judged with.
    """
    if config is None:
        config = (results[0].config if results else Config()).to_dict()
    from qc import __version__

    ok = [r for r in results if r.entry["status"] == "ok"]
    ranks = rank_takes((r.entry["path"], r.entry["shot"], r.entry["score"]) for r in ok)
    takes = []
    for r in results:
        e = dict(r.entry)
        if e["status"] == "ok":
            e["rank"], e["best_in_shot"] = ranks[e["path"]].rank, ranks[e["path"]].best_in_shot
        takes.append(e)
    takes.sort(key=lambda e: (e["rank"] is None, e["rank"] or 0))
    return {"schema": SCHEMA_ID, "qc_version": __version__, "created": _now(), "root": root,
            "config": dict(config), "takes": takes}


def write_sidecar(result: GateResult) -> Path:
    """Write ``take.mp4.qc.json`` beside the take, atomically: a ``qc.report/1`` report
    whose root is the take's folder and whose one entry is the take (path: its file name).
    """
    one = dataclasses.replace(result, entry=dict(result.entry, path=result.file.name))
    out = sidecar_path(result.file)
    write_json(gate_report([one], root=str(result.file.parent)), out)
    return out


# -- many takes --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Target:
    root: Path
    ref: TakeRef
    display: str


def _expand(path: Path, config_of: Callable[[Path], Config]) -> list[_Target]:
    """The takes a command-line path names: a file, or every take under a folder."""
    display = as_text(path.as_posix())  # names that are not UTF-8 are shown escaped
    if path.is_dir():
        config = config_of(path)
        return [_Target(path, ref, as_text((path / ref.path).as_posix()) if display != "."
                        else ref.path)
                for ref in find_takes(path, config)]
    root = path.parent
    rel = Path(path.name)
    shot = "-"
    if root.is_dir():
        shot = shot_of(rel, root.resolve().name or "root", config_of(root).scan.shot_pattern)
    return [_Target(root, TakeRef(path, as_text(rel.as_posix()), as_text(shot)), display)]


def gate_paths(
    paths: Sequence[Path | str],
    *,
    config: Config | None = None,
    config_file: Path | str | None = None,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
    store_path: Path | str | None = None,
    use_store: bool = True,
    force: bool = False,
    sidecar: bool = False,
    on_result: Callable[[GateResult], None] | None = None,
) -> list[GateResult]:
    """Gate takes and folders of takes, one after the other, in the order given.

    Each take belongs to a folder: the folder given, or a file's parent.  That folder's
    ``qc.toml`` configures it (unless ``config`` or ``config_file`` is given) and its
    store (``<folder>/.qc/qc.db``, unless ``store_path``) answers it when its content and
    analysis configuration are unchanged; otherwise it is analysed and stored.

    Parameters
    ----------
    paths : sequence of Path
        Take files and folders (every take under a folder, as ``qc scan`` finds them).
    config : Config, optional
        The configuration for every take.
    config_file : Path, optional
        A ``qc.toml`` for every take (instead of each folder's).
    overrides : mapping, optional
        ``{section: {key: value}}`` applied last (the command line's flags).
    store_path : Path, optional
        One store for every take.
    use_store : bool
        False analyses every take without reading or writing a store.
    force : bool
        Analyse takes even if the store holds them unchanged.
    sidecar : bool
        Write ``take.mp4.qc.json`` beside each take.
    on_result : callable, optional
        Called with each result as soon as it is decided.

    Returns
    -------
    list of GateResult

    Raises
    ------
    ConfigError
        A configuration is invalid (before any take is gated).
    RootError
        A folder cannot be read.
    StoreError
        A store cannot be opened or written (a folder's default store that cannot be
        created is skipped with a warning instead).
    """
    configs: dict[Path, Config] = {}

    def config_of(root: Path) -> Config:
        key = root.resolve() if root.exists() else root
        if key not in configs:
            base = config if config is not None else load_config(
                Path(config_file) if config_file else None,
                root=root if root.is_dir() else None)
            configs[key] = Config.from_dict(overrides, base=base) if overrides else base
        return configs[key]

    targets = [t for p in paths for t in _expand(Path(p), config_of)]
    stores: dict[Path, Store | None] = {}

    def store_for(root: Path) -> Store | None:
        if not use_store:
            return None
        where = Path(store_path) if store_path else default_store_path(root)
        key = where.resolve() if where.parent.exists() else where
        if key not in stores:
            try:
                stores[key] = Store(where)
            except StoreError as exc:
                if store_path:
                    raise
                log.warning("%s; gating without a store", exc)
                stores[key] = None
        return stores[key]

    results: list[GateResult] = []
    try:
        for t in targets:
            cfg = config_of(t.root)
            store = store_for(t.root) if t.root.is_dir() and t.ref.file.exists() else None
            result = gate_ref(t.ref, cfg, store=store, display=t.display, force=force)
            if sidecar and t.ref.file.is_file():
                write_sidecar(result)
            log.debug("%s: %s%s", t.display, result.verdict,
                      " (from the store)" if result.from_store else "")
            results.append(result)
            if on_result is not None:
                on_result(result)
    finally:
        for s in stores.values():
            if s is not None:
                s.close()
    return results


def _worst(take: TakeResult, policy_fail_on: Sequence[str] = ()) -> Event | None:
    """The event to show: the worst of a ``fail_on`` artifact that failed, else the worst."""
    for a in policy_fail_on:
        evs = [e for e in take.events if e.artifact == a]
        if evs:
            return max(evs, key=lambda e: (e.severity, -e.start_s))
    return take.worst_event


def format_line(result: GateResult) -> str:
    """One line for a person: verdict, score, the worst event, the take's path.

    Examples
    --------
    ``fail     0.0  flicker: flash @ 0.62s          fixtures/flash/flash_0.mp4``
    """
    take = result.take
    if result.unreadable:
        return f"{'error':<6} {'-':>5}  {take.error or 'unknown error'}  {take.path}"
    ev = _worst(take, result.failed_on)
    worst = f"{ev.artifact}: {ev.label or 'event'} @ {ev.start_s:.2f}s" if ev else "-"
    score = f"{take.score:.1f}" if take.score is not None else "-"
    return f"{result.verdict:<6} {score:>5}  {worst:<32}  {take.path}"
