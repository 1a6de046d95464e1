"""Crash safety and concurrency: kill -9 at random moments, reviews during a scan, two
scans at once.  The store must pass SQLite's integrity check every time and lose nothing;
the next scan must end exactly where an uninterrupted one does.  Each test prints what it
tried (``pytest -s`` or ``-rA``).
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

from conftest import flash, hidden_cut, moving_square, stored_report, write_video
from qc.batch import scan_folder
from qc.config import Config
from qc.review import load_reviews, review_key, save_review
from qc.store import Store, default_store_path

TRIALS = 8
ONE_JOB = Config.from_dict({"scan": {"jobs": 1}})


def _make_takes(root: Path) -> Path:
    """Seven small takes with known truth in one shot, and a text file named like a take.

    Clean squares (seeds 0-4), a flash at frame 12, a hidden cut at frame 12, and
    ``notes.mp4`` (text: an error take).
    """
    root.mkdir(parents=True)
    for i in range(5):
        write_video(root / f"clean{i}.mp4", moving_square(48, width=160, height=90, seed=i))
    base = moving_square(48, width=160, height=90)
    write_video(root / "flash.mp4", flash(base, 12))
    write_video(root / "cut.mp4", hidden_cut(base, 12))
    (root / "notes.mp4").write_text("not a video\n")
    return root


def _report(root: Path) -> dict:
    report = stored_report(root, ONE_JOB, root_label="takes")
    report.pop("created")
    return report


def _pristine_and_reference(tmp_path: Path) -> tuple[Path, dict]:
    """Generated takes, and the report of one uninterrupted single-job scan of a copy."""
    pristine = _make_takes(tmp_path / "pristine" / "takes")
    reference_root = tmp_path / "reference" / "takes"
    shutil.copytree(pristine, reference_root)
    scan_folder(reference_root, ONE_JOB)
    return pristine, _report(reference_root)


def _integrity(db: Path) -> str:
    con = sqlite3.connect(db, timeout=30)
    try:
        return con.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        con.close()


def _stored(db: Path) -> int:
    """Takes committed in the store (0 if there is none yet)."""
    if not db.exists():
        return 0
    con = sqlite3.connect(db, timeout=30)
    try:
        return con.execute("SELECT count(*) FROM takes").fetchone()[0]
    except sqlite3.Error:  # created, tables not yet
        return 0
    finally:
        con.close()


def _scan_cmd(root: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "qc", "scan", str(root), "-q", *extra]


def _start(cmd: list[str], log: Path) -> subprocess.Popen:
    with open(log, "wb") as err:
        return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err,
                                start_new_session=True)


def _kill_all(proc: subprocess.Popen) -> None:
    """kill -9 the scan, then whatever it left running (its worker server)."""
    try:
        os.kill(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def test_kill_9_at_random_moments_never_corrupts_or_changes_the_result(tmp_path: Path):
    pristine, reference = _pristine_and_reference(tmp_path)

    timing_root = tmp_path / "timing" / "takes"
    shutil.copytree(pristine, timing_root)
    t0 = time.monotonic()
    subprocess.run(_scan_cmd(timing_root, "-j", "2"), check=True, timeout=300,
                   stdout=subprocess.DEVNULL)
    full_s = time.monotonic() - t0

    rng = random.Random(20261124)
    rows = []
    for trial in range(TRIALS):
        root = tmp_path / f"trial{trial}" / "takes"
        shutil.copytree(pristine, root)
        db = default_store_path(root)
        # even trials: a moment anywhere in the run (start-up included); odd trials: a
        # moment just after the k-th take is stored, where the scan is busiest
        t_start = time.monotonic()
        proc = _start(_scan_cmd(root, "-j", "2"), tmp_path / f"trial{trial}.log")
        if trial % 2 == 0:
            time.sleep(rng.uniform(0.2, full_s))
        else:
            k = rng.randint(1, 7)
            while _stored(db) < k and proc.poll() is None:
                assert time.monotonic() - t_start < 300
                time.sleep(0.005)
            time.sleep(rng.uniform(0.0, 0.05))
        at = time.monotonic() - t_start
        finished_first = proc.poll() is not None
        _kill_all(proc)
        stored = _stored(db)
        integrity = _integrity(db) if db.exists() else "no store yet"
        resumed = scan_folder(root, ONE_JOB)
        same = _report(root) == reference
        rows.append((trial, at, stored, integrity, resumed.scanned, resumed.skipped,
                     finished_first, same))
        assert integrity in ("ok", "no store yet"), (trial, integrity)
        assert same, f"trial {trial}: the resumed scan differs from the uninterrupted one"
        assert resumed.skipped + resumed.scanned == 8
        if not finished_first:
            assert resumed.skipped == stored, "a take stored before the kill was scanned again"
    print(f"\nkill -9 of `qc scan -j 2` ({full_s:.1f} s uninterrupted) at random moments:")
    print("  trial  killed at  takes stored  integrity     resumed: scanned  skipped  identical")
    for t, at, stored, integ, sc, sk, fin, same in rows:
        note = " (had finished)" if fin else ""
        print(f"  {t:5}  {at:7.2f} s  {stored:12}  {integ:12}  {sc:16}  {sk:7}  {same}{note}")
    assert any(0 < r[2] < 8 for r in rows), "no kill landed mid-scan: the trial times are off"


def test_reviews_saved_during_a_scan_are_all_kept(tmp_path: Path):
    """The dashboard's review writes (one short transaction each, on their own
    connection) interleave with a --force rescan's writes: none is lost or refused."""
    root = _make_takes(tmp_path / "takes")
    scan_folder(root, ONE_JOB)
    db = default_store_path(root)
    with Store(db) as store:
        takes = [t for t in store.takes()]
    proc = _start(_scan_cmd(root, "--force", "-j", "2"), tmp_path / "scan.log")
    expected: dict[str, tuple[str | None, bool, str]] = {}
    writes = 0
    t0 = time.monotonic()
    while proc.poll() is None or writes < 40:
        take = takes[writes % len(takes)]
        decision = ("accepted", "rejected", None)[writes % 3]
        note = f"note {writes} ü"
        with Store(db) as store:  # as the dashboard does: a connection per click
            save_review(store, take, decision=decision, starred=writes % 2 == 0, note=note)
        expected[review_key(take.hash, take.path)] = (decision, writes % 2 == 0, note)
        writes += 1
        assert time.monotonic() - t0 < 300
    assert proc.wait() == 0, (tmp_path / "scan.log").read_text()
    with Store(db) as store:
        reviews = load_reviews(store)
        assert store.integrity_ok()
    con = sqlite3.connect(db)
    scanned_again = con.execute(
        "SELECT count(*) FROM takes WHERE run_id = (SELECT max(id) FROM runs)").fetchone()[0]
    con.close()
    got = {k: (r.decision, r.starred, r.note) for k, r in reviews.items()}
    print(f"\n{writes} review writes during a --force rescan of 8 takes"
          f" ({scanned_again} rescanned meanwhile): {len(got)} reviews stored,"
          f" {sum(got[k] == v for k, v in expected.items())} with their last value")
    assert got == expected


def test_two_scans_of_the_same_folder_at_once(tmp_path: Path):
    """Two scans start together on a folder without a store: both create it, both
    analyse, both rank; the store ends whole and equal to a single scan's."""
    pristine, reference = _pristine_and_reference(tmp_path)

    root = tmp_path / "both" / "takes"
    shutil.copytree(pristine, root)
    a = _start(_scan_cmd(root, "-j", "1"), tmp_path / "a.log")
    b = _start(_scan_cmd(root, "-j", "1"), tmp_path / "b.log")
    codes = (a.wait(timeout=300), b.wait(timeout=300))
    logs = [(tmp_path / f"{n}.log").read_text() for n in "ab"]
    db = default_store_path(root)
    with Store(db, readonly=True) as store:
        runs = store._db.execute("SELECT id, scanned, skipped FROM runs").fetchall()
        integrity = store.integrity_problems()
    print(f"\ntwo scans at once: exit codes {codes}, runs (id, scanned, skipped)"
          f" {[tuple(r) for r in runs]}, integrity {integrity or 'ok'}")
    assert codes == (0, 0), logs
    assert integrity == []
    assert _report(root) == reference


def test_a_new_store_opened_by_many_at_once_is_created_once(tmp_path: Path):
    db = tmp_path / "fresh" / "qc.db"
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def open_it() -> None:
        try:
            barrier.wait()
            Store(db).close()
        except BaseException as exc:  # pragma: no cover - the failure being tested
            errors.append(exc)

    threads = [threading.Thread(target=open_it) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(f"\n8 threads opened a new store at once: {len(errors)} errors {errors[:1]}")
    assert errors == []
    with Store(db) as s:
        assert s.integrity_ok()
