"""Every numba kernel of qc: arrays in, arrays out; no I/O, no classes.

Each private ``_kernel`` has a public wrapper that checks shapes and dtypes; the tests hold
a plain-numpy reference for each and compare with ``assert_allclose``.  Kernels are
``@njit(cache=True, nogil=True)``: compiled once after install, loaded from the cache by
later processes, and they release the GIL so decoding runs beside them.  A kernel stays
only while ``qc bench speed`` shows it beating its numpy reference.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

__all__ = ["warp_residual_blocks", "flow_median", "rolling_median", "warm_up"]


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
            # bilinear taps of the target point, shared by the forward flow and prev
            x0 = int(math.floor(px))
            y0 = int(math.floor(py))
            fx = px - x0
            fy = py - y0
            x1 = min(x0 + 1, w - 1)
            y1 = min(y0 + 1, h - 1)
            fu = (flow_fwd[y0, x0, 0] * (1.0 - fx) + flow_fwd[y0, x1, 0] * fx) * (1.0 - fy) \
                + (flow_fwd[y1, x0, 0] * (1.0 - fx) + flow_fwd[y1, x1, 0] * fx) * fy
            fv = (flow_fwd[y0, x0, 1] * (1.0 - fx) + flow_fwd[y0, x1, 1] * fx) * (1.0 - fy) \
                + (flow_fwd[y1, x0, 1] * (1.0 - fx) + flow_fwd[y1, x1, 1] * fx) * fy
            du = u + fu
            dv = v + fv
            if du * du + dv * dv > 0.01 * (u * u + v * v + fu * fu + fv * fv) + 0.5:
                continue  # occluded or unreliable: forward-backward inconsistent
            warped = (prev[y0, x0] * (1.0 - fx) + prev[y0, x1] * fx) * (1.0 - fy) \
                + (prev[y1, x0] * (1.0 - fx) + prev[y1, x1] * fx) * fy
            r = float(cur[y, x]) - warped
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


@njit(cache=True, nogil=True)
def _select_pair(buf, k):
    """Reorder ``buf`` so that ``buf[k]`` is its k-th smallest value (quickselect);
    return that value and the next larger one (``buf[k]`` again when ``k`` is last)."""
    lo = 0
    hi = buf.shape[0] - 1
    while hi > lo:
        mid = (lo + hi) // 2
        a, b, c = buf[lo], buf[mid], buf[hi]
        if a > b:
            a, b = b, a
        if b > c:
            b = c
            if a > b:
                b = a
        pivot = b
        i, j = lo, hi
        while i <= j:
            while buf[i] < pivot:
                i += 1
            while buf[j] > pivot:
                j -= 1
            if i <= j:
                t = buf[i]
                buf[i] = buf[j]
                buf[j] = t
                i += 1
                j -= 1
        if k <= j:
            hi = j
        elif k >= i:
            lo = i
        else:
            break
    kth = buf[k]
    nxt = kth
    if k + 1 < buf.shape[0]:
        nxt = buf[k + 1]
        for t in range(k + 2, buf.shape[0]):
            if buf[t] < nxt:
                nxt = buf[t]
    return kth, nxt


@njit(cache=True, nogil=True)
def _median(buf):
    """The median as ``np.median`` gives it (the mean of the middle two, in the buffer's
    precision); reorders ``buf``."""
    n = buf.shape[0]
    lo, hi = _select_pair(buf, (n - 1) // 2)
    if n % 2:
        return lo
    return (lo + hi) * buf.dtype.type(0.5)


@njit(cache=True, nogil=True)
def _flow_median(flow):
    n = flow.shape[0] * flow.shape[1]
    f = flow.reshape(n, 2)
    fx = np.empty(n, np.float32)
    fy = np.empty(n, np.float32)
    for i in range(n):
        fx[i] = f[i, 0]
        fy[i] = f[i, 1]
    return _median(fx), _median(fy)


def flow_median(flow: np.ndarray) -> np.ndarray:
    """The median flow vector of a dense flow field: the camera's motion.

    Equal to ``np.median(flow.reshape(-1, 2), axis=0)`` (in float32), by quickselect.

    Parameters
    ----------
    flow : ndarray of float32, shape (H, W, 2)
        A dense flow field (dx, dy) in pixels; not modified.

    Returns
    -------
    ndarray of float32, shape (2,)
        The median of dx and of dy.

    Examples
    --------
    >>> f = np.zeros((4, 4, 2), np.float32); f[..., 0] = 2.0; f[0, 0] = (5.0, 4.0)
    >>> flow_median(f).tolist()
    [2.0, 0.0]
    """
    if flow.ndim != 3 or flow.shape[2] != 2 or flow.shape[0] * flow.shape[1] == 0:
        raise ValueError(f"flow must have shape (H, W, 2) with H, W > 0, got {flow.shape}")
    mx, my = _flow_median(np.ascontiguousarray(flow, dtype=np.float32))
    return np.array([mx, my], np.float32)


@njit(cache=True, nogil=True)
def _sorted_insert(buf, k, v):
    """Insert ``v`` into the sorted ``buf[:k]``."""
    i = k
    while i > 0 and buf[i - 1] > v:
        buf[i] = buf[i - 1]
        i -= 1
    buf[i] = v


@njit(cache=True, nogil=True)
def _sorted_remove(buf, k, v):
    """Remove one ``v`` from the sorted ``buf[:k]`` (it is there)."""
    i = 0
    while i < k - 1 and buf[i] != v:
        i += 1
    while i < k - 1:
        buf[i] = buf[i + 1]
        i += 1


@njit(cache=True, nogil=True)
def _rolling_median(x, half):
    n, m = x.shape
    out = np.empty((n, m), np.float64)
    buf = np.empty(2 * half + 1, np.float64)  # the window's finite values, sorted
    for j in range(m):
        k = 0
        for t in range(min(half, n - 1) + 1):  # the first window: rows 0 .. half
            if x[t, j] == x[t, j]:
                _sorted_insert(buf, k, x[t, j])
                k += 1
        for t in range(n):
            if k == 0:
                out[t, j] = np.nan
            elif k % 2:
                out[t, j] = buf[k // 2]
            else:
                out[t, j] = 0.5 * (buf[k // 2 - 1] + buf[k // 2])
            old = t - half  # leaves the window
            if old >= 0 and x[old, j] == x[old, j]:
                _sorted_remove(buf, k, x[old, j])
                k -= 1
            new = t + half + 1  # comes in
            if new < n and x[new, j] == x[new, j]:
                _sorted_insert(buf, k, x[new, j])
                k += 1
    return out


def rolling_median(x: np.ndarray, half: int) -> np.ndarray:
    """The median of each column over a window of ``half`` rows either side.

    Equal to ``np.nanmedian`` over rows ``t - half .. t + half`` of each column, the
    window cut at the ends and NaN ignored (NaN where a window holds none): a signal's
    usual level around each frame, in O(rows x half) instead of sorting every window.

    Parameters
    ----------
    x : ndarray, shape (N, M)
        N frames of M signals (float; not modified).
    half : int
        Window half-width in rows (0: ``x`` itself, NaN kept).

    Returns
    -------
    ndarray of float64, shape (N, M)

    Examples
    --------
    >>> rolling_median(np.array([[1.0], [9.0], [2.0], [np.nan], [4.0]]), 1).ravel().tolist()
    [5.0, 2.0, 5.5, 3.0, 4.0]
    """
    if x.ndim != 2:
        raise ValueError(f"x must be 2-d (frames, signals), got shape {x.shape}")
    if half < 0:
        raise ValueError(f"half must be >= 0, got {half}")
    return _rolling_median(np.ascontiguousarray(x, dtype=np.float64), int(half))


def warm_up() -> None:
    """Compile (first run after install) or load from the cache every kernel, once."""
    a = np.zeros((8, 8), np.float32)
    z = np.zeros((8, 8, 2), np.float32)
    warp_residual_blocks(a, a, z, z, grid=2)
    flow_median(z)
    rolling_median(np.zeros((4, 2)), 1)
