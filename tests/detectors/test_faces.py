"""The face jitter measure on written-down velocity tracks (the fixture's jitter is too
subtle for the jitter floor, so these pin the measure itself)."""

from __future__ import annotations

import numpy as np

from qc.detectors.faces import _zigzag


def test_a_head_that_starts_and_stops_turning_is_not_jitter():
    # face widths a frame: speeding up smoothly, turning steadily, slowing down
    vel = np.array([[0, 0], [0.02, 0], [0.04, 0], [0.06, 0], [0.06, 0], [0.03, 0], [0, 0]], float)
    jitter, frames = _zigzag(np.arange(len(vel)), vel)
    assert frames.tolist() == [1, 2, 3, 4, 5]
    assert np.all(jitter == 0)


def test_a_face_that_jumps_and_returns_is_jitter():
    # still, a jump of 0.06 face widths at frame 3 and straight back at frame 4
    vel = np.array([[0, 0], [0, 0], [0, 0], [0.06, 0], [-0.06, 0], [0, 0], [0, 0]], float)
    jitter, frames = _zigzag(np.arange(len(vel)), vel)
    by_frame = dict(zip(frames.tolist(), jitter.tolist()))
    assert by_frame[3] == 0.06 and by_frame[4] == 0.06
    assert by_frame[1] == by_frame[5] == 0


def test_samples_across_a_gap_in_tracking_do_not_count():
    vel = np.array([[0.06, 0], [-0.06, 0], [0.06, 0]], float)
    jitter, frames = _zigzag(np.array([0, 1, 5]), vel)
    assert frames.size == 0 and jitter.size == 0
