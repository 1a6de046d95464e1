"""Scanning on a Dask cluster: the same report as a local scan, the store written by the client.

A ``distributed.LocalCluster`` with two worker processes scans the committed fixtures
through ``qc scan --scheduler``.  Every step has a time limit, so a cluster that does not
come up or a scan that stalls fails the test instead of hanging it.
"""

from __future__ import annotations

import faulthandler
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from qc.report import validate_report

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
TIMEOUT_S = 240


def _qc(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "qc", *args], capture_output=True, text=True,
                          timeout=TIMEOUT_S)


def _takes(report_file: Path) -> list[dict]:
    report = json.loads(report_file.read_text())
    validate_report(report)
    return report["takes"]


@pytest.fixture(scope="module")
def cluster():
    """Two worker processes, one thread each, on this machine."""
    distributed = pytest.importorskip("distributed")
    # never hang the suite (the bound covers every subprocess of the module, one after another)
    faulthandler.dump_traceback_later(4 * TIMEOUT_S + 60, exit=True)
    try:
        with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                      dashboard_address=":0", silence_logs=50) as c:
            yield c
    finally:
        faulthandler.cancel_dump_traceback_later()


#: fixture kinds scanned on the cluster: each detector's artifact, benign hard cases
KINDS = ("clean", "face_swap", "flash", "teleport", "hidden_cut", "morph_warp", "short",
         "gif_dither")


@pytest.fixture
def takes(tmp_path: Path) -> Path:
    """Eight fixture takes (truth in fixtures/truth.json) and ``broken.mp4``, a text file:
    an error take."""
    root = tmp_path / "takes"
    for kind in KINDS:
        shutil.copytree(FIXTURES / kind, root / kind)
    (root / "broken.mp4").write_text("not a video\n")
    return root


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.filterwarnings("ignore::ResourceWarning")
def test_the_cluster_report_equals_the_local_one(cluster, takes: Path, tmp_path: Path):
    local, remote = tmp_path / "local.json", tmp_path / "remote.json"
    r = _qc("scan", str(takes), "--store", str(tmp_path / "local.db"), "--json", str(local),
            "-q", "--jobs", "1")
    assert r.returncode == 0, r.stderr
    r = _qc("scan", str(takes), "--store", str(tmp_path / "remote.db"), "--json", str(remote),
            "-q", "--scheduler", cluster.scheduler_address)
    assert r.returncode == 0, r.stderr
    assert _takes(remote) == _takes(local)
    assert len(_takes(remote)) == len(KINDS) + 1
    # ... and the takes really were tasks on the cluster, not scanned here
    import distributed

    with distributed.Client(cluster) as client:
        names = client.run_on_scheduler(
            lambda dask_scheduler: sorted(dask_scheduler.task_prefixes))
    assert any(n.startswith("qc-scan") for n in names), names
    assert [t["status"] for t in _takes(remote)].count("error") == 1
    assert not (takes / ".qc").exists()  # the stores are where --store put them


def test_an_unreachable_scheduler_is_a_one_line_error(tmp_path: Path):
    pytest.importorskip("distributed")
    take = tmp_path / "takes"
    take.mkdir()
    (take / "a.mp4").write_bytes((FIXTURES / "clean" / "clean_0.mp4").read_bytes())
    r = subprocess.run([sys.executable, "-c",
                        "import qc.cluster as c; c.CONNECT_TIMEOUT_S = 2; from qc.cli import main; "
                        f"raise SystemExit(main(['scan', {str(take)!r}, '--scheduler', "
                        "'tcp://127.0.0.1:9', '-q']))"],
                       capture_output=True, text=True, timeout=TIMEOUT_S)
    assert r.returncode == 1
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in r.stderr
    assert "Traceback" not in r.stderr


def test_a_local_scan_starts_nothing_of_dask(tmp_path: Path):
    code = ("import sys; from qc.batch import scan_folder; "
            f"scan_folder({str(FIXTURES / 'short')!r}, store_path={str(tmp_path / 'qc.db')!r}, jobs=1); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed')))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       timeout=TIMEOUT_S)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"


def test_a_scheduler_without_workers_is_a_one_line_error(tmp_path: Path):
    distributed = pytest.importorskip("distributed")
    take = tmp_path / "takes"
    take.mkdir()
    (take / "a.mp4").write_bytes((FIXTURES / "clean" / "clean_0.mp4").read_bytes())
    with distributed.LocalCluster(n_workers=0, processes=True, dashboard_address=":0",
                                  silence_logs=50) as empty:
        r = subprocess.run([sys.executable, "-c",
                            "import qc.cluster as c; c.CONNECT_TIMEOUT_S = 2; "
                            "from qc.cli import main; "
                            f"raise SystemExit(main(['scan', {str(take)!r}, '--scheduler', "
                            f"{empty.scheduler_address!r}, '-q']))"],
                           capture_output=True, text=True, timeout=TIMEOUT_S)
    assert r.returncode == 1, r.stderr
    assert "has no workers" in r.stderr and "Traceback" not in r.stderr


def _stall(prefix: str, hold_gib: int = 0) -> None:
    """Run on each worker: a take whose name starts with ``prefix`` never finishes (a
    decoder that never returns from native code, as far as the scan can tell), holding
    ``hold_gib`` GiB of memory while it waits."""
    import time

    import numpy as np

    import qc.batch

    real = qc.batch._analyse

    def analyse(file, config):
        if Path(file).name.startswith(prefix):
            held = np.ones(hold_gib * 2**27)  # touched
            while held.size >= 0:
                time.sleep(0.5)
        return real(file, config)

    analyse.real = real  # type: ignore[attr-defined]
    qc.batch._analyse = analyse


def _unhang() -> None:
    import qc.batch

    qc.batch._analyse = getattr(qc.batch._analyse, "real", qc.batch._analyse)


def _scan_stalled(cluster, root: Path, tmp_path: Path, take_timeout_s: int,
                  *stall: object) -> dict[str, dict]:
    """``qc scan`` of ``root`` on ``cluster`` while the workers :func:`_stall` ``*stall``,
    the workers asked every 0.5 s (not 5 s); the report's takes by path."""
    import distributed

    report = tmp_path / "report.json"
    with distributed.Client(cluster) as client:
        client.run(_stall, *stall)
        try:
            r = subprocess.run(
                [sys.executable, "-c",
                 "import qc.cluster as c; c.WATCH_S = 0.5; from qc.cli import main; "
                 f"raise SystemExit(main(['scan', {str(root)!r}, '--scheduler', "
                 f"{cluster.scheduler_address!r}, '--take-timeout', '{take_timeout_s}', '-q', "
                 f"'--store', {str(tmp_path / 'qc.db')!r}, '--json', {str(report)!r}]))"],
                capture_output=True, text=True, timeout=TIMEOUT_S)
        finally:
            client.run(_unhang)
    assert r.returncode == 0, r.stderr
    return {t["path"]: t for t in _takes(report)}


def _three_takes(tmp_path: Path, middle: str) -> Path:
    root = tmp_path / "takes"
    root.mkdir()
    for name, kind in (("a.mp4", "clean"), (middle, "flash"), ("z.mp4", "face_swap")):
        (root / name).write_bytes((FIXTURES / kind / f"{kind}_0.mp4").read_bytes())
    return root


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.filterwarnings("ignore::ResourceWarning")
def test_a_take_stuck_on_a_worker_is_stopped_and_the_scan_goes_on(cluster, tmp_path: Path):
    import distributed

    root = _three_takes(tmp_path, "stuck.mp4")
    with distributed.Client(cluster) as client:
        before = set(client.scheduler_info()["workers"])
    takes = _scan_stalled(cluster, root, tmp_path, 2, "stuck")
    assert takes["stuck.mp4"]["status"] == "error"
    assert "time limit of 2 s" in takes["stuck.mp4"]["error"]
    assert takes["a.mp4"]["status"] == takes["z.mp4"]["status"] == "ok"
    # the stuck worker was restarted by its nanny (a new worker process, a new address),
    # the other left alone, and both take tasks again
    with distributed.Client(cluster) as client:
        client.wait_for_workers(2, timeout=60)
        after = set(client.scheduler_info()["workers"])
        assert len(after - before) == 1 and len(before & after) == 1
        assert client.submit(sum, [1, 2], pure=False).result(timeout=60) == 3


def _worker_rss_mb() -> float:
    import os

    from qc.workers import rss_mb

    return rss_mb(os.getpid()) or 0.0


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.filterwarnings("ignore::ResourceWarning")
def test_a_take_over_the_memory_limit_on_a_worker_is_stopped_and_the_scan_goes_on(
        cluster, tmp_path: Path):
    import distributed

    root = _three_takes(tmp_path, "hog.mp4")
    with distributed.Client(cluster) as client:
        client.wait_for_workers(2, timeout=60)
        # room for a scan's own growth (the face models alone are ~100 MB), not for 1 GB
        base = max(client.run(_worker_rss_mb).values())
    (root / "qc.toml").write_text(f"[scan]\ntake_memory_mb = {int(base) + 500}\n")
    takes = _scan_stalled(cluster, root, tmp_path, 120, "hog", 1)
    assert takes["hog.mp4"]["status"] == "error"
    assert "MB of memory, more than the limit" in takes["hog.mp4"]["error"]
    assert takes["a.mp4"]["status"] == takes["z.mp4"]["status"] == "ok"
    with distributed.Client(cluster) as client:  # the hog's worker was restarted
        client.wait_for_workers(2, timeout=60)
        assert client.submit(sum, [1, 2], pure=False).result(timeout=60) == 3
