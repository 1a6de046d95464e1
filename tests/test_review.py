"""Reviews: saved at once, keyed by content, surviving restarts, rescans and moves."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from conftest import DASHBOARD_SHOT_PATTERN
from qc.batch import scan_folder
from qc.config import load_config
from qc.review import Review, load_reviews, review_key, save_review
from qc.store import SCHEMA_VERSION, Store, default_store_path


def _take(store: Store, name: str):
    return next(t for t in store.takes() if t.path.endswith(name))


def test_review_key_prefers_the_content_hash():
    assert review_key("abc", "s/t.mp4") == "hash:abc"
    assert review_key(None, "s/t.mp4") == "path:s/t.mp4"


def test_unknown_decision_is_refused():
    with pytest.raises(ValueError, match="unknown decision"):
        Review("maybe")


def test_store_migrates_a_version_1_store_forward(tmp_path: Path):
    db = tmp_path / "qc.db"
    Store(db).close()
    con = sqlite3.connect(db)  # roll back to a store made before reviews existed
    con.execute("DROP TABLE reviews")
    con.execute("PRAGMA user_version = 1")
    con.close()
    with Store(db) as s:
        assert s._version() == SCHEMA_VERSION
        assert s.reviews() == {}


def test_review_persists_across_reopen(scanned_copy: Path):
    db = default_store_path(scanned_copy)
    with Store(db) as s:
        t = _take(s, "clean_0.mp4")
        saved = save_review(s, t, decision="accepted", starred=True, note="the one")
        assert saved.updated and saved.reviewed and saved.state == "accepted"
    with Store(db, readonly=True) as s:
        got = load_reviews(s)[review_key(t.hash, t.path)]
    assert (got.decision, got.starred, got.note) == ("accepted", True, "the one")


def test_review_survives_a_forced_rescan_and_a_move(scanned_copy: Path):
    db = default_store_path(scanned_copy)
    with Store(db) as s:
        t = _take(s, "flash_0.mp4")
        save_review(s, t, decision="rejected", note="flash at 0.6 s")
    # move the take to another folder and rescan everything
    (scanned_copy / "elsewhere").mkdir()
    shutil.move(scanned_copy / t.path, scanned_copy / "elsewhere" / "flash_0.mp4")
    config = load_config(overrides={"scan": {"shot_pattern": DASHBOARD_SHOT_PATTERN}})
    scan_folder(scanned_copy, config, jobs=1, force=True)
    with Store(db, readonly=True) as s:
        moved = s.get("elsewhere/flash_0.mp4")
        assert moved is not None and moved.id != t.id  # a new row...
        review = load_reviews(s)[review_key(moved.hash, moved.path)]  # ...the same review
    assert (review.decision, review.note) == ("rejected", "flash at 0.6 s")
