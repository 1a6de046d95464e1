"""Pictures for the dashboard: thumbnails, frames around events, face crops.

Each picture is extracted from the take once and kept as a JPEG in the store folder's
cache (``.qc/cache/``) under a name made of the take's content hash, what it is and the
time in milliseconds; later requests read the file.  A changed take has a new hash and
so new pictures; stale ones are harmless and can be deleted with the folder.

The store does not keep face boxes (the faces detector keeps only per-frame signals), so
face crops are found here with the same dlib HOG detector the scan uses, on the few
frames of a face event, and cached like the rest.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np

from qc.decode import Scaler, display_width, fit_size, read_error, rotate
from qc.errors import DecodeError
from qc.report import write_atomic

__all__ = [
    "THUMB_PX",
    "FRAME_PX",
    "FACE_PX",
    "grab_frames",
    "cached_jpeg",
    "thumbnail",
    "filmstrip",
    "face_crops",
    "largest_face_box",
]

log = logging.getLogger("qc")

THUMB_PX = 160
FRAME_PX = 240
FACE_PX = 112
_NO_FACE = b""  # an empty cache file: "looked, no face here"


def grab_frames(path: Path | str, times_s: Sequence[float], *, max_side: int = FRAME_PX) -> list[np.ndarray]:
    """The frames nearest to ``times_s`` (seconds from the first frame), upright RGB uint8.

    Times are those of the scan (``Event.start_s``, the ``t_s`` signal).  The take is
    decoded forward once, seeking only across gaps longer than two seconds.

    Parameters
    ----------
    path : Path
        The video file.
    times_s : sequence of float
        Wanted times; the result is in the same order.
    max_side : int
        Longer side of the returned frames, in pixels (never upscaled).

    Raises
    ------
    DecodeError
        The take cannot be opened or has no frame.
    """
    if not len(times_s):
        return []
    order = sorted(range(len(times_s)), key=lambda i: times_s[i])
    out: list[np.ndarray | None] = [None] * len(times_s)
    try:
        with av.open(str(path), mode="r", metadata_errors="ignore") as container:
            if not container.streams.video:
                raise DecodeError("no video stream")
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            t0: float | None = None
            size = (2, 2)
            rotation = 0
            prev: tuple[float, Any] | None = None
            last: tuple[float, Any] | None = None
            k = 0  # the next wanted time is times_s[order[k]]
            seeked_for = -1
            scale = Scaler()

            def to_rgb(src: Any) -> np.ndarray:
                return rotate(scale(src, size[0], size[1], "rgb24"), rotation)

            frames = iter(container.decode(stream))
            n = 0
            while k < len(order):
                src = next(frames, None)
                if src is None:
                    break
                t = src.time if src.time is not None else n / float(stream.average_rate or 25)
                n += 1
                if t0 is None:
                    t0 = float(t)
                    rotation = int(round(getattr(src, "rotation", 0) or 0))
                    size = fit_size(display_width(stream, src), src.height, max_side)
                rel = float(t) - t0
                while k < len(order) and rel >= times_s[order[k]] - 1e-6:
                    want = times_s[order[k]]
                    near = prev is not None and abs(prev[0] - want) < abs(rel - want)
                    out[order[k]] = to_rgb(prev[1] if near else src)  # type: ignore[index]
                    k += 1
                prev = last = (rel, src)
                # a long way to the next wanted time: seek (once per wanted time)
                if (k < len(order) and seeked_for != k and stream.time_base
                        and times_s[order[k]] - 1.0 > rel + 2.0):
                    seeked_for = k
                    container.seek(int((t0 + times_s[order[k]] - 1.0) / stream.time_base),
                                   stream=stream, backward=True)
                    frames = iter(container.decode(stream))
                    prev = None
            if t0 is None:
                raise DecodeError("no decodable video frames")
            for i in range(len(out)):  # times past the end: the last frame
                if out[i] is None and last is not None:
                    out[i] = to_rgb(last[1])
    except DecodeError:
        raise
    except Exception as exc:  # PyAV raises many kinds; all mean "cannot read"
        raise DecodeError(read_error(exc)) from exc
    return [o for o in out if o is not None]


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_")[:80] or "take"


def _name(take_id: str, kind: str, t_s: float, px: int) -> str:
    return f"{_slug(take_id)}_{kind}_{int(round(t_s * 1000))}ms_{px}.jpg"


def _jpeg(rgb: np.ndarray, quality: int = 85) -> bytes:
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR),
                           [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return buf.tobytes()


def cached_jpeg(
    cache_dir: Path, names: Sequence[str], make: Callable[[], Sequence[np.ndarray | None]]
) -> list[Path | None]:
    """The cached pictures ``names``, extracted by ``make()`` only if any is missing.

    ``make`` returns one image per name (None: nothing to show, remembered as an empty
    file).  Files are written atomically, so concurrent sessions never read half a file.
    """
    cache_dir = Path(cache_dir)
    paths = [cache_dir / n for n in names]
    if not all(p.is_file() for p in paths):
        images = make()
        for p, img in zip(paths, images):
            write_atomic(p, _NO_FACE if img is None else _jpeg(img))
    return [p if p.stat().st_size else None for p in paths]


def thumbnail(file: Path, cache_dir: Path, *, take_id: str, duration_s: float | None) -> Path | None:
    """The take's thumbnail (the frame at 40% of its length), cached."""
    t = round(0.4 * (duration_s or 0.0), 3)
    name = _name(take_id, "thumb", t, THUMB_PX)
    return cached_jpeg(cache_dir, [name], lambda: grab_frames(file, [t], max_side=THUMB_PX))[0]


def filmstrip(
    file: Path,
    cache_dir: Path,
    *,
    take_id: str,
    t_s: float,
    fps: float | None,
    duration_s: float | None,
    around: int = 2,
) -> list[tuple[float, Path | None]]:
    """The frames at ``t_s`` and ``around`` frames either side, cached: ``[(time, jpeg)]``."""
    step = 1.0 / fps if fps and fps > 0 else 1 / 24
    end = max(0.0, (duration_s or t_s + around * step) - step)
    times = sorted({round(min(end, max(0.0, t_s + k * step)), 4) for k in range(-around, around + 1)})
    names = [_name(take_id, "frame", t, FRAME_PX) for t in times]
    paths = cached_jpeg(cache_dir, names, lambda: grab_frames(file, times, max_side=FRAME_PX))
    return list(zip(times, paths))


def largest_face_box(rgb: np.ndarray) -> tuple[int, int, int, int] | None:
    """``(left, top, right, bottom)`` of the largest face dlib's HOG detector finds, or None.

    The detector is the scan's own (``qc.detectors.faces.face_models``), upsampling once
    for small frames.
    """
    from qc.detectors.faces import face_models

    detector = face_models()[0]
    img = np.ascontiguousarray(rgb)
    dets = list(detector(img, 1 if max(img.shape[:2]) < 400 else 0))
    if not dets:
        return None
    d = max(dets, key=lambda d: d.width() * d.height())
    return d.left(), d.top(), d.right(), d.bottom()


def _crop(rgb: np.ndarray, box: tuple[int, int, int, int], pad: float = 0.35) -> np.ndarray:
    h, w = rgb.shape[:2]
    left, top, right, bottom = box
    cx, cy = (left + right) / 2, (top + bottom) / 2
    half = max(right - left, bottom - top) * (0.5 + pad)
    x0, x1 = int(max(0, cx - half)), int(min(w, cx + half))
    y0, y1 = int(max(0, cy - half)), int(min(h, cy + half))
    crop = rgb[y0:y1, x0:x1]
    return cv2.resize(crop, (FACE_PX, FACE_PX), interpolation=cv2.INTER_AREA)


def face_crops(
    file: Path,
    cache_dir: Path,
    *,
    take_id: str,
    start_s: float,
    end_s: float,
    duration_s: float | None,
    n: int = 8,
    margin_s: float = 0.5,
    face_px: int = 640,
) -> list[tuple[float, Path | None]]:
    """The largest face at ``n`` times spread over an event and ``margin_s`` either side.

    Side by side, the crops show identity drift, melting or a dropout at a glance.
    ``None`` where no face was found (itself telling for a dropout).  Cached.
    """
    lo = max(0.0, start_s - margin_s)
    hi = end_s + margin_s
    if duration_s:
        hi = min(hi, max(lo, duration_s - 1e-3))
    times = [round(float(t), 4) for t in np.linspace(lo, hi, n)] if hi > lo else [round(lo, 4)]
    times = sorted(set(times))
    names = [_name(take_id, "face", t, FACE_PX) for t in times]

    def make() -> list[np.ndarray | None]:
        frames = grab_frames(file, times, max_side=face_px)
        out: list[np.ndarray | None] = []
        for rgb in frames:
            box = largest_face_box(rgb)
            out.append(None if box is None else _crop(rgb, box))
        return out

    return list(zip(times, cached_jpeg(cache_dir, names, make)))
