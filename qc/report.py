"""The scan report (schema ``qc.report/1``): built from the store, validated, written atomically."""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import lru_cache
from importlib import resources
from pathlib import Path
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from qc.detectors.base import ARTIFACTS, Event
from qc.errors import QCError, ReportError
from qc.store import Store, StoredTake

if TYPE_CHECKING:
    from qc.config import ScoringConfig
    from qc.scan import TakeAnalysis

__all__ = [
    "SCHEMA_ID",
    "report_schema",
    "validate_report",
    "take_entry",
    "analysis_entry",
    "build_report",
    "TakeResult",
    "Report",
    "read_report",
    "write_atomic",
    "report_json",
    "write_json",
    "write_csv",
    "CSV_COLUMNS",
]

SCHEMA_ID = "qc.report/1"
CSV_COLUMNS = (
    "rank", "score", "verdict", "shot", "path", "best_in_shot",
    *(f"{a}_severity" for a in ARTIFACTS),
    "worst_artifact", "worst_event_s", "worst_event_label", "duration_s", "error",
)


@lru_cache(maxsize=1)
def report_schema() -> dict[str, Any]:
    """The JSON schema every report follows (shipped inside the package)."""
    text = resources.files("qc").joinpath("report.schema.json").read_text(encoding="utf-8")
    return json.loads(text)


def validate_report(report: dict[str, Any]) -> None:
    """Raise ``jsonschema.ValidationError`` if ``report`` does not follow the schema."""
    import jsonschema

    jsonschema.validate(report, report_schema())


def _artifacts(severities: dict[str, float], events: Iterable[Event]) -> dict[str, Any]:
    """The ``artifacts`` block of a take's entry: each artifact's severity and events."""
    events = list(events)
    return {
        a: {"severity": round(severities.get(a, 0.0), 4),
            "events": [e.to_dict() for e in events if e.artifact == a]}
        for a in ARTIFACTS
    }


def take_entry(store: Store, take: StoredTake) -> dict[str, Any]:
    """One take's report entry, with its artifacts and events."""
    entry: dict[str, Any] = {
        "path": take.path,
        "shot": take.shot,
        "status": take.status,
        "error": take.error,
        "score": take.score if take.status == "ok" else None,
        "rank": take.rank if take.status == "ok" else None,
        "verdict": take.verdict if take.status == "ok" else "error",
        "best_in_shot": take.best_in_shot,
    }
    if take.status == "ok":
        events = store.events(take.id)
        entry["media"] = take.media or {}
        entry["artifacts"] = _artifacts(take.severities, events)
    else:
        entry["error"] = take.error or "unknown error"
    return entry


def analysis_entry(
    path: str, shot: str, analysis: TakeAnalysis, scoring: ScoringConfig
) -> dict[str, Any]:
    """One take's report entry straight from its analysis, without a store.

    Parameters
    ----------
    path, shot : str
        The take's path and shot as the report names them.
    analysis : TakeAnalysis
        What :func:`qc.scan.analyse_take` measured.
    scoring : ScoringConfig
        How severities become a score and a verdict.

    Returns
    -------
    dict
        The same entry :func:`take_entry` gives for a stored take (rank 1).
    """
    from qc.scoring import score_take, severities, verdict_for

    entry: dict[str, Any] = {"path": path, "shot": shot, "status": analysis.status,
                             "error": analysis.error}
    if analysis.status != "ok":
        entry.update(score=None, rank=None, verdict="error", best_in_shot=False,
                     error=analysis.error or "unknown error")
        return entry
    sev = severities(analysis.events)
    score = score_take(sev, scoring)
    entry.update(score=score, rank=1, verdict=verdict_for(score, scoring), best_in_shot=True)
    entry["media"] = analysis.media.to_dict() if analysis.media else {}
    entry["artifacts"] = _artifacts(sev, analysis.events)
    return entry


@dataclass(frozen=True)
class TakeResult:
    """One take's result, as a report entry holds it (typed).

    Attributes
    ----------
    path : str
        The take's path (relative to the report's root).
    shot : str
        The group the take belongs to.
    status : str
        ``"ok"``, or ``"error"`` when the take could not be read.
    verdict : str
        ``"pass"``, ``"review"``, ``"fail"``, or ``"error"``.
    score : float or None
        0-100, higher is cleaner; None for an error take.
    rank : int or None
        1 is the best take of the report; None for an error take.
    error : str or None
        Why the take could not be read.
    severities : dict
        Artifact -> severity (0-1); empty for an error take.
    events : tuple of Event
        Every event, in time order.
    media : dict
        Duration, fps, frames, size and codec.
    best_in_shot : bool
        Whether it is the best take of its shot.
    """

    path: str
    shot: str
    status: str
    verdict: str
    score: float | None = None
    rank: int | None = None
    error: str | None = None
    severities: dict[str, float] = field(default_factory=dict)
    events: tuple[Event, ...] = ()
    media: dict[str, Any] = field(default_factory=dict)
    best_in_shot: bool = False

    @property
    def ok(self) -> bool:
        """Whether the take could be read and analysed."""
        return self.status == "ok"

    @property
    def worst_event(self) -> Event | None:
        """The most severe event (the earliest of equals), or None."""
        return max(self.events, key=lambda e: (e.severity, -e.start_s), default=None)

    @classmethod
    def from_entry(cls, entry: dict[str, Any]) -> TakeResult:
        """The typed form of a report's take entry (extra keys are ignored)."""
        arts = entry.get("artifacts") or {}
        events = [Event(a, ev["start_s"], ev["end_s"], ev["severity"], ev.get("label", ""))
                  for a in ARTIFACTS for ev in (arts.get(a) or {}).get("events", [])]
        events.sort(key=lambda e: (e.start_s, ARTIFACTS.index(e.artifact)))
        return cls(
            path=entry["path"], shot=entry["shot"], status=entry["status"],
            verdict=entry["verdict"], score=entry.get("score"), rank=entry.get("rank"),
            error=entry.get("error"),
            severities={a: float(arts[a]["severity"]) for a in ARTIFACTS if a in arts},
            events=tuple(events), media=dict(entry.get("media") or {}),
            best_in_shot=bool(entry.get("best_in_shot")),
        )


@dataclass(frozen=True)
class Report:
    """A whole report (schema ``qc.report/1``), typed.

    Attributes
    ----------
    root : str
        The scanned folder, as given.
    created : str
        ISO 8601 time of the scan.
    qc_version : str
        The qc that wrote it.
    config : dict
        The resolved configuration the scan used.
    takes : tuple of TakeResult
        Every take, ranked, error takes last.
    """

    root: str
    created: str
    qc_version: str
    config: dict[str, Any]
    takes: tuple[TakeResult, ...]

    def take(self, path: str) -> TakeResult:
        """The take at ``path``; raises ``KeyError`` if the report has none."""
        for t in self.takes:
            if t.path == path:
                return t
        raise KeyError(path)

    @classmethod
    def from_dict(cls, report: dict[str, Any]) -> Report:
        """The typed form of a report (validate it first: see :func:`validate_report`)."""
        return cls(root=report["root"], created=report["created"],
                   qc_version=report["qc_version"], config=dict(report["config"]),
                   takes=tuple(TakeResult.from_entry(e) for e in report["takes"]))


def read_report(path: Path | str) -> Report:
    """Read a report written by ``qc scan --json``, ``qc gate --json`` or ``--sidecar``.

    Parameters
    ----------
    path : Path
        The JSON file.

    Returns
    -------
    Report

    Raises
    ------
    ReportError
        The file cannot be read, is not JSON, or does not follow ``qc.report/1``.
    """
    import jsonschema

    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ReportError(f"cannot read the report {path}: {exc.strerror or exc}") from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ReportError(f"{path}: not a JSON report: {exc}") from exc
    try:
        validate_report(data)
    except jsonschema.ValidationError as exc:
        raise ReportError(f"{path}: not a {SCHEMA_ID} report: {exc.message}") from exc
    return Report.from_dict(data)


def build_report(
    store: Store, *, root: str, config: dict[str, Any], created: str | None = None
) -> dict[str, Any]:
    """The whole report of the folder's takes as the store holds them, ranked.

    Takes a scan still in progress has analysed but not yet scored are left out.

    Parameters
    ----------
    store : Store
        The folder's store (after a scan).
    root : str
        The scanned folder, as given.
    config : dict
        The resolved configuration the scan used.
    created : str, optional
        ISO 8601 time of the scan; now by default.
    """
    from qc import __version__

    return {
        "schema": SCHEMA_ID,
        "qc_version": __version__,
        "created": created or datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "root": root,
        "config": config,
        # a take analysed by a scan still running is ranked when that scan ends
        "takes": [take_entry(store, t) for t in store.takes()
                  if t.status != "ok" or t.verdict is not None],
    }


def write_atomic(path: Path | str, data: str | bytes) -> None:
    """Write ``data`` (text as UTF-8, or bytes) to ``path`` through a temporary file and a
    rename: a reader never sees it half-written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(raw)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def report_json(report: dict[str, Any]) -> str:
    """Validate ``report`` against the schema and return it as JSON text."""
    try:
        validate_report(report)
    except Exception as exc:  # a bug in qc, not in the user's input
        raise QCError(f"internal error: the report does not follow {SCHEMA_ID}: {exc}") from exc
    return json.dumps(report, indent=2, ensure_ascii=False) + "\n"


def write_json(report: dict[str, Any], path: Path | str) -> None:
    """Validate ``report`` against the schema and write it atomically as JSON."""
    write_atomic(path, report_json(report))


def _worst(entry: dict[str, Any]) -> tuple[str, float | None, str]:
    best: tuple[float, str, float | None, str] = (0.0, "", None, "")
    for a, art in (entry.get("artifacts") or {}).items():
        for ev in art["events"]:
            if ev["severity"] > best[0]:
                best = (ev["severity"], a, ev["start_s"], ev.get("label", ""))
    return best[1], best[2], best[3]


def write_csv(report: dict[str, Any], path: Path | str) -> None:
    """Write the ranking as CSV (one row per take, ranked first, errors last), atomically."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, lineterminator="\n")
    w.writeheader()
    for e in report["takes"]:
        arts = e.get("artifacts") or {}
        worst, at, label = _worst(e)
        w.writerow({
            "rank": e["rank"] if e["rank"] is not None else "",
            "score": e["score"] if e["score"] is not None else "",
            "verdict": e["verdict"],
            "shot": e["shot"],
            "path": e["path"],
            "best_in_shot": int(bool(e.get("best_in_shot"))),
            **{f"{a}_severity": arts[a]["severity"] if a in arts else "" for a in ARTIFACTS},
            "worst_artifact": worst,
            "worst_event_s": at if at is not None else "",
            "worst_event_label": label,
            "duration_s": (e.get("media") or {}).get("duration_s", ""),
            "error": e.get("error") or "",
        })
    write_atomic(path, buf.getvalue())
