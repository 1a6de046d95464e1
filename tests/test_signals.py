from __future__ import annotations

import numpy as np
import pytest

from qc.detectors.base import Event
from qc.signals import (events_from_score, fps_of, held_frames, lower_mad, mad, robust_z, runs,
                        severity_from_ratio)


def test_robust_z_ignores_outliers_and_nan():
    x = np.r_[np.ones(20), 50.0, np.nan]
    z = robust_z(x, floor=1.0)
    assert z[20] == pytest.approx(49.0)
    assert np.isnan(z[21])
    assert np.all(z[:20] == 0)


def test_runs_joins_small_gaps():
    m = np.array([1, 1, 0, 1, 0, 0, 0, 1], bool)
    assert runs(m) == [(0, 1), (3, 3), (7, 7)]
    assert runs(m, max_gap=1) == [(0, 3), (7, 7)]
    assert runs(np.zeros(4, bool)) == []


def test_severity_is_monotonic_and_bounded():
    values = [severity_from_ratio(r) for r in (0.5, 1.0, 1.5, 3.0, 100.0)]
    assert values[0] == 0.0
    assert values == sorted(values)
    assert 0.3 <= values[1] < values[-1] <= 1.0


def test_events_from_score_times_and_severity():
    t = np.arange(10) / 10
    score = np.zeros(10)
    score[3:5] = [2.0, 1.2]
    score[8] = 1.0
    evs = events_from_score(score, t, artifact="flicker", label="x")
    assert [(e.start_s, e.end_s) for e in evs] == [(0.3, 0.4), (0.8, 0.8)]
    assert evs[0].severity == pytest.approx(severity_from_ratio(2.0))
    assert all(isinstance(e, Event) and e.artifact == "flicker" for e in evs)


def test_mad_and_fps():
    assert mad(np.array([np.nan, 1.0, 1.0, 1.0])) == 0.0
    assert fps_of(np.arange(5) / 25.0) == pytest.approx(25.0)
    assert fps_of(np.array([0.0])) == 24.0


def test_lower_mad_ignores_a_long_raised_stretch():
    quiet = np.array([1.0, 1.2, 0.8, 1.1, 0.9, 1.0])
    raised = np.r_[quiet, np.full(5, 9.0)]
    # the raised stretch is 5 of 11 frames: the ordinary MAD takes it for the spread
    assert lower_mad(raised) <= 3 * mad(quiet) < mad(raised)


def test_a_step_next_to_a_cut_is_no_copy():
    # 0.4 grey levels after a cut of 40 is a slow picture moving on, as the 0.45-0.55
    # before the cut were; only the 0.05 is a copy
    absdiff = np.array([np.nan, 0.5, 0.45, 0.55, 40.0, 0.4, 0.5, 0.45, 0.05, 0.5, 0.45])
    assert np.flatnonzero(held_frames(absdiff)).tolist() == [8]
