"""qc gate: the pass/fail decision, exit codes, JSON, sidecars and answers from the store.

Takes come from the committed fixtures (``fixtures/truth.json`` is their ground truth):
``clean`` is a clean take whose score is far above every pass score, ``flash`` holds a
flash frame that scores far below every fail score.  A ``review`` is forced with a
``qc.toml`` whose pass score is 100 and fail score 0, so it needs nothing from the
detectors but that the flash is seen at all.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import jsonschema
import pytest

import qc.batch
import qc.report
from qc.cli import main
from qc.config import Config
from qc.gate import GatePolicy, gate_exit_code, gate_paths, gate_verdict, sidecar_path
from qc.report import TakeResult, read_report, report_schema
from qc.errors import ReportError

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
REVIEW_TOML = "[scoring]\npass_score = 100\nfail_score = 0\n"


@pytest.fixture
def takes(tmp_path: Path) -> Path:
    """A render folder: ``clean.mp4`` (truth: clean), ``flash.mp4`` (truth: a flash frame
    at 0.625 s), ``broken take.mp4`` (not a video: unreadable)."""
    root = tmp_path / "renders"
    root.mkdir()
    shutil.copy(FIXTURES / "clean" / "clean_0.mp4", root / "clean.mp4")
    shutil.copy(FIXTURES / "flash" / "flash_0.mp4", root / "flash.mp4")
    (root / "broken take.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"garbage" * 50)
    return root


def _take(score: float | None, **sev: float) -> TakeResult:
    if score is None:
        return TakeResult("t.mp4", "s", "error", "error", error="not a video")
    full = {"flicker": 0.0, "faces": 0.0, "morphing": 0.0, "physics": 0.0, **sev}
    return TakeResult("t.mp4", "s", "ok", "pass", score=score, severities=full)


@pytest.mark.parametrize(
    "take, policy, verdict, passed",
    [
        (_take(95.0), GatePolicy(), "pass", True),
        (_take(80.0), GatePolicy(), "pass", True),           # pass at the pass score
        (_take(79.9), GatePolicy(), "review", True),         # review counts as pass...
        (_take(79.9), GatePolicy(strict=True), "review", False),  # ...unless strict
        (_take(50.0), GatePolicy(), "review", True),
        (_take(49.9), GatePolicy(), "fail", False),
        (_take(95.0), GatePolicy(min_score=96), "fail", False),
        (_take(96.0), GatePolicy(min_score=96), "pass", True),
        # fail_on: the default level is 1 - pass_score/100 = 0.2
        (_take(85.0, faces=0.15), GatePolicy(fail_on=("faces",)), "pass", True),
        (_take(75.0, faces=0.25), GatePolicy(fail_on=("faces",)), "fail", False),
        (_take(75.0, faces=0.25), GatePolicy(fail_on=("flicker",)), "review", True),
        (_take(99.0, faces=0.01), GatePolicy(fail_on=("faces",), fail_level=0.0), "fail", False),
        (_take(0.0, flicker=1.0), GatePolicy(fail_on=("flicker",), fail_level=1.0), "fail", False),
        (_take(None), GatePolicy(), "error", False),
        (_take(None), GatePolicy(pass_score=0, fail_score=0), "error", False),
    ],
)
def test_gate_verdict_rules(take, policy, verdict, passed):
    d = gate_verdict(take, policy)
    assert (d.verdict, d.passed) == (verdict, passed)
    assert bool(d.reasons) == (not passed)


def test_gate_verdict_names_what_failed():
    d = gate_verdict(_take(75.0, faces=0.25, physics=0.3),
                     GatePolicy(fail_on=("physics", "faces"), min_score=90))
    assert d.failed_on == ("physics", "faces")
    assert len(d.reasons) == 3 and "minimum score 90" in d.reasons[0]
    assert GatePolicy.from_config(Config().replace("scoring", profile="strict")).level == 0.1


def test_exit_codes_pass_fail_review_unreadable(takes: Path, tmp_path: Path, capsys):
    clean, flash, broken = takes / "clean.mp4", takes / "flash.mp4", takes / "broken take.mp4"
    assert main(["gate", str(clean)]) == 0
    assert main(["gate", str(flash)]) == 1
    assert main(["gate", str(broken)]) == 3
    assert main(["gate", str(tmp_path / "missing.mp4")]) == 3
    # mixed: unreadable wins over fail, fail over pass
    assert main(["gate", str(clean), str(flash)]) == 1
    assert main(["gate", str(clean), str(flash), str(broken)]) == 3
    assert main(["gate", str(takes)]) == 3
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:2] == ["pass", "100.0"] and lines[0].endswith(str(clean))
    assert lines[1].startswith("fail ") and "flicker" in lines[1] and lines[1].endswith(str(flash))
    assert lines[2].startswith("error ") and lines[2].endswith(str(broken))
    # review: a pass score of 100 and a fail score of 0 make the flash a review
    (takes / "qc.toml").write_text(REVIEW_TOML)
    assert main(["gate", str(flash)]) == 0
    assert capsys.readouterr().out.startswith("review")
    assert main(["gate", str(flash), "--strict"]) == 1
    assert main(["gate", str(flash), "--fail-on", "flicker"]) == 1  # fail level 1 - 100/100
    assert main(["gate", str(flash), "--fail-on", "flicker", "--fail-level", "1"]) == 0
    assert main(["gate", str(clean), "--min-score", "100"]) == 0
    assert main(["gate", str(broken), "--profile", "lenient"]) == 3  # never passes


def test_usage_and_configuration_errors_exit_2(takes: Path, capsys):
    clean = str(takes / "clean.mp4")
    assert main(["gate", clean, "--fail-on", "flicker,wobble"]) == 2
    assert "wobble" in capsys.readouterr().err
    assert main(["gate", clean, "--min-score", "120"]) == 2
    assert main(["gate", clean, "--fail-level", "-0.5"]) == 2
    for bad in (["--min-score", "lots"], ["--profile", "picky"], []):
        with pytest.raises(SystemExit) as exc:
            main(["gate", clean, *bad][: None if bad else 1])
        assert exc.value.code == 2
    (takes / "qc.toml").write_text("[gate]\nfail_on = ['wobble']\n")
    assert main(["gate", clean]) == 2
    assert "wobble" in capsys.readouterr().err


def test_json_is_a_valid_report(takes: Path, capsys):
    args = [str(takes / "flash.mp4"), str(takes / "clean.mp4"), str(takes / "broken take.mp4")]
    assert main(["gate", "--json", *args]) == 3
    report = json.loads(capsys.readouterr().out)
    jsonschema.validate(report, report_schema())
    by = {t["path"]: t for t in report["takes"]}
    assert set(by) == set(args)
    assert [by[a]["verdict"] for a in args] == ["fail", "pass", "error"]
    assert by[args[1]]["rank"] == 1 and by[args[0]]["rank"] == 2
    assert by[args[0]]["gate"]["passed"] is False and by[args[0]]["gate"]["reasons"]
    assert by[args[1]]["gate"] == {"passed": True, "reasons": []}
    assert by[args[0]]["artifacts"]["flicker"]["events"]


def test_answered_from_the_store_without_decoding(takes: Path, monkeypatch):
    flash = takes / "flash.mp4"
    first = gate_paths([flash])
    assert first[0].from_store is False
    assert (takes / ".qc" / "qc.db").is_file()  # the take's folder's store

    calls: list[str] = []
    real = qc.batch._analyse_in_process  # the analysis runs in a worker: count its requests

    def counting(ref, config, progress):
        calls.append(str(ref.file))
        return real(ref, config, progress)

    monkeypatch.setattr(qc.batch, "_analyse_in_process", counting)
    again = gate_paths([flash])
    assert calls == [] and again[0].from_store
    assert again[0].entry == first[0].entry
    os.utime(flash, ns=(1, 1))  # touched, same content: recognised by its hash
    assert gate_paths([flash])[0].from_store and calls == []
    # a stricter profile is judged from the stored severities, without decoding
    strict = gate_paths([flash], overrides={"scoring": {"profile": "strict"}})
    assert calls == [] and strict[0].verdict == "fail"
    # a detector setting changes what is measured: analysed again
    assert not gate_paths([flash], overrides={"flicker": {"z_threshold": 7}})[0].from_store
    assert calls == [str(flash)]
    assert not gate_paths([flash], force=True)[0].from_store


def test_gating_a_copy_does_not_steal_the_original(takes: Path):
    gate_paths([takes / "clean.mp4"])
    shutil.copy(takes / "clean.mp4", takes / "clean copy.mp4")
    result = gate_paths([takes / "clean copy.mp4"])[0]
    assert result.from_store and result.verdict == "pass"
    from qc.store import Store, default_store_path

    with Store(default_store_path(takes)) as store:
        assert store.get("clean.mp4") is not None and store.get("clean copy.mp4") is not None
        assert store.get("clean copy.mp4").verdict == "pass"  # a copied row is scored


def test_sidecar_is_written_atomically_and_validates(takes: Path, monkeypatch):
    flash = takes / "flash.mp4"
    side = sidecar_path(flash)
    assert side.name == "flash.mp4.qc.json"
    seen: list[tuple[bool, dict]] = []
    real_replace = os.replace

    def replace(src, dst):
        if Path(dst) == side:  # at the rename, the whole file is already written
            seen.append((side.exists(), json.loads(Path(src).read_text())))
        return real_replace(src, dst)

    monkeypatch.setattr(qc.report.os, "replace", replace)
    assert main(["gate", str(flash), "--sidecar", "-q"]) == 1
    assert main(["gate", str(flash), "--sidecar", "-q"]) == 1
    assert [existed for existed, _ in seen] == [False, True]
    assert seen[0][1]["takes"][0]["path"] == "flash.mp4"
    assert sorted(p.name for p in takes.iterdir()) == sorted(
        [".qc", "broken take.mp4", "clean.mp4", "flash.mp4", "flash.mp4.qc.json"])
    report = read_report(side)  # validated against the schema
    assert report.root == str(takes)
    (take,) = report.takes
    assert (take.path, take.verdict, take.rank) == ("flash.mp4", "fail", 1)
    assert take.worst_event is not None and take.worst_event.artifact == "flicker"
    main(["gate", str(takes / "broken take.mp4"), "--sidecar", "-q"])
    assert read_report(sidecar_path(takes / "broken take.mp4")).takes[0].verdict == "error"


def test_read_report_rejects_what_is_not_a_report(tmp_path: Path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ReportError, match="not a JSON report"):
        read_report(bad)
    bad.write_text('{"schema": "qc.report/1"}')
    with pytest.raises(ReportError, match="qc.report/1"):
        read_report(bad)
    with pytest.raises(ReportError, match="cannot read"):
        read_report(tmp_path / "missing.json")


def test_a_folder_without_a_writable_store_is_gated_without_one(takes: Path, monkeypatch):
    import qc.gate

    def no_store(path, **kw):
        raise qc.gate.StoreError(f"cannot create the store {path}: read-only file system")

    monkeypatch.setattr(qc.gate, "Store", no_store)
    results = gate_paths([takes / "flash.mp4", takes / "clean.mp4"])
    assert [r.verdict for r in results] == ["fail", "pass"]
    assert gate_exit_code(results) == 1
    with pytest.raises(qc.gate.StoreError):
        gate_paths([takes / "clean.mp4"], store_path=takes / "elsewhere.db")


def test_gating_against_a_scans_store_reuses_it_and_keeps_its_rows(takes: Path):
    shot = takes / "sh010"
    shot.mkdir()
    shutil.move(takes / "flash.mp4", shot / "flash.mp4")
    qc.batch.scan_folder(takes, Config.from_dict({"scan": {"jobs": 1}}))
    db = takes / ".qc" / "qc.db"
    (result,) = gate_paths([shot / "flash.mp4"], store_path=db)
    assert result.from_store and result.verdict == "fail"  # known by its content
    from qc.store import Store

    with Store(db) as store:
        assert store.get("sh010/flash.mp4") is not None  # the scan's row is not moved
