"""Physics: teleports, impossible speed, reversals, frame skips, hidden cuts, freezes."""

from __future__ import annotations

from typing import ClassVar

import cv2
import numpy as np

from qc.config import PhysicsConfig
from qc.decode import Frame
from qc.detectors.base import Detector, DetectorResult, Event, SignalBuffer
from qc.motion import MOTION_GRID
from qc.signals import (
    events_from_score,
    fps_of,
    quiet_nan,
    rolling_median,
    runs,
    severity_from_ratio,
)

__all__ = ["PhysicsDetector", "CUT_LABEL"]

CUT_KEY = "cut"
JUMP_KEY = "jump"
SPEED_KEY = "speed"
REVERSE_KEY = "reverse"
STILL_KEY = "still"
CUT_LABEL = "hidden cut"
#: a frame this flat (luma standard deviation) is a fade's black or white, not a scene
_FLAT_STD = 8.0


def _histogram(rgb: np.ndarray) -> np.ndarray:
    small = cv2.resize(np.ascontiguousarray(rgb), (64, 36), interpolation=cv2.INTER_AREA)
    hsv = cv2.cvtColor(small, cv2.COLOR_RGB2HSV)
    h = cv2.calcHist([hsv], [0, 1, 2], None, [12, 4, 4], [0, 180, 0, 256, 0, 256])
    return cv2.normalize(h, None, norm_type=cv2.NORM_L1).flatten()


def _hist_distance(a: np.ndarray, b: np.ndarray) -> float:
    return float(cv2.compareHist(a, b, cv2.HISTCMP_BHATTACHARYYA))


def _shift(x: np.ndarray, k: int, fill: float = np.nan) -> np.ndarray:
    """``out[t] = x[t + k]`` (NaN past the ends)."""
    out = np.full_like(x, fill, dtype=np.float64)
    if k > 0:
        out[:-k] = x[k:]
    elif k < 0:
        out[-k:] = x[:k]
    else:
        out[:] = x
    return out


class PhysicsDetector(Detector):
    """Finds discontinuities of motion and content inside one take.

    * a **hidden cut**: every frame after one instant differs in colour distribution from
      every frame before it, far more than the frames on each side differ among
      themselves (a flash comes back the next frame, and is flicker's; colour flicker
      changes every frame; the black or white frames of a fade are not a scene);
    * a **jump** (teleport, skipped frames): some block's motion-compensated residual
      spikes at a single frame, far above that block's residual just before and after;
    * a **speed spike**: the fastest thing in the frame (camera removed) moves far faster
      for a few frames than around them;
    * a **reversal**: the fastest thing turns back within a frame while moving fast, in a
      way a bounce off the ground does not explain;
    * a **freeze**: a stretch of identical frames in a take that otherwise moves.
    """

    name: ClassVar[str] = "physics"
    signals: ClassVar[tuple[str, ...]] = (CUT_KEY, JUMP_KEY, SPEED_KEY, REVERSE_KEY, STILL_KEY)

    def __init__(self, config: PhysicsConfig) -> None:
        super().__init__(config)
        self._buf = SignalBuffer(("d1", "d2", "d3", "contrast", "valid", "speed", "absdiff"))
        self._hists: list[np.ndarray] = []  # the last three histograms only
        self._blocks: list[np.ndarray] = []  # per-block residual, MOTION_GRID**2 floats a frame
        self._vel: list[np.ndarray] = []     # per-block velocity (camera removed), grid**2 x 2

    def update(self, frame: Frame) -> None:
        h = _histogram(frame.rgb)
        d = [_hist_distance(self._hists[-k], h) if len(self._hists) >= k else np.nan
             for k in (1, 2, 3)]
        self._hists = (self._hists + [h])[-3:]
        contrast = float(frame.gray.std())
        motion = getattr(frame, "motion", None)
        if motion is None:
            self._buf.append(d1=d[0], d2=d[1], d3=d[2], contrast=contrast)
            self._blocks.append(np.full(MOTION_GRID * MOTION_GRID, np.nan, np.float32))
            self._vel.append(np.zeros((MOTION_GRID * MOTION_GRID, 2), np.float32))
            return
        _, absd, valid = motion.residual
        speed = motion.foreground_speed
        k = 256.0 / motion.scale_px  # pixels at a 256-px short side
        self._blocks.append(absd.astype(np.float32).ravel())
        self._vel.append((motion.block_flow.reshape(-1, 2) * k).astype(np.float32))
        self._buf.append(d1=d[0], d2=d[1], d3=d[2], contrast=contrast,
                         valid=float(valid.mean()), speed=speed * k, absdiff=motion.absdiff)

    def finish(self, times_s: np.ndarray) -> DetectorResult:
        cfg = self.config
        s = {k: v.astype(np.float64) for k, v in self._buf.arrays().items()}
        n = len(times_s)
        fps = fps_of(times_s)

        # hidden cut at t: both frames before differ from both frames after
        cross = np.vstack([s["d1"], s["d2"], _shift(s["d2"], 1), _shift(s["d3"], 1)])
        cross = np.where(np.isnan(cross), np.vstack([s["d1"]] * 4), cross)
        # ... while the frames on each side agree with each other (a take whose every
        # frame differs from the last, as in colour flicker, has no one instant of change)
        within = np.fmax(_shift(s["d1"], -1), _shift(s["d1"], 1))
        change = cross.min(axis=0) - np.nan_to_num(within, nan=0.0)
        cut = np.nan_to_num(change, nan=0.0).clip(0) / cfg.cut_threshold
        # frames of a fade (near black or white, little contrast) are no scene of their own,
        # and flow there is unreliable: no cut, jump or motion event next to them
        contrast = s["contrast"]
        typical = float(np.nanmedian(contrast)) if n else 0.0
        flat = contrast < max(_FLAT_STD, 0.35 * typical)
        near_flat = flat | (_shift(flat.astype(float), -1, 0) > 0) | (_shift(flat.astype(float), 1, 0) > 0)
        cut = np.where(near_flat, 0.0, cut)
        # flow that does not agree with itself both ways says nothing about motion
        trusted = ~near_flat & (np.nan_to_num(s["valid"], nan=0.0) >= 0.6)

        # jump: one block's residual spikes at one frame, above its own before and after
        blocks = np.asarray(self._blocks, dtype=np.float64).reshape(n, -1)
        before = np.vstack([blocks[:1] * np.nan, blocks[:-1]])
        after = np.vstack([blocks[1:], blocks[:1] * np.nan])
        around = quiet_nan(np.nanmax, np.stack([before, after]), axis=0)
        excess = np.nan_to_num(blocks - around, nan=0.0).clip(0)
        # each block against its own variability over the take (grain, water, foliage)
        dev = np.abs(blocks - quiet_nan(np.nanmedian, blocks, axis=0))
        spread = np.maximum(quiet_nan(np.nanmedian, dev, axis=0) * 1.4826, 10.0 / cfg.z_threshold)
        spread = np.nan_to_num(spread, nan=10.0 / cfg.z_threshold)
        jump = (excess / (cfg.z_threshold * spread)).max(axis=1, initial=0.0)
        jump = np.where(near_flat, 0.0, jump)

        # speed spike: the fastest thing suddenly far faster than around it
        speed = s["speed"]
        base = np.nan_to_num(rolling_median(speed, radius=max(3, int(fps // 4))), nan=0.0)
        speed_score = np.nan_to_num((speed - 2.0 * base) / np.maximum(base, 4.0), nan=0.0).clip(0)
        speed_score = np.where(trusted, speed_score, 0.0)

        # reversal: fast motion that turns back at once (a bounce off the ground excepted)
        reverse = _reversals(np.asarray(self._vel, dtype=np.float64).reshape(n, -1, 2), trusted)

        # freeze: frames identical to the one before
        absdiff = s["absdiff"]
        moving = float(np.nanmedian(absdiff)) if np.isfinite(absdiff).any() else 0.0
        # (a held frame re-encoded is not bit-identical: allow the codec's noise)
        still = (absdiff < max(0.5, 0.15 * moving)).astype(np.float32)

        events: list[Event] = []
        cut_frames: set[int] = set()
        for ev in events_from_score(cut, times_s, artifact=self.name, label=CUT_LABEL, max_gap=0):
            events.append(ev)
            cut_frames.update(np.flatnonzero((times_s >= ev.start_s) & (times_s <= ev.end_s)).tolist())
        for score, label in ((jump, "jump"), (speed_score, "speed spike"), (reverse, "reversal")):
            for ev in events_from_score(score, times_s, artifact=self.name, label=label):
                idx = np.flatnonzero((times_s >= ev.start_s - 1.5 / fps) & (times_s <= ev.end_s + 1.5 / fps))
                if not cut_frames.intersection(idx.tolist()):
                    events.append(ev)
        if moving > 1.0:
            min_frames = max(2, int(np.ceil(cfg.min_freeze_s * fps)))
            for a, b in runs(still > 0, max_gap=1):
                if b - a + 1 >= min_frames and not (a <= 1 and b >= n - 2):
                    ratio = (b - a + 1) / min_frames
                    events.append(Event(self.name, float(times_s[max(a - 1, 0)]),
                                        float(times_s[b]), severity_from_ratio(ratio + 0.5),
                                        "frozen frames"))
        return DetectorResult(
            signals={
                CUT_KEY: cut.astype(np.float32),
                JUMP_KEY: jump.astype(np.float32),
                SPEED_KEY: speed_score.astype(np.float32),
                REVERSE_KEY: reverse.astype(np.float32),
                STILL_KEY: still,
            },
            events=events,
        )


def _reversals(vel: np.ndarray, trusted: np.ndarray, *, min_px: float = 1.2) -> np.ndarray:
    """Per frame, the strongest abrupt reversal of any block's motion (0 where none).

    A reversal at ``t`` in a block: moving steadily (two frames in one direction) before
    ``t`` and steadily after, at least ``min_px`` a frame, in opposite directions.  Falling
    then rising (a bounce off the ground) is allowed.
    """
    n = vel.shape[0]
    out = np.zeros(n)
    if n < 4:
        return out
    norm = np.linalg.norm(vel, axis=2)  # (n, blocks)
    unit = vel / np.maximum(norm, 1e-9)[..., None]
    for t in range(2, n - 1):
        if not trusted[t - 1: t + 2].all():
            continue
        moving = norm[t - 2: t + 2].min(axis=0) >= min_px
        if not moving.any():
            continue
        before = (unit[t - 2] * unit[t - 1]).sum(axis=1)
        after = (unit[t] * unit[t + 1]).sum(axis=1)
        across = (unit[t - 1] * unit[t]).sum(axis=1)
        a, b = vel[t - 1], vel[t]
        bounce = (a[:, 1] > 0) & (b[:, 1] < 0) & (np.abs(b[:, 1]) > np.abs(b[:, 0]))
        hit = moving & (before > 0.8) & (after > 0.8) & (across < -0.7) & ~bounce
        if hit.any():
            strength = np.minimum(norm[t - 1], norm[t]) / min_px * -across
            out[t] = float(strength[hit].max())
    return out
