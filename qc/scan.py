"""One take: decode once -> every detector -> signals and events."""

from __future__ import annotations

import contextlib
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from qc.config import Config
from qc.decode import MediaInfo, VideoReader
from qc.detectors import ARTIFACTS, build_detectors
from qc.detectors.base import Event
from qc.detectors.physics import CUT_LABEL
from qc.errors import DecodeError
from qc.motion import Motion, shrink
from qc.prefetch import Prefetch

__all__ = ["TakeAnalysis", "analyse_take", "suppress_echoes", "timeout_reason"]

log = logging.getLogger("qc")

#: called as ``progress(frames_done)`` every few frames
ProgressFn = Callable[[int], None]


@dataclass
class TakeAnalysis:
    """Everything measured in one take.

    ``signals`` maps ``"<artifact>.<signal>"`` to a float32 series with one value per
    analysed frame, and ``"t_s"`` to the frame times.  ``status`` is ``"error"`` (with a
    one-line ``error``) when the take could not be decoded.
    """

    status: str
    error: str | None = None
    media: MediaInfo | None = None
    events: list[Event] = field(default_factory=list)
    signals: dict[str, np.ndarray] = field(default_factory=dict)
    timings_s: dict[str, float] = field(default_factory=dict)

    @property
    def times_s(self) -> np.ndarray:
        """The time of each analysed frame."""
        return self.signals.get("t_s", np.zeros(0, np.float32))


def timeout_reason(limit_s: float, frames: int | None = None) -> str:
    """The one-line reason of a take stopped by the time limit."""
    done = f" after {frames} frames" if frames else ""
    return (f"stopped: not finished within the time limit of {limit_s:g} s{done}"
            " (--take-timeout, scan.take_timeout_s)")


#: flicker events whose frame-wide change of light leaves a residual spike behind
_LIGHT_LABELS = ("flash", "brightness pumping", "colour flicker")
#: physics events that such a spike can raise
_SPIKE_LABELS = ("jump", "speed spike", "frame skip")
#: face events whose face vanishing, coming back or jumping leaves a residual spike behind
_FACE_LABELS = ("face dropout", "face jitter")
#: physics events that such a face raises: the spike, and the head, hair and neck around
#: the face's own blocks (left out of speed) darting with it
_MOVE_LABELS = ("jump", "speed spike")


def suppress_echoes(events: list[Event], *, frame_s: float, look_s: float = 0.0) -> list[Event]:
    """Drop the events that are echoes of another artifact's event.

    A hidden cut is reported once, as physics; flicker, morphing and face events that
    touch it (within a frame and a half) are its echoes.  A flash or a pump of the whole
    frame's light is reported once, as flicker; a physics jump, speed spike or frame
    skip that touches it is the residual spike the light change left behind.  A face
    that drops out or jitters is reported once, as faces; a physics jump or speed spike
    that touches it is the spike of the face vanishing, coming back or jumping, or the
    head around the face darting with it.  The faces detector looks for a face once in
    ``look_s``: a face found missing at one look vanished up to a look before and is
    back up to a look after, so the jump is looked for that much further out (and a
    frame and a half).
    """
    pad = frame_s * 1.5
    cuts = [e for e in events if e.artifact == "physics" and e.label == CUT_LABEL]
    light = [e for e in events if e.artifact == "flicker" and e.label in _LIGHT_LABELS]
    faces = [e for e in events if e.artifact == "faces" and e.label in _FACE_LABELS]
    if not cuts and not light and not faces:
        return events

    def touches(ev: Event, others: list[Event], reach: float = pad) -> bool:
        return any(ev.start_s <= o.end_s + reach and ev.end_s >= o.start_s - reach for o in others)

    keep = []
    for ev in events:
        if ev.artifact != "physics" and touches(ev, cuts):
            continue
        if ev.artifact == "physics" and ev.label in _SPIKE_LABELS and touches(ev, light):
            continue
        if ev.artifact == "physics" and ev.label in _MOVE_LABELS and touches(ev, faces, look_s + pad):
            continue
        keep.append(ev)
    return keep


def _frames(reader: VideoReader, depth: int) -> Any:
    """The reader's frames, decoded ``depth`` frames ahead in a thread (0: in turn)."""
    return Prefetch(reader, depth=depth) if depth else contextlib.nullcontext(iter(reader))


def analyse_take(
    path: Path | str, config: Config, *, progress: ProgressFn | None = None
) -> TakeAnalysis:
    """Decode one take once and run every enabled detector over its frames.

    Parameters
    ----------
    path : Path
        The video file.
    config : Config
        The resolved configuration.
    progress : callable, optional
        Called with the number of frames done, every 16 frames.

    Returns
    -------
    TakeAnalysis
        ``status="ok"`` with media, signals and events, or ``status="error"`` with a
        one-line reason when the take cannot be decoded.  Never raises
        :class:`~qc.errors.DecodeError`.
    """
    detectors = build_detectors(config)
    # "decode": waiting for the next frame (all of decoding when it is not prefetched);
    # "motion": the shared flow and residuals, whichever detector asked for them first
    timings = {"decode": 0.0, "motion": 0.0, **{d.name: 0.0 for d in detectors}}
    times: list[float] = []
    t_start = time.perf_counter()
    limit_s = config.scan.take_timeout_s
    deadline = time.monotonic() + limit_s if limit_s else math.inf
    try:
        with VideoReader(path, config.decode) as reader:
            depth = config.decode.prefetch
            reader.release_sources = depth == 0
            with _frames(reader, depth) as frames:
                prev_small = None
                t_mark = time.perf_counter()
                for frame in frames:
                    timings["decode"] += time.perf_counter() - t_mark
                    small = shrink(frame.gray)
                    motion = None
                    if prev_small is not None:
                        motion = Motion(prev_small, small, shrunk=True)
                        frame.motion = motion  # type: ignore[attr-defined]
                    prev_small = small
                    times.append(frame.t_s)
                    for det in detectors:
                        t0 = time.perf_counter()
                        m0 = motion.spent_s if motion is not None else 0.0
                        det.update(frame)
                        m1 = motion.spent_s if motion is not None else 0.0
                        timings["motion"] += m1 - m0
                        timings[det.name] += time.perf_counter() - t0 - (m1 - m0)
                    if depth:
                        frame.release()
                    if progress is not None and frame.idx % 16 == 15:
                        progress(frame.idx + 1)
                    if time.monotonic() > deadline:
                        return TakeAnalysis(status="error",
                                            error=timeout_reason(limit_s, frame.idx + 1))
                    t_mark = time.perf_counter()
            media = reader.info
    except DecodeError as exc:
        log.debug("%s: %s", path, exc)
        return TakeAnalysis(status="error", error=str(exc))
    except MemoryError:
        return TakeAnalysis(status="error", error="out of memory while decoding")
    assert media is not None
    times_s = np.asarray(times, dtype=np.float64)
    signals: dict[str, np.ndarray] = {"t_s": times_s.astype(np.float32)}
    events: list[Event] = []
    for det in detectors:
        t0 = time.perf_counter()
        result = det.finish(times_s)
        timings[det.name] += time.perf_counter() - t0
        for key, series in result.signals.items():
            signals[f"{det.name}.{key}"] = np.asarray(series, dtype=np.float32)
        # a detector can report what it measures as another artifact (the flicker
        # detector's boiling measure finds warping, a morphing event); an artifact whose
        # detector is off reports nothing
        events.extend(e for e in result.events if getattr(config, e.artifact).enabled)
    frame_s = 1.0 / media.fps if media.fps > 0 else 0.04
    events = suppress_echoes(events, frame_s=frame_s, look_s=config.faces.detect_every * frame_s)
    events.sort(key=lambda e: (e.start_s, ARTIFACTS.index(e.artifact)))
    timings["total"] = time.perf_counter() - t_start
    return TakeAnalysis(status="ok", media=media, events=events, signals=signals,
                        timings_s=timings)
