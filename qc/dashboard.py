"""The data behind the review dashboard: pure functions over the store, no streamlit.

The app (``qc/app.py``) only lays out what these return: the ranking as plain rows,
filtered, sorted, grouped by shot and paged; one take's detail, its timeline data; and
the one way a file of the scanned folder is ever reached (:func:`resolve_inside`).
Everything here is testable without a browser and fast at hundreds of takes.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from qc.detectors.base import ARTIFACTS, Event
from qc.errors import QCError, StoreError
from qc.paths import from_text
from qc.review import REVIEW_STATES, Review, load_reviews, review_key
from qc.store import Store, StoredTake, default_store_path

__all__ = [
    "Scan",
    "Filters",
    "TakeDetail",
    "SORT_KEYS",
    "VERDICTS",
    "open_scan",
    "ranking_rows",
    "apply_reviews",
    "filter_rows",
    "sort_rows",
    "group_by_shot",
    "page_rows",
    "shot_order",
    "take_detail",
    "timeline_data",
    "resolve_inside",
    "app_script",
    "streamlit_command",
]

VERDICTS: tuple[str, ...] = ("pass", "review", "fail", "error")
#: what the ranking can be sorted by (row keys)
SORT_KEYS: tuple[str, ...] = ("rank", "score", "path", "shot", "duration_s", *ARTIFACTS)


@dataclass(frozen=True)
class Scan:
    """A scanned folder as the dashboard opens it.

    Parameters
    ----------
    root : Path
        The scanned folder, resolved: the only place files are served from.
    store_path : Path
        Its store.
    run : dict
        The last finished scan (``id``, ``finished``, ``config`` ...).
    """

    root: Path
    store_path: Path
    run: dict[str, Any]

    @property
    def token(self) -> str:
        """Changes whenever a new scan lands: the cache key of everything scan-derived."""
        return f"{self.store_path}:{self.run['id']}:{self.run['finished']}"

    @property
    def cache_dir(self) -> Path:
        """Where extracted thumbnails, frames and face crops are kept (``.qc/cache``)."""
        return self.store_path.parent / "cache"


def open_scan(root: Path | str, store_path: Path | str | None = None) -> Scan:
    """Open the last scan of ``root``, migrating its store so reviews can be saved.

    Raises
    ------
    StoreError
        There is no store, or no finished scan in it.
    """
    root = Path(root).resolve()
    if not root.is_dir():
        raise StoreError(f"no such folder: {root}")
    path = Path(store_path) if store_path else default_store_path(root)
    if not path.is_file():
        raise StoreError(f"no scan found: {path} does not exist (run qc scan {root})")
    with Store(path) as store:  # writable: migrates forward (the reviews table)
        run = store.last_run()
    if run is None:
        raise StoreError(f"no finished scan in {path}: run qc scan {root}")
    return Scan(root=root, store_path=path.resolve(), run=run)


def ranking_rows(store: Store) -> list[dict[str, Any]]:
    """Every take as one flat row, best rank first, error takes last (three queries).

    Row keys: ``id path shot status error score verdict rank best_in_shot`` the four
    artifact severities, ``duration_s fps frames width height hash n_events
    worst_artifact worst_s worst_label`` and ``key`` (the review key).
    """
    worst = store.event_summary()
    rows = []
    for t in store.takes():
        media = t.media or {}
        w = worst.get(t.id, {})
        ok = t.status == "ok"
        rows.append({
            "id": t.id, "path": t.path, "shot": t.shot, "status": t.status, "error": t.error,
            "score": t.score if ok else None,
            "verdict": t.verdict if ok else "error",
            "rank": t.rank if ok else None,
            "best_in_shot": bool(t.best_in_shot),
            **{a: (t.severities.get(a) if ok else None) for a in ARTIFACTS},
            "duration_s": media.get("duration_s"), "fps": media.get("fps"),
            "frames": media.get("frames"), "width": media.get("width"),
            "height": media.get("height"), "hash": t.hash,
            "n_events": w.get("n_events", 0), "worst_artifact": w.get("artifact", ""),
            "worst_s": w.get("start_s"), "worst_label": w.get("label", ""),
            "key": review_key(t.hash, t.path),
        })
    return rows


def apply_reviews(rows: Sequence[dict[str, Any]], reviews: dict[str, Review]) -> list[dict[str, Any]]:
    """New rows with each take's review (``decision starred note review``); inputs unchanged."""
    out = []
    for r in rows:
        rv = reviews.get(r["key"], Review())
        out.append({**r, "decision": rv.decision, "starred": rv.starred, "note": rv.note,
                    "review": rv.state})
    return out


@dataclass(frozen=True)
class Filters:
    """What the ranking shows; an empty set means "any".

    Parameters
    ----------
    verdicts : frozenset of str
        Among :data:`VERDICTS`.
    artifacts : frozenset of str
        Takes whose severity of any of these artifacts is above ``min_severity``.
    shots : frozenset of str
        Shot names.
    score_range : (float, float)
        Inclusive; takes without a score (errors) show only at the full range 0-100.
    review : frozenset of str
        Among :data:`qc.review.REVIEW_STATES`; ``starred`` matches starred takes.
    text : str
        A case-insensitive substring of the path, label or note.
    """

    verdicts: frozenset[str] = frozenset()
    artifacts: frozenset[str] = frozenset()
    shots: frozenset[str] = frozenset()
    score_range: tuple[float, float] = (0.0, 100.0)
    review: frozenset[str] = frozenset()
    text: str = ""
    min_severity: float = 0.0

    def __post_init__(self) -> None:
        bad = (set(self.verdicts) - set(VERDICTS)) | (set(self.artifacts) - set(ARTIFACTS)) \
            | (set(self.review) - set(REVIEW_STATES))
        if bad:
            raise ValueError(f"unknown filter values: {sorted(bad)}")
        lo, hi = self.score_range
        if not 0 <= lo <= hi <= 100:
            raise ValueError(f"score range must be 0 <= low <= high <= 100, got {self.score_range}")


def _matches(r: dict[str, Any], f: Filters) -> bool:
    if f.verdicts and r["verdict"] not in f.verdicts:
        return False
    if f.shots and r["shot"] not in f.shots:
        return False
    if f.artifacts and not any((r.get(a) or 0.0) > f.min_severity for a in f.artifacts):
        return False
    lo, hi = f.score_range
    if (lo, hi) != (0.0, 100.0):
        if r["score"] is None or not lo <= r["score"] <= hi:
            return False
    if f.review:
        state = r.get("review", "unreviewed")
        if not (state in f.review or ("starred" in f.review and r.get("starred"))):
            return False
    if f.text:
        needle = f.text.lower()
        hay = f"{r['path']}\n{r.get('worst_label', '')}\n{r.get('note', '')}".lower()
        if needle not in hay:
            return False
    return True


def filter_rows(rows: Iterable[dict[str, Any]], filters: Filters) -> list[dict[str, Any]]:
    """The rows that pass every filter, in their order.

    Examples
    --------
    >>> rows = [{"path": "a", "shot": "s", "verdict": "pass", "score": 90.0},
    ...         {"path": "b", "shot": "s", "verdict": "fail", "score": 20.0}]
    >>> [r["path"] for r in filter_rows(rows, Filters(verdicts=frozenset({"fail"})))]
    ['b']
    """
    return [r for r in rows if _matches(r, filters)]


def _natural(text: str) -> tuple[Any, ...]:
    """Sort key that puts ``sh2`` before ``sh10``."""
    return tuple(int(p) if p.isdigit() else p.lower() for p in re.split(r"(\d+)", text))


def sort_rows(
    rows: Iterable[dict[str, Any]], by: str = "rank", *, descending: bool = False
) -> list[dict[str, Any]]:
    """Rows sorted by one of :data:`SORT_KEYS`; missing values (errors) always last.

    Ties are broken by path, so the order is deterministic.
    """
    if by not in SORT_KEYS:
        raise ValueError(f"cannot sort by {by!r} (one of {SORT_KEYS})")
    rows = sorted(rows, key=lambda r: _natural(r["path"]))
    present = [r for r in rows if r.get(by) is not None]
    missing = [r for r in rows if r.get(by) is None]
    key = (lambda r: _natural(r[by])) if by in ("path", "shot") else (lambda r: r[by])
    return sorted(present, key=key, reverse=descending) + missing


def shot_order(rows: Iterable[dict[str, Any]]) -> list[str]:
    """Shot names in natural order (``sh2`` before ``sh10``): the editorial order."""
    return sorted({r["shot"] for r in rows}, key=_natural)


def group_by_shot(rows: Iterable[dict[str, Any]]) -> list[tuple[str, list[dict[str, Any]]]]:
    """Rows grouped by shot, in shot order, each group keeping the rows' order."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault(r["shot"], []).append(r)
    return [(s, groups[s]) for s in sorted(groups, key=_natural)]


def page_rows(rows: Sequence[Any], page: int, per_page: int) -> tuple[list[Any], int]:
    """Page ``page`` (1-based, clamped) of ``rows`` and the number of pages (at least 1).

    Examples
    --------
    >>> page_rows(list(range(5)), 2, 2)
    ([2, 3], 3)
    """
    if per_page < 1:
        raise ValueError("per_page must be at least 1")
    pages = max(1, math.ceil(len(rows) / per_page))
    page = min(max(1, page), pages)
    return list(rows[(page - 1) * per_page: page * per_page]), pages


@dataclass
class TakeDetail:
    """Everything the dashboard shows about one take."""

    take: StoredTake
    events: list[Event]
    signals: dict[str, np.ndarray]
    review: Review
    config: dict[str, Any] = field(default_factory=dict)


def take_detail(store: Store, path: str, *, config: dict[str, Any] | None = None) -> TakeDetail:
    """One take's events, signals and review, with the configuration that scored it.

    Raises
    ------
    QCError
        No take at ``path``.
    """
    take = store.get(path)
    if take is None:
        raise QCError(f"no take {path!r} in the store")
    review = load_reviews(store).get(review_key(take.hash, take.path), Review())
    return TakeDetail(take=take, events=store.events(take.id), signals=store.signals(take.id),
                      review=review, config=config or {})


def timeline_data(
    signals: dict[str, np.ndarray], events: Sequence[Event], *, artifacts: Iterable[str] = ARTIFACTS
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Long-form series and event spans for a timeline chart of one take.

    Each signal is scaled to 0-1 by its largest magnitude so all fit one axis (``raw``
    keeps the value); NaN frames (not measured) are left out.

    Returns
    -------
    lines : list of dict
        ``{t_s, signal, artifact, value, raw}`` per frame and signal.
    spans : list of dict
        ``{start_s, end_s, artifact, label, severity}`` per event; an instantaneous
        event is widened to one frame so it shows.
    """
    wanted = set(artifacts)
    t = signals.get("t_s")
    if t is None or len(t) == 0:
        return [], []
    step = float(np.median(np.diff(t))) if len(t) > 1 else 0.04
    lines: list[dict[str, Any]] = []
    for name in sorted(signals):
        if name == "t_s" or "." not in name:
            continue
        artifact, short = name.split(".", 1)
        if artifact not in wanted:
            continue
        v = np.asarray(signals[name], dtype=np.float64)
        if len(v) != len(t):
            continue
        finite = np.isfinite(v)
        if not finite.any():
            continue
        scale = float(np.max(np.abs(v[finite]))) or 1.0
        for ti, vi in zip(t[finite].tolist(), v[finite].tolist()):
            lines.append({"t_s": round(ti, 4), "signal": short, "artifact": artifact,
                          "value": vi / scale, "raw": vi})
    spans = [
        {"start_s": e.start_s, "end_s": max(e.end_s, e.start_s + step), "artifact": e.artifact,
         "label": e.label, "severity": round(e.severity, 3)}
        for e in events if e.artifact in wanted
    ]
    return lines, spans


def resolve_inside(root: Path | str, rel: str) -> Path:
    """The file ``rel`` of the scanned folder, refused if it would leave the folder.

    The only way the dashboard reaches a file: ``..``, absolute paths and symlinks that
    resolve outside ``root`` are refused.

    Raises
    ------
    QCError
        The path escapes the folder or is not a file.
    """
    root_r = Path(root).resolve()
    p = Path(rel)
    if p.is_absolute() or ".." in p.parts:
        raise QCError(f"refused: {rel!r} is not a path inside the scanned folder")
    try:
        full = (root_r / p).resolve()
        if not full.exists() and from_text(rel) != rel:  # a name that is not UTF-8
            full = (root_r / from_text(rel)).resolve()
        if not full.is_relative_to(root_r):
            raise QCError(f"refused: {rel!r} resolves outside the scanned folder")
        if not full.is_file():
            raise QCError(f"{rel!r} is not a file of the scanned folder (moved or deleted?)")
    except (OSError, ValueError) as exc:  # a NUL byte, a name too long, a symlink loop
        raise QCError(f"refused: {rel!r} is not a path inside the scanned folder") from exc
    return full


def app_script() -> Path:
    """The dashboard's Streamlit script, shipped inside the package (``qc/app.py``)."""
    return Path(__file__).resolve().with_name("app.py")


def streamlit_command(
    root: Path | str,
    *,
    store: Path | str | None = None,
    host: str = "127.0.0.1",
    port: int = 8501,
    python: str | None = None,
) -> list[str]:
    """The command that serves the dashboard of ``root``: ``python -m streamlit run ...``.

    Headless, bound to ``host`` (loopback by default), no usage statistics, no file
    watcher; the folder (and store) follow ``--`` as the app's own arguments.
    """
    import sys

    cmd = [python or sys.executable, "-m", "streamlit", "run", str(app_script()),
           "--server.address", host, "--server.port", str(port), "--server.headless", "true",
           "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
           "--client.toolbarMode", "minimal",
           "--", str(root)]
    if store:
        cmd += ["--store", str(store)]
    return cmd
