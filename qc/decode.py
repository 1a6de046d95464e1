"""One reader over PyAV: real timestamps, rotation, sampling and downscaling in the decoder.

Every take is decoded exactly once; the frames stream through all detectors.  Decoding
counts undecodable packets and gives up only after too many in a row, like
PySceneDetect's video stream does.
"""

from __future__ import annotations

import errno
import logging
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np
from av.video.reformatter import VideoReformatter

from qc.config import DecodeConfig
from qc.errors import DecodeError

__all__ = ["Frame", "MediaInfo", "Scaler", "VideoReader", "MIN_FRAMES", "display_width", "fit_size",
           "read_error", "rotate"]

log = logging.getLogger("qc")

#: a take needs at least this many frames to be analysed over time
MIN_FRAMES = 2
#: a take whose decoded duration falls short of the declared one by more than this is truncated
TRUNCATION_TOLERANCE = 0.15


class Scaler:
    """Scale and convert decoded frames, one libswscale context per output kind.

    ``VideoFrame.reformat`` builds a fresh context for every frame, with its own pool of
    threads: that costs more than decoding the frame, and freeing it again stalls the
    thread that drops the frame.  A Scaler keeps one context per (size, format) and runs
    it in the calling thread.  Not thread-safe: one Scaler per thread.
    """

    def __init__(self) -> None:
        self._contexts: dict[tuple[int, int, str], VideoReformatter] = {}

    def __call__(self, src: Any, width: int, height: int, fmt: str) -> np.ndarray:
        """``src`` (an ``av.VideoFrame``) at ``width`` x ``height`` in ``fmt``, as an array."""
        key = (width, height, fmt)
        ctx = self._contexts.get(key)
        if ctx is None:
            ctx = self._contexts[key] = VideoReformatter()
        return ctx.reformat(src, width=width, height=height, format=fmt, threads=1).to_ndarray()


@dataclass(frozen=True)
class MediaInfo:
    """Facts about a decoded take, as the report states them."""

    duration_s: float
    fps: float
    frames: int
    width: int
    height: int
    codec: str
    rotation: int = 0
    bad_packets: int = 0

    def to_dict(self) -> dict[str, Any]:
        """Return the report's ``media`` object."""
        return {
            "duration_s": round(self.duration_s, 4),
            "fps": round(self.fps, 4),
            "frames": self.frames,
            "width": self.width,
            "height": self.height,
            "codec": self.codec,
        }


class Frame:
    """One analysed frame: its index, time and pixels at the analysis size.

    Parameters
    ----------
    idx : int
        Index among the analysed frames of the take (0-based).
    t_s : float
        Presentation time in seconds from the first frame.
    rgb : ndarray of uint8, shape (H, W, 3)
        The frame at the analysis size, upright (rotation metadata applied). Read-only.
    source : av.VideoFrame, optional
        The decoded frame, kept only until the next frame, for a larger copy on demand.
    scaler : Scaler, optional
        Makes those copies; shared by the frames of one take, used by the thread that
        analyses them.
    """

    __slots__ = ("idx", "t_s", "rgb", "_source", "_rotation", "_face_size", "_scaler", "__dict__")

    def __init__(
        self,
        idx: int,
        t_s: float,
        rgb: np.ndarray,
        *,
        source: Any = None,
        rotation: int = 0,
        face_size: tuple[int, int] | None = None,
        scaler: Scaler | None = None,
    ) -> None:
        rgb.setflags(write=False)
        self.idx = idx
        self.t_s = t_s
        self.rgb = rgb
        self._source = source
        self._rotation = rotation
        self._face_size = face_size
        self._scaler = scaler

    @cached_property
    def gray(self) -> np.ndarray:
        """The frame as 8-bit luma, shape (H, W), read-only."""
        g = cv2.cvtColor(np.ascontiguousarray(self.rgb), cv2.COLOR_RGB2GRAY)
        g.setflags(write=False)
        return g

    @cached_property
    def luma_stats(self) -> tuple[float, float]:
        """The mean and standard deviation of :attr:`gray`, which several detectors read."""
        mean, std = cv2.meanStdDev(self.gray)
        return float(mean[0, 0]), float(std[0, 0])

    def face_rgb(self, max_side_px: int | None = None) -> np.ndarray:
        """Return the frame at the (larger) face-detection size, upright, RGB uint8.

        ``max_side_px`` asks for it smaller (never larger), straight from the decoded
        frame.  Falls back to the analysis-size frame when no decoded source is attached.
        """
        return self.rgb if self._source is None else self._face(max_side_px, "rgb24")

    def face_gray(self, max_side_px: int | None = None) -> np.ndarray:
        """Return the frame's luma at the face-detection size, upright, uint8 (H, W).

        As :meth:`face_rgb`, but only the luma plane is scaled: about a quarter of the
        cost, and all that face detection and landmarks need.  Falls back to
        :attr:`gray` when no decoded source is attached.
        """
        return self.gray if self._source is None else self._face(max_side_px, "gray")

    def _face(self, max_side_px: int | None, fmt: str) -> np.ndarray:
        """The decoded frame at the face size (at most ``max_side_px``), upright, in ``fmt``."""
        if self._face_size is None:
            return self.rgb if fmt == "rgb24" else self.gray
        w, h = self._face_size
        if max_side_px is not None and max(w, h) > max_side_px:
            w, h = fit_size(w, h, max_side_px)
        # rows may be padded: dlib wants a C-contiguous image
        return rotate(self._scale(w, h, fmt), self._rotation)

    def _scale(self, width: int, height: int, fmt: str) -> np.ndarray:
        if self._scaler is None:
            self._scaler = Scaler()
        return self._scaler(self._source, width, height, fmt)

    def release(self) -> None:
        """Drop the reference to the decoded frame (called when the next one arrives)."""
        self._source = None


def rotate(img: np.ndarray, rotation: int) -> np.ndarray:
    """``img`` turned upright for a stream's display rotation (degrees, multiples of 90),
    as a contiguous array."""
    k = (rotation // 90) % 4
    return np.ascontiguousarray(np.rot90(img, k=k) if k else img)


def display_width(stream: Any, src: Any) -> int:
    """The width a frame is shown at: its stored width times the stream's sample (pixel)
    aspect ratio, so that anamorphic video is analysed and shown undistorted."""
    sar = stream.sample_aspect_ratio
    return int(round(src.width * (float(sar) if sar else 1.0)))


def fit_size(width: int, height: int, max_side: int) -> tuple[int, int]:
    """Scale (width, height) so the longer side is at most ``max_side``; keep it even."""
    scale = min(1.0, max_side / max(width, height))
    w = max(2, int(round(width * scale / 2)) * 2)
    h = max(2, int(round(height * scale / 2)) * 2)
    return w, h


def read_error(exc: BaseException) -> str:
    """A one-line, human reason for an error raised while opening or decoding."""
    if isinstance(exc, PermissionError):
        return "cannot read the file: permission denied"
    if isinstance(exc, FileNotFoundError):
        if exc.filename and os.path.islink(exc.filename):
            return "a broken symbolic link: its target does not exist"
        return "the file disappeared before it could be read"
    if isinstance(exc, OSError) and exc.errno == errno.ELOOP:
        return "a symbolic link loop: the link never reaches a file"
    if isinstance(exc, IsADirectoryError):
        return "not a regular file"
    if isinstance(exc, av.error.InvalidDataError):
        return "not a video file, or corrupt: FFmpeg found no valid data"
    if isinstance(exc, av.error.FFmpegError):
        msg = getattr(exc, "strerror", None) or str(exc)
        return f"cannot decode: {msg}"
    if isinstance(exc, OSError):
        return f"cannot read the file: {exc.strerror or exc}"
    return f"cannot decode: {exc}"


class VideoReader:
    """Decode a take once, yielding upright, downscaled :class:`Frame` objects.

    Use as a context manager; iterate for frames; after iteration :attr:`info` holds the
    media facts of what was decoded.

    Parameters
    ----------
    path : Path
        The video file.
    config : DecodeConfig
        Analysis size, sampling and failure budget.

    Raises
    ------
    DecodeError
        On opening: empty file, not a video, no video stream, unreadable.  While iterating:
        too many bad packets, too few frames, a truncated take.
    """

    def __init__(self, path: Path | str, config: DecodeConfig | None = None) -> None:
        self.path = Path(path)
        self.config = config or DecodeConfig()
        self._container: Any = None
        self._started = False
        #: release each frame's decoded source when the next frame is decoded; a reader
        #: that decodes ahead of the analysis turns this off and calls Frame.release()
        self.release_sources = True
        self.info: MediaInfo | None = None
        try:
            size = os.stat(self.path).st_size
        except OSError as exc:
            raise DecodeError(read_error(exc)) from exc
        if size == 0:
            raise DecodeError("empty file (0 bytes)")
        try:
            self._container = av.open(str(self.path), mode="r", metadata_errors="ignore")
        except Exception as exc:  # PyAV raises many kinds; all mean "cannot open"
            raise DecodeError(read_error(exc)) from exc
        if not self._container.streams.video:
            has_audio = bool(self._container.streams.audio)
            self.close()
            raise DecodeError(
                "no video stream (audio only)" if has_audio else "no video stream"
            )
        self._stream = self._container.streams.video[0]
        cc = self._stream.codec_context
        try:
            if cc is None:  # FFmpeg knows no decoder for it (an unknown or mangled codec id)
                raise DecodeError("no decoder for its video stream (unknown codec)")
            self._check_pixels(cc.width or 0, cc.height or 0)
        except DecodeError:
            self.close()
            raise
        if self.config.threads:
            cc.thread_count = self.config.threads
        self._stream.thread_type = "AUTO"
        self.codec = cc.name or "unknown"

    # -- context manager -------------------------------------------------------------
    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the container (safe to call twice)."""
        if self._container is not None:
            try:
                self._container.close()
            finally:
                self._container = None

    def _check_pixels(self, width: int, height: int) -> None:
        """Refuse frames above ``max_pixels`` before the decoder allocates them."""
        limit = self.config.max_pixels
        if limit and width * height > limit:
            raise DecodeError(
                f"frames of {width}x{height} are larger than the limit of {limit} pixels"
                " (decode.max_pixels)"
            )

    # -- decoding --------------------------------------------------------------------
    def _declared_duration_s(self) -> float | None:
        s = self._stream
        if s.duration is not None and s.time_base is not None and s.duration > 0:
            return float(s.duration * s.time_base)
        if self._container.duration and self._container.duration > 0:
            return self._container.duration / 1_000_000
        return None

    def _packets(self) -> Iterator[Any]:
        """Decoded av frames, counting and skipping undecodable packets."""
        cfg = self.config
        bad_in_a_row = 0
        self.bad_packets = 0
        demux = self._container.demux(self._stream)
        while True:
            try:
                packet = next(demux)
            except StopIteration:
                return
            except (av.error.FFmpegError, OSError) as exc:
                # a demuxer error ends the stream: what was decoded stands
                log.debug("%s: demuxing stopped: %s", self.path, exc)
                self.demux_error = read_error(exc)
                return
            try:
                frames = packet.decode()
            except (av.error.FFmpegError, ValueError) as exc:
                bad_in_a_row += 1
                self.bad_packets += 1
                if bad_in_a_row >= cfg.max_bad_packets:
                    raise DecodeError(
                        f"corrupt: {bad_in_a_row} undecodable packets in a row"
                    ) from exc
                continue
            if frames:
                bad_in_a_row = 0
            yield from frames

    def __iter__(self) -> Iterator[Frame]:
        if self._container is None:
            raise DecodeError("the take is closed")
        if self._started:
            raise ValueError("a VideoReader can be iterated only once")
        self._started = True
        cfg = self.config
        self.demux_error: str | None = None
        size: tuple[int, int] | None = None
        face_size: tuple[int, int] | None = None
        rotation = 0
        t0: float | None = None
        last_kept = -math.inf
        min_dt = 1.0 / cfg.max_fps if cfg.max_fps > 0 else 0.0
        n = 0
        first_t = last_t = 0.0
        prev: Frame | None = None
        width = height = 0
        # the analysis-size frames are made here, where the frames are decoded (perhaps in
        # a prefetch thread); the larger copies for faces where the frames are analysed
        scale, face_scaler = Scaler(), Scaler()
        try:
            for src in self._packets():
                self._check_pixels(src.width, src.height)  # the size can change mid-take
                if size is None:
                    rotation = int(round(getattr(src, "rotation", 0) or 0))
                    width, height = display_width(self._stream, src), src.height
                    size = fit_size(width, height, cfg.analysis_size_px)
                    face_size = fit_size(width, height, cfg.face_size_px)
                t = src.time
                if t is None:
                    rate = self._stream.average_rate or self._stream.guessed_rate or 25
                    t = n / float(rate)
                if t0 is None:
                    t0 = t
                t_s = float(t - t0)
                if t_s < last_kept + min_dt - 1e-6 or t_s < last_kept:
                    continue  # sampling, or a timestamp that runs backwards
                if cfg.max_duration_s and t_s > cfg.max_duration_s:
                    break
                if cfg.max_frames and n >= cfg.max_frames:
                    raise DecodeError(
                        f"too long: more than {cfg.max_frames} frames (decode.max_frames;"
                        " raise it, or sample with decode.max_fps)"
                    )
                last_kept = t_s
                rgb = scale(src, size[0], size[1], "rgb24")
                frame = Frame(
                    n, t_s, rotate(rgb, rotation),
                    source=src, rotation=rotation, face_size=face_size, scaler=face_scaler,
                )
                if prev is not None and self.release_sources:
                    prev.release()
                prev = frame
                if n == 0:
                    first_t = t_s
                last_t = t_s
                n += 1
                yield frame
        except (av.error.FFmpegError, OSError, ValueError, MemoryError) as exc:
            raise DecodeError(read_error(exc)) from exc
        finally:
            if prev is not None and self.release_sources:
                prev.release()
        if n == 0:
            declared = self._declared_duration_s()
            raise DecodeError(self.demux_error or "no decodable video frames" + (
                f": truncated or corrupt (it declares {declared:.2f} s)" if declared else ""))
        if self.bad_packets > max(2, n // 100):
            raise DecodeError(
                f"corrupt: {self.bad_packets} undecodable packets ({n} frames decoded)"
            )
        if n < MIN_FRAMES:
            raise DecodeError(f"only {n} frame: too short to analyse motion over time")
        span = last_t - first_t
        fps = (n - 1) / span if span > 0 else float(self._stream.average_rate or 0)
        duration = span + (1.0 / fps if fps > 0 else 0.0)
        declared = self._declared_duration_s()
        if (
            not cfg.max_duration_s
            and not min_dt
            and declared
            and duration < declared * (1 - TRUNCATION_TOLERANCE)
            and declared - duration > 0.25
        ):
            raise DecodeError(
                f"truncated or corrupt: only {duration:.2f} s of {declared:.2f} s decoded"
            )
        if rotation % 180:
            width, height = height, width
        self.info = MediaInfo(
            duration_s=duration, fps=fps, frames=n, width=width, height=height,
            codec=self.codec, rotation=rotation, bad_packets=self.bad_packets,
        )
