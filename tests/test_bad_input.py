"""Bad and odd input: every file gives a clear per-take error or a correct scan.

The inputs are generated here (PyAV, bytes, the file system); one scan takes them all,
in supervised worker processes, and the test prints a table of input -> outcome
(``pytest -s`` or ``-rA`` shows it).  Nothing may crash or hang the scan, no take may
end in an "internal error", every reason is one line, and the report validates.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import jsonschema
import numpy as np
import pytest

from conftest import moving_square, stored_report, write_audio_only, write_video
from odd_media import eight_k, encode, header_only, with_alpha
from qc.batch import ScanProgress, scan_folder
from qc.config import Config
from qc.dashboard import resolve_inside
from qc.report import report_schema
from qc.store import Store, default_store_path

SHARED_SCHEMA = Path(__file__).resolve().parents[2] / "shared" / "report.schema.json"
NOT_UTF8 = b"take_\xff\xfe not utf8.mp4"


def _schema() -> dict:
    return json.loads(SHARED_SCHEMA.read_text()) if SHARED_SCHEMA.is_file() else report_schema()


def _report(root: Path, config: Config | None = None) -> dict:
    report = stored_report(root, config)
    jsonschema.validate(report, _schema())  # and the shared schema itself, where present
    return report


def _table(title: str, rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    print(f"\n{title}")
    for r in rows:
        print("  " + "  ".join(c.ljust(w) for c, w in zip(r, widths)) + "  " + r[-1])


def _odd_folder(root: Path) -> dict[str, tuple[str, str]]:
    """Write every odd input under ``root``; return ``path -> (expected, words)``.

    ``expected`` is ``ok``, ``error`` (``words`` must be in the reason) or ``either``.
    """
    root.mkdir()
    base = moving_square(48, width=160, height=96)
    good = write_video(root / "good.mp4", base)
    data = good.read_bytes()
    mkv = encode(root / "good.mkv", base, codec="libx264")
    mkv_data = mkv.read_bytes()
    rng = np.random.default_rng(7)
    expect: dict[str, tuple[str, str]] = {"good.mp4": ("ok", ""), "good.mkv": ("ok", "")}

    (root / "zero.mp4").write_bytes(b"")
    expect["zero.mp4"] = ("error", "empty file")
    (root / "random.mp4").write_bytes(rng.bytes(64 * 1024))
    expect["random.mp4"] = ("error", "not a video")
    (root / "text.mov").write_text("this is a text file, not a video\n" * 40)
    expect["text.mov"] = ("error", "not a video")
    for keep in (0.05, 0.3, 0.6, 0.9, 0.99):
        name = f"truncated_{int(keep * 100):02d}pct.mp4"  # the index (moov) is at the end
        (root / name).write_bytes(data[: int(len(data) * keep)])
        # the last 1% is the end of the index: every frame may still be there
        expect[name] = ("error", "") if keep < 0.99 else ("either", "48 frames")
    for keep in (0.3, 0.7):
        name = f"truncated_{int(keep * 100):02d}pct.mkv"  # header first: frames decode
        (root / name).write_bytes(mkv_data[: int(len(mkv_data) * keep)])
        expect[name] = ("error", "truncated")
    for i, frac in enumerate((0.3, 0.5, 0.8)):
        bad = bytearray(data)
        at = int(len(bad) * frac)
        bad[at: at + 512] = rng.bytes(512)
        name = f"corrupt_middle_{i}.mp4"
        (root / name).write_bytes(bytes(bad))
        expect[name] = ("either", "")
    (root / "unknown_codec.mkv").write_bytes(  # the codec id mangled: no decoder for it
        mkv_data.replace(b"V_MPEG4/ISO/AVC", b"V_QCXX/ISO/AVC0"))
    expect["unknown_codec.mkv"] = ("error", "unknown codec")
    header_only(root / "header_only.mp4")
    expect["header_only.mp4"] = ("error", "no decodable video frames: truncated")
    write_audio_only(root / "audio_only.m4v")
    expect["audio_only.m4v"] = ("error", "audio only")
    write_video(root / "one_frame.mp4", moving_square(1))
    expect["one_frame.mp4"] = ("error", "only 1 frame")
    write_video(root / "one_frame.gif", moving_square(1), codec="gif", fps=10)
    expect["one_frame.gif"] = ("error", "only 1 frame")
    eight_k(root / "8k.mp4")
    expect["8k.mp4"] = ("ok", "7680x4320")
    encode(root / "10bit.mp4", moving_square(24), pix_fmt="yuv420p10le")
    expect["10bit.mp4"] = ("ok", "")
    encode(root / "yuv444.mp4", moving_square(24), pix_fmt="yuv444p")
    expect["yuv444.mp4"] = ("ok", "")
    encode(root / "alpha_qtrle.mov", with_alpha(moving_square(24)), codec="qtrle", pix_fmt="argb")
    expect["alpha_qtrle.mov"] = ("ok", "")
    encode(root / "alpha_png.mov", with_alpha(moving_square(24)), codec="png", pix_fmt="rgba")
    expect["alpha_png.mov"] = ("ok", "")
    encode(root / "odd_97x55.mp4", moving_square(24, width=97, height=55), pix_fmt="yuv444p")
    expect["odd_97x55.mp4"] = ("ok", "97x55")
    encode(root / "odd_97x55.mkv", moving_square(24, width=97, height=55), codec="ffv1")
    expect["odd_97x55.mkv"] = ("ok", "97x55")
    tile = moving_square(1, width=32, height=32)[0]
    pan = np.stack([np.roll(tile, i, axis=1) for i in range(3000)])  # a steady pan
    encode(root / "long_lowres.mp4", pan, options={"preset": "ultrafast"})
    expect["long_lowres.mp4"] = ("ok", "3000 frames")
    pts = [0, 1, 2, 6, 7, 8, 9, 10, 14, 15, 16, 17]
    write_video(root / "vfr.mp4", moving_square(len(pts)), pts=pts, time_base=Fraction(1, 24))
    expect["vfr.mp4"] = ("ok", "")
    write_video(root / "rotated.mp4", moving_square(24), rotation=90)
    expect["rotated.mp4"] = ("ok", "72x128")
    os.rename(write_video(root / "tmp_name.mp4", base),
              os.path.join(os.fsencode(root), NOT_UTF8))
    expect[NOT_UTF8.decode("utf-8", "backslashreplace")] = ("ok", "")
    os.symlink("loop_b.mp4", root / "loop_a.mp4")
    os.symlink("loop_a.mp4", root / "loop_b.mp4")
    expect["loop_a.mp4"] = ("error", "symbolic link loop")
    expect["loop_b.mp4"] = ("error", "symbolic link loop")
    os.symlink("nowhere.mp4", root / "dangling.mp4")
    expect["dangling.mp4"] = ("error", "broken symbolic link")
    (root / "sub").mkdir()
    shutil.copy(good, root / "sub" / "inside.mp4")
    expect["sub/inside.mp4"] = ("ok", "")
    os.symlink("..", root / "sub" / "up")  # a folder loop: never followed, never a hang
    os.mkfifo(root / "fifo.mp4")  # opening it would block for ever
    expect["fifo.mp4"] = ("error", "not a regular file")
    return expect


def _outcome(take: dict) -> str:
    if take["status"] == "error":
        return take["error"]
    m = take["media"]
    return f"{m['width']}x{m['height']} {m['frames']} frames {m['codec']} score {take['score']}"


def test_odd_inputs_each_give_a_clear_error_or_a_correct_scan(tmp_path: Path):
    root = tmp_path / "odd"
    expect = _odd_folder(root)
    cfg = Config.from_dict({"scan": {"jobs": 2, "take_timeout_s": 120}})
    t0 = time.monotonic()
    summary = scan_folder(root, cfg)
    took = time.monotonic() - t0
    report = _report(root, cfg)
    by_path = {t["path"]: t for t in report["takes"]}
    rows = [("INPUT", "EXPECTED", "GOT", "REASON OR MEDIA")]
    for path in sorted(expect):
        t = by_path.get(path)
        rows.append((path, expect[path][0], t["status"] if t else "MISSING",
                     _outcome(t) if t else ""))
    _table(f"{len(expect)} odd inputs scanned in {took:.1f} s ({summary.errors} errors):", rows)

    assert set(by_path) == set(expect), "every input is one take, the folder loop none"
    for path, (want, words) in expect.items():
        t = by_path[path]
        assert "internal error" not in (t["error"] or ""), (path, t["error"])
        if t["status"] == "error":
            assert t["error"] and "\n" not in t["error"] and t["verdict"] == "error", path
        if want == "either":
            assert t["status"] == "error" or words in _outcome(t), (path, _outcome(t))
            continue
        assert t["status"] == want, (path, t["error"])
        assert words in _outcome(t), (path, _outcome(t))
    # the name that is not UTF-8 is stored escaped and still reaches its file
    escaped = NOT_UTF8.decode("utf-8", "backslashreplace")
    assert resolve_inside(root, escaped).name.encode("utf-8", "surrogateescape") == NOT_UTF8
    # a second scan changes nothing and rescans nothing readable
    with Store(default_store_path(root), readonly=True) as store:
        unhashable = sum(t.hash is None for t in store.takes())  # links, the fifo: no content
    again = scan_folder(root, cfg)
    assert again.scanned == unhashable == 4
    assert _report(root, cfg)["takes"] == report["takes"]


def test_pixel_and_frame_limits_refuse_a_take_with_a_clear_reason(tmp_path: Path):
    root = tmp_path / "limits"
    root.mkdir()
    write_video(root / "wide.mp4", moving_square(24, width=320, height=180))
    write_video(root / "long.mp4", moving_square(60, width=64, height=36))
    cfg = Config.from_dict({"decode": {"max_pixels": 320 * 180 - 1, "max_frames": 50},
                            "scan": {"jobs": 1}})
    scan_folder(root, cfg)
    by_path = {t["path"]: t for t in _report(root, cfg)["takes"]}
    _table("limits (max_pixels 57599, max_frames 50):",
           [("INPUT", "REASON"), *[(p, t["error"] or "ok") for p, t in sorted(by_path.items())]])
    assert "320x180 are larger than the limit" in by_path["wide.mp4"]["error"]
    assert "more than 50 frames" in by_path["long.mp4"]["error"]


def test_a_file_still_being_written_is_not_stored_as_scanned(tmp_path: Path):
    """The file grows between hashing and decoding: the take is an error now, and the
    next scan, once the file is complete, scans it."""
    root = tmp_path / "landing"
    root.mkdir()
    full = encode(tmp_path / "full.mkv", moving_square(48), codec="libx264").read_bytes()
    take = root / "landing.mkv"
    take.write_bytes(full[: len(full) // 2])

    class FinishWriting(ScanProgress):
        def start(self, total: int, to_scan: int) -> None:  # after hashing, before decoding
            with open(take, "ab") as fh:
                fh.write(full[len(full) // 2:])

    cfg = Config.from_dict({"scan": {"jobs": 1}})
    scan_folder(root, cfg, progress=FinishWriting())
    first = _report(root, cfg)["takes"][0]
    scan_folder(root, cfg)
    second = _report(root, cfg)["takes"][0]
    _table("a take written during the scan:", [("SCAN", "STATUS", "REASON"),
                                               ("during", first["status"], first["error"] or ""),
                                               ("after", second["status"], second["error"] or "")])
    assert first["status"] == "error" and "still being written" in first["error"]
    assert second["status"] == "ok" and second["media"]["frames"] == 48


def _drop_root_file_powers() -> None:
    """In a child about to exec: drop CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH from the
    bounding set, so that root obeys file permissions like any user (Linux)."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (1, 2):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
        if libc.prctl(24, cap, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) failed")


def test_an_unreadable_file_is_an_error_take(tmp_path: Path):
    """A file the scanning user may not read (mode 000).  Root reads everything, so as
    root the scan runs in a subprocess without root's file powers: the check is real."""
    root = tmp_path / "takes"
    root.mkdir()
    write_video(root / "readable.mp4", moving_square(24))
    write_video(root / "locked.mp4", moving_square(24, seed=3)).chmod(0)
    out = tmp_path / "report.json"
    if os.geteuid() == 0:
        try:
            proc = subprocess.run(
                [sys.executable, "-m", "qc", "scan", str(root), "--json", str(out), "-j", "1",
                 "-q"], preexec_fn=_drop_root_file_powers, capture_output=True, text=True,
                timeout=300)
        except subprocess.SubprocessError as exc:  # pragma: no cover - no CAP_SETPCAP
            pytest.skip(f"cannot drop root's file powers here: {exc}")
        assert proc.returncode == 0, proc.stderr
        report = json.loads(out.read_text())
    else:
        scan_folder(root, Config.from_dict({"scan": {"jobs": 1}}))
        report = _report(root)
    by_path = {t["path"]: t for t in report["takes"]}
    _table("permissions:", [("INPUT", "STATUS", "REASON"),
                            *[(p, t["status"], t["error"] or "") for p, t in by_path.items()]])
    assert by_path["readable.mp4"]["status"] == "ok"
    assert by_path["locked.mp4"]["status"] == "error"
    assert "permission denied" in by_path["locked.mp4"]["error"]
