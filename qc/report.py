"""The scan report (schema ``qc.report/1``): built from the store, validated, written atomically."""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from datetime import datetime, timezone
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from qc.detectors.base import ARTIFACTS
from qc.errors import QCError
from qc.store import Store, StoredTake

__all__ = [
    "SCHEMA_ID",
    "report_schema",
    "validate_report",
    "take_entry",
    "build_report",
    "write_atomic",
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
        entry["artifacts"] = {
            a: {
                "severity": round(take.severities.get(a, 0.0), 4),
                "events": [e.to_dict() for e in events if e.artifact == a],
            }
            for a in ARTIFACTS
        }
    else:
        entry["error"] = take.error or "unknown error"
    return entry


def build_report(
    store: Store, *, root: str, config: dict[str, Any], created: str | None = None
) -> dict[str, Any]:
    """The whole report of the folder's takes as the store holds them, ranked.

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
        "takes": [take_entry(store, t) for t in store.takes()],
    }


def write_atomic(path: Path | str, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename: never half-written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def write_json(report: dict[str, Any], path: Path | str) -> None:
    """Validate ``report`` against the schema and write it atomically as JSON."""
    try:
        validate_report(report)
    except Exception as exc:  # a bug in qc, not in the user's input
        raise QCError(f"internal error: the report does not follow {SCHEMA_ID}: {exc}") from exc
    write_atomic(path, json.dumps(report, indent=2, ensure_ascii=False) + "\n")


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
