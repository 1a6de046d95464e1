"""The flicker detector's boiling measure on tiny made-up takes whose truth is known."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from feed import feed, written_take

from qc.config import FlickerConfig
from qc.detectors import flicker
from qc.detectors.flicker import WARP_LABEL, FlickerDetector
from qc.synth import render_take

N = 36


def _run(frames: list[np.ndarray]) -> list:
    det = FlickerDetector(FlickerConfig())
    feed(det, frames)
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


def test_faint_detail_reinvented_in_a_quiet_take_is_boiling():
    # a third of the area's detail re-invented every frame: a residual of about 8 grey
    # levels where the rest of the take reads 1, under the 10-level floor of before
    rng = np.random.default_rng(11)
    scene = _scene(rng)
    frames = []
    for i in range(N):
        img = scene + rng.normal(0, 1.0, scene.shape)
        if 14 <= i <= 24:
            patch = _scene(rng)[40:90, 100:170]
            img[40:90, 100:170] = 0.7 * scene[40:90, 100:170] + 0.3 * patch
        frames.append(np.clip(img, 0, 255).astype(np.uint8))
    boils = [e for e in _run(frames) if e.label == "texture boiling"]
    assert boils and all(0.5 <= e.start_s and e.end_s <= 1.1 for e in boils)


def test_grain_that_grows_slowly_in_one_area_is_no_boiling():
    # the noise of an area growing steadily from frame 12 on as its light falls (sensor
    # grain): by the end far above the take's typical residual (an event against the
    # whole take's median), never far above the second before it
    rng = np.random.default_rng(12)
    scene = _scene(rng)
    frames = []
    for i in range(48):
        img = scene + rng.normal(0, 1.0, scene.shape)
        img[40:90, 100:170] += rng.normal(0, 0.5 + 0.35 * max(0, i - 12), (50, 70))
        frames.append(np.clip(img, 0, 255).astype(np.uint8))
    assert not [e for e in _run(frames) if e.label == "texture boiling"]


def test_a_take_padded_with_copies_is_judged_at_its_cadence():
    # a take made at a lower rate and padded with copies (two of every five frames), an
    # area re-drawn with a different amount of noise on each frame that moves (water,
    # a strumming hand): the copies' residual of 0 must neither set the area's usual
    # level nor shrink the take's spread (with them counted, 3 boiling events)
    rng = np.random.default_rng(13)
    scene = _scene(rng)
    frames: list[np.ndarray] = []
    for i in range(48):
        if not frames or "mcmcm"[i % 5] == "m":
            img = scene + rng.normal(0, 1.0, scene.shape)
            img[40:90, 100:170] += rng.normal(0, 16.0 * rng.random(), (50, 70))
            frames.append(np.clip(img, 0, 255).astype(np.uint8))
        else:
            frames.append(frames[-1].copy())
    assert not [e for e in _run(frames) if e.label == "texture boiling"]


def test_a_light_coming_up_in_one_area_is_no_boiling():
    # a lamp brightening one area by 16 levels a frame for 8 frames: a residual of one
    # sign, a change of light, not detail re-invented
    rng = np.random.default_rng(10)
    scene = _scene(rng)
    lamp = np.zeros_like(scene)
    lamp[40:100, 90:180] = 1.0
    lamp = cv2.GaussianBlur(lamp, (0, 0), 4)
    frames = []
    for i in range(N):
        level = 16.0 * float(np.clip(i - 12, 0, 8))
        img = scene * 0.6 + lamp * level + rng.normal(0, 1.0, scene.shape)
        frames.append(np.clip(img, 0, 255).astype(np.uint8))
    assert not [e for e in _run(frames) if e.label == "texture boiling"]


def test_bouncing_balls_of_the_generator_are_neither_boiling_nor_flicker():
    # a ball the flow cannot follow as it falls leaves a residual that moves against the
    # camera: 4 of these 20 bounces had a boiling or regional-flicker event before that
    # was taken into account (7 of the first 40), 2 have one now (seeds 1 and 16: the
    # flow misses the ball altogether, so its block hardly moves against the camera)
    flagged = []
    for seed in range(20):
        frames, _ = render_take("bounce", seed=seed)
        events = _run([cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in frames])
        if any(e.label in ("texture boiling", "regional flicker") for e in events):
            flagged.append(seed)
    assert len(flagged) <= 2, flagged


@pytest.mark.parametrize("seed", [73001, 73003, 73004, 73009])
def test_an_elastic_warp_of_the_generator_is_warping_not_boiling(seed):
    # the flow does not follow a warp's moving structure and leaves a residual that reads
    # as boiling, but one that goes on the same way from frame to frame (coherence -0.05
    # to 0.37 at the event here) instead of undoing itself as detail re-invented does
    # (-0.46 to -0.56 for the boils below, -0.44 and -0.49 for the made-up ones above),
    # so it is reported as morphing
    frames, truth = render_take("morph_warp", seed=seed)
    events = _run([cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in frames])
    (injected,) = truth.events
    assert not [e for e in events if e.label == "texture boiling"]
    warps = [e for e in events if e.label == WARP_LABEL]
    assert warps and all(e.artifact == "morphing" for e in warps)
    assert all(injected.start_s <= e.start_s and e.end_s <= injected.end_s for e in warps)


@pytest.mark.parametrize("seed", [71001, 73000, 73002, 73008])
def test_boiling_of_the_generator_stays_boiling(seed):
    # found before warping was told from boiling, and still boiling
    frames, truth = render_take("flicker_boil", seed=seed)
    events = _run([cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in frames])
    assert [e.label for e in events] == ["texture boiling"]
    assert abs(events[0].start_s - truth.events[0].start_s) <= 0.25


@pytest.mark.parametrize("seed", [77001, 83005, 83008])
def test_boiling_among_edges_the_flow_does_not_follow_is_boiling(seed):
    # generated boils (seeds of the 77000- and 83000- bench sets, session 17) over
    # grass, rocket and chelsea backgrounds that nothing found: elsewhere in the take the
    # edges of moving things leave as much residual above their usual level as the boil
    # adds (8-13 grey levels), so the take's spread put the bar at 15 and 27 levels on the
    # last two.  On each of its frames the boil's residual undoes the step before's
    # (coherence -0.3 to -0.8), those edges' does not; measured over such blocks alone
    # the boil stands out
    frames, truth = render_take("flicker_boil", seed=seed)
    events = _run([cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in frames])
    (injected,) = truth.events
    boils = [e for e in events if e.label == "texture boiling"]
    assert boils and all(e.artifact == "flicker" for e in boils)
    assert any(e.start_s <= injected.end_s and injected.start_s <= e.end_s for e in boils)


def _written_boil(seed: int, tmp_path, kind: str = "flicker_boil") -> tuple:
    """A generated boil (or a take of another ``kind``) written as the bench writes it
    (:func:`feed.written_take`): its injected event (None for a clean kind), and a function that
    scans it and returns its boiling events."""
    from qc.config import Config
    from qc.scan import analyse_take

    path, truth = written_take(kind, seed, tmp_path)
    injected = truth.events[0] if truth.events else None

    def boils() -> list:
        events = analyse_take(path, Config()).events
        return [e for e in events if e.label == "texture boiling"]

    return injected, boils


def test_a_weak_boil_held_near_its_bar_is_boiling(monkeypatch, tmp_path):
    # a generated boil over bricks (87000-'s flicker_boil_1, session 18) that nothing
    # found: measured over the blocks re-invented on each frame it reads 0.6-1.4 of its
    # bar for 12 frames (nothing else in the take over 0.54), over the bar a few frames
    # at a time; held near the bar for 0.4 s, reaching it, it is boiling
    injected, boils = _written_boil(87001, tmp_path)
    (found,) = boils()
    assert found.artifact == "flicker"
    assert found.start_s <= injected.end_s and injected.start_s <= found.end_s
    monkeypatch.setattr(flicker, "REINVENTED_HELD", 1.0)  # only over the bar counts
    assert boils() == []


@pytest.mark.parametrize("seed", [77004, 79001, 93002])
def test_a_faint_boil_drawn_anew_on_every_frame_is_boiling(monkeypatch, seed: int, tmp_path):
    # generated boils over the smooth moon picture (77004, 79001) and over bricks
    # (93002; session 20) that nothing found: over the blocks re-invented on each frame
    # they read 2.5-7 grey levels for 12-17 frames, under the 7-level floor of boiling;
    # those blocks are surely boiling, and their floor is 6
    injected, boils = _written_boil(seed, tmp_path)
    found = boils()
    assert found and all(e.artifact == "flicker" for e in found)
    assert any(e.start_s <= injected.end_s and injected.start_s <= e.end_s for e in found)
    monkeypatch.setattr(flicker, "REINVENTED_FLOOR", 1.0)  # the floor of all boiling
    assert boils() == []


def test_lit_windows_passing_by_are_no_flash():
    # two bright windows of a passing train cross a dark, still scene at 110 px a frame:
    # the mean brightness rises and falls back at once, the picture itself does not
    # flicker (the typical block's motion-compensated change stays near 0)
    rng = np.random.default_rng(11)
    scene = _scene(rng) * 0.4
    window = np.clip(_scene(rng)[:50, :36] * 0.3 + 170, 0, 255)
    frames = []
    for i in range(N):
        img = scene + rng.normal(0, 1.0, scene.shape)
        x = 256 + 110 * (17 - i)
        for w0 in (x, x + 140):
            a, b = max(0, w0), min(256, w0 + 36)
            if a < b:
                img[40:90, a:b] = window[:, a - w0:b - w0]
        frames.append(np.clip(img, 0, 255).astype(np.uint8))
    assert not [e for e in _run(frames) if e.label in ("flash", "brightness pumping")]


def test_the_whole_picture_brightening_for_one_frame_is_a_flash():
    rng = np.random.default_rng(12)
    scene = _scene(rng)
    frames = [np.clip(scene * (1.3 if i == 20 else 1.0) + rng.normal(0, 1.0, scene.shape), 0, 255)
              .astype(np.uint8) for i in range(N)]
    flashes = [e for e in _run(frames) if e.label == "flash"]
    assert [round(e.start_s * 24) for e in flashes] == [20]


@pytest.mark.parametrize("seed", [51006, 53003, 53007])
def test_a_region_pumping_so_hard_the_flow_reads_it_moving_is_regional_flicker(seed: int):
    # generated regional flicker (seeds of the bench sets 51000- and 53000-): an area
    # 19-22% brighter and darker by turns, over a sprite moving 2-3 px a frame; the
    # pumping makes the flow read the area as moving 3-40 px a frame, so none of its
    # blocks stayed put and all three were missed.  The block's own mean swings with
    # its residual on every frame of the run: it is the region that pumps
    frames, truth = render_take("flicker_region", seed=seed)
    det = FlickerDetector(FlickerConfig())
    fed = feed(det, frames)
    events = [e for e in det.finish(np.array([f.t_s for f in fed])).events
              if e.label == "regional flicker"]
    assert [round(e.start_s * 24) for e in events] == [round(truth.events[0].start_s * 24)]


@pytest.mark.parametrize("seed", [81003, 87009])
def test_strong_grain_out_of_place_for_one_frame_is_no_regional_flicker(seed: int, monkeypatch,
                                                                        tmp_path):
    # generated strong grain (seeds of the 81000- and 87000- bench sets, session 22):
    # one block of the panning picture reversing twice, at 1.0 and 1.08 of the bar, read
    # as regional flicker; 87009 failed on it with a weak boil, under 23 broken takes
    # that fail
    from qc.config import Config
    from qc.scan import analyse_take

    path, _ = written_take("grain", seed, tmp_path)

    def regional() -> list:
        return [e for e in analyse_take(path, Config()).events if e.label == "regional flicker"]

    assert regional() == []
    monkeypatch.setattr(flicker, "BLIP_BAR", 1.0)  # a blip counts at the bar
    assert len(regional()) == 1


def test_a_region_far_out_of_place_for_two_frames_is_regional_flicker():
    """A still textured picture whose disc of radius 30 px (a seventh of the picture) is
    25% brighter on frame 18 and 25% darker on frame 19: its blocks reverse twice, far
    above the bar (5.7 times it), and the picture as a whole does not flash."""
    rng = np.random.default_rng(21)
    scene = _scene(rng)
    yy, xx = np.mgrid[0:144, 0:256]
    disc = ((yy - 70) ** 2 + (xx - 150) ** 2 <= 30 ** 2).astype(np.float32)
    frames = [np.clip(scene * (1.0 + {18: 0.25, 19: -0.25}.get(i, 0.0) * disc)
                      + rng.normal(0, 1.0, scene.shape), 0, 255).astype(np.uint8) for i in range(N)]
    events = _run(frames)
    assert [(e.label, round(e.start_s * 24)) for e in events] == [("regional flicker", 18)]


@pytest.mark.parametrize("kind, seed", [("bounce", 81006), ("bounce", 85009), ("bounce", 87007),
                                        ("zoom", 85009)])
def test_a_thing_the_flow_loses_for_a_frame_or_two_is_no_boiling(
        monkeypatch, kind: str, seed: int, tmp_path):
    # generated takes (seeds of the 81000-, 85000- and 87000- bench sets, session 21)
    # that failed on boiling: where a ball meets the floor the flow loses it, and its
    # block spikes over the boiling bar for three frames with a dip between (85009: 1.3,
    # 4.2, 0.1, 3.3, 0.5 of the bar) and no frame near it either side; a zoom's corner
    # blocks, as content leaves the frame, spike one at a time (2.1, 1.1, 0.2, 1.1)
    _, boils = _written_boil(seed, tmp_path, kind=kind)
    assert boils() == []
    monkeypatch.setattr(flicker, "BRIEF_FRAMES", 0)  # every event of three frames counts
    assert boils()


def test_a_brief_boil_held_near_its_bar_is_boiling(monkeypatch, tmp_path):
    # a generated boil over the rocket picture (77000-'s flicker_boil_3): over the bar
    # for three frames only, but at 0.6-1.0 of it for eight
    injected, boils = _written_boil(77003, tmp_path)
    found = boils()
    assert any(e.start_s <= injected.end_s and injected.start_s <= e.end_s for e in found)
    monkeypatch.setattr(flicker, "BRIEF_HELD_FRAMES", 48)  # held longer than the take
    assert not any(e.start_s <= injected.end_s and injected.start_s <= e.end_s for e in boils())
