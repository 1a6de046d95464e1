"""Tests for qc.synth: the labelled synthetic-take generator.

Each injection test checks the pixels (or the object track the renderer
reports) at the frames the truth names, and checks that the rest of the take
is free of it.
"""

from __future__ import annotations

import inspect
import json
import math
import warnings

import av
import cv2
import numpy as np
import pytest

from qc import synth
from qc.synth import ARTIFACTS, KINDS, Truth, TruthEvent, make_set, read_truth, render_take, write_take

SEEDS = [0, 1, 2, 3]
SMALL = {"width": 128, "height": 72, "fps": 24.0, "n_frames": 24}
FACE = {"width": 256, "height": 144, "fps": 24.0, "n_frames": 24}


def _take(kind: str, seed: int = 0, **size):
    """Frames, truth and the renderer's object tracks for one take."""
    opts = {**SMALL, **size}
    take, truth = synth._render_take(kind, seed=seed, **opts)
    return take.frames, truth, take.tracks


def _frames_of(truth: Truth, event: TruthEvent) -> tuple[int, int]:
    return round(event.start_s * truth.fps), round(event.end_s * truth.fps)


def _luma(frames: np.ndarray) -> np.ndarray:
    return frames.astype(np.float64) @ np.array([0.299, 0.587, 0.114])


def _mean_residual(series: np.ndarray) -> np.ndarray:
    """|x_t - (x_{t-1} + x_{t+1}) / 2| for interior t, NaN at the ends."""
    out = np.full(series.shape, np.nan)
    out[1:-1] = np.abs(series[1:-1] - 0.5 * (series[:-2] + series[2:]))
    return out


def _mask(n: int, a: int, b: int) -> np.ndarray:
    m = np.zeros(n, bool)
    m[a:b + 1] = True
    return m


# --------------------------------------------------------------------------
# the table and the truth


def test_kinds_table() -> None:
    assert set(v for v in KINDS.values() if v is not None) == set(ARTIFACTS)
    for name in ("clean", "fast_pan", "zoom", "exposure_ramp", "fade", "bounce", "grain",
                 "talking_face", "short", "gif_dither"):
        assert KINDS[name] is None
    assert synth.take_suffix("gif_dither") == ".gif"
    assert synth.take_suffix("clean") == ".mp4"


@pytest.mark.parametrize("kind", list(KINDS))
def test_every_kind_renders(kind: str) -> None:
    frames, truth = render_take(kind, seed=1, **SMALL)
    n = 8 if kind == "short" else SMALL["n_frames"]
    assert frames.dtype == np.uint8
    assert frames.shape == (n, SMALL["height"], SMALL["width"], 3)
    assert (truth.kind, truth.artifact, truth.n_frames) == (kind, KINDS[kind], n)
    assert (truth.width, truth.height, truth.fps, truth.seed) == (128, 72, 24.0, 1)
    assert truth.description
    if truth.artifact is None:
        assert truth.events == ()
    else:
        assert truth.events
        edge = math.ceil(0.1 * n)
        for event in truth.events:
            a, b = _frames_of(truth, event)
            assert event.label
            assert edge <= a <= b <= n - 1 - edge, (event, n)
            assert 0.1 * truth.duration_s <= event.start_s <= event.end_s <= 0.9 * truth.duration_s
    # the picture is not degenerate
    assert frames.std() > 10


@pytest.mark.parametrize("kind", list(KINDS))
def test_truth_round_trips_through_json(kind: str) -> None:
    _, truth = render_take(kind, seed=2, **SMALL)
    again = Truth.from_dict(json.loads(json.dumps(truth.to_dict())))
    assert again == truth


@pytest.mark.parametrize("kind", ["clean", "teleport", "flicker_boil", "face_swap", "hidden_cut"])
def test_deterministic(kind: str) -> None:
    f1, t1 = render_take(kind, seed=5, **SMALL)
    f2, t2 = render_take(kind, seed=5, **SMALL)
    f3, t3 = render_take(kind, seed=6, **SMALL)
    np.testing.assert_array_equal(f1, f2)
    assert t1 == t2
    assert not np.array_equal(f1, f3)
    assert t1.description != t3.description


def test_content_varies_with_seed() -> None:
    descriptions = {render_take("teleport", seed=s, **SMALL)[1].description for s in range(6)}
    times = {render_take("flicker_global", seed=s, **SMALL)[1].events for s in range(6)}
    assert len(descriptions) == 6
    assert len(times) >= 4


def test_validation() -> None:
    with pytest.raises(ValueError, match="unknown kind"):
        render_take("wobble")
    with pytest.raises(ValueError, match="n_frames"):
        render_take("clean", n_frames=5)
    with pytest.raises(ValueError, match="frame size"):
        render_take("clean", width=16, height=16)
    frames, _ = render_take("clean", width=66, height=37, n_frames=12)
    with pytest.raises(ValueError, match="even"):
        write_take(frames, "/nonexistent/x.mp4", fps=24.0)
    with pytest.raises(ValueError, match="suffix"):
        write_take(frames, "/nonexistent/x.avi", fps=24.0)
    with pytest.raises(ValueError, match="uint8"):
        write_take(frames.astype(np.float32), "/nonexistent/x.mp4", fps=24.0)


# --------------------------------------------------------------------------
# clean and benign takes


@pytest.mark.parametrize("seed", SEEDS)
def test_clean_motion_is_smooth(seed: int) -> None:
    frames, truth, tracks = _take("clean", seed)
    steps = np.linalg.norm(np.diff(tracks["target"], axis=0), axis=1)
    assert steps.max() < 2.5 * np.median(steps) + 0.5
    residual = _mean_residual(_luma(frames).mean(axis=(1, 2)))
    assert np.nanmax(residual) < 1.0


def test_short_has_eight_frames() -> None:
    frames, truth = render_take("short", seed=0, **SMALL)
    assert len(frames) == truth.n_frames == 8


def test_fast_pan_moves_a_third_of_the_frame_per_second() -> None:
    frames, truth = render_take("fast_pan", seed=0, width=256, height=144, n_frames=12)
    grey = _luma(frames).astype(np.float32)
    window = cv2.createHanningWindow((256, 144), cv2.CV_32F)
    shifts = [cv2.phaseCorrelate(grey[i], grey[i + 1], window)[0] for i in range(len(grey) - 1)]
    speed = np.median([abs(s[0]) for s in shifts]) * truth.fps
    assert speed > 256 / 3


def test_exposure_ramp_is_slow_and_large() -> None:
    frames, _ = render_take("exposure_ramp", seed=0, **SMALL)
    mean = _luma(frames).mean(axis=(1, 2))
    assert abs(mean[-1] / mean[0] - 1) > 0.2
    assert np.nanmax(_mean_residual(mean)) < 1.0
    assert np.all(np.diff(mean) > 0) or np.all(np.diff(mean) < 0)


@pytest.mark.parametrize("seed", SEEDS)
def test_fade_reaches_black(seed: int) -> None:
    frames, _ = render_take("fade", seed=seed, **SMALL)
    mean = _luma(frames).mean(axis=(1, 2))
    assert min(mean[0], mean[-1]) < 4
    assert max(mean[0], mean[-1]) > 40


def test_grain_is_strong() -> None:
    def fine(frames: np.ndarray) -> float:
        grey = _luma(frames)
        return float(np.abs(grey[1:] - grey[:-1]).mean())

    assert fine(render_take("grain", seed=0, **SMALL)[0]) > 3 * fine(render_take("clean", seed=0, **SMALL)[0])


@pytest.mark.parametrize("seed", SEEDS)
def test_bounce_reverses_at_the_floor(seed: int) -> None:
    _, truth, tracks = _take("bounce", seed, n_frames=48)
    y = tracks["target"][:, 1]
    vy = np.diff(y)
    floor_hits = np.flatnonzero((vy[:-1] > 0) & (vy[1:] <= 0))
    assert len(floor_hits) >= 1
    # it hits the same floor each time (screen y, camera nearly still)
    assert np.ptp(y[floor_hits + 1]) < 4
    assert "contact" in truth.description


# --------------------------------------------------------------------------
# flicker


@pytest.mark.parametrize("seed", SEEDS)
def test_flicker_global_is_in_the_frame_mean(seed: int) -> None:
    frames, truth, _ = _take("flicker_global", seed)
    a, b = _frames_of(truth, truth.events[0])
    mean = _luma(frames).mean(axis=(1, 2))
    residual = _mean_residual(mean) / mean.mean()
    inside = _mask(len(frames), a, b)
    assert np.nanmax(residual[inside]) > 0.04
    outside = ~_mask(len(frames), a - 1, b + 1)
    assert np.nanmax(residual[outside]) < 0.01


def _cell_means(frames: np.ndarray, cells: int = 6) -> np.ndarray:
    t, h, w = frames.shape[:3]
    grey = _luma(frames)
    return np.stack([grey[:, r * h // cells:(r + 1) * h // cells, c * w // cells:(c + 1) * w // cells].mean(axis=(1, 2))
                     for r in range(cells) for c in range(cells)], axis=1)


@pytest.mark.parametrize("seed", SEEDS)
def test_flicker_region_is_local(seed: int) -> None:
    frames, truth, _ = _take("flicker_region", seed)
    a, b = _frames_of(truth, truth.events[0])
    cells = _cell_means(frames)
    residual = np.stack([_mean_residual(cells[:, j]) for j in range(cells.shape[1])], axis=1)
    inside = _mask(len(frames), a, b)
    outside = ~_mask(len(frames), a - 1, b + 1)
    worst_in = np.nanmax(residual[inside], axis=0)
    assert worst_in.max() > 6
    assert np.nanmax(residual[outside]) < 0.5 * worst_in.max()
    # local: some cells barely move while the strongest one pumps
    assert worst_in.min() < 0.3 * worst_in.max()


@pytest.mark.parametrize("seed", SEEDS)
def test_flicker_color_shifts_channels_not_luma(seed: int) -> None:
    frames, truth, _ = _take("flicker_color", seed)
    a, b = _frames_of(truth, truth.events[0])
    means = frames.reshape(len(frames), -1, 3).mean(axis=1)
    chroma = means / means.mean(axis=1, keepdims=True)
    residual = np.stack([_mean_residual(chroma[:, c]) for c in range(3)]).max(axis=0)  # NaN at the ends
    inside = _mask(len(frames), a, b)
    outside = ~_mask(len(frames), a - 1, b + 1)
    assert np.nanmax(residual[inside]) > 0.03
    assert np.nanmax(residual[outside]) < 0.01


@pytest.mark.parametrize("seed", SEEDS)
def test_flicker_boil_changes_fine_detail_only_in_the_stretch(seed: int) -> None:
    frames, truth, _ = _take("flicker_boil", seed)
    a, b = _frames_of(truth, truth.events[0])
    grey = _luma(frames).astype(np.float32)
    detail = grey - np.stack([cv2.GaussianBlur(g, (0, 0), 2.0) for g in grey])
    # fine-detail change between frames, after undoing the camera pan
    change = []
    for i in range(len(grey) - 1):
        (dx, dy), _ = cv2.phaseCorrelate(grey[i], grey[i + 1])
        back = cv2.warpAffine(detail[i + 1], np.float32([[1, 0, -dx], [0, 1, -dy]]), (128, 72),
                              borderMode=cv2.BORDER_REFLECT)
        change.append(np.abs(back - detail[i])[4:-4, 4:-4])
    change = np.stack(change)  # change[i]: frames i -> i+1
    cells = np.stack([change[:, r * 8:(r + 1) * 8, c * 8:(c + 1) * 8].mean(axis=(1, 2))
                      for r in range(8) for c in range(15)], axis=1)
    inside = cells[a:b]  # both frames boiling
    outside = np.concatenate([cells[:a - 1], cells[b + 1:]])
    assert (inside.mean(axis=0) / np.median(outside, axis=0)).max() > 2.5
    # the local mean is kept: no flicker in the frame mean
    mean = grey.mean(axis=(1, 2))
    assert np.nanmax(_mean_residual(mean)) < 1.0


@pytest.mark.parametrize("seed", SEEDS)
def test_flash_is_one_frame(seed: int) -> None:
    frames, truth, _ = _take("flash", seed)
    a, b = _frames_of(truth, truth.events[0])
    assert a == b
    mean = _luma(frames).mean(axis=(1, 2))
    residual = _mean_residual(mean)
    assert np.nanargmax(residual) == a
    assert residual[a] > 20
    assert np.nanmax(np.delete(residual, [a - 1, a, a + 1])) < 1.0


# --------------------------------------------------------------------------
# physics


@pytest.mark.parametrize("seed", SEEDS)
def test_teleport_jumps_once_at_the_event(seed: int) -> None:
    frames, truth, tracks = _take("teleport", seed)
    (event,) = truth.events
    k, k2 = _frames_of(truth, event)
    assert k == k2
    steps = np.linalg.norm(np.diff(tracks["target"], axis=0), axis=1)
    jump = steps[k - 1]  # between frames k-1 and k
    others = np.delete(steps, k - 1)
    assert jump > 20
    assert jump > 5 * others.max()
    # and the pixels agree: the object found where the track says, not where it was going
    track = tracks["target"]
    half = 7
    x, y = np.round(track[k - 1]).astype(int)
    patch = frames[k - 1, y - half:y + half + 1, x - half:x + half + 1]
    score = cv2.matchTemplate(frames[k], patch, cv2.TM_SQDIFF)
    by, bx = np.unravel_index(np.argmin(score), score.shape)
    found = np.array([bx + half, by + half])
    assert np.linalg.norm(found - track[k]) < 4
    assert np.linalg.norm(found - track[k - 1]) > 15


@pytest.mark.parametrize("seed", SEEDS)
def test_speed_spike_is_fast_only_in_the_stretch(seed: int) -> None:
    _, truth, tracks = _take("speed_spike", seed)
    a, b = _frames_of(truth, truth.events[0])
    steps = np.linalg.norm(np.diff(tracks["target"], axis=0), axis=1)  # steps[i]: frame i -> i+1
    fast = steps[a - 1:b]  # arriving at frames a..b
    slow = np.concatenate([steps[:a - 1], steps[b:]])
    assert fast.min() > 2.5 * np.median(slow)
    assert slow.max() < 1.5 * np.median(slow) + 0.5


@pytest.mark.parametrize("seed", SEEDS)
def test_reverse_turns_back_once(seed: int) -> None:
    _, truth, tracks = _take("reverse", seed)
    k, _ = _frames_of(truth, truth.events[0])
    v = np.diff(tracks["target"], axis=0)  # v[i]: frame i -> i+1
    cos = np.sum(v[1:] * v[:-1], axis=1) / (np.linalg.norm(v[1:], axis=1) * np.linalg.norm(v[:-1], axis=1))
    # cos[i] compares v[i] and v[i+1]; the turn is between v[k-2] and v[k-1]
    assert cos[k - 2] < -0.8
    assert np.delete(cos, k - 2).min() > 0.8


@pytest.mark.parametrize("seed", SEEDS)
def test_clean_track_never_reverses(seed: int) -> None:
    _, _, tracks = _take("clean", seed)
    v = np.diff(tracks["target"], axis=0)
    cos = np.sum(v[1:] * v[:-1], axis=1) / (np.linalg.norm(v[1:], axis=1) * np.linalg.norm(v[:-1], axis=1) + 1e-9)
    assert cos.min() > 0.0


@pytest.mark.parametrize("seed", SEEDS)
def test_frame_skip_jumps_the_whole_scene(seed: int) -> None:
    frames, truth, tracks = _take("frame_skip", seed)
    k, _ = _frames_of(truth, truth.events[0])
    steps = np.linalg.norm(np.diff(tracks["target"], axis=0), axis=1)
    assert np.argmax(steps) == k - 1
    assert steps[k - 1] > 3 * np.median(steps)
    # not just the object: the picture as a whole changes most there
    grey = _luma(frames)
    diffs = np.abs(np.diff(grey, axis=0)).mean(axis=(1, 2))
    assert np.argmax(diffs) == k - 1


@pytest.mark.parametrize("seed", SEEDS)
def test_hidden_cut_changes_the_histogram_once(seed: int) -> None:
    frames, truth, _ = _take("hidden_cut", seed)
    k, _ = _frames_of(truth, truth.events[0])
    hists = np.stack([np.concatenate([np.histogram(f[..., c], 32, (0, 256))[0] for c in range(3)]) for f in frames])
    hists = hists / hists.sum(axis=1, keepdims=True)
    change = np.abs(np.diff(hists, axis=0)).sum(axis=1)
    assert np.argmax(change) == k - 1
    assert change[k - 1] > 4 * np.delete(change, k - 1).max()


@pytest.mark.parametrize("seed", SEEDS)
def test_freeze_holds_identical_frames(seed: int) -> None:
    frames, truth, _ = _take("freeze", seed)
    a, b = _frames_of(truth, truth.events[0])
    same = np.array([np.array_equal(frames[i], frames[i + 1]) for i in range(len(frames) - 1)])
    assert same[a - 1:b].all()  # frames a-1 .. b are one picture
    assert not np.delete(same, np.arange(a - 1, b)).any()
    # then it resumes from where it stopped: no jump after the freeze
    grey = _luma(frames)
    diffs = np.abs(np.diff(grey, axis=0)).mean(axis=(1, 2))
    moving = np.delete(diffs, np.arange(a - 1, b))
    assert diffs[b] < 2 * np.median(moving)


# --------------------------------------------------------------------------
# morphing


@pytest.mark.parametrize("seed", SEEDS)
def test_morph_texture_changes_the_object_during_the_event(seed: int) -> None:
    frames, truth, tracks = _take("morph_texture", seed)
    a, b = _frames_of(truth, truth.events[0])

    def look(i: int) -> np.ndarray:
        x, y = np.round(tracks["target"][i]).astype(int)
        return frames[i, y - 4:y + 5, x - 4:x + 5].reshape(-1, 3).astype(float)

    def dist(i: int, j: int) -> float:
        return float(np.abs(np.sort(look(i), axis=0) - np.sort(look(j), axis=0)).mean())

    before = dist(a - 2, a - 1)
    assert dist(a - 1, b + 1) > 3 * before + 3


def test_morph_targets_are_drawn_like_the_clean_takes(monkeypatch) -> None:
    """A morph's object has the clean takes' size and speed: no measure may tell a morph
    by a larger, slower object (session 9 found moving area alone scored AUC 0.8)."""
    drawn: list[tuple[float, float]] = []  # (radius / height, speed / width) of the target
    make_scene = synth._make_scene

    def spy(rng, cfg, **kw):
        scene = make_scene(rng, cfg, **kw)
        p = scene.paths[0]
        u = np.hypot(*np.subtract(p.vel, scene.camera.vel))
        drawn.append((scene.sprites[0].radius / cfg.height, u / cfg.width))
        return scene

    monkeypatch.setattr(synth, "_make_scene", spy)
    for kind in ("morph_shape", "morph_texture", "morph_warp"):
        for seed in range(8):
            synth._render_take(kind, seed=seed, **SMALL)
    radius, speed = np.array(drawn).T
    # the clean takes' target is drawn from _make_scene's defaults (radius 0.13-0.2 of the
    # height, 0.06-0.22 widths a second, the heading's vertical part at 0.6); morphs were
    # 0.16-0.22 and 0.03-0.12
    defaults = inspect.signature(make_scene).parameters
    r_lo, r_hi = defaults["target_radius"].default
    s_hi = defaults["target_speed"].default[1]
    assert radius.min() >= r_lo and radius.max() <= r_hi
    assert speed.max() <= s_hi + 1e-9 and speed.max() > 0.12


def test_morph_shape_changes_the_outline() -> None:
    frames, truth, tracks = _take("morph_shape", 0, width=256, height=144)
    a, b = _frames_of(truth, truth.events[0])
    # the object's silhouette against its pre-morph self differs most after the morph
    x, y = np.round(tracks["target"]).astype(int).T

    def crop(i: int) -> np.ndarray:
        return _luma(frames[i, y[i] - 30:y[i] + 31, x[i] - 30:x[i] + 31][None])[0]

    early = np.abs(crop(a - 1) - crop(a - 2)).mean()
    late = np.abs(crop(b + 1) - crop(a - 1)).mean()
    assert late > 2 * early


# --------------------------------------------------------------------------
# files


@pytest.mark.parametrize("suffix", [".mp4", ".gif"])
def test_write_take_decodes(tmp_path, suffix: str) -> None:
    frames, truth = render_take("clean", seed=0, **SMALL)
    frames.setflags(write=False)
    path = tmp_path / f"take{suffix}"
    write_take(frames, path, fps=truth.fps, crf=20)
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temp files left
    with av.open(str(path)) as container:
        decoded = np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])
    assert decoded.shape == frames.shape
    assert np.abs(decoded.astype(int) - frames).mean() < 6


def test_make_set_writes_truth(tmp_path) -> None:
    kinds = ["clean", "teleport", "gif_dither", "short"]
    made = make_set(tmp_path, kinds=kinds, n_per_kind=2, seed=3, width=96, height=54, n_frames=16)
    assert [rel for rel, _ in made] == [f"{k}/{k}_{i}{synth.take_suffix(k)}" for k in kinds for i in range(2)]
    data = json.loads((tmp_path / "truth.json").read_text())
    assert data["generator"] == "qc.synth/1"
    assert set(data["takes"]) == {rel for rel, _ in made}
    truths = read_truth(tmp_path)
    for rel, truth in made:
        assert truths[rel] == truth
        assert truth.seed == 3 + int(rel.rsplit("_", 1)[1].split(".")[0])
        with av.open(str(tmp_path / rel)) as container:
            n = sum(1 for _ in container.decode(video=0))
        assert n == truth.n_frames
    # the same call reproduces the same takes
    again = make_set(tmp_path / "again", kinds=["teleport"], n_per_kind=2, seed=3, width=96, height=54, n_frames=16)
    assert [t for _, t in again] == [t for rel, t in made if rel.startswith("teleport")]
    assert (tmp_path / "again" / "teleport" / "teleport_1.mp4").read_bytes() == \
        (tmp_path / "teleport" / "teleport_1.mp4").read_bytes()


def test_read_truth_rejects_other_files(tmp_path) -> None:
    path = tmp_path / "truth.json"
    path.write_text(json.dumps({"generator": "something else", "takes": {}}))
    with pytest.raises(ValueError, match="truth file"):
        read_truth(path)


# --------------------------------------------------------------------------
# faces (dlib / face_recognition; real size so HOG finds the face)


@pytest.fixture(scope="module")
def face_tools():
    """dlib's HOG detector and face_recognition (its import warns about pkg_resources)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import dlib
        import face_recognition
    return dlib.get_frontal_face_detector(), face_recognition


def _faces(detector, frame: np.ndarray) -> list:
    return list(detector(np.ascontiguousarray(frame), 0))


def _encoding(face_tools, frame: np.ndarray) -> np.ndarray | None:
    detector, fr = face_tools
    found = list(detector(np.ascontiguousarray(frame), 1))
    if not found:
        return None
    r = max(found, key=lambda r: r.area())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fr.face_encodings(np.ascontiguousarray(frame), [(r.top(), r.right(), r.bottom(), r.left())])[0]


@pytest.mark.parametrize("seed", SEEDS)
def test_talking_face_is_detected(face_tools, seed: int) -> None:
    detector, _ = face_tools
    frames, _ = render_take("talking_face", seed=seed, **FACE)
    boxes = [_faces(detector, f) for f in frames]
    found = [b for b in boxes if len(b) == 1]
    assert len(found) >= 0.9 * len(frames)
    assert min(r.width() for (r,) in found) >= 75


@pytest.mark.parametrize("seed", SEEDS)
def test_face_swap_is_another_person(face_tools, seed: int) -> None:
    frames, truth = render_take("face_swap", seed=seed, **FACE)
    a, b = _frames_of(truth, truth.events[0])
    mid = (a + b) // 2
    outside = [1, a - 2, min(b + 3, len(frames) - 2)]
    originals = [_encoding(face_tools, frames[i]) for i in outside]
    swapped = _encoding(face_tools, frames[mid])
    assert all(e is not None for e in originals) and swapped is not None
    for i in range(len(originals)):
        for j in range(i):
            assert np.linalg.norm(originals[i] - originals[j]) < 0.6
    for e in originals:
        assert np.linalg.norm(swapped - e) > 0.6


@pytest.mark.parametrize("seed", SEEDS)
def test_face_dropout_hides_the_face(face_tools, seed: int) -> None:
    detector, _ = face_tools
    frames, truth = render_take("face_dropout", seed=seed, **FACE)
    a, b = _frames_of(truth, truth.events[0])
    hits = [len(_faces(detector, f)) for f in frames]
    assert all(h == 0 for h in hits[a:b + 1])
    assert sum(h == 1 for h in hits[:a] + hits[b + 1:]) >= 0.85 * (len(frames) - (b - a + 1))


@pytest.mark.parametrize("seed", SEEDS)
def test_face_jitter_shakes_the_head_only_in_the_stretch(seed: int) -> None:
    _, truth, tracks = _take("face_jitter", seed, **FACE)
    a, b = _frames_of(truth, truth.events[0])
    accel = np.linalg.norm(np.diff(tracks["face"], n=2, axis=0), axis=1)  # accel[i]: around frame i+1
    inside = accel[a - 1:b]
    outside = np.concatenate([accel[:a - 2], accel[b + 1:]])
    assert inside.max() > 1.5
    assert outside.max() < 0.4


def test_face_melt_moves_features_only_in_the_stretch() -> None:
    frames, truth, _ = _take("face_melt", 0, **FACE)
    a, b = _frames_of(truth, truth.events[0])
    grey = _luma(frames)
    change = np.abs(np.diff(grey, axis=0)).mean(axis=(1, 2))
    peak = (a + b) // 2
    # the melted face differs from the faces just outside much more than they differ
    melt = np.abs(grey[peak] - grey[a - 1]).mean()
    assert melt > 3 * np.median(change)
