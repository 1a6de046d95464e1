"""qc bench speed's pieces on tiny inputs (the figures themselves are never asserted)."""

from __future__ import annotations

import io
from pathlib import Path

from qc.bench import SpeedResult, decode_only, kernel_timings, print_speed, write_long_take


def test_a_long_take_is_written_and_decoded_frame_by_frame(tmp_path: Path):
    """A 1-s 64x36 take of the ``clean`` kind, looped from 12 frames: 24 frames."""
    path = write_long_take(tmp_path / "t.mp4", "clean", seconds=1.0, width=64, height=36,
                           loop_frames=12)
    assert decode_only(str(path)) == 24
    assert not list(tmp_path.glob(".*"))  # no temporary file left behind


def test_kernels_are_timed_against_numpy():
    rows = kernel_timings(repeat=2)
    assert [r[0] for r in rows] == ["warp_residual_blocks", "flow_median", "rolling_median"]
    assert all(nb > 0 and npy > 0 for _, nb, npy in rows)


def test_the_figures_are_printed_with_their_goals():
    res = SpeedResult(takes=2, frames=480, video_s=20.0, size="1280x720", jobs=2,
                      decode_s={1: 1.0, 2: 0.6}, scan_s={1: 1.2, 2: 0.7},
                      shares={"decode": 0.5, "faces": 0.2, "motion": 0.2},
                      cold=(0.5, 3.0, 0.2), memory=(400.0, 1440, "60-s 1920x1080"),
                      kernels=[("k", 2.0, 1.0)])
    out = io.StringIO()
    print_speed(res, out)
    text = out.getvalue()
    assert "1.20" in text and "speedup 1 -> 2 jobs: 1.71x" in text
    assert "20.0x" in text  # 20 s of video in one second of decoding
    assert "other" in text and "10.0 %" in text
    assert "compiled in 3.00 s" in text and "peak RSS 400 MB" in text
    assert "slower than numpy: remove it" in text
