from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

from qc.detectors.base import Event
from qc.errors import StoreError
from qc.store import SCHEMA_VERSION, Store


def _save(store: Store, path: str, *, events=(), status="ok", h="h1") -> int:
    return store.save_take(
        path=path, shot="s", content_hash=h, size=10, mtime_ns=1, analysis_key="k",
        status=status, error=None if status == "ok" else "bad", media={"frames": 3},
        events=list(events), signals={"t_s": np.arange(3, dtype=np.float32)}, run_id=None,
    )


def test_new_store_is_at_current_schema(tmp_path: Path):
    with Store(tmp_path / "x" / "qc.db") as s:
        assert s._version() == SCHEMA_VERSION
        assert s.integrity_ok()


def test_store_from_a_newer_qc_is_refused(tmp_path: Path):
    db = tmp_path / "qc.db"
    Store(db).close()
    con = sqlite3.connect(db)
    con.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    con.close()
    with pytest.raises(StoreError, match="newer qc"):
        Store(db)


def test_readonly_missing_store_says_run_scan(tmp_path: Path):
    with pytest.raises(StoreError, match="run qc scan"):
        Store(tmp_path / "none.db", readonly=True)


def test_save_roundtrip_replaces_previous(tmp_path: Path):
    with Store(tmp_path / "qc.db") as s:
        _save(s, "a.mp4", events=[Event("flicker", 0.1, 0.2, 0.5, "flash")])
        tid = _save(s, "a.mp4", events=[Event("physics", 1.0, 1.0, 0.9, "hidden cut")])
        t = s.get("a.mp4")
        assert t is not None and t.id == tid
        assert t.severities == {"flicker": 0.0, "faces": 0.0, "morphing": 0.0, "physics": 0.9}
        assert [e.label for e in s.events(tid)] == ["hidden cut"]
        np.testing.assert_array_equal(s.signals(tid)["t_s"], [0, 1, 2])
        assert len(s.takes()) == 1


def test_error_take_has_no_severities(tmp_path: Path):
    with Store(tmp_path / "qc.db") as s:
        _save(s, "bad.mp4", status="error")
        t = s.get("bad.mp4")
        assert t.status == "error" and t.error == "bad" and t.severities == {}


def test_relocate_copy_and_forget(tmp_path: Path):
    with Store(tmp_path / "qc.db") as s:
        tid = _save(s, "old.mp4", events=[Event("faces", 0, 1, 0.4)])
        s.relocate(tid, path="new/a.mp4", shot="new", size=10, mtime_ns=2)
        assert s.get("old.mp4") is None
        assert s.get("new/a.mp4").shot == "new"
        s.copy_take(tid, path="copy.mp4", shot="s", size=10, mtime_ns=3)
        c = s.get("copy.mp4")
        assert c.hash == "h1" and len(s.events(c.id)) == 1 and "t_s" in s.signals(c.id)
        assert s.forget_except(["copy.mp4"]) == 1
        assert [t.path for t in s.takes()] == ["copy.mp4"]


def test_report_during_a_scan_leaves_out_takes_not_yet_scored(tmp_path: Path):
    from qc.report import build_report, validate_report

    with Store(tmp_path / "qc.db") as s:
        _save(s, "a.mp4")
        _save(s, "b.mp4")
        _save(s, "bad.mp4", status="error")
        s.set_scores({"a.mp4": (90.0, "pass", 1, True)})
        # b.mp4 is analysed, but the scan that saved it has not ranked it yet
        report = build_report(s, root="r", config={})
    validate_report(report)
    assert [t["path"] for t in report["takes"]] == ["a.mp4", "bad.mp4"]
