"""Motion between consecutive frames, computed once and shared by every detector.

Optical flow (OpenCV's DIS, ultrafast preset) both ways, the motion-compensated residual
per block (:func:`qc.kernels.warp_residual_blocks`) and the camera's global motion.
"""

from __future__ import annotations

from functools import cached_property

import cv2
import numpy as np

from qc.kernels import warp_residual_blocks

__all__ = ["Motion", "MOTION_GRID", "MOTION_SIZE_PX"]

#: blocks per side of the residual grid
MOTION_GRID = 8
#: flow is computed on frames whose longer side is at most this
MOTION_SIZE_PX = 256

_DIS: cv2.DISOpticalFlow | None = None


def _dis() -> cv2.DISOpticalFlow:
    global _DIS
    if _DIS is None:
        _DIS = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST)
    return _DIS


def _shrink(gray: np.ndarray) -> np.ndarray:
    h, w = gray.shape
    scale = MOTION_SIZE_PX / max(h, w)
    if scale >= 1.0:
        return np.ascontiguousarray(gray)
    size = (max(8, int(round(w * scale))), max(8, int(round(h * scale))))
    return cv2.resize(gray, size, interpolation=cv2.INTER_AREA)


class Motion:
    """What moved between two consecutive frames (``prev`` -> ``cur``).

    Parameters
    ----------
    prev, cur : ndarray of uint8, shape (H, W)
        Consecutive luma frames at the analysis size.

    Notes
    -----
    Every quantity is computed on first use and cached, so a detector that does not
    need flow does not pay for it, and two that do share it.
    """

    def __init__(self, prev: np.ndarray, cur: np.ndarray) -> None:
        self.prev = _shrink(prev)
        self.cur = _shrink(cur)

    @property
    def scale_px(self) -> float:
        """Size of the flow frames, ``min(H, W)``, for resolution-relative thresholds."""
        return float(min(self.cur.shape))

    @cached_property
    def flow_bwd(self) -> np.ndarray:
        """Flow from ``cur`` to ``prev``, (H, W, 2) float32 pixels."""
        return _dis().calc(self.cur, self.prev, None)

    @cached_property
    def flow_fwd(self) -> np.ndarray:
        """Flow from ``prev`` to ``cur``, (H, W, 2) float32 pixels."""
        return _dis().calc(self.prev, self.cur, None)

    @cached_property
    def residual(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(signed, absolute, valid)`` motion-compensated residual per block."""
        return warp_residual_blocks(
            self.prev, self.cur, self.flow_bwd, self.flow_fwd, grid=MOTION_GRID
        )

    @cached_property
    def global_motion(self) -> tuple[np.ndarray, float]:
        """The camera's motion ``(median flow vector (dx, dy), median magnitude)``."""
        f = self.flow_fwd.reshape(-1, 2)
        med = np.median(f, axis=0)
        mag = float(np.median(np.hypot(f[:, 0], f[:, 1])))
        return med, mag

    @cached_property
    def foreground_speed(self) -> float:
        """How fast the fastest thing in the frame moves relative to the camera.

        The 99th percentile of the flow magnitude after the camera's median motion is
        removed, in pixels per frame at the flow size.
        """
        med, _ = self.global_motion
        f = self.flow_fwd.reshape(-1, 2) - med
        return float(np.percentile(np.hypot(f[:, 0], f[:, 1]), 99))

    @cached_property
    def block_flow(self) -> np.ndarray:
        """Mean flow per block with the camera's motion removed, (grid, grid, 2)."""
        med, _ = self.global_motion
        return cv2.resize(self.flow_fwd - med.astype(np.float32), (MOTION_GRID, MOTION_GRID),
                          interpolation=cv2.INTER_AREA)

    @cached_property
    def absdiff(self) -> float:
        """Mean absolute luma difference without motion compensation (0-255)."""
        return float(cv2.absdiff(self.prev, self.cur).mean())
