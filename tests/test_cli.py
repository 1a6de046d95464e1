"""The pipeline end to end, through the command line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import jsonschema
import pytest

from conftest import moving_square, write_video
from qc.batch import scan_folder
from qc.cli import main
from qc.config import Config
from qc.report import report_schema

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "shared" / "report.schema.json"


def _scan(root: Path, *extra: str) -> dict:
    out = root.parent / "report.json"
    assert main(["scan", str(root), "--json", str(out), "-j", "1", "-q", *extra]) == 0
    report = json.loads(out.read_text())
    jsonschema.validate(report, report_schema())
    return report


def _comparable(report: dict) -> dict:
    r = dict(report)
    r.pop("created")
    return r


def test_packaged_schema_is_the_shared_one():
    if not SCHEMA_FILE.is_file():
        pytest.skip(f"{SCHEMA_FILE} not available")
    assert json.loads(SCHEMA_FILE.read_text()) == report_schema()


def test_scan_ranks_takes_and_reports_errors(take_folder: Path, capsys):
    report = _scan(take_folder, "--csv", str(take_folder.parent / "r.csv"))
    takes = {t["path"]: t for t in report["takes"]}
    assert set(takes) == {"shotA/clean.mp4", "shotA/flash.mp4", "shotB/cut.mp4",
                          "shotB/notes.mp4", "empty.mov"}
    ok = [t for t in report["takes"] if t["status"] == "ok"]
    assert sorted(t["rank"] for t in ok) == list(range(1, len(ok) + 1))
    by_rank = sorted(ok, key=lambda t: t["rank"])
    assert [t["score"] for t in by_rank] == sorted((t["score"] for t in ok), reverse=True)
    # ground truth: the clean take ranks first; the flash is flicker, the cut is physics
    assert by_rank[0]["path"] == "shotA/clean.mp4"
    flash = takes["shotA/flash.mp4"]["artifacts"]["flicker"]["events"]
    assert any(abs(e["start_s"] - 0.5) <= 0.1 for e in flash)
    cut = takes["shotB/cut.mp4"]["artifacts"]["physics"]["events"]
    assert any(e["label"] == "hidden cut" and abs(e["start_s"] - 0.5) <= 0.1 for e in cut)
    # a cut is reported once, as physics
    assert takes["shotB/cut.mp4"]["artifacts"]["flicker"]["events"] == []
    for bad in ("shotB/notes.mp4", "empty.mov"):
        t = takes[bad]
        assert (t["status"], t["verdict"], t["rank"], t["score"]) == ("error", "error", None, None)
        assert t["error"] and "\n" not in t["error"]
    assert takes["shotB/notes.mp4"]["shot"] == "shotB"
    assert takes["empty.mov"]["shot"] == "takes"
    assert takes["shotA/clean.mp4"]["best_in_shot"] is True
    csv_lines = (take_folder.parent / "r.csv").read_text().splitlines()
    assert len(csv_lines) == 1 + 5 and csv_lines[1].startswith("1,")


def test_table_on_stdout(take_folder: Path, capsys):
    assert main(["scan", str(take_folder), "-j", "1"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].split()[:4] == ["RANK", "SCORE", "VERDICT", "WORST"]
    assert lines[1].split()[0] == "1" and "shotA/clean.mp4" in lines[1]
    assert "empty file" in out and "5 takes" in out


def test_report_command_repeats_the_last_scan(take_folder: Path, tmp_path: Path):
    first = _scan(take_folder)
    out = tmp_path / "again.json"
    assert main(["report", str(take_folder), "--json", str(out), "-q"]) == 0
    again = json.loads(out.read_text())
    jsonschema.validate(again, report_schema())
    assert again["takes"] == first["takes"]
    assert again["config"] == first["config"]


def test_incremental_rescan_moves_and_force(take_folder: Path):
    cfg = Config.from_dict({"scan": {"jobs": 1}})
    first = scan_folder(take_folder, cfg)
    assert (first.found, first.scanned, first.skipped) == (5, 5, 0)
    again = scan_folder(take_folder, cfg)
    assert (again.scanned, again.skipped) == (0, 5)
    # a renamed take is recognised by its content
    (take_folder / "shotA" / "clean.mp4").rename(take_folder / "shotB" / "clean_v2.mp4")
    moved = scan_folder(take_folder, cfg)
    assert (moved.scanned, moved.moved, moved.removed) == (0, 1, 0)
    # changed content is rescanned
    write_video(take_folder / "shotA" / "flash.mp4", moving_square(24, seed=5))
    changed = scan_folder(take_folder, cfg)
    assert changed.scanned == 1
    # so is everything when the detectors' configuration changes, or with force
    assert scan_folder(take_folder, cfg.replace("flicker", z_threshold=7)).scanned == 5
    assert scan_folder(take_folder, cfg.replace("flicker", z_threshold=7), force=True).scanned == 5
    # scoring alone does not rescan
    assert scan_folder(take_folder, cfg.replace("flicker", z_threshold=7)
                       .replace("scoring", profile="strict")).scanned == 0


def test_parallel_jobs_match_one_job(take_folder: Path, tmp_path: Path):
    one = _scan(take_folder)
    other = tmp_path / "copy" / "takes"  # the same root name: the same shot names
    shutil.copytree(take_folder, other)
    out = tmp_path / "two.json"
    assert main(["scan", str(other), "--json", str(out), "-j", "2", "-q"]) == 0
    two = json.loads(out.read_text())
    assert two["takes"] == one["takes"]


def test_exit_codes(tmp_path: Path, take_folder: Path, capsys):
    assert main(["scan", str(tmp_path / "missing")]) == 3
    assert "no such folder" in capsys.readouterr().err
    f = tmp_path / "file.txt"
    f.write_text("x")
    assert main(["scan", str(f)]) == 3
    (take_folder / "qc.toml").write_text("[flicker]\nbogus = 1\n")
    assert main(["scan", str(take_folder)]) == 2
    assert "bogus" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["scan", str(take_folder), "--no-such-flag"])
    assert exc.value.code == 2
    assert main(["report", str(tmp_path)]) == 1
    assert "run qc scan" in capsys.readouterr().err


def test_odd_names_and_shot_pattern(tmp_path: Path):
    root = tmp_path / "dir with spaces ü"
    root.mkdir()
    frames = moving_square(12)
    names = ["sh010 it's \"quoted\" ü.mp4", "sh010;v2 ⚡.mp4", "sh020_v1.mp4"]
    for n in names:
        write_video(root / n, frames)
    report = _scan(root, "--shot-pattern", r"^(?P<shot>sh\d+)")
    assert sorted(t["path"] for t in report["takes"]) == sorted(names)
    assert all(t["status"] == "ok" for t in report["takes"])
    assert {t["path"]: t["shot"] for t in report["takes"]}[names[2]] == "sh020"
    assert sum(t["best_in_shot"] for t in report["takes"]) == 2


def test_bad_inputs_each_become_an_error_take(tmp_path: Path, monkeypatch):
    root = tmp_path / "bad"
    root.mkdir()
    from conftest import write_audio_only

    good = write_video(root / "good.mp4", moving_square(48, width=160, height=96))
    data = good.read_bytes()
    (root / "zero.mp4").write_bytes(b"")
    (root / "text.mp4").write_text("hello\n" * 100)
    (root / "truncated.mp4").write_bytes(data[: len(data) // 3])
    write_audio_only(root / "audio.m4v")
    write_video(root / "one.mp4", moving_square(1))
    (root / "folder.mp4").mkdir()  # a folder with a video's name is walked, not a take
    (root / "locked.mp4").write_bytes(data)

    import qc.batch as batch

    real_hash = batch.content_hash

    def no_permission(path, **kw):
        if Path(path).name == "locked.mp4":
            raise PermissionError(13, "Permission denied", str(path))
        return real_hash(path, **kw)

    monkeypatch.setattr(batch, "content_hash", no_permission)
    report = _scan(root)
    by = {t["path"]: t for t in report["takes"]}
    assert by["good.mp4"]["status"] == "ok"
    assert "folder.mp4" not in by
    expect = {
        "zero.mp4": "empty",
        "text.mp4": "not a video",
        "truncated.mp4": "",
        "audio.m4v": "audio only",
        "one.mp4": "only 1 frame",
        "locked.mp4": "permission denied",
    }
    for name, words in expect.items():
        t = by[name]
        assert t["status"] == "error" and t["verdict"] == "error", name
        assert words in t["error"] and "\n" not in t["error"], (name, t["error"])


def test_a_take_that_disappears_mid_scan(take_folder: Path, monkeypatch):
    import qc.batch as batch

    class Vanish(batch.ScanProgress):
        def start(self, total, to_scan):
            (take_folder / "shotB" / "cut.mp4").unlink()

    cfg = Config.from_dict({"scan": {"jobs": 1}})
    scan_folder(take_folder, cfg, progress=Vanish())
    from qc.store import Store, default_store_path

    with Store(default_store_path(take_folder)) as s:
        t = s.get("shotB/cut.mp4")
        assert t.status == "error" and "disappeared" in t.error
        assert s.get("shotA/clean.mp4").status == "ok"


def test_corrupt_bytes_in_the_middle_never_crash_the_scan(tmp_path: Path):
    """Bytes overwritten mid-file: a clear error take, or a take scanned with whatever
    the decoder could recover; never an internal error, never a lost scan."""
    import numpy as np

    root = tmp_path / "corrupt"
    root.mkdir()
    good = write_video(root / "good.mp4", moving_square(48, width=160, height=96))
    data = bytearray(good.read_bytes())
    rng = np.random.default_rng(1)
    for i, frac in enumerate((0.3, 0.5, 0.7)):
        bad = bytearray(data)
        at = int(len(bad) * frac)
        bad[at: at + 400] = rng.bytes(400)
        (root / f"corrupt{i}.mp4").write_bytes(bytes(bad))
    report = _scan(root)
    assert len(report["takes"]) == 4
    for t in report["takes"]:
        assert "internal error" not in (t.get("error") or ""), t
        if t["status"] == "error":
            assert t["error"] and "\n" not in t["error"]


def test_frame_progress_reaches_the_display_from_worker_processes(take_folder: Path):
    import qc.batch as batch

    seen: list[tuple[str, int]] = []

    class Record(batch.ScanProgress):
        def frames(self, take, done):
            seen.append((take.path, done))

    cfg = Config.from_dict({"scan": {"jobs": 2}})
    scan_folder(take_folder, cfg, progress=Record())
    assert {p for p, _ in seen} >= {"shotA/clean.mp4", "shotA/flash.mp4", "shotB/cut.mp4"}
