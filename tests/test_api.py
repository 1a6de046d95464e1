"""The Python API for generation scripts: the same answers as the command line."""

from __future__ import annotations

import json
import shutil
from importlib import resources
from pathlib import Path

import pytest

import qc
from qc.cli import main

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


@pytest.fixture
def takes(tmp_path: Path) -> Path:
    """``clean.mp4`` (truth: clean), ``flash.mp4`` (truth: a flash frame),
    ``teleport.mp4`` (truth: a teleport), ``text.mp4`` (not a video)."""
    root = tmp_path / "renders"
    root.mkdir()
    for kind in ("clean", "flash", "teleport"):
        shutil.copy(FIXTURES / kind / f"{kind}_0.mp4", root / f"{kind}.mp4")
    (root / "text.mp4").write_text("not a video\n")
    return root


def test_the_api_is_typed_and_public():
    assert resources.files("qc").joinpath("py.typed").is_file()
    for name in ("scan_take", "gate_take", "scan_folder", "folder_report", "read_report",
                 "gate_paths", "watch", "GateResult", "TakeResult", "Report", "GatePolicy"):
        assert name in qc.__all__ and hasattr(qc, name), name


def test_api_verdicts_match_the_command_line(takes: Path, capsys):
    files = sorted(takes.glob("*.mp4"))
    code = main(["gate", "--json", "--profile", "strict", "--fail-on", "physics",
                 *map(str, files)])
    cli = {t["path"]: t for t in json.loads(capsys.readouterr().out)["takes"]}
    results = [qc.gate_take(f, profile="strict", fail_on=("physics",)) for f in files]
    assert code == qc.gate_exit_code(results) == 3
    for f, r in zip(files, results):
        entry = cli[str(f)]
        assert (r.verdict, r.passed, list(r.reasons)) == (
            entry["verdict"], entry["gate"]["passed"], entry["gate"]["reasons"]), f.name
        assert r.take.score == entry["score"] and r.from_store  # the CLI stored them
    # and without a store, analysed afresh, the same again
    fresh = [qc.gate_take(f, profile="strict", fail_on="physics", store=False) for f in files]
    assert [r.verdict for r in fresh] == [r.verdict for r in results]
    assert not any(r.from_store for r in fresh)


def test_scan_take_and_gate_take(takes: Path):
    clean = qc.scan_take(takes / "clean.mp4")
    assert clean.ok and clean.verdict == "pass" and clean.worst_event is None
    assert clean.path == str(takes / "clean.mp4") and clean.shot == "renders"
    flash = qc.scan_take(takes / "flash.mp4", store=False)
    assert flash.verdict == "fail" and flash.worst_event.artifact == "flicker"
    bad = qc.scan_take(takes / "text.mp4")
    assert (bad.ok, bad.verdict, bad.score) == (False, "error", None) and bad.error
    missing = qc.gate_take(takes / "gone.mp4")
    assert missing.unreadable and not missing.passed and missing.exit_code == 3
    assert not (takes / "gone.mp4").exists()
    lenient = qc.gate_take(takes / "flash.mp4", min_score=0, profile="lenient", sidecar=True)
    assert not lenient.passed  # a flash scores far below every profile's fail score
    assert qc.read_report(takes / "flash.mp4.qc.json").take("flash.mp4").verdict == "fail"
    with pytest.raises(qc.ConfigError):
        qc.gate_take(takes / "clean.mp4", fail_on=("wobble",))


def test_scan_folder_and_folder_report(takes: Path):
    (takes / "qc.toml").write_text("[scan]\njobs = 1\n")
    summary = qc.scan_folder(takes)  # the folder's qc.toml, no Config needed
    assert (summary.found, summary.scanned) == (4, 4)
    report = qc.folder_report(takes)
    assert isinstance(report, qc.Report) and len(report.takes) == 4
    assert report.take("clean.mp4").rank == 1 and report.take("text.mp4").verdict == "error"
    assert report.config["scan"]["jobs"] == 1
    with pytest.raises(qc.RootError):
        qc.scan_folder(takes / "missing")
