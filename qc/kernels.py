"""Every numba kernel of qc: arrays in, arrays out; no I/O, no classes.

Each private ``_kernel`` has a public wrapper that checks shapes and dtypes; the tests hold
a plain-numpy reference for each and compare with ``assert_allclose``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["warp_residual_blocks"]


@njit(cache=True, nogil=True)
def _bilinear(img: np.ndarray, y: float, x: float) -> float:
    h, w = img.shape[0], img.shape[1]
    x0 = int(np.floor(x))
    y0 = int(np.floor(y))
    fx = x - x0
    fy = y - y0
    x1 = min(x0 + 1, w - 1)
    y1 = min(y0 + 1, h - 1)
    x0 = max(x0, 0)
    y0 = max(y0, 0)
    top = img[y0, x0] * (1.0 - fx) + img[y0, x1] * fx
    bot = img[y1, x0] * (1.0 - fx) + img[y1, x1] * fx
    return top * (1.0 - fy) + bot * fy


@njit(cache=True, nogil=True)
def _warp_residual_blocks(prev, cur, flow_bwd, flow_fwd, grid):
    h, w = cur.shape
    signed = np.zeros((grid, grid), np.float64)
    absd = np.zeros((grid, grid), np.float64)
    valid = np.zeros((grid, grid), np.float64)
    total = np.zeros((grid, grid), np.float64)
    for y in range(h):
        by = min(y * grid // h, grid - 1)
        for x in range(w):
            bx = min(x * grid // w, grid - 1)
            total[by, bx] += 1.0
            u = flow_bwd[y, x, 0]
            v = flow_bwd[y, x, 1]
            px = x + u
            py = y + v
            if px < 0.0 or py < 0.0 or px > w - 1.0 or py > h - 1.0:
                continue
            fu = _bilinear(flow_fwd[:, :, 0], py, px)
            fv = _bilinear(flow_fwd[:, :, 1], py, px)
            du = u + fu
            dv = v + fv
            if du * du + dv * dv > 0.01 * (u * u + v * v + fu * fu + fv * fv) + 0.5:
                continue  # occluded or unreliable: forward-backward inconsistent
            r = float(cur[y, x]) - _bilinear(prev, py, px)
            signed[by, bx] += r
            absd[by, bx] += abs(r)
            valid[by, bx] += 1.0
    for i in range(grid):
        for j in range(grid):
            if valid[i, j] > 0:
                signed[i, j] /= valid[i, j]
                absd[i, j] /= valid[i, j]
            else:
                signed[i, j] = np.nan
                absd[i, j] = np.nan
            valid[i, j] = valid[i, j] / total[i, j] if total[i, j] > 0 else 0.0
    return signed, absd, valid


def warp_residual_blocks(
    prev: np.ndarray,
    cur: np.ndarray,
    flow_bwd: np.ndarray,
    flow_fwd: np.ndarray,
    *,
    grid: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Motion-compensated photometric residual of ``cur`` against ``prev``, per block.

    ``prev`` is warped onto ``cur`` with the backward flow (``cur`` -> ``prev``); pixels
    whose backward flow and the forward flow at its target do not cancel (occlusions,
    unreliable flow) are masked, as in Lai et al. (2018).

    Parameters
    ----------
    prev, cur : ndarray, shape (H, W)
        Consecutive luma frames (any real dtype; converted to float32).
    flow_bwd : ndarray of float32, shape (H, W, 2)
        Flow from ``cur`` to ``prev`` (dx, dy) in pixels.
    flow_fwd : ndarray of float32, shape (H, W, 2)
        Flow from ``prev`` to ``cur``.
    grid : int
        Blocks per side.

    Returns
    -------
    signed : ndarray, shape (grid, grid)
        Mean of ``cur - warp(prev)`` over the valid pixels of each block (NaN if none).
    absolute : ndarray, shape (grid, grid)
        Mean of ``|cur - warp(prev)|`` over the valid pixels of each block (NaN if none).
    valid : ndarray, shape (grid, grid)
        Fraction of each block's pixels that were valid.

    Examples
    --------
    >>> a = np.full((8, 8), 100, np.uint8); z = np.zeros((8, 8, 2), np.float32)
    >>> s, r, v = warp_residual_blocks(a, a + 5, z, z, grid=2)
    >>> float(s[0, 0]), float(v[1, 1])
    (5.0, 1.0)
    """
    if prev.ndim != 2 or prev.shape != cur.shape:
        raise ValueError(f"prev and cur must be 2-D of one shape, got {prev.shape}, {cur.shape}")
    shape = prev.shape + (2,)
    if flow_bwd.shape != shape or flow_fwd.shape != shape:
        raise ValueError(f"flows must have shape {shape}, got {flow_bwd.shape}, {flow_fwd.shape}")
    if grid < 1:
        raise ValueError("grid must be at least 1")
    return _warp_residual_blocks(
        np.ascontiguousarray(prev, dtype=np.float32),
        np.ascontiguousarray(cur, dtype=np.float32),
        np.ascontiguousarray(flow_bwd, dtype=np.float32),
        np.ascontiguousarray(flow_fwd, dtype=np.float32),
        int(grid),
    )
