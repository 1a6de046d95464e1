from __future__ import annotations

import numpy as np

from qc.motion import MOTION_GRID, Motion


def _motion_with_flow(flow: np.ndarray) -> Motion:
    h, w = flow.shape[:2]
    m = Motion(np.zeros((h, w), np.uint8), np.zeros((h, w), np.uint8), shrunk=True)
    m.__dict__["flow_fwd"] = flow  # stands in for the computed flow (a cached property)
    return m


def test_camera_is_the_median_flow():
    rng = np.random.default_rng(3)
    flow = rng.normal(0, 0.3, (144, 256, 2)).astype(np.float32) + np.float32([2.0, -1.0])
    flow[:40, :60] = (9.0, 9.0)  # an object moving its own way does not move the camera
    cam = _motion_with_flow(flow).camera
    np.testing.assert_allclose(cam, np.median(flow[::2, ::2].reshape(-1, 2), axis=0), rtol=1e-6)
    np.testing.assert_allclose(cam, (2.0, -1.0), atol=0.1)


def test_block_flow_is_each_blocks_mean_flow_less_the_camera():
    rng = np.random.default_rng(4)
    h, w = 144, 256
    flow = rng.normal(0, 1.0, (h, w, 2)).astype(np.float32) + np.float32([0.5, -0.25])
    m = _motion_with_flow(flow)
    g = MOTION_GRID
    want = flow.reshape(g, h // g, g, w // g, 2).mean(axis=(1, 3)) - m.camera
    np.testing.assert_allclose(m.block_flow, want, atol=1e-5)
