"""Fuzzing the decoding boundary with mutated bytes of valid takes (hypothesis).

Two levels, both bounded for CI and deterministic (``derandomize``):

- the reader (``VideoReader``), in this process: 150 mutated takes; each must decode
  or raise a one-line ``DecodeError`` (never another exception), within seconds, and
  the process's peak memory must stay bounded;
- the whole scan (decode, the four detectors, the store, the report): 40 mutated takes
  in supervised workers; none may crash its worker, overrun the time limit or end in an
  internal error, and the report must validate.

Both print what they tried: the outcomes by kind, the slowest case, the memory.
"""

from __future__ import annotations

import collections
import faulthandler
import os
import random
import tempfile
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import moving_square, stored_report, write_video
from odd_media import encode
from qc.batch import scan_folder
from qc.config import Config, DecodeConfig
from qc.decode import VideoReader
from qc.errors import DecodeError
from qc.workers import rss_mb

READER_CASES = 200
SCAN_CASES = 40
#: a case slower than this is a hang (they take milliseconds)
CASE_LIMIT_S = 20.0


@pytest.fixture(scope="module")
def seeds(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, bytes]]:
    """Valid small takes to mutate: H.264 in MP4 (index at the end) and MKV, GIF, VP9 in
    WebM, MPEG-4 in MOV, MJPEG in AVI."""
    d = tmp_path_factory.mktemp("seeds")
    frames = moving_square(16, width=96, height=54)
    files = [
        write_video(d / "seed.mp4", frames),
        encode(d / "seed.mkv", frames),
        write_video(d / "seed.gif", frames[:8], codec="gif", fps=10),
        encode(d / "seed.webm", frames, codec="libvpx-vp9", options={"deadline": "realtime",
                                                                      "cpu-used": "8"}),
        encode(d / "seed.mov", frames, codec="mpeg4"),
        encode(d / "seed.avi", frames, codec="mjpeg", pix_fmt="yuvj420p"),
    ]
    return [(f.suffix, f.read_bytes()) for f in files]


#: values that break sizes, counts and dimensions when they land on one
SPECIAL = [b"\x00\x00\x00\x00", b"\xff\xff\xff\xff", b"\x7f\xff\xff\xff", b"\x80\x00\x00\x00",
           b"\x00\x00\x00\x01", b"\x00\x01\x00\x00"]


def mutate(data: bytes, ops: list[tuple[int, float, int, int]]) -> bytes:
    """Apply ``ops``: ``(kind, where 0-1, length, value)`` each, in order."""
    buf = bytearray(data)
    for kind, where, length, value in ops:
        if not buf:
            break
        at = min(len(buf) - 1, int(where * len(buf)))
        rnd = random.Random(value)
        if kind == 0:  # flip one byte
            buf[at] ^= 1 + value % 255
        elif kind == 1:  # overwrite a run with noise
            buf[at: at + length] = rnd.randbytes(min(length, len(buf) - at))
        elif kind == 2:  # a special 32-bit value (a size, a count, a dimension)
            buf[at: at + 4] = SPECIAL[value % len(SPECIAL)]
        elif kind == 3:  # truncate
            del buf[max(1, at):]
        elif kind == 4:  # delete a run
            del buf[at: at + length]
        elif kind == 5:  # duplicate a run
            buf[at:at] = buf[at: at + length]
        else:  # insert noise
            buf[at:at] = rnd.randbytes(length)
    return bytes(buf)


OPS = st.lists(st.tuples(st.integers(0, 6), st.floats(0, 1), st.integers(1, 512),
                         st.integers(0, 2**31)), min_size=1, max_size=6)


def _kind(exc: DecodeError | None) -> str:
    if exc is None:
        return "decoded"
    text = str(exc)
    for cut in (":", "("):
        text = text.split(cut)[0]
    return "DecodeError: " + text.strip()


def test_the_reader_survives_mutated_takes(seeds):
    outcomes: collections.Counter[str] = collections.Counter()
    slowest = (0.0, "")
    work = Path(tempfile.mkdtemp(prefix="qc-fuzz-"))
    rss_before = rss_mb(os.getpid()) or 0.0
    rss_max = rss_before
    config = DecodeConfig(max_frames=2000)

    @settings(max_examples=READER_CASES, derandomize=True, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(seed=st.integers(0, len(seeds) - 1), ops=OPS)
    def one_case(seed: int, ops: list) -> None:
        nonlocal slowest, rss_max
        suffix, data = seeds[seed]
        path = work / f"case{suffix}"
        path.write_bytes(mutate(data, ops))
        t0 = time.monotonic()
        error: DecodeError | None = None
        try:
            with VideoReader(path, config) as reader:
                for frame in reader:
                    assert frame.rgb.ndim == 3 and frame.rgb.shape[2] == 3
                assert reader.info is not None and reader.info.frames >= 2
        except DecodeError as exc:
            error = exc
            assert str(exc) and "\n" not in str(exc)
        took = time.monotonic() - t0
        rss_max = max(rss_max, rss_mb(os.getpid()) or 0.0)
        if took > slowest[0]:
            slowest = (took, f"{suffix} {ops}")
        assert took < CASE_LIMIT_S, f"{suffix} {ops}: {took:.1f} s"
        outcomes[_kind(error)] += 1

    # a hang in native code never returns to Python: dump the stacks and fail instead
    faulthandler.dump_traceback_later(READER_CASES * CASE_LIMIT_S, exit=True)
    try:
        one_case()
    finally:
        faulthandler.cancel_dump_traceback_later()
    rss_growth = rss_max - rss_before
    print(f"\nreader fuzz: {sum(outcomes.values())} mutated takes"
          f" (seeds {', '.join(s for s, _ in seeds)}); slowest {slowest[0]:.2f} s;"
          f" resident memory {rss_before:.0f} MB before, at most {rss_max:.0f} MB after a case")
    for kind, n in outcomes.most_common():
        print(f"  {n:4}  {kind}")
    assert sum(outcomes.values()) >= READER_CASES
    assert rss_growth < 512, f"memory grew by {rss_growth:.0f} MB over the cases"


def test_the_scan_survives_mutated_takes(seeds, tmp_path: Path):
    root = tmp_path / "fuzzed"
    root.mkdir()
    rng = random.Random(1124)
    for i in range(SCAN_CASES):
        suffix, data = seeds[i % len(seeds)]
        ops = [(rng.randrange(7), rng.random(), rng.randint(1, 256), rng.randrange(2**31))
               for _ in range(rng.randint(1, 3))]
        (root / f"case{i:02d}{suffix}").write_bytes(mutate(data, ops))
    cfg = Config.from_dict({"scan": {"jobs": 2, "take_timeout_s": 60, "take_memory_mb": 2048}})
    t0 = time.monotonic()
    summary = scan_folder(root, cfg)
    took = time.monotonic() - t0
    report = stored_report(root, cfg)
    kinds = collections.Counter(
        "scanned" if t["status"] == "ok" else "error: " + t["error"].split(":")[0]
        for t in report["takes"])
    print(f"\nscan fuzz: {summary.found} mutated takes in {took:.1f} s")
    for kind, n in kinds.most_common():
        print(f"  {n:4}  {kind}")
    assert summary.found == SCAN_CASES
    for t in report["takes"]:
        reason = t["error"] or ""
        assert not reason.startswith(("internal error", "the scanning process", "stopped")), \
            (t["path"], reason)
        assert "\n" not in reason
