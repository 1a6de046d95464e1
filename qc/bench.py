"""Benchmarks that print figures: detector accuracy on a generated labelled set.

``qc bench accuracy`` generates a labelled set with :mod:`qc.synth`, scans it with the
current configuration and prints, per artifact and per kind of injection, the figures an
editor can trust qc by: ROC-AUC of the artifact's severity (injected vs clean and benign
takes), how often an event of the right kind lands within 0.5 s of the injected one,
and how often a clean take fails or a broken take passes.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import numpy as np

from qc.batch import scan_folder
from qc.config import Config
from qc.detectors.base import ARTIFACTS
from qc.report import build_report
from qc.store import Store, default_store_path

__all__ = ["roc_auc", "AccuracyResult", "evaluate", "accuracy", "print_accuracy"]

#: an event counts as found when it lies within this many seconds of the injected one
TOLERANCE_S = 0.5


def roc_auc(positive: Sequence[float], negative: Sequence[float]) -> float:
    """Area under the ROC curve: the chance a positive scores above a negative (ties 1/2).

    Examples
    --------
    >>> roc_auc([0.9, 0.8], [0.1, 0.8])
    0.875
    """
    pos = np.asarray(positive, dtype=np.float64)
    neg = np.asarray(negative, dtype=np.float64)
    if pos.size == 0 or neg.size == 0:
        return float("nan")
    greater = (pos[:, None] > neg[None, :]).sum()
    ties = (pos[:, None] == neg[None, :]).sum()
    return float((greater + 0.5 * ties) / (pos.size * neg.size))


@dataclass
class KindFigures:
    """One kind of generated take: how qc judged its takes."""

    kind: str
    artifact: str | None
    takes: int = 0
    found: int = 0           # takes whose every injected event was found in time
    verdicts: dict[str, int] = field(default_factory=dict)
    severity: list[float] = field(default_factory=list)  # of its own artifact (or the worst)
    false_events: dict[str, int] = field(default_factory=dict)  # clean kinds: events by artifact


@dataclass
class AccuracyResult:
    """Figures per artifact and per kind."""

    auc: dict[str, float]
    found_rate: dict[str, float]
    broken_pass_rate: dict[str, float]
    clean_fail_rate: float
    clean_flagged_rate: dict[str, float]
    kinds: dict[str, KindFigures]
    takes: int


def _hit(events: list[dict], start: float, end: float) -> bool:
    return any(e["start_s"] <= end + TOLERANCE_S and e["end_s"] >= start - TOLERANCE_S
               for e in events)


def evaluate(report: dict, truth: dict) -> AccuracyResult:
    """Compare a scan report with the ground truth of the generated set.

    Parameters
    ----------
    report : dict
        A ``qc.report/1`` report of the set's folder.
    truth : dict
        ``path -> qc.synth.Truth``.
    """
    entries = {t["path"]: t for t in report["takes"]}
    kinds: dict[str, KindFigures] = {}
    sev: dict[str, dict[str, list[float]]] = {a: {"pos": [], "neg": []} for a in ARTIFACTS}
    clean_fail = clean_n = 0
    for path, tr in sorted(truth.items()):
        e = entries.get(path)
        if e is None or e["status"] != "ok":
            continue
        k = kinds.setdefault(tr.kind, KindFigures(tr.kind, tr.artifact))
        k.takes += 1
        k.verdicts[e["verdict"]] = k.verdicts.get(e["verdict"], 0) + 1
        arts = e["artifacts"]
        if tr.artifact is None:
            clean_n += 1
            clean_fail += e["verdict"] == "fail"
            for a in ARTIFACTS:
                sev[a]["neg"].append(arts[a]["severity"])
                if arts[a]["events"]:
                    k.false_events[a] = k.false_events.get(a, 0) + 1
            k.severity.append(max(arts[a]["severity"] for a in ARTIFACTS))
        else:
            a = tr.artifact
            sev[a]["pos"].append(arts[a]["severity"])
            k.severity.append(arts[a]["severity"])
            if all(_hit(arts[a]["events"], ev.start_s, ev.end_s) for ev in tr.events):
                k.found += 1
    auc = {a: roc_auc(sev[a]["pos"], sev[a]["neg"]) for a in ARTIFACTS}
    found: dict[str, float] = {}
    broken_pass: dict[str, float] = {}
    for a in ARTIFACTS:
        ks = [k for k in kinds.values() if k.artifact == a]
        n = sum(k.takes for k in ks)
        found[a] = sum(k.found for k in ks) / n if n else float("nan")
        broken_pass[a] = sum(k.verdicts.get("pass", 0) for k in ks) / n if n else float("nan")
    clean = [k for k in kinds.values() if k.artifact is None]
    flagged = {a: (sum(k.false_events.get(a, 0) for k in clean) / clean_n if clean_n else float("nan"))
               for a in ARTIFACTS}
    return AccuracyResult(
        auc=auc, found_rate=found, broken_pass_rate=broken_pass,
        clean_fail_rate=clean_fail / clean_n if clean_n else float("nan"),
        clean_flagged_rate=flagged, kinds=kinds, takes=sum(k.takes for k in kinds.values()),
    )


def accuracy(
    *,
    n: int = 10,
    seed: int = 1000,
    config: Config | None = None,
    workdir: Path | None = None,
    jobs: int | None = None,
    kinds: Sequence[str] | None = None,
    size: tuple[int, int] = (256, 144),
    n_frames: int = 48,
) -> AccuracyResult:
    """Generate ``n`` takes of every kind, scan them, and evaluate against the truth.

    The seeds differ from those of the committed fixtures (``seed`` 1000 onwards), so the
    figures are measured on takes the detectors were not tuned on.
    """
    from qc import synth

    config = config or Config()
    with tempfile.TemporaryDirectory(prefix="qc-bench-") as tmp:
        root = Path(workdir) if workdir is not None else Path(tmp) / "set"
        root.mkdir(parents=True, exist_ok=True)
        truth_file = root / "truth.json"
        if not truth_file.is_file():
            synth.make_set(root, kinds=kinds, n_per_kind=n, seed=seed, width=size[0],
                           height=size[1], n_frames=n_frames)
        truth = synth.read_truth(truth_file)
        store_path = Path(tmp) / "qc.db" if workdir is None else default_store_path(root)
        scan_folder(root, config, jobs=jobs, store_path=store_path, force=True)
        with Store(store_path, readonly=True) as store:
            report = build_report(store, root=str(root), config=config.to_dict())
    return evaluate(report, truth)


def _fmt(x: float) -> str:
    return "  -  " if not np.isfinite(x) else f"{x:5.2f}"


def print_accuracy(res: AccuracyResult, out: TextIO) -> None:
    """Print the figures as two tables: per artifact, then per kind."""
    print(f"{res.takes} takes scanned\n", file=out)
    print("artifact   ROC-AUC  found<=0.5s  broken-pass  clean-flagged", file=out)
    for a in ARTIFACTS:
        print(f"{a:<10} {_fmt(res.auc[a])}    {_fmt(res.found_rate[a])}        "
              f"{_fmt(res.broken_pass_rate[a])}        {_fmt(res.clean_flagged_rate[a])}", file=out)
    print(f"\nclean and benign takes that fail: {_fmt(res.clean_fail_rate)}"
          "   (goal < 0.05; broken takes that pass: goal < 0.05; AUC >= 0.95; found >= 0.90)\n",
          file=out)
    print("kind             artifact   takes  found  pass review fail  mean-severity  "
          "false events (clean kinds)", file=out)
    for k in sorted(res.kinds.values(), key=lambda k: (k.artifact or "", k.kind)):
        fe = ", ".join(f"{a}:{c}" for a, c in sorted(k.false_events.items())) or "-"
        found = f"{k.found:5d}" if k.artifact else "    -"
        v = k.verdicts
        print(f"{k.kind:<16} {k.artifact or 'clean':<10} {k.takes:5d}  {found}  "
              f"{v.get('pass', 0):4d} {v.get('review', 0):6d} {v.get('fail', 0):4d}  "
              f"{np.mean(k.severity) if k.severity else 0:13.2f}  {fe}", file=out)
