"""qc watch: takes gated once they have landed, hooks without a shell, bad files survived."""

from __future__ import annotations

import json
import shlex
import shutil
import sys
import threading
import time
from pathlib import Path

import pytest

from qc.cli import main
from qc.config import Config
from qc.errors import ConfigError
from qc.store import Store, default_store_path
from qc.watch import SettleTracker, move_aside, parse_hook, run_hook, watch

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
CLEAN = FIXTURES / "clean" / "clean_0.mp4"   # truth: clean
FLASH = FIXTURES / "flash" / "flash_0.mp4"   # truth: a flash frame at 0.625 s

#: a hook that records its arguments and the verdict it was given, one JSON line per call
RECORDER = """
import json, os, sys
with open(sys.argv[1], "a", encoding="utf-8") as fh:
    fh.write(json.dumps({"argv": sys.argv[2:], "verdict": os.environ.get("QC_VERDICT"),
                         "exists": os.path.exists(sys.argv[-1])}) + "\\n")
"""


@pytest.fixture
def recorder(tmp_path: Path) -> tuple[str, Path]:
    """A hook command (a string, as a user would write it) and the log it appends to."""
    script = tmp_path / "record hook.py"
    script.write_text(RECORDER)
    log = tmp_path / "hook log.jsonl"
    cmd = " ".join(shlex.quote(str(p)) for p in (sys.executable, script, log))
    return cmd, log


def _calls(log: Path) -> list[dict]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def test_settle_tracker_waits_for_size_and_mtime_to_hold():
    t = SettleTracker(1.0)
    assert not t.observe("a", (100, 5), now=0.0)
    assert not t.observe("a", (200, 6), now=0.9)   # grew: the clock starts again
    assert not t.observe("a", (200, 6), now=1.8)
    assert t.observe("a", (200, 6), now=1.95)
    assert not t.observe("a", (200, 7), now=2.1)   # touched
    t.keep_only(set())
    assert t.pending == 0
    assert SettleTracker(0).observe("b", (1, 1), now=0.0)


def test_parse_hook_and_move_aside(tmp_path: Path):
    assert parse_hook("mv -n --target-directory='/a b'") == ["mv", "-n", "--target-directory=/a b"]
    for bad in ("", "   ", "echo 'unbalanced"):
        with pytest.raises(ConfigError):
            parse_hook(bad)
    src = tmp_path / "in"
    src.mkdir()
    dest = tmp_path / "rejected"
    moved = []
    for i in range(3):
        take = src / "take.mp4"
        take.write_text(str(i))
        (src / "take.mp4.qc.json").write_text(str(i))
        moved.append(move_aside(take, dest))
    assert [p.name for p in moved] == ["take.mp4", "take-1.mp4", "take-2.mp4"]
    assert [p.read_text() for p in moved] == ["0", "1", "2"]  # nothing overwritten
    assert (dest / "take-2.mp4.qc.json").read_text() == "2" and not any(src.iterdir())


def test_run_hook_never_uses_a_shell(tmp_path: Path, recorder):
    cmd, log = recorder
    nasty = tmp_path / "it's a \"take\"; touch pwned $(touch pwned2) `x` & | > y.mp4"
    nasty.write_text("x")
    assert run_hook(parse_hook(cmd), nasty, env={"QC_VERDICT": "pass"}) == 0
    assert _calls(log) == [{"argv": [str(nasty)], "verdict": "pass", "exists": True}]
    assert not list(tmp_path.glob("pwned*")) and not (tmp_path / "y.mp4").exists()
    assert run_hook(["/no/such/command"], nasty) is None  # logged, never raised
    assert run_hook([sys.executable, "-c", "raise SystemExit(4)"], nasty) == 4


def _slow_copy(src: Path, dest: Path, *, chunk: int = 3000, pause_s: float = 0.1) -> None:
    data = src.read_bytes()
    with open(dest, "wb") as fh:
        for i in range(0, len(data), chunk):
            fh.write(data[i:i + chunk])
            fh.flush()
            time.sleep(pause_s)


def test_a_take_written_slowly_is_gated_once_when_complete(tmp_path: Path, recorder):
    cmd, log = recorder
    root = tmp_path / "landing"
    root.mkdir()
    dest = root / "slow take.mp4"
    writer = threading.Thread(target=_slow_copy, args=(FLASH, dest))
    writer.start()
    try:
        summary = watch(root, Config(), on_fail=cmd, settle_s=1.0, poll_s=0.05,
                        idle_timeout_s=1.5)
    finally:
        writer.join()
    assert summary.gated == 1  # once, not once per chunk
    (taken,) = summary.takes
    assert taken.result.take.status == "ok" and taken.result.verdict == "fail"
    with Store(default_store_path(root)) as store:
        assert store.get("slow take.mp4").size == FLASH.stat().st_size
    assert _calls(log) == [{"argv": [str(dest)], "verdict": "fail", "exists": True}]


def test_partial_downloads_wait_for_their_final_name(tmp_path: Path):
    root = tmp_path / "landing"
    root.mkdir()
    part = root / "take.mp4.part"
    shutil.copy(CLEAN, part)
    (root / ".hidden.mp4").write_bytes(CLEAN.read_bytes())
    seen: list[str] = []

    def rename_later() -> None:
        time.sleep(0.4)
        part.rename(root / "take.mp4")

    t = threading.Thread(target=rename_later)
    t.start()
    summary = watch(root, Config(), settle_s=0.1, poll_s=0.05, max_takes=1,
                    on_take=lambda w: seen.append(w.result.take.path))
    t.join()
    assert summary.gated == 1 and seen == ["take.mp4"]


def test_hook_gets_a_hostile_file_name_as_one_argument(tmp_path: Path, recorder):
    cmd, log = recorder
    root = tmp_path / "renders"
    root.mkdir()
    name = "it's a \"take\"; touch pwned #.mp4"
    shutil.copy(CLEAN, root / name)
    summary = watch(root, Config(), on_pass=cmd, on_fail=cmd, settle_s=0, poll_s=0.05,
                    max_takes=1)
    assert summary.gated == 1
    (call,) = _calls(log)
    assert call["argv"] == [str(root / name)] and call["exists"]
    assert call["verdict"] == summary.takes[0].result.verdict
    assert not list(tmp_path.rglob("pwned"))


def test_watch_survives_a_corrupt_file_and_moves_failures_aside(tmp_path: Path, recorder):
    cmd, log = recorder
    root = tmp_path / "renders"
    root.mkdir()
    rejected = root / "rejected"  # inside the watched folder: never watched itself
    rejected.mkdir()
    (rejected / "a corrupt.mp4").write_text("an older reject with the same name")
    (root / "a corrupt.mp4").write_bytes(b"\x00\x00\x00\x18ftypisom" + bytes(range(256)) * 8)
    shutil.copy(CLEAN, root / "b clean.mp4")
    shutil.copy(FLASH, root / "c flash.mp4")
    lines: list[str] = []
    summary = watch(root, Config(), on_fail=cmd, move_failed=rejected, sidecar=True,
                    settle_s=0, poll_s=0.05, idle_timeout_s=0.5,
                    on_take=lambda w: lines.append(w.line()))
    assert (summary.gated, summary.passed, summary.failed, summary.unreadable) == (3, 1, 1, 1)
    assert [w.result.verdict for w in summary.takes] == ["error", "pass", "fail"]
    assert sorted(p.name for p in rejected.iterdir()) == [
        "a corrupt-1.mp4", "a corrupt-1.mp4.qc.json", "a corrupt.mp4", "c flash.mp4",
        "c flash.mp4.qc.json"]
    assert (rejected / "a corrupt.mp4").read_text() == "an older reject with the same name"
    assert (root / "b clean.mp4").exists() and (root / "b clean.mp4.qc.json").exists()
    # the fail hook ran for both, with the take where it is now
    calls = _calls(log)
    assert [c["argv"] for c in calls] == [[str(rejected / "a corrupt-1.mp4")],
                                         [str(rejected / "c flash.mp4")]]
    assert all(c["exists"] for c in calls) and [c["verdict"] for c in calls] == ["error", "fail"]
    assert len(lines) == 3 and lines[0].startswith("error") and "-> " in lines[0]


def test_new_only_leaves_existing_takes_and_a_changed_take_is_gated_again(tmp_path: Path):
    root = tmp_path / "renders"
    root.mkdir()
    shutil.copy(CLEAN, root / "old.mp4")
    stop = threading.Event()
    seen: list[str] = []

    def on_take(w):
        seen.append(f"{w.result.take.path}:{w.result.verdict}")
        if len(seen) == 1:
            shutil.copy(FLASH, root / "old.mp4")  # the same name, new content
        else:
            stop.set()

    def land() -> None:
        time.sleep(0.3)
        shutil.copy(CLEAN, root / "new.mp4")

    t = threading.Thread(target=land)
    t.start()
    watch(root, Config(), new_only=True, settle_s=0.1, poll_s=0.05, stop=stop, on_take=on_take,
          idle_timeout_s=10)
    t.join()
    assert seen == ["new.mp4:pass", "old.mp4:fail"]


def test_watch_command_line(tmp_path: Path, recorder, capsys):
    cmd, log = recorder
    root = tmp_path / "renders"
    root.mkdir()
    shutil.copy(FLASH, root / "flash.mp4")
    assert main(["watch", str(root), "--on-fail", cmd, "--settle", "0", "--poll", "0.05",
                 "--max-takes", "1"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 1 and out[0].startswith("fail") and out[0].endswith("flash.mp4")
    assert len(_calls(log)) == 1
    assert main(["watch", str(root), "--on-pass", "echo 'oops"]) == 2
    assert main(["watch", str(tmp_path / "missing")]) == 3
