"""Every numba kernel against a plain-numpy reference."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

from qc.kernels import flow_median, rolling_median, warp_residual_blocks


def _bilinear_ref(img: np.ndarray, y: np.ndarray, x: np.ndarray) -> np.ndarray:
    h, w = img.shape
    x0 = np.floor(x).astype(int)
    y0 = np.floor(y).astype(int)
    fx, fy = x - x0, y - y0
    x1 = np.minimum(x0 + 1, w - 1)
    y1 = np.minimum(y0 + 1, h - 1)
    x0 = np.maximum(x0, 0)
    y0 = np.maximum(y0, 0)
    top = img[y0, x0] * (1 - fx) + img[y0, x1] * fx
    bot = img[y1, x0] * (1 - fx) + img[y1, x1] * fx
    return top * (1 - fy) + bot * fy


def warp_residual_blocks_ref(prev, cur, flow_bwd, flow_fwd, grid):
    prev = prev.astype(np.float64)
    cur = cur.astype(np.float64)
    h, w = cur.shape
    ys, xs = np.mgrid[0:h, 0:w]
    u, v = flow_bwd[..., 0].astype(np.float64), flow_bwd[..., 1].astype(np.float64)
    px, py = xs + u, ys + v
    inside = (px >= 0) & (py >= 0) & (px <= w - 1) & (py <= h - 1)
    pxc, pyc = np.clip(px, 0, w - 1), np.clip(py, 0, h - 1)
    fu = _bilinear_ref(flow_fwd[..., 0].astype(np.float64), pyc, pxc)
    fv = _bilinear_ref(flow_fwd[..., 1].astype(np.float64), pyc, pxc)
    err = (u + fu) ** 2 + (v + fv) ** 2
    ok = inside & (err <= 0.01 * (u * u + v * v + fu * fu + fv * fv) + 0.5)
    r = cur - _bilinear_ref(prev, pyc, pxc)
    by = np.minimum(ys * grid // h, grid - 1)
    bx = np.minimum(xs * grid // w, grid - 1)
    signed = np.full((grid, grid), np.nan)
    absd = np.full((grid, grid), np.nan)
    valid = np.zeros((grid, grid))
    for i in range(grid):
        for j in range(grid):
            blk = (by == i) & (bx == j)
            sel = blk & ok
            if sel.any():
                signed[i, j] = r[sel].mean()
                absd[i, j] = np.abs(r[sel]).mean()
            valid[i, j] = sel.sum() / blk.sum()
    return signed, absd, valid


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("grid", [1, 3, 8])
def test_warp_residual_blocks_matches_numpy(seed: int, grid: int):
    rng = np.random.default_rng(seed)
    h, w = 23, 37
    prev = rng.integers(0, 256, (h, w)).astype(np.uint8)
    cur = rng.integers(0, 256, (h, w)).astype(np.uint8)
    flow_bwd = rng.normal(0, 2, (h, w, 2)).astype(np.float32)
    # a forward flow that mostly cancels the backward one, with inconsistent patches
    flow_fwd = (-flow_bwd + rng.normal(0, 0.2, (h, w, 2))).astype(np.float32)
    flow_fwd[:5, :5] += 9.0
    for a in (prev, cur, flow_bwd, flow_fwd):
        a.setflags(write=False)
    got = warp_residual_blocks(prev, cur, flow_bwd, flow_fwd, grid=grid)
    want = warp_residual_blocks_ref(prev, cur, flow_bwd, flow_fwd, grid)
    for g, w_ in zip(got, want):
        assert_allclose(g, w_, rtol=1e-4, atol=1e-3)


def test_warp_residual_blocks_zero_for_a_true_shift():
    """prev shifted right by 2 px is cur: with the right flow the residual vanishes."""
    rng = np.random.default_rng(3)
    prev = rng.integers(0, 256, (20, 40)).astype(np.float32)
    cur = np.roll(prev, 2, axis=1)
    flow_bwd = np.zeros((20, 40, 2), np.float32)
    flow_bwd[..., 0] = -2.0
    flow_fwd = -flow_bwd
    signed, absd, valid = warp_residual_blocks(prev, cur, flow_bwd, flow_fwd, grid=2)
    assert np.nanmax(absd) < 1e-3
    assert valid[:, 1].min() == 1.0 and valid[:, 0].min() > 0.8  # left edge leaves the frame


def test_warp_residual_blocks_checks_shapes():
    a = np.zeros((4, 4), np.uint8)
    z = np.zeros((4, 4, 2), np.float32)
    with pytest.raises(ValueError, match="one shape"):
        warp_residual_blocks(a, np.zeros((4, 5), np.uint8), z, z, grid=2)
    with pytest.raises(ValueError, match="flows"):
        warp_residual_blocks(a, a, z[:, :3], z, grid=2)
    with pytest.raises(ValueError, match="grid"):
        warp_residual_blocks(a, a, z, z, grid=0)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize("shape", [(1, 1), (1, 2), (7, 5), (36, 64), (144, 256)])
def test_flow_median_matches_numpy(seed: int, shape: tuple[int, int]):
    rng = np.random.default_rng(seed)
    flow = rng.normal(0, 3, shape + (2,)).astype(np.float32)
    if seed == 1:
        flow = np.round(flow)  # many ties
    if seed == 2:
        flow[..., 0] += 5.0  # a panning camera with a fast object
        flow[: shape[0] // 3 + 1, : shape[1] // 3 + 1] = (-20.0, 7.0)
    flow.setflags(write=False)
    med = flow_median(flow)
    assert med.dtype == np.float32
    assert_allclose(med, np.median(flow.reshape(-1, 2), axis=0), rtol=0, atol=0)


def test_flow_median_checks_its_input():
    with pytest.raises(ValueError, match="shape"):
        flow_median(np.zeros((4, 4), np.float32))
    with pytest.raises(ValueError, match="shape"):
        flow_median(np.zeros((0, 4, 2), np.float32))


def rolling_median_ref(x: np.ndarray, half: int) -> np.ndarray:
    n = x.shape[0]
    out = np.full(x.shape, np.nan)
    for t in range(n):
        win = x[max(0, t - half):t + half + 1]
        for j in range(x.shape[1]):
            vals = win[:, j][np.isfinite(win[:, j])]
            if vals.size:
                out[t, j] = np.median(vals)
    return out


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize("shape,half", [((1, 1), 0), ((1, 3), 4), ((5, 2), 1), ((48, 64), 24),
                                        ((300, 8), 12), ((7, 3), 10)])
def test_rolling_median_matches_numpy(seed: int, shape: tuple[int, int], half: int):
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 5, shape)
    if seed == 1:
        x = np.round(x)  # many ties
    if seed == 2:
        x[rng.random(shape) < 0.3] = np.nan  # frames with no residual
    if seed == 3:
        x[:, 0] = np.nan  # a signal never measured
    x.setflags(write=False)
    assert_allclose(rolling_median(x, half), rolling_median_ref(x, half), rtol=0, atol=1e-12)


def test_rolling_median_checks_its_input():
    with pytest.raises(ValueError, match="2-d"):
        rolling_median(np.zeros(4), 1)
    with pytest.raises(ValueError, match="half"):
        rolling_median(np.zeros((4, 2)), -1)
