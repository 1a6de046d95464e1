"""Physics: teleports, impossible speed, frame skips, hidden cuts and frozen stretches."""

from __future__ import annotations

from typing import ClassVar

import cv2
import numpy as np

from qc.config import PhysicsConfig
from qc.decode import Frame
from qc.detectors.base import Detector, DetectorResult, Event, SignalBuffer
from qc.signals import events_from_score, fps_of, rolling_median, runs, severity_from_ratio

__all__ = ["PhysicsDetector", "CUT_LABEL"]

CUT_KEY = "cut"
JUMP_KEY = "jump"
SPEED_KEY = "speed"
STILL_KEY = "still"
CUT_LABEL = "hidden cut"


def _histogram(rgb: np.ndarray) -> np.ndarray:
    small = cv2.resize(np.ascontiguousarray(rgb), (64, 36), interpolation=cv2.INTER_AREA)
    hsv = cv2.cvtColor(small, cv2.COLOR_RGB2HSV)
    h = cv2.calcHist([hsv], [0, 1, 2], None, [12, 4, 4], [0, 180, 0, 256, 0, 256])
    return cv2.normalize(h, None, norm_type=cv2.NORM_L1).flatten()


def _hist_distance(a: np.ndarray, b: np.ndarray) -> float:
    return float(cv2.compareHist(a, b, cv2.HISTCMP_BHATTACHARYYA))


class PhysicsDetector(Detector):
    """Finds discontinuities of motion and content inside one take.

    * a **hidden cut**: the colour distribution and structure change at one frame and do
      not come back (a flash comes back the next frame, and is flicker's);
    * a **jump** (teleport, skipped frames): the motion-compensated residual spikes at a
      single frame, far above the frames around it;
    * a **speed spike**: the median flow magnitude jumps far above its neighbourhood;
    * a **freeze**: a stretch of identical frames in a take that otherwise moves.
    """

    name: ClassVar[str] = "physics"
    signals: ClassVar[tuple[str, ...]] = (CUT_KEY, JUMP_KEY, SPEED_KEY, STILL_KEY)

    def __init__(self, config: PhysicsConfig) -> None:
        super().__init__(config)
        self._buf = SignalBuffer(("d1", "d2", "residual", "valid", "mag", "absdiff"))
        self._hists: list[np.ndarray] = []  # the last two histograms only

    def update(self, frame: Frame) -> None:
        h = _histogram(frame.rgb)
        d1 = _hist_distance(self._hists[-1], h) if self._hists else np.nan
        d2 = _hist_distance(self._hists[-2], h) if len(self._hists) > 1 else np.nan
        self._hists = (self._hists + [h])[-2:]
        motion = getattr(frame, "motion", None)
        if motion is None:
            self._buf.append(d1=d1, d2=d2)
            return
        _, absd, valid = motion.residual
        _, mag = motion.global_motion
        self._buf.append(
            d1=d1, d2=d2,
            residual=float(np.nanmean(absd)) if np.isfinite(absd).any() else np.nan,
            valid=float(valid.mean()),
            mag=mag / motion.scale_px * 256.0,
            absdiff=motion.absdiff,
        )

    def finish(self, times_s: np.ndarray) -> DetectorResult:
        cfg = self.config
        s = self._buf.arrays()
        n = len(times_s)
        d1 = np.nan_to_num(s["d1"].astype(np.float64))
        d2 = np.nan_to_num(s["d2"].astype(np.float64))
        valid = np.nan_to_num(s["valid"].astype(np.float64), nan=1.0)
        residual = s["residual"].astype(np.float64)

        # hidden cut at t: t differs from t-1, and t+1 still differs from t-1
        after = np.append(d2[1:], np.nan)  # d(t-1, t+1)
        after = np.where(np.isnan(after), d1, after)
        local = rolling_median(d1, radius=4)
        cut = np.minimum(d1, after) / cfg.cut_threshold
        cut = np.where(d1 > 3 * np.nan_to_num(local, nan=0.0), cut, 0.0)
        # structure agrees: flow could not follow the change
        cut = np.where(valid < 0.8, cut, cut * 0.5)

        # jump: a one-frame spike of the motion-compensated residual
        base = rolling_median(residual, radius=5)
        spread = np.nanmedian(np.abs(residual - base)) * 1.4826 if n else 0.0
        scale = np.maximum(np.nan_to_num(base, nan=1.0) * 0.5 + cfg.z_threshold * spread, 3.0)
        jump = np.nan_to_num((residual - base) / scale, nan=0.0).clip(0)

        # speed spike: the camera or scene suddenly moves far faster than around it
        mag = s["mag"].astype(np.float64)
        mbase = rolling_median(mag, radius=5)
        speed = np.nan_to_num((mag - mbase) / np.maximum(3.0 * np.nan_to_num(mbase, nan=0.0), 4.0),
                              nan=0.0).clip(0)

        # freeze: frames identical to the one before
        absdiff = s["absdiff"].astype(np.float64)
        moving = np.nanmedian(absdiff) if np.isfinite(absdiff).any() else 0.0
        still = (absdiff < max(0.15, 0.03 * moving)).astype(np.float32)

        events: list[Event] = []
        cut_frames: set[int] = set()
        for ev in events_from_score(cut, times_s, artifact=self.name, label=CUT_LABEL, max_gap=0):
            events.append(ev)
            cut_frames.update(np.flatnonzero((times_s >= ev.start_s) & (times_s <= ev.end_s)))
        for score, label in ((jump, "jump"), (speed, "speed spike")):
            for ev in events_from_score(score, times_s, artifact=self.name, label=label):
                idx = np.flatnonzero((times_s >= ev.start_s) & (times_s <= ev.end_s))
                if not cut_frames.intersection(idx.tolist()):
                    events.append(ev)
        if moving > 1.0:
            min_frames = max(2, int(np.ceil(cfg.min_freeze_s * fps_of(times_s))))
            for a, b in runs(still > 0):
                if b - a + 1 >= min_frames and not (a <= 1 and b >= n - 2):
                    ratio = (b - a + 1) / min_frames
                    events.append(Event(self.name, float(times_s[max(a - 1, 0)]),
                                        float(times_s[b]), severity_from_ratio(ratio + 0.5),
                                        "frozen frames"))
        return DetectorResult(
            signals={
                CUT_KEY: cut.astype(np.float32),
                JUMP_KEY: jump.astype(np.float32),
                SPEED_KEY: speed.astype(np.float32),
                STILL_KEY: still,
            },
            events=events,
        )
