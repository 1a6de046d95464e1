"""Morphing: objects and bodies that slowly lose or change their shape."""

from __future__ import annotations

from typing import ClassVar

import cv2
import numpy as np

from qc.config import MorphingConfig
from qc.decode import Frame
from qc.detectors.base import Detector, DetectorResult, Event, face_blocks
from qc.motion import MOTION_GRID, pixel_grid
from qc.signals import events_from_score, faded, fps_of, mad, quiet_nan

__all__ = ["MorphingDetector"]

WARP_KEY = "warp_error"
DRIFT_KEY = "drift"


def _block_means(img: np.ndarray, valid: np.ndarray, grid: int) -> np.ndarray:
    """Mean of ``img`` over the valid pixels of each block of a ``grid`` x ``grid`` grid."""
    h, w = img.shape
    num = cv2.resize(np.where(valid, img, 0).astype(np.float32), (grid, grid),
                     interpolation=cv2.INTER_AREA)
    den = cv2.resize(valid.astype(np.float32), (grid, grid), interpolation=cv2.INTER_AREA)
    with np.errstate(all="ignore"):
        out = num / den
    out[den < 0.3] = np.nan
    return out


class MorphingDetector(Detector):
    """Finds shapes that drift while the scene around them stays continuous.

    Two kinds of evidence, both motion-compensated so that camera and object motion are
    not counted:

    * **warping error** (Lai et al. 2018): the residual of the previous frame warped onto
      this one, occlusions masked by forward-backward consistency, per block;
    * **structure drift**: an anchor frame is carried along the chained optical flow for
      ``drift_span_s`` and compared with the current frame; rigid content still matches,
      content that changed its shape does not.  A block that drifts far more than the
      rest of the frame, for a sustained stretch, is morphing.

    No shape drift is judged on the frames of a fade (:func:`qc.signals.faded`).
    With ``leave_faces`` a drift event is never in the blocks of the faces the faces
    detector follows (published on each frame as ``frame.faces``; it runs first): a
    mouth talking is not morphing, and a face that warps is that detector's event.  The
    take's spread is still measured over every block, so leaving the faces out can only
    take events away.
    """

    name: ClassVar[str] = "morphing"
    signals: ClassVar[tuple[str, ...]] = (WARP_KEY, DRIFT_KEY)

    def __init__(self, config: MorphingConfig) -> None:
        super().__init__(config)
        self._warp: list[np.ndarray] = []
        self._drift: list[np.ndarray] = []
        self._faces: dict[int, np.ndarray] = {}  # frame -> blocks of the faces followed there
        self._luma: list[float] = []  # each frame's mean luma
        self._anchor: np.ndarray | None = None
        self._map: np.ndarray | None = None
        self._age = 0
        self._span = 0
        self._t0: float | None = None

    def _span_frames(self, frame: Frame) -> int:
        if self._span == 0 and frame.idx >= 1 and self._t0 is not None:
            dt = frame.t_s - self._t0
            fps = frame.idx / dt if dt > 0 else 24.0
            self._span = max(4, int(round(self.config.drift_span_s * fps)))
        return self._span or 24

    def update(self, frame: Frame) -> None:
        if self._t0 is None:
            self._t0 = frame.t_s
        self._luma.append(frame.luma_stats[0])
        motion = getattr(frame, "motion", None)
        nan = np.full((MOTION_GRID, MOTION_GRID), np.nan, np.float32)
        if motion is None:
            self._warp.append(nan)
            self._drift.append(nan)
            return
        _, absd, _ = motion.residual
        self._warp.append(absd.astype(np.float32))

        cur = cv2.GaussianBlur(motion.cur, (5, 5), 0).astype(np.float32)
        h, w = cur.shape
        span = self._span_frames(frame)
        ys, xs = pixel_grid(cur.shape)
        if self._anchor is None or self._anchor.shape != cur.shape or self._age >= span:
            self._anchor = cv2.GaussianBlur(motion.prev, (5, 5), 0).astype(np.float32)
            self._map = np.dstack([xs, ys])
            self._age = 0
        # carry the map to the anchor one step: map_t(x) = map_{t-1}(x + flow_bwd(x))
        self._map = cv2.remap(self._map, *motion.back_map, cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_CONSTANT, borderValue=(-1e6, -1e6))
        self._age += 1
        mx, my = self._map[..., 0], self._map[..., 1]
        valid = (mx >= 0) & (my >= 0) & (mx <= w - 1) & (my <= h - 1)
        warped = cv2.remap(self._anchor, mx, my, cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_REPLICATE)
        resid = np.abs(cur - warped)
        self._drift.append(_block_means(resid, valid, MOTION_GRID).astype(np.float32))
        faces = getattr(frame, "faces", ())
        if faces and self.config.leave_faces:
            self._faces[len(self._drift) - 1] = face_blocks(faces, MOTION_GRID).ravel()

    def finish(self, times_s: np.ndarray) -> DetectorResult:
        cfg = self.config
        n = len(self._warp)
        warp = np.asarray(self._warp, dtype=np.float64).reshape(n, -1)
        drift = np.asarray(self._drift, dtype=np.float64).reshape(n, -1)
        warp_frame = quiet_nan(np.nanmean, warp, axis=1)
        # a block's drift above the frame's typical drift, against the take's spread
        rel = np.nan_to_num(drift - quiet_nan(np.nanmedian, drift, axis=1, keepdims=True), nan=0.0)
        # the take's spread is measured on all of it (a talking head says how much its
        # drift wanders); the faces only cannot be where a drift event is
        spread = mad(rel.max(axis=1, initial=0.0))
        for i, blocks in self._faces.items():
            rel[i, blocks] = 0.0
        peak = rel.max(axis=1, initial=0.0)
        scale = max(12.0, cfg.z_threshold * spread)
        drift_score = (peak / scale).clip(0)
        # a frame gone dark or light in a fade shows no shape to judge: every block's
        # carried anchor is off by the fade, and textured blocks most
        drift_score[faded(np.asarray(self._luma))] = 0.0

        events: list[Event] = []
        min_frames = max(3, int(round(0.25 * fps_of(times_s))))
        for ev in events_from_score(drift_score, times_s, artifact=self.name,
                                    label="shape drift", max_gap=2):
            frames = int(np.count_nonzero((times_s >= ev.start_s) & (times_s <= ev.end_s)))
            if frames >= min_frames:
                events.append(ev)
        return DetectorResult(
            signals={
                WARP_KEY: np.nan_to_num(warp_frame, nan=0.0).astype(np.float32),
                DRIFT_KEY: drift_score.astype(np.float32),
            },
            events=events,
        )
