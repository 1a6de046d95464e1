"""The SQLite store: takes, their events and per-frame signals, scan runs and reviews.

One database per scanned folder (``<folder>/.qc/qc.db`` by default).  The schema is
versioned with ``PRAGMA user_version`` and migrated forward on open.  Every take is
written in one transaction, so a scan killed at any moment loses at most the take in
flight, and the next scan resumes.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from qc.detectors.base import ARTIFACTS, Event
from qc.errors import StoreError

__all__ = ["Store", "StoredTake", "SCHEMA_VERSION", "STORE_DIRNAME", "default_store_path"]

STORE_DIRNAME = ".qc"
STORE_FILENAME = "qc.db"

#: each entry migrates the database from version i to i + 1
_MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE runs (
        id INTEGER PRIMARY KEY,
        started TEXT NOT NULL,
        finished TEXT,
        root TEXT NOT NULL,
        config TEXT NOT NULL,
        qc_version TEXT NOT NULL,
        scanned INTEGER NOT NULL DEFAULT 0,
        skipped INTEGER NOT NULL DEFAULT 0,
        errors INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE takes (
        id INTEGER PRIMARY KEY,
        path TEXT NOT NULL UNIQUE,
        shot TEXT NOT NULL,
        hash TEXT,
        size INTEGER,
        mtime_ns INTEGER,
        analysis_key TEXT,
        status TEXT NOT NULL CHECK (status IN ('ok', 'error')),
        error TEXT,
        media TEXT,
        flicker REAL, faces REAL, morphing REAL, physics REAL,
        score REAL,
        verdict TEXT,
        rank INTEGER,
        best_in_shot INTEGER NOT NULL DEFAULT 0,
        run_id INTEGER REFERENCES runs(id),
        scanned_at TEXT NOT NULL
    );
    CREATE INDEX takes_hash ON takes(hash);
    CREATE TABLE events (
        id INTEGER PRIMARY KEY,
        take_id INTEGER NOT NULL REFERENCES takes(id) ON DELETE CASCADE,
        artifact TEXT NOT NULL,
        start_s REAL NOT NULL,
        end_s REAL NOT NULL,
        severity REAL NOT NULL,
        label TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX events_take ON events(take_id);
    CREATE TABLE signals (
        take_id INTEGER NOT NULL REFERENCES takes(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        data BLOB NOT NULL,
        PRIMARY KEY (take_id, name)
    );
    """,
    # 2: the editor's review of each take, keyed by content so that it survives a rescan,
    # a --force rescan and a move; not tied to takes(id), which a rescan replaces
    """
    CREATE TABLE reviews (
        key TEXT PRIMARY KEY,
        path TEXT NOT NULL,
        decision TEXT CHECK (decision IN ('accepted', 'rejected')),
        starred INTEGER NOT NULL DEFAULT 0,
        note TEXT NOT NULL DEFAULT '',
        updated TEXT NOT NULL
    );
    """,
)
SCHEMA_VERSION = len(_MIGRATIONS)
#: how long a writer waits for another (a scan, the dashboard) before giving up
BUSY_TIMEOUT_S = 60.0


def default_store_path(root: Path) -> Path:
    """Where a folder's store lives unless ``--store`` says otherwise."""
    return Path(root) / STORE_DIRNAME / STORE_FILENAME


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass
class StoredTake:
    """One take as the store holds it."""

    id: int
    path: str
    shot: str
    hash: str | None
    size: int | None
    mtime_ns: int | None
    analysis_key: str | None
    status: str
    error: str | None
    media: dict[str, Any] | None
    severities: dict[str, float] = field(default_factory=dict)
    score: float | None = None
    verdict: str | None = None
    rank: int | None = None
    best_in_shot: bool = False


class Store:
    """A connection to one folder's store.

    Parameters
    ----------
    path : Path
        The database file; its folder is created.
    readonly : bool
        Open an existing store for reading only (raises if it does not exist).

    Raises
    ------
    StoreError
        The database cannot be created, opened or migrated, or is newer than this qc.
    """

    def __init__(self, path: Path | str, *, readonly: bool = False) -> None:
        self.path = Path(path)
        try:
            if readonly:
                if not self.path.is_file():
                    raise StoreError(f"no scan found: {self.path} does not exist (run qc scan)")
                uri = f"file:{self.path}?mode=ro"
                self._db = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_S,
                                           isolation_level=None)
            else:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                # autocommit: reads never hold a transaction open, and every write is an
                # explicit BEGIN IMMEDIATE ... COMMIT (see _tx)
                self._db = sqlite3.connect(str(self.path), timeout=BUSY_TIMEOUT_S,
                                           isolation_level=None)
            self._db.row_factory = sqlite3.Row
            self._db.execute("PRAGMA foreign_keys = ON")
            self._db.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
            if not readonly:
                self._enable_wal()
                self._db.execute("PRAGMA synchronous = NORMAL")
                self._migrate()
            else:
                self._check_version()
        except sqlite3.Error as exc:
            self._close_quietly()
            raise StoreError(f"cannot open the store {self.path}: {exc}") from exc
        except OSError as exc:
            self._close_quietly()
            raise StoreError(f"cannot create the store {self.path}: {exc}") from exc
        except StoreError:
            self._close_quietly()
            raise

    def _enable_wal(self) -> None:
        """Switch to WAL.  On a brand-new file SQLite may answer "database is locked" at
        once, without waiting (the busy handler does not cover a journal-mode change
        racing another connection creating the file): retry until the busy timeout."""
        deadline = time.monotonic() + BUSY_TIMEOUT_S
        while True:
            try:
                self._db.execute("PRAGMA journal_mode = WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.01)

    def _close_quietly(self) -> None:
        db = getattr(self, "_db", None)
        if db is not None:
            db.close()

    # -- lifecycle -------------------------------------------------------------------
    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection."""
        self._db.close()

    def _version(self) -> int:
        return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    def _check_version(self) -> None:
        v = self._version()
        if v > SCHEMA_VERSION:
            raise StoreError(
                f"the store {self.path} was written by a newer qc (schema {v} > {SCHEMA_VERSION})"
            )
        if v < SCHEMA_VERSION:
            raise StoreError(f"the store {self.path} needs a migration: run qc scan first")

    def _migrate(self) -> None:
        if self._version() == SCHEMA_VERSION:
            return
        # the version is read again under the write lock: two scans opening a new store
        # at once must not both create its tables
        with self._tx() as db:
            v = self._version()
            if v > SCHEMA_VERSION:
                raise StoreError(
                    f"the store {self.path} was written by a newer qc"
                    f" (schema {v} > {SCHEMA_VERSION})"
                )
            for i in range(v, SCHEMA_VERSION):
                for statement in _MIGRATIONS[i].split(";"):
                    if statement.strip():
                        db.execute(statement)
                db.execute(f"PRAGMA user_version = {i + 1}")

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One short write transaction; it takes the write lock at once (``BEGIN
        IMMEDIATE``), waiting up to the busy timeout for another writer (a scan, the
        dashboard saving a review) instead of failing half-way."""
        db = self._db
        try:
            db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise StoreError(f"store write failed ({self.path}): {exc}") from exc
        try:
            yield db
        except BaseException as exc:
            try:
                db.execute("ROLLBACK")
            except sqlite3.Error:  # pragma: no cover - the transaction is already gone
                pass
            if isinstance(exc, sqlite3.Error):
                raise StoreError(f"store write failed ({self.path}): {exc}") from exc
            raise
        try:
            db.execute("COMMIT")
        except sqlite3.Error as exc:
            raise StoreError(f"store write failed ({self.path}): {exc}") from exc

    # -- runs ------------------------------------------------------------------------
    def begin_run(self, root: str, config: dict[str, Any], qc_version: str) -> int:
        """Record the start of a scan; returns its id."""
        with self._tx() as db:
            cur = db.execute(
                "INSERT INTO runs (started, root, config, qc_version) VALUES (?, ?, ?, ?)",
                (_now(), root, json.dumps(config, sort_keys=True), qc_version),
            )
            return int(cur.lastrowid)

    def finish_run(self, run_id: int, *, scanned: int, skipped: int, errors: int) -> None:
        """Record the end of a scan and its counts."""
        with self._tx() as db:
            db.execute(
                "UPDATE runs SET finished = ?, scanned = ?, skipped = ?, errors = ? WHERE id = ?",
                (_now(), scanned, skipped, errors, run_id),
            )

    def last_run(self) -> dict[str, Any] | None:
        """The most recent scan that finished: root, config, times and counts."""
        row = self._db.execute(
            "SELECT * FROM runs WHERE finished IS NOT NULL ORDER BY id DESC LIMIT 1"
        ).fetchone()
        if row is None:
            return None
        out = dict(row)
        out["config"] = json.loads(out["config"])
        return out

    # -- takes -----------------------------------------------------------------------
    def _take(self, row: sqlite3.Row | None) -> StoredTake | None:
        if row is None:
            return None
        return StoredTake(
            id=row["id"], path=row["path"], shot=row["shot"], hash=row["hash"],
            size=row["size"], mtime_ns=row["mtime_ns"], analysis_key=row["analysis_key"],
            status=row["status"], error=row["error"],
            media=json.loads(row["media"]) if row["media"] else None,
            severities={a: float(row[a]) for a in ARTIFACTS if row[a] is not None},
            score=row["score"], verdict=row["verdict"], rank=row["rank"],
            best_in_shot=bool(row["best_in_shot"]),
        )

    def get(self, path: str) -> StoredTake | None:
        """The stored take at ``path`` (relative to the root), if any."""
        return self._take(self._db.execute("SELECT * FROM takes WHERE path = ?", (path,)).fetchone())

    def find_by_hash(self, content_hash: str) -> list[StoredTake]:
        """Stored takes with this content hash (a renamed or moved take)."""
        rows = self._db.execute("SELECT * FROM takes WHERE hash = ? ORDER BY id", (content_hash,))
        return [t for t in map(self._take, rows) if t is not None]

    def takes(self) -> list[StoredTake]:
        """Every stored take, best rank first, error takes last."""
        rows = self._db.execute(
            "SELECT * FROM takes ORDER BY rank IS NULL, rank, path"
        ).fetchall()
        return [t for t in map(self._take, rows) if t is not None]

    def save_take(
        self,
        *,
        path: str,
        shot: str,
        content_hash: str | None,
        size: int | None,
        mtime_ns: int | None,
        analysis_key: str,
        status: str,
        error: str | None,
        media: dict[str, Any] | None,
        events: Iterable[Event],
        signals: dict[str, np.ndarray],
        run_id: int | None,
    ) -> int:
        """Write one scanned take with its events and signals, in one transaction.

        Replaces whatever was stored at ``path``.  Returns the take's id.
        """
        from qc.scoring import severities

        events = list(events)
        sev = severities(events) if status == "ok" else {a: None for a in ARTIFACTS}
        with self._tx() as db:
            db.execute("DELETE FROM takes WHERE path = ?", (path,))
            cur = db.execute(
                "INSERT INTO takes (path, shot, hash, size, mtime_ns, analysis_key, status,"
                " error, media, flicker, faces, morphing, physics, run_id, scanned_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (path, shot, content_hash, size, mtime_ns, analysis_key, status, error,
                 json.dumps(media) if media else None,
                 sev["flicker"], sev["faces"], sev["morphing"], sev["physics"],
                 run_id, _now()),
            )
            take_id = int(cur.lastrowid)
            db.executemany(
                "INSERT INTO events (take_id, artifact, start_s, end_s, severity, label)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                [(take_id, e.artifact, e.start_s, e.end_s, e.severity, e.label) for e in events],
            )
            db.executemany(
                "INSERT INTO signals (take_id, name, data) VALUES (?, ?, ?)",
                [(take_id, name, np.ascontiguousarray(arr, dtype="<f4").tobytes())
                 for name, arr in signals.items()],
            )
        return take_id

    def relocate(self, take_id: int, *, path: str, shot: str, size: int, mtime_ns: int) -> None:
        """Point a stored take at its new path (it was renamed or moved), or refresh its
        file facts (touched but unchanged)."""
        with self._tx() as db:
            db.execute("DELETE FROM takes WHERE path = ? AND id != ?", (path, take_id))
            db.execute(
                "UPDATE takes SET path = ?, shot = ?, size = ?, mtime_ns = ? WHERE id = ?",
                (path, shot, size, mtime_ns, take_id),
            )

    def copy_take(self, source_id: int, *, path: str, shot: str, size: int, mtime_ns: int) -> None:
        """Store a second take with the same content as ``source_id`` (a copy of a file)."""
        with self._tx() as db:
            db.execute("DELETE FROM takes WHERE path = ?", (path,))
            cols = ("hash, analysis_key, status, error, media, flicker, faces, morphing,"
                    " physics, run_id, scanned_at")
            cur = db.execute(
                f"INSERT INTO takes (path, shot, size, mtime_ns, {cols})"
                f" SELECT ?, ?, ?, ?, {cols} FROM takes WHERE id = ?",
                (path, shot, size, mtime_ns, source_id),
            )
            new_id = int(cur.lastrowid)
            db.execute(
                "INSERT INTO events (take_id, artifact, start_s, end_s, severity, label)"
                " SELECT ?, artifact, start_s, end_s, severity, label FROM events WHERE take_id = ?",
                (new_id, source_id),
            )
            db.execute(
                "INSERT INTO signals (take_id, name, data) SELECT ?, name, data FROM signals"
                " WHERE take_id = ?",
                (new_id, source_id),
            )

    def forget_except(self, paths: Iterable[str]) -> int:
        """Remove takes whose path is not in ``paths`` (deleted from the folder)."""
        keep = set(paths)
        gone = [r["id"] for r in self._db.execute("SELECT id, path FROM takes") if r["path"] not in keep]
        with self._tx() as db:
            db.executemany("DELETE FROM takes WHERE id = ?", [(i,) for i in gone])
        return len(gone)

    def set_scores(self, scores: dict[str, tuple[float | None, str, int | None, bool]]) -> None:
        """Write ``path -> (score, verdict, rank, best_in_shot)`` for many takes at once."""
        with self._tx() as db:
            db.executemany(
                "UPDATE takes SET score = ?, verdict = ?, rank = ?, best_in_shot = ? WHERE path = ?",
                [(s, v, r, int(b), p) for p, (s, v, r, b) in scores.items()],
            )

    # -- details ---------------------------------------------------------------------
    def events(self, take_id: int) -> list[Event]:
        """A take's events, in time order."""
        rows = self._db.execute(
            "SELECT artifact, start_s, end_s, severity, label FROM events WHERE take_id = ?"
            " ORDER BY start_s, id",
            (take_id,),
        )
        return [Event(r[0], r[1], r[2], r[3], r[4]) for r in rows]

    def signals(self, take_id: int) -> dict[str, np.ndarray]:
        """A take's per-frame signals (``"t_s"`` holds the frame times)."""
        rows = self._db.execute("SELECT name, data FROM signals WHERE take_id = ?", (take_id,))
        return {r[0]: np.frombuffer(r[1], dtype="<f4").copy() for r in rows}

    def event_summary(self) -> dict[int, dict[str, Any]]:
        """Per take id: its number of events and its worst event, in one query.

        ``take_id -> {"n_events", "artifact", "start_s", "label", "severity"}`` for takes
        with at least one event (the ranking shows the worst one).
        """
        rows = self._db.execute(
            "SELECT e.take_id, c.n, e.artifact, e.start_s, e.label, e.severity FROM events e"
            " JOIN (SELECT take_id, COUNT(*) AS n, MAX(severity) AS top FROM events"
            "       GROUP BY take_id) c ON c.take_id = e.take_id AND e.severity = c.top"
            " ORDER BY e.take_id, e.start_s DESC, e.id DESC"
        )
        # several events can share the top severity: the earliest one wins (last written)
        return {r[0]: {"n_events": r[1], "artifact": r[2], "start_s": r[3], "label": r[4],
                       "severity": r[5]} for r in rows}

    # -- reviews ---------------------------------------------------------------------
    def reviews(self) -> dict[str, dict[str, Any]]:
        """Every stored review: ``key -> {path, decision, starred, note, updated}``."""
        rows = self._db.execute("SELECT key, path, decision, starred, note, updated FROM reviews")
        return {r["key"]: {"path": r["path"], "decision": r["decision"],
                           "starred": bool(r["starred"]), "note": r["note"],
                           "updated": r["updated"]} for r in rows}

    def save_review(
        self, key: str, *, path: str, decision: str | None, starred: bool, note: str
    ) -> None:
        """Write (replace) the review stored under ``key`` in one transaction."""
        with self._tx() as db:
            db.execute(
                "INSERT INTO reviews (key, path, decision, starred, note, updated)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(key) DO UPDATE SET path = excluded.path,"
                " decision = excluded.decision, starred = excluded.starred,"
                " note = excluded.note, updated = excluded.updated",
                (key, path, decision, int(starred), note, _now()),
            )

    def integrity_ok(self) -> bool:
        """Whether SQLite's integrity check passes."""
        return not self.integrity_problems()

    def integrity_problems(self, limit: int = 5) -> list[str]:
        """What SQLite's integrity check finds wrong (at most ``limit`` lines; none: fine)."""
        try:
            rows = self._db.execute(f"PRAGMA integrity_check({int(limit)})").fetchall()
        except sqlite3.Error as exc:
            return [str(exc)]
        lines = [line.strip() for r in rows for line in str(r[0]).splitlines()]
        if lines == ["ok"]:
            return []
        return [line for line in lines if line and not line.startswith("***")] or lines
