"""Hand the selects to the editor: CSV, a folder of links or copies, an editorial timeline.

The selects are the accepted takes, in shot order (shots in natural order, ``sh2``
before ``sh10``; within a shot, best rank first).  The timeline is built with
OpenTimelineIO and written through its FCP 7 XML adapter (Premiere Pro, Resolve) and
its CMX 3600 EDL adapter; each take is one clip with a marker at each of its events.
"""

from __future__ import annotations

import csv
import io
import os
import re
import shutil
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from qc.dashboard import resolve_inside, shot_order
from qc.detectors.base import Event
from qc.errors import QCError
from qc.report import write_atomic

__all__ = [
    "SELECTS_COLUMNS",
    "MARKER_COLORS",
    "selects",
    "selects_csv",
    "write_selects_csv",
    "link_selects",
    "build_timeline",
    "write_timeline",
]

SELECTS_COLUMNS = ("order", "shot", "path", "rank", "score", "verdict", "starred", "note",
                   "duration_s", "n_events", "worst_label", "worst_s")
#: marker colour of each artifact in the editing software
MARKER_COLORS = {"flicker": "YELLOW", "faces": "RED", "morphing": "PURPLE", "physics": "CYAN"}


def selects(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The accepted takes in shot order, best rank first within a shot.

    ``rows`` are ranking rows with reviews applied (:func:`qc.dashboard.apply_reviews`).
    """
    accepted = [r for r in rows if r.get("decision") == "accepted" and r.get("status") == "ok"]
    order = {s: i for i, s in enumerate(shot_order(accepted))}
    return sorted(accepted, key=lambda r: (order[r["shot"]], r["rank"] or 10**9, r["path"]))


def selects_csv(rows: Sequence[dict[str, Any]]) -> str:
    """The selects as CSV text (one row per take, in edit order)."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=SELECTS_COLUMNS, lineterminator="\n", extrasaction="ignore")
    w.writeheader()
    for i, r in enumerate(rows, start=1):
        w.writerow({**{k: r.get(k, "") for k in SELECTS_COLUMNS}, "order": i,
                    "starred": int(bool(r.get("starred"))),
                    "worst_s": "" if r.get("worst_s") is None else r["worst_s"]})
    return buf.getvalue()


def write_selects_csv(rows: Sequence[dict[str, Any]], path: Path | str) -> Path:
    """Write :func:`selects_csv` atomically; returns the path."""
    write_atomic(path, selects_csv(rows))
    return Path(path)


def link_selects(
    root: Path | str, rows: Sequence[dict[str, Any]], dest: Path | str, *, copy: bool = False
) -> list[Path]:
    """A folder holding a symbolic link to (or a copy of) each select.

    Entries are named ``NNN_<shot>_<file name>`` so the folder lists in edit order.
    Earlier entries made by this function (``NNN_`` links or files) are replaced; other
    files in ``dest`` are left alone.

    Raises
    ------
    QCError
        A take is missing, or resolves outside ``root``.
    """
    root = Path(root)
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    for old in dest.iterdir():
        if re.match(r"\d{3}_", old.name) and (old.is_symlink() or old.is_file()):
            old.unlink()
    made = []
    for i, r in enumerate(rows, start=1):
        src = resolve_inside(root, r["path"])
        shot = "".join(c if c.isalnum() or c in "-." else "_" for c in r["shot"])
        target = dest / f"{i:03d}_{shot}_{src.name}"
        if copy:
            shutil.copy2(src, target)
        else:
            os.symlink(src, target)
        made.append(target)
    return made


def _rate(rows: Sequence[dict[str, Any]]) -> float:
    """The timeline's frame rate: the most common one among the selects (24 if none)."""
    rates = [round(float(r["fps"]), 3) for r in rows if r.get("fps")]
    if not rates:
        return 24.0
    return max(set(rates), key=lambda x: (rates.count(x), x))


def build_timeline(
    root: Path | str,
    rows: Sequence[dict[str, Any]],
    events: dict[str, Sequence[Event]],
    *,
    name: str = "qc selects",
    rate: float | None = None,
) -> Any:
    """An OpenTimelineIO timeline of the selects with a marker at each event.

    Parameters
    ----------
    root : Path
        The scanned folder: clips point at the takes' absolute ``file://`` URLs.
    rows : sequence of dict
        The selects, in edit order (:func:`selects`).
    events : dict
        ``path -> events`` of each select.
    name : str
        The timeline's name.
    rate : float, optional
        Frames per second of the timeline; the selects' most common rate by default.

    Returns
    -------
    opentimelineio.schema.Timeline
        One video track, one clip per take, back to back.
    """
    import opentimelineio as otio

    rate = rate or _rate(rows)
    timeline = otio.schema.Timeline(name=name)
    timeline.global_start_time = otio.opentime.RationalTime(0, rate)
    track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    timeline.tracks.append(track)
    for r in rows:
        file = resolve_inside(root, r["path"])
        frames = max(1, int(round((r.get("duration_s") or 0.0) * rate)))
        available = otio.opentime.TimeRange(otio.opentime.RationalTime(0, rate),
                                            otio.opentime.RationalTime(frames, rate))
        ref = otio.schema.ExternalReference(target_url=file.as_uri(), available_range=available)
        clip = otio.schema.Clip(name=file.name, media_reference=ref, source_range=available)
        clip.metadata["qc"] = {"path": r["path"], "shot": r["shot"], "score": r.get("score"),
                               "rank": r.get("rank"), "note": r.get("note", "")}
        for ev in events.get(r["path"], ()):
            start = min(frames - 1, int(round(ev.start_s * rate)))
            length = max(1, int(round((ev.end_s - ev.start_s) * rate)))
            clip.markers.append(otio.schema.Marker(
                name=f"{ev.artifact}: {ev.label or ev.artifact} ({ev.severity:.2f})",
                marked_range=otio.opentime.TimeRange(otio.opentime.RationalTime(start, rate),
                                                     otio.opentime.RationalTime(length, rate)),
                color=MARKER_COLORS.get(ev.artifact, "RED"),
            ))
        track.append(clip)
    return timeline


def write_timeline(timeline: Any, path: Path | str, *, fmt: str | None = None) -> Path:
    """Write ``timeline`` as FCP 7 XML (``.xml``) or CMX 3600 EDL (``.edl``), atomically.

    Raises
    ------
    QCError
        An unknown format, or the adapter failed.
    """
    import opentimelineio as otio

    path = Path(path)
    fmt = fmt or {".xml": "fcp_xml", ".edl": "cmx_3600"}.get(path.suffix.lower(), "")
    try:
        if fmt == "fcp_xml":
            text = otio.adapters.write_to_string(timeline, adapter_name="fcp_xml")
        elif fmt == "cmx_3600":
            rate = timeline.global_start_time.rate if timeline.global_start_time else 24.0
            text = otio.adapters.write_to_string(timeline, adapter_name="cmx_3600", rate=rate,
                                                 style="avid")
        else:
            raise QCError(f"unknown timeline format for {path.name!r}: use .xml or .edl")
    except QCError:
        raise
    except Exception as exc:  # an adapter error is a bug or an unsupported timeline
        raise QCError(f"cannot write the timeline {path}: {exc}") from exc
    write_atomic(path, text)
    return path
