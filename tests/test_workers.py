"""The supervised workers: a take that crashes, hangs or eats memory costs only itself.

The job functions below misbehave on purpose (a real segfault through ctypes, a sleep
for ever, a growing allocation, an exit); they are top-level so the workers can import
them by name.  The tests print a table of job -> outcome.
"""

from __future__ import annotations

import ctypes
import os
import threading
import time
from pathlib import Path

import numpy as np

from conftest import moving_square, stored_report, write_video
from qc.batch import scan_folder
from qc.config import Config
from qc.workers import Limits, run_jobs


def misbehave(kind: str, *, progress) -> str:
    """A job that does what ``kind`` says."""
    if kind.startswith("ok"):
        progress(1)
        return f"{kind} done in {os.getpid()}"
    if kind == "segfault":
        ctypes.string_at(0)  # reads address 0: SIGSEGV, as a broken decoder would
    if kind == "hang":
        progress(16)
        time.sleep(3600)
    if kind == "memory":
        hog = [np.ones(8 * 2**20) for _ in range(12)]  # 768 MB, then wait to be stopped
        time.sleep(3600)
        return str(len(hog))  # pragma: no cover
    if kind == "die_idle":  # finishes its job, then dies while idle
        threading.Timer(0.2, os._exit, args=(9,)).start()
        return "done, dying"
    if kind == "exit":
        os._exit(3)
    raise AssertionError(kind)  # pragma: no cover


def test_each_bad_job_fails_alone_and_the_rest_finish():
    kinds = ["ok1", "segfault", "ok2", "hang", "ok3", "memory", "ok4", "exit", "ok5"]
    done: dict[str, str] = {}
    failed: dict[str, str] = {}
    frames: dict[str, int] = {}
    t0 = time.monotonic()
    run_jobs([(k, (k,)) for k in kinds], misbehave, workers=2,
             limits=Limits(timeout_s=1.0, memory_mb=400),
             on_done=done.__setitem__, on_failed=failed.__setitem__,
             on_frames=frames.__setitem__)
    took = time.monotonic() - t0
    print(f"\n{len(kinds)} jobs on 2 workers in {took:.1f} s:")
    for k in kinds:
        print(f"  {k:9} {'done' if k in done else 'FAILED':7} {done.get(k) or failed.get(k)}")
    assert set(done) == {"ok1", "ok2", "ok3", "ok4", "ok5"}
    assert "crashed (SIGSEGV)" in failed["segfault"]
    assert "time limit of 1 s after 16 frames" in failed["hang"]
    assert "more than the limit of 400 MB" in failed["memory"]
    assert "exited unexpectedly (status 3)" in failed["exit"]
    assert frames["ok1"] == 1
    assert took < 30


def test_a_worker_that_dies_while_idle_is_replaced():
    done: dict[str, str] = {}

    def slow_done(key, value):  # the worker dies while the parent handles its result
        done[key] = value
        time.sleep(1.0)

    run_jobs([("a", ("die_idle",)), ("b", ("ok_b",))], misbehave, workers=1, limits=Limits(),
             on_done=slow_done, on_failed=lambda k, r: done.__setitem__(k, f"FAILED {r}"))
    assert done["a"] == "done, dying" and done["b"].startswith("ok_b done"), done


def test_no_job_no_worker():
    run_jobs([], misbehave, workers=2, limits=Limits(), on_done=None, on_failed=None)


def crash_some(file: str, config, *, progress):
    """The scan's job, except that it segfaults on ``*segv*`` and hangs on ``*hang*``."""
    name = Path(file).name
    if "segv" in name:
        ctypes.string_at(0)
    if "hang" in name:
        time.sleep(3600)
    from qc.batch import _analyse_job

    # only the supervisor's limit is tested here: a loaded machine must not fail a good take
    return _analyse_job(file, config.replace("scan", take_timeout_s=0), progress=progress)


def test_a_scan_survives_a_segfault_and_a_hang(tmp_path: Path, monkeypatch):
    root = tmp_path / "takes"
    root.mkdir()
    for name in ("a.mp4", "b_segv.mp4", "c.mp4", "d_hang.mp4", "e.mp4"):
        write_video(root / name, moving_square(24, seed=len(name)))
    import qc.batch

    monkeypatch.setattr(qc.batch, "_analyse_job", crash_some)
    cfg = Config.from_dict({"scan": {"jobs": 2, "take_timeout_s": 5}})
    t0 = time.monotonic()
    summary = scan_folder(root, cfg)
    took = time.monotonic() - t0
    report = stored_report(root, cfg)
    by_path = {t["path"]: t for t in report["takes"]}
    print(f"\nscan of 5 takes, one segfaults, one hangs ({took:.1f} s):")
    for p, t in by_path.items():
        print(f"  {p:11} {t['verdict']:6} {t['error'] or t['score']}")
    assert summary.scanned == 5 and summary.errors == 2
    assert "crashed (SIGSEGV)" in by_path["b_segv.mp4"]["error"]
    assert "time limit of 5 s" in by_path["d_hang.mp4"]["error"]
    assert all(by_path[p]["status"] == "ok" for p in ("a.mp4", "c.mp4", "e.mp4"))


def test_take_timeout_and_max_frames_flags(take_folder: Path):
    import json

    from qc.cli import main

    out = take_folder.parent / "report.json"
    rows = []
    for flags, words in ((["--take-timeout", "0.000001"], "time limit of 1e-06 s"),
                         (["--max-frames", "10"], "more than 10 frames")):
        assert main(["scan", str(take_folder), "-j", "1", "-q", "--force", "--json", str(out),
                     *flags]) == 0
        takes = {t["path"]: t for t in json.loads(out.read_text())["takes"]}
        for p in ("shotA/clean.mp4", "shotA/flash.mp4", "shotB/cut.mp4"):
            rows.append((" ".join(flags), p, takes[p]["error"]))
            assert words in takes[p]["error"], takes[p]
    print("\nqc scan with limit flags (24-frame takes):")
    for flags, p, err in rows:
        print(f"  {flags:26} {p:16} {err}")


def test_the_gate_survives_a_segfault(tmp_path: Path, monkeypatch):
    """qc gate (and so qc watch) analyses in a supervised worker too: a crashing take
    is that take's error and the command answers."""
    import qc.batch
    from qc.cli import main

    root = tmp_path / "takes"
    root.mkdir()
    for name in ("a.mp4", "b_segv.mp4"):
        write_video(root / name, moving_square(24, seed=len(name)))
    monkeypatch.setattr(qc.batch, "_analyse_job", crash_some)
    rcs = {name: main(["gate", str(root / name), "--json"]) for name in ("a.mp4", "b_segv.mp4")}
    print(f"\nqc gate exit codes: {rcs}")
    assert rcs["a.mp4"] == 0
    assert rcs["b_segv.mp4"] == 3  # unreadable: neither pass nor fail
