"""The morphing detector's structure drift on tiny made-up takes whose truth is known."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from feed import feed, written_take

from qc.config import MorphingConfig
from qc.detectors import DETECTORS
from qc.detectors.base import face_blocks
from qc.detectors.morphing import MorphingDetector
from qc.motion import MOTION_GRID

N = 96
FPS = 24.0
#: the region whose content turns into something else, frames 36-60 (1.5-2.5 s of 4 s:
#: a morph over half of a take raises the take's own spread, which hides it)
REGION = (slice(40, 90), slice(100, 170))    # rows, columns of a 256 x 144 frame
REGION_BOX = (100 / 256, 40 / 144, 170 / 256, 90 / 144)  # the same as frame fractions


def _texture(rng: np.random.Generator, sigma: float) -> np.ndarray:
    base = cv2.GaussianBlur(rng.integers(0, 256, (144, 256)).astype(np.uint8), (0, 0), sigma)
    return cv2.normalize(base, None, 40, 220, cv2.NORM_MINMAX).astype(np.float32)


def _morphing_take(seed: int) -> list[np.ndarray]:
    """A still textured scene; in REGION the texture turns into another from 1.5 to 2.5 s."""
    rng = np.random.default_rng(seed)
    scene, other = _texture(rng, 1.5), _texture(rng, 4.0)
    mix = np.clip((np.arange(N) - 36) / 24, 0, 1)
    frames = []
    for p in mix:
        img = scene.copy()
        img[REGION] = (1 - p) * scene[REGION] + p * other[REGION]
        frames.append(np.clip(img + rng.normal(0, 1.0, img.shape), 0, 255).astype(np.uint8))
    return frames


def _events(frames: list[np.ndarray], faces=(), **cfg) -> list:
    det = MorphingDetector(MorphingConfig(**cfg))
    feed(det, frames, fps=FPS, faces=faces)  # what the faces detector publishes, running first
    return [e for e in det.finish(np.arange(len(frames)) / FPS).events if e.label == "shape drift"]


def test_content_turning_into_something_else_is_shape_drift():
    events = _events(_morphing_take(3))
    assert events and all(1.4 <= e.start_s and e.end_s <= 3.1 for e in events)


def test_a_still_take_has_no_shape_drift():
    rng = np.random.default_rng(4)
    scene = _texture(rng, 1.5)
    frames = [np.clip(scene + rng.normal(0, 1.0, scene.shape), 0, 255).astype(np.uint8)
              for _ in range(N)]
    assert _events(frames) == []


def test_change_inside_a_followed_face_is_left_to_the_faces_detector():
    frames = _morphing_take(3)
    assert _events(frames, faces=(REGION_BOX,)) == []
    # ... unless told otherwise, and a face elsewhere changes nothing
    assert _events(frames, faces=(REGION_BOX,), leave_faces=False)
    assert _events(frames, faces=((0.0, 0.0, 0.1, 0.1),))


def test_face_blocks_cover_the_head_around_the_box():
    # a box over x 0.4-0.6, y 0.4-0.6 of the frame on an 8 x 8 grid; widened by 0.3 of its
    # size sideways and below (x 0.34-0.66, y to 0.66) and by 0.7 above (y from 0.26):
    # columns 2-5, rows 2-5
    got = face_blocks(((0.4, 0.4, 0.6, 0.6),), 8)
    want = np.zeros((8, 8), bool)
    want[2:6, 2:6] = True
    assert np.array_equal(got, want)
    # a box at the edge stays inside the grid; no box, no blocks
    assert face_blocks(((0.9, 0.9, 1.0, 1.0),), 8)[7, 7]
    assert not face_blocks((), MOTION_GRID).any()


def test_faces_run_before_morphing():
    # morphing reads frame.faces, which the faces detector publishes in its update
    order = list(DETECTORS)
    assert order.index("faces") < order.index("morphing")


@pytest.mark.parametrize("seed", [79008, 87001, 97005])
def test_a_fade_to_black_leaves_no_shape_drift(seed: int, monkeypatch, tmp_path):
    # generated fades to black (seeds of the 79000-, 87000- and 97000- bench sets,
    # session 22): as the picture darkens, each block's anchor carried along the flow
    # is off by the fade, textured blocks most, and the sprite's blocks read as drift
    # over the last frames (luma 0.07-0.54 of the take's usual), which sent the take to
    # review; 11 of the 16 drift events on the eleven sets' fades were there
    from qc.config import Config
    from qc.detectors import morphing
    from qc.scan import analyse_take

    path, _ = written_take("fade", seed, tmp_path)

    def drift() -> list:
        return [e for e in analyse_take(path, Config()).events if e.label == "shape drift"]

    assert drift() == []
    monkeypatch.setattr(morphing, "faded", lambda luma: np.zeros(len(luma), bool))
    assert drift()
