"""Odd media for the hardening tests, generated with PyAV (no ffmpeg command needed).

Each function writes one file and returns its path; the docstring says what is odd
about it.  The scan's expected outcome is stated by the tests that use them.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from conftest import moving_square


def encode(
    path: Path,
    frames: np.ndarray,
    *,
    codec: str = "libx264",
    pix_fmt: str = "yuv420p",
    fps: int = 24,
    options: dict[str, str] | None = None,
    container_options: dict[str, str] | None = None,
    sar: tuple[int, int] | None = None,
) -> Path:
    """Encode ``frames`` (T, H, W, 3 or 4) with any codec and pixel format PyAV offers;
    ``sar`` stores a non-square sample (pixel) aspect ratio: a player shows the frames
    ``sar[0] / sar[1]`` times as wide as they are stored."""
    path = Path(path)
    with av.open(str(path), "w", options=container_options or {}) as out:
        stream = out.add_stream(codec, rate=fps, options=options or {})
        stream.width = frames.shape[2]
        stream.height = frames.shape[1]
        stream.pix_fmt = pix_fmt
        if sar is not None:
            stream.codec_context.sample_aspect_ratio = Fraction(*sar)
        fmt = "rgb24" if frames.shape[3] == 3 else "rgba"
        for arr in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(arr),
                                                                   format=fmt)):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def with_alpha(frames: np.ndarray) -> np.ndarray:
    """``frames`` with an alpha channel: half transparent, a transparent stripe."""
    alpha = np.full(frames.shape[:3] + (1,), 128, np.uint8)
    alpha[:, :, : frames.shape[2] // 4] = 0
    return np.concatenate([frames, alpha], axis=3)


def eight_k(path: Path, n: int = 3) -> Path:
    """``n`` frames of 7680x4320 (8K UHD): a bright band that moves right."""
    frames = np.full((n, 4320, 7680, 3), 40, np.uint8)
    for i in range(n):
        frames[i, 1500:2800, 1000 + 60 * i: 3000 + 60 * i] = 200
    return encode(path, frames, options={"preset": "ultrafast"})


def header_only(path: Path) -> Path:
    """An MP4 whose header (``moov``, written first with faststart) is complete and
    whose media data is gone: it opens, declares a video, and has no frame."""
    full = encode(path, moving_square(24), container_options={"movflags": "faststart"})
    data = full.read_bytes()
    at = 0
    while at + 8 <= len(data):
        size = int.from_bytes(data[at: at + 4], "big")
        if data[at + 4: at + 8] == b"mdat":
            path.write_bytes(data[: at + 8])
            return path
        at += size
    raise AssertionError("no mdat box")  # pragma: no cover


def mp4_boxes(data: bytes) -> list[tuple[bytes, int, int]]:
    """Top-level boxes of an MP4: ``(type, offset, size)``."""
    out, at = [], 0
    while at + 8 <= len(data):
        size = int.from_bytes(data[at: at + 4], "big")
        out.append((data[at + 4: at + 8], at, size))
        if size < 8:
            break
        at += size
    return out
