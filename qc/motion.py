"""Motion between consecutive frames, computed once and shared by every detector.

Optical flow (OpenCV's DIS, ultrafast preset) both ways, the motion-compensated residual
per block (:func:`qc.kernels.warp_residual_blocks`) and the camera's global motion.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from functools import cached_property
from typing import Any, TypeVar

import cv2
import numpy as np

from qc.kernels import flow_median, warp_residual_blocks

__all__ = ["Motion", "MOTION_GRID", "MOTION_SIZE_PX", "pixel_grid", "shrink"]

T = TypeVar("T")

#: blocks per side of the residual grid
MOTION_GRID = 8
#: flow is computed on frames whose longer side is at most this
MOTION_SIZE_PX = 256
#: how far from the camera's motion (flow-frame pixels) a block's content is looked for
#: before its own, faster flow is believed (:attr:`Motion.block_shown`)
SHOWN_REACH_PX = 2
#: blocks faster than this against the camera (flow-frame pixels) are out of that
#: search's reach and are questioned by :attr:`Motion.block_shown`; slower ones by
#: :meth:`Motion.camera_explains` where it matters
QUESTIONED_PX = SHOWN_REACH_PX + 1.5
#: a block whose content that search finds within this RMS (grey levels) is explained
#: by the camera, however much better its own flow fits: a smooth brick face slid along
#: its mortar line reads 10-24 px against the camera, 2.4 levels off carried by that
#: flow and 1.5-2.6 by the camera's (79000-'s fast_pan_9, session 21); things that
#: move leave 7-30 there
SHOWN_RMS = 3.0

_DIS: cv2.DISOpticalFlow | None = None


def _dis() -> cv2.DISOpticalFlow:
    global _DIS
    if _DIS is None:
        _DIS = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST)
    return _DIS


def shrink(gray: np.ndarray) -> np.ndarray:
    """A luma frame at the flow size (longer side at most :data:`MOTION_SIZE_PX`)."""
    h, w = gray.shape
    scale = MOTION_SIZE_PX / max(h, w)
    if scale >= 1.0:
        return np.ascontiguousarray(gray)
    size = (max(8, int(round(w * scale))), max(8, int(round(h * scale))))
    return cv2.resize(gray, size, interpolation=cv2.INTER_AREA)


@functools.lru_cache(maxsize=8)
def pixel_grid(shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Each pixel's coordinates ``(ys, xs)`` over a frame of ``shape``, float32, read-only.

    Made once per frame size: the maps that carry an image by a flow start from them.

    Examples
    --------
    >>> ys, xs = pixel_grid((2, 3))
    >>> xs.tolist(), ys[:, 0].tolist()
    ([[0.0, 1.0, 2.0], [0.0, 1.0, 2.0]], [0.0, 1.0])
    """
    ys, xs = np.mgrid[0:shape[0], 0:shape[1]].astype(np.float32)
    ys.flags.writeable = xs.flags.writeable = False
    return ys, xs


Span = tuple[int, int]


def _block_span(block: tuple[int, int], shape: tuple[int, ...]) -> tuple[Span, Span]:
    """The pixel rows and columns ``(start, stop)`` of a block of the :data:`MOTION_GRID`
    grid over a frame of ``shape`` (as ``cv2.resize`` with ``INTER_AREA`` averages them
    when the size divides)."""
    (by, bx), (h, w) = block, shape[:2]
    return ((by * h // MOTION_GRID, (by + 1) * h // MOTION_GRID),
            (bx * w // MOTION_GRID, (bx + 1) * w // MOTION_GRID))


def _timed(fn: Callable[..., T]) -> Callable[..., T]:
    """Add the time of an outermost computation to ``Motion.spent_s`` (for the benchmark)."""

    @functools.wraps(fn)
    def wrapper(self: Motion, *args: Any) -> T:
        if self._depth:
            return fn(self, *args)
        self._depth += 1
        t0 = time.perf_counter()
        try:
            return fn(self, *args)
        finally:
            self.spent_s += time.perf_counter() - t0
            self._depth -= 1

    return wrapper


class Motion:
    """What moved between two consecutive frames (``prev`` -> ``cur``).

    Parameters
    ----------
    prev, cur : ndarray of uint8, shape (H, W)
        Consecutive luma frames at the analysis size.
    shrunk : bool
        ``prev`` and ``cur`` are already at the flow size (:func:`shrink`), as the scan
        passes them so that each frame is shrunk once.

    Notes
    -----
    Every quantity is computed on first use and cached, so a detector that does not
    need flow does not pay for it, and two that do share it.  ``spent_s`` adds up the
    time spent computing them.
    """

    def __init__(self, prev: np.ndarray, cur: np.ndarray, *, shrunk: bool = False) -> None:
        self.prev = prev if shrunk else shrink(prev)
        self.cur = cur if shrunk else shrink(cur)
        self.spent_s = 0.0
        self._depth = 0

    @property
    def scale_px(self) -> float:
        """Size of the flow frames, ``min(H, W)``, for resolution-relative thresholds."""
        return float(min(self.cur.shape))

    @cached_property
    @_timed
    def flow_bwd(self) -> np.ndarray:
        """Flow from ``cur`` to ``prev``, (H, W, 2) float32 pixels."""
        return _dis().calc(self.cur, self.prev, None)

    @cached_property
    @_timed
    def flow_fwd(self) -> np.ndarray:
        """Flow from ``prev`` to ``cur``, (H, W, 2) float32 pixels."""
        return _dis().calc(self.prev, self.cur, None)

    @cached_property
    @_timed
    def residual(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(signed, absolute, valid)`` motion-compensated residual per block."""
        return warp_residual_blocks(
            self.prev, self.cur, self.flow_bwd, self.flow_fwd, grid=MOTION_GRID
        )

    @cached_property
    @_timed
    def back_map(self) -> tuple[np.ndarray, np.ndarray]:
        """Where each pixel of ``cur`` comes from in ``prev``: the backward flow's map
        ``(xs, ys)`` for ``cv2.remap``, float32."""
        ys, xs = pixel_grid(self.cur.shape)
        return xs + self.flow_bwd[..., 0], ys + self.flow_bwd[..., 1]

    @_timed
    def carry(self, img: np.ndarray) -> np.ndarray:
        """An image in ``prev``'s place carried onto ``cur`` by the backward flow.

        Parameters
        ----------
        img : ndarray, shape (H, W)
            Anything laid out like ``prev`` (the frame itself, a residual of the step
            before); converted to float32.

        Returns
        -------
        ndarray of float32, shape (H, W)
        """
        mx, my = self.back_map
        return cv2.remap(np.ascontiguousarray(img, dtype=np.float32), mx, my, cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_REPLICATE)

    @cached_property
    @_timed
    def residual_image(self) -> np.ndarray:
        """``cur`` less ``prev`` carried onto it, per pixel (float32, occlusions kept).

        What :attr:`residual` averages per block, without its occlusion mask.
        """
        return self.cur.astype(np.float32) - self.carry(self.prev)

    @cached_property
    @_timed
    def camera(self) -> np.ndarray:
        """The camera's motion: the median flow vector ``(dx, dy)``, float32 pixels.

        Taken over every other pixel each way: the same estimate of a median over tens
        of thousands of vectors, at a quarter of the cost.
        """
        return flow_median(self.flow_fwd[::2, ::2])

    @cached_property
    @_timed
    def block_flow(self) -> np.ndarray:
        """Mean flow per block with the camera's motion removed, (grid, grid, 2)."""
        # block means are weighted means, so the camera comes off after: one subtraction
        # on the grid instead of one on every pixel
        blocks = cv2.resize(self.flow_fwd, (MOTION_GRID, MOTION_GRID), interpolation=cv2.INTER_AREA)
        return blocks - self.camera

    @cached_property
    @_timed
    def block_peak_speed(self) -> np.ndarray:
        """Per block, the speed against the camera of its fastest quarter, (grid, grid).

        A small thing moving fast in a still block (a strumming hand over a guitar) moves
        the block's mean flow by a fraction of its speed; the mean over a quarter of the
        block, the quarter it is in, shows most of it.
        """
        fine = cv2.resize(self.flow_fwd, (2 * MOTION_GRID, 2 * MOTION_GRID),
                          interpolation=cv2.INTER_AREA) - self.camera
        speed = np.hypot(fine[..., 0], fine[..., 1])
        return speed.reshape(MOTION_GRID, 2, MOTION_GRID, 2).max(axis=(1, 3))

    @cached_property
    def _soft(self) -> tuple[np.ndarray, np.ndarray]:
        """``prev`` and ``cur`` lightly blurred, float32: what block contents are matched on."""
        return (cv2.GaussianBlur(self.prev, (3, 3), 0).astype(np.float32),
                cv2.GaussianBlur(self.cur, (3, 3), 0).astype(np.float32))

    def _carried_error(self, rows: tuple[int, int], cols: tuple[int, int],
                       shift: np.ndarray | None = None) -> float:
        """Squared error of ``prev``'s content in ``rows`` x ``cols`` carried onto ``cur``
        by its own flow, or by ``shift`` (dx, dy) if given (blurred frames)."""
        prev, cur = self._soft
        ys, xs = np.mgrid[rows[0]:rows[1], cols[0]:cols[1]].astype(np.float32)
        if shift is None:
            f = self.flow_fwd[rows[0]:rows[1], cols[0]:cols[1]]
            mx, my = xs + f[..., 0], ys + f[..., 1]
        else:
            mx, my = xs + float(shift[0]), ys + float(shift[1])
        carried = cv2.remap(cur, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        return float(((prev[rows[0]:rows[1], cols[0]:cols[1]] - carried) ** 2).sum())

    @_timed
    def camera_explains(self, block: tuple[int, int]) -> bool:
        """Whether the camera's motion alone carries a block's content onto the next frame
        at least as well as the block's own flow does.

        For blocks too slow for :attr:`block_shown` to question: a block whose flow
        reads a pixel or two against the camera where nothing moves (a frame border, a
        flat or repeating texture) is explained by the camera; a thing that moves, even
        slowly, is not.
        """
        rows, cols = _block_span(block, self.prev.shape)
        return self._carried_error(rows, cols, self.camera) <= self._carried_error(rows, cols)

    @cached_property
    @_timed
    def camera_shift(self) -> np.ndarray:
        """Where the camera alone takes each block's centre, (grid, grid, 2) pixels.

        A similarity (shift, zoom, roll) fitted to the blocks' mean flow by least
        squares, then again without the blocks it fits worst (things moving of their
        own); a pan gives every block the same shift, a zoom moves the corners outward.
        """
        g = MOTION_GRID
        blocks = (self.block_flow + self.camera).reshape(-1, 2)  # each block's mean flow
        h, w = self.prev.shape
        yc, xc = np.mgrid[0:g, 0:g].astype(np.float64)
        x = ((xc + 0.5) * w / g - w / 2).ravel()
        y = ((yc + 0.5) * h / g - h / 2).ravel()
        one, zero = np.ones_like(x), np.zeros_like(x)
        a = np.vstack([np.column_stack([x, -y, one, zero]), np.column_stack([y, x, zero, one])])
        rhs = np.concatenate([blocks[:, 0], blocks[:, 1]]).astype(np.float64)
        p = np.linalg.lstsq(a, rhs, rcond=None)[0]
        # again without the blocks it fits worst, if enough are left to fit
        err = np.abs(a @ p - rhs)
        err = np.maximum(err[: x.size], err[x.size:])
        fits = np.tile(err <= max(1.0, 2.0 * float(np.median(err))), 2)
        if fits.sum() >= 8:
            p = np.linalg.lstsq(a[fits], rhs[fits], rcond=None)[0]
        return (a @ p).reshape(2, g, g).transpose(1, 2, 0).astype(np.float32)

    @cached_property
    @_timed
    def block_shown(self) -> np.ndarray:
        """Per block, whether its pixels show its own motion, (grid, grid) bool.

        The flow can read a block far faster than the camera where its content has a
        look-alike a few pixels on (a brick or tile lattice, a frame border with new
        content coming in): it then jumps by a lattice period for a frame or two, and the
        block seems to dart off.  A block moving more than :data:`QUESTIONED_PX`
        against the camera is shown to move only if its content, carried by its own
        flow, matches the next frame better than the best match within
        :data:`SHOWN_REACH_PX` of where the camera's motion alone takes it
        (:attr:`camera_shift`, zoom included, to the sub-pixel); slower blocks are not
        questioned (the search would reach them).  A block whose search window
        leaves the frame is judged on the part of it that stays inside; under 40% of it,
        the block is not shown either.  Nor is a block found within :data:`SHOWN_RMS`
        grey levels near where the camera takes it: the camera explains it to the
        codec's noise (a smooth face of a lattice slid along its lines by the flow).
        """
        speed = np.hypot(self.block_flow[..., 0], self.block_flow[..., 1])
        shown = np.ones(speed.shape, dtype=bool)
        fast = np.argwhere(speed > QUESTIONED_PX)
        if not len(fast):
            return shown
        prev, cur = self._soft
        h, w = prev.shape
        r = SHOWN_REACH_PX
        for by, bx in fast:
            gx, gy = (float(v) for v in self.camera_shift[by, bx])
            cx, cy = int(round(gx)), int(round(gy))
            (y0, y1), (x0, x1) = _block_span((by, bx), (h, w))
            # the part of the block whose search window lies inside the frame
            ty0, ty1 = max(y0, r - cy), min(y1, h - cy - r)
            tx0, tx1 = max(x0, r - cx), min(x1, w - cx - r)
            if ty1 <= ty0 or tx1 <= tx0 or (ty1 - ty0) * (tx1 - tx0) < 0.4 * (y1 - y0) * (x1 - x0):
                shown[by, bx] = False
                continue
            # its content carried by its own flow, against the best match near where the
            # camera alone takes it: whole-pixel steps around the camera's exact (sub-pixel)
            # shift, as the flow's own carry is sub-pixel (a sharp edge half a pixel off
            # matches worse than flat content carried anywhere along it)
            ys, xs = np.mgrid[ty0 - r: ty1 + r, tx0 - r: tx1 + r].astype(np.float32)
            window = cv2.remap(cur, xs + gx, ys + gy, cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_REPLICATE)
            near = float(cv2.matchTemplate(window, prev[ty0:ty1, tx0:tx1], cv2.TM_SQDIFF).min())
            # (the camera within the codec's noise settles it before the block is carried)
            shown[by, bx] = (near > SHOWN_RMS ** 2 * (ty1 - ty0) * (tx1 - tx0)
                             and near > self._carried_error((ty0, ty1), (tx0, tx1)))
        return shown

    @cached_property
    @_timed
    def absdiff(self) -> float:
        """Mean absolute luma difference without motion compensation (0-255)."""
        # the L1 norm of uint8 frames is an exact integer sum: the same mean as numpy's
        return float(cv2.norm(self.prev, self.cur, cv2.NORM_L1)) / self.prev.size
