"""Events and severities -> a take's score and verdict; ranking across takes and shots."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from qc.config import ScoringConfig
from qc.detectors.base import ARTIFACTS, Event

__all__ = ["artifact_severity", "severities", "score_take", "verdict_for", "Ranked", "rank_takes"]


def artifact_severity(events: Iterable[Event]) -> float:
    """One artifact's severity for the take: ``1 - prod(1 - severity_i)`` over its events.

    Several moderate events add up; one severe event dominates; no event is 0.

    Examples
    --------
    >>> artifact_severity([Event("physics", 1, 1, 0.5), Event("physics", 2, 2, 0.5)])
    0.75
    """
    keep = 1.0
    for ev in events:
        keep *= 1.0 - ev.severity
    return float(np.clip(1.0 - keep, 0.0, 1.0))


def severities(events: Sequence[Event]) -> dict[str, float]:
    """Severity of each of the four artifacts from a take's events."""
    return {a: artifact_severity(e for e in events if e.artifact == a) for a in ARTIFACTS}


def score_take(sev: dict[str, float], config: ScoringConfig) -> float:
    """Score 0-100, higher is cleaner: ``100 * prod(1 - min(1, weight * severity))``.

    Examples
    --------
    >>> score_take({"flicker": 0.5, "faces": 0, "morphing": 0, "physics": 0}, ScoringConfig())
    50.0
    """
    keep = 1.0
    for a in ARTIFACTS:
        keep *= 1.0 - min(1.0, config.weight(a) * float(sev.get(a, 0.0)))
    return round(100.0 * keep, 2)


def verdict_for(score: float, config: ScoringConfig) -> str:
    """``pass`` at or above the pass score, ``fail`` below the fail score, else ``review``."""
    pass_score, fail_score = config.thresholds()
    if score >= pass_score:
        return "pass"
    if score < fail_score:
        return "fail"
    return "review"


@dataclass(frozen=True)
class Ranked:
    """A take's place: ``rank`` over the whole scan, and whether it is its shot's best."""

    key: str
    rank: int
    best_in_shot: bool


def rank_takes(takes: Iterable[tuple[str, str, float]]) -> dict[str, Ranked]:
    """Rank takes by score, best first; ties broken by path, so ranks are deterministic.

    Parameters
    ----------
    takes : iterable of (path, shot, score)
        Only takes that were scanned (error takes have no rank).

    Returns
    -------
    dict
        ``path -> Ranked``.

    Examples
    --------
    >>> r = rank_takes([("b.mp4", "s", 90.0), ("a.mp4", "s", 90.0), ("c.mp4", "t", 10.0)])
    >>> [(k, v.rank, v.best_in_shot) for k, v in sorted(r.items())]
    [('a.mp4', 1, True), ('b.mp4', 2, False), ('c.mp4', 3, True)]
    """
    ordered = sorted(takes, key=lambda t: (-t[2], t[0]))
    seen: set[str] = set()
    out: dict[str, Ranked] = {}
    for i, (path, shot, _) in enumerate(ordered, start=1):
        out[path] = Ranked(path, i, shot not in seen)
        seen.add(shot)
    return out
