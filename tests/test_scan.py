"""One take's analysis: decoding ahead in a thread measures exactly what decoding in turn does."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from fixture_takes import FIXTURES, TRUTH

from qc.config import Config, DecodeConfig
from qc.scan import analyse_take

#: one fixture of each detector's artifact, and the benign kinds that stress the decoder
KINDS = ("clean", "face_swap", "flash", "morph_warp", "teleport", "gif_dither", "short")


@pytest.mark.parametrize("kind", KINDS)
def test_prefetching_changes_nothing(analysed, kind):
    """The session's analyses decode ahead (the default); these decode in turn."""
    rel = next(r for r, t in TRUTH.items() if t["kind"] == kind)
    config = dataclasses.replace(Config(), decode=DecodeConfig(prefetch=0))
    in_turn = analyse_take(FIXTURES / rel, config)
    ahead, _ = analysed[kind]
    assert Config().decode.prefetch > 0
    assert in_turn.status == ahead.status == "ok"
    assert in_turn.media == ahead.media
    assert in_turn.events == ahead.events
    assert in_turn.signals.keys() == ahead.signals.keys()
    for key in ahead.signals:
        np.testing.assert_array_equal(in_turn.signals[key], ahead.signals[key], err_msg=key)


def test_timings_split_decoding_motion_and_each_detector(analysed):
    analysis, _ = analysed["clean"]
    assert {"decode", "motion", "flicker", "faces", "morphing", "physics", "total"} <= set(
        analysis.timings_s)
    assert all(v >= 0 for v in analysis.timings_s.values())
    parts = sum(v for k, v in analysis.timings_s.items() if k != "total")
    assert parts <= analysis.timings_s["total"] * 1.05


def test_a_take_past_its_time_limit_stops_in_the_analysis_itself():
    """The deadline is checked after every frame, in the process that analyses (the
    supervisor's kill is only the backstop), and the decode thread is stopped."""
    import threading

    rel = next(r for r, t in TRUTH.items() if t["kind"] == "clean")
    config = Config().replace("scan", take_timeout_s=1e-6)
    assert config.decode.prefetch > 0
    result = analyse_take(FIXTURES / rel, config)
    assert result.status == "error"
    assert "time limit of 1e-06 s after 1 frames" in result.error
    assert not [t for t in threading.enumerate() if t.name == "qc-decode"]


def test_an_artifact_whose_detector_is_off_reports_nothing_even_found_by_another(tmp_path):
    # the flicker detector's boiling measure reports an elastic warp as morphing
    # ("warping"); with morphing off the take has no morphing event, and the warp is not
    # passed off as boiling either
    from qc.synth import render_take, write_take

    frames, truth = render_take("morph_warp", seed=73004)
    path = tmp_path / "warp.mp4"
    write_take(frames, path, fps=truth.fps)
    on = analyse_take(path, Config())
    assert [e.label for e in on.events if e.artifact == "morphing" and e.label == "warping"]
    off = analyse_take(path, Config().replace("morphing", enabled=False))
    assert off.status == "ok"
    assert [e for e in off.events if e.artifact == "morphing"] == []
    assert [e for e in off.events if e.label == "texture boiling"] == []
