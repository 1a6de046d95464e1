"""The detectors' shared pieces: the per-frame signal buffer."""

from __future__ import annotations

import math

import numpy as np

from qc.detectors.base import SignalBuffer


def test_a_signal_buffer_fills_what_a_frame_did_not_give_and_knows_its_newest_value():
    buf = SignalBuffer(("a", "b"))
    assert math.isnan(buf.last("a"))   # before the first frame
    buf.append(a=1.0)                  # b unknown on this frame
    buf.append(a=2.0, b=0.5)
    assert len(buf) == 2
    assert buf.last("a") == 2.0 and buf.last("b") == 0.5
    assert buf.at("a", 0) == 1.0 and math.isnan(buf.at("b", 0))
    assert math.isnan(buf.at("a", 2)) and math.isnan(buf.at("a", -1))  # not there
    arrays = buf.arrays()
    assert arrays["a"].tolist() == [1.0, 2.0]
    assert np.isnan(arrays["b"][0]) and arrays["b"][1] == 0.5
