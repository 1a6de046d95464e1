"""The flicker detector's boiling measure on tiny made-up takes whose truth is known."""

from __future__ import annotations

import cv2
import numpy as np

from qc.config import FlickerConfig
from qc.decode import Frame
from qc.detectors.flicker import FlickerDetector
from qc.motion import Motion

N = 36


def _run(frames: list[np.ndarray]) -> list:
    det = FlickerDetector(FlickerConfig())
    prev = None
    for i, gray in enumerate(frames):
        frame = Frame(i, i / 24, np.dstack([gray] * 3))
        if prev is not None:
            frame.motion = Motion(prev, gray, shrunk=True)
        prev = gray
        det.update(frame)
    return det.finish(np.arange(len(frames)) / 24).events


def _scene(rng: np.random.Generator) -> np.ndarray:
    base = cv2.GaussianBlur(rng.integers(0, 256, (144, 256)).astype(np.uint8), (0, 0), 1.2)
    return cv2.normalize(base, None, 40, 220, cv2.NORM_MINMAX).astype(np.float32)


def test_a_fade_is_no_boiling():
    rng = np.random.default_rng(7)
    scene = _scene(rng)
    gain = np.r_[np.ones(N - 6), np.linspace(1.0, 0.1, 6)]  # a quick fade to black at the end
    frames = [np.clip(scene * g + rng.normal(0, 1.0, scene.shape), 0, 255).astype(np.uint8)
              for g in gain]
    assert not [e for e in _run(frames) if e.label == "texture boiling"]


def test_detail_reinvented_in_one_area_is_boiling():
    rng = np.random.default_rng(8)
    scene = _scene(rng)
    frames = []
    for i in range(N):
        img = scene + rng.normal(0, 1.0, scene.shape)
        if 14 <= i <= 24:  # fine detail re-invented every frame in one area
            img[40:90, 100:170] = _scene(rng)[40:90, 100:170]
        frames.append(np.clip(img, 0, 255).astype(np.uint8))
    boils = [e for e in _run(frames) if e.label == "texture boiling"]
    assert boils and all(0.5 <= e.start_s and e.end_s <= 1.1 for e in boils)
