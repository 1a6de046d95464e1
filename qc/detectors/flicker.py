"""Flicker: brightness, colour or texture that pulses or boils from frame to frame."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from qc.config import FlickerConfig
from qc.decode import Frame
from qc.detectors.base import Detector, DetectorResult, Event, SignalBuffer
from qc.motion import MOTION_GRID
from qc.signals import events_from_score, frames_in, mad, quiet_nan

__all__ = ["FlickerDetector"]

LUMA_KEY = "luma"
GLOBAL_KEY = "flicker_global"
REGION_KEY = "flicker_region"
COLOR_KEY = "flicker_color"
BOIL_KEY = "flicker_boil"


def _second_difference(x: np.ndarray) -> np.ndarray:
    """``x[t] - (x[t-1] + x[t+1]) / 2`` along axis 0; zero at the ends."""
    out = np.zeros_like(x, dtype=np.float64)
    if x.shape[0] >= 3:
        out[1:-1] = x[1:-1] - 0.5 * (x[:-2] + x[2:])
    return out


class FlickerDetector(Detector):
    """Finds brightness pumping, regional flicker, colour flicker, flashes and boiling.

    Per frame it keeps the mean luma and chroma, and the motion-compensated residual of
    each block of an 8x8 grid (signed: a brightness change not explained by motion;
    absolute: detail re-invented between frames).  A steady exposure change or a fade has
    a constant first difference and so no second difference; pumping and flashes have a
    large one.  Thresholds are the larger of a visible floor (``min_luma_levels``) and a
    robust z-score over the take itself.
    """

    name: ClassVar[str] = "flicker"
    signals: ClassVar[tuple[str, ...]] = (LUMA_KEY, GLOBAL_KEY, REGION_KEY, COLOR_KEY, BOIL_KEY)

    def __init__(self, config: FlickerConfig) -> None:
        super().__init__(config)
        self._means: list[np.ndarray] = []   # (luma, R-G, B-G) per frame
        self._signed: list[np.ndarray] = []  # per-block signed residual
        self._abs: list[np.ndarray] = []     # per-block absolute residual

    def update(self, frame: Frame) -> None:
        rgb = frame.rgb
        m = rgb.reshape(-1, 3).mean(axis=0)
        self._means.append(np.array([frame.gray.mean(), m[0] - m[1], m[2] - m[1]]))
        motion = getattr(frame, "motion", None)
        if motion is None:
            nan = np.full((MOTION_GRID, MOTION_GRID), np.nan)
            self._signed.append(nan)
            self._abs.append(nan)
        else:
            signed, absd, _ = motion.residual
            self._signed.append(signed.astype(np.float32))
            self._abs.append(absd.astype(np.float32))

    def finish(self, times_s: np.ndarray) -> DetectorResult:
        cfg = self.config
        n = len(self._means)
        means = np.asarray(self._means).reshape(n, 3)
        floor = cfg.min_luma_levels

        # global brightness pumping and flashes
        d2 = np.abs(_second_difference(means[:, 0]))
        scale = max(floor, cfg.z_threshold * mad(d2))
        global_score = d2 / scale

        # colour flicker: white balance that jumps (chroma second difference)
        c2 = np.abs(_second_difference(means[:, 1:])).max(axis=1)
        color_score = c2 / max(floor, cfg.z_threshold * mad(c2))

        # regional flicker: a block's brightness change, minus the frame's, that reverses
        signed = np.asarray(self._signed, dtype=np.float64).reshape(n, -1)
        local = signed - quiet_nan(np.nanmedian, signed, axis=1, keepdims=True) if n else signed
        region = np.zeros(n)
        if n >= 3:
            swing = np.abs(local[1:-1] - local[2:]) * 0.5  # (a_t - a_{t+1}) / 2
            both = np.sign(local[1:-1]) != np.sign(local[2:])
            swing = np.where(both, swing, 0.0)
            region[1:-1] = np.nan_to_num(swing, nan=0.0).max(axis=1).clip(0)
        region_score = region / max(2 * floor, cfg.z_threshold * mad(region))

        # boiling: a block's detail re-invented every frame, far above its usual residual
        absd = np.asarray(self._abs, dtype=np.float64).reshape(n, -1)
        excess = absd - quiet_nan(np.nanmedian, absd, axis=0, keepdims=True)
        boil = np.nan_to_num(excess, nan=0.0).max(axis=1, initial=0.0).clip(0)
        boil_score = boil / max(4 * floor, cfg.z_threshold * mad(boil))

        events: list[Event] = []
        for score, label in (
            (global_score, "brightness pumping"),
            (color_score, "colour flicker"),
            (region_score, "regional flicker"),
        ):
            for ev in events_from_score(score, times_s, artifact=self.name, label=label):
                if ev.start_s == ev.end_s and label == "brightness pumping":
                    ev = Event(ev.artifact, ev.start_s, ev.end_s, ev.severity, "flash")
                events.append(ev)
        # boiling must last: a single frame of residual is motion, not boiling
        for ev in events_from_score(boil_score, times_s, artifact=self.name,
                                    label="texture boiling"):
            if frames_in(times_s, ev) >= 3:
                events.append(ev)
        return DetectorResult(
            signals={
                LUMA_KEY: means[:, 0].astype(np.float32),
                GLOBAL_KEY: global_score.astype(np.float32),
                REGION_KEY: region_score.astype(np.float32),
                COLOR_KEY: color_score.astype(np.float32),
                BOIL_KEY: boil_score.astype(np.float32),
            },
            events=events,
        )
