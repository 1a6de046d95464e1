"""Pictures for the dashboard: the right frames, extracted once, cached as JPEG files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from conftest import write_video
from odd_media import encode
from qc.errors import DecodeError
from qc.thumbs import face_crops, filmstrip, grab_frames, thumbnail


def _numbered(n: int, *, step: int = 2) -> np.ndarray:
    """``n`` grey frames whose brightness is ``10 + step * index``: each frame says its index."""
    return np.stack([np.full((48, 64, 3), 10 + step * i, np.uint8) for i in range(n)])


def _indexer(path: Path):
    """Which frame of ``path`` an image is: the decoded frame with the nearest brightness
    (the encoder's range conversion moves the values, but keeps their order)."""
    import av

    with av.open(str(path)) as c:
        means = np.array([f.to_ndarray(format="rgb24").mean() for f in c.decode(video=0)])
    return lambda rgb: int(np.argmin(np.abs(means - float(rgb.mean()))))


def test_grab_frames_finds_the_frames_nearest_the_times(tmp_path: Path):
    f = write_video(tmp_path / "n.mp4", _numbered(24), fps=24)
    frames = grab_frames(f, [0.5, 0.0, 10 / 24, 99.0])
    _index = _indexer(f)
    assert [_index(x) for x in frames] == [12, 0, 10, 23]  # in the order asked; past the end: last
    assert frames[0].shape == (48, 64, 3) and frames[0].dtype == np.uint8


def test_grabbed_frames_of_anamorphic_pixels_have_the_display_shape(tmp_path: Path):
    """Stored 64x48 with 2:1 pixels: a player shows 128x48, and so do the pictures."""
    f = encode(tmp_path / "wide.mp4", _numbered(6), sar=(2, 1))
    assert grab_frames(f, [0.1], max_side=64)[0].shape == (24, 64, 3)


def test_grab_frames_seeks_across_long_gaps(tmp_path: Path):
    """120 frames at 10 fps (12 s), a keyframe every 10: the far time is found by seeking."""
    f = tmp_path / "long.mp4"
    write_video(f, _numbered(120, step=2), fps=10)
    frames = grab_frames(f, [0.2, 9.0, 11.5])
    _index = _indexer(f)
    assert [_index(x) for x in frames] == [2, 90, 115]


def test_grab_frames_of_a_broken_file(tmp_path: Path):
    bad = tmp_path / "bad.mp4"
    bad.write_text("not a video")
    with pytest.raises(DecodeError):
        grab_frames(bad, [0.0])


def test_pictures_are_extracted_once(tmp_path: Path, monkeypatch):
    f = write_video(tmp_path / "n.mp4", _numbered(24), fps=24)
    cache = tmp_path / "cache"
    th = thumbnail(f, cache, take_id="h1", duration_s=1.0)
    strip = filmstrip(f, cache, take_id="h1", t_s=0.5, fps=24.0, duration_s=1.0)
    assert th is not None and th.read_bytes()[:2] == b"\xff\xd8"  # a JPEG
    assert [round(t * 24) for t, _ in strip] == [10, 11, 12, 13, 14]
    faces = face_crops(f, cache, take_id="h1", start_s=0.2, end_s=0.4, duration_s=1.0, n=3)
    assert faces and all(p is None for _, p in faces)  # no face in a grey frame, remembered

    def boom(*a, **k):
        raise AssertionError("decoded again")

    monkeypatch.setattr("qc.thumbs.grab_frames", boom)
    assert thumbnail(f, cache, take_id="h1", duration_s=1.0) == th
    assert filmstrip(f, cache, take_id="h1", t_s=0.5, fps=24.0, duration_s=1.0) == strip
    assert face_crops(f, cache, take_id="h1", start_s=0.2, end_s=0.4, duration_s=1.0, n=3) == faces


def test_face_crops_of_a_talking_face():
    take = Path(__file__).resolve().parents[1] / "fixtures" / "talking_face" / "talking_face_0.mp4"
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        crops = face_crops(take, Path(d), take_id="tf", start_s=0.5, end_s=1.0, duration_s=2.0,
                           n=3)
        found = [p for _, p in crops if p is not None]
        assert len(found) == 3  # the fixture's face is found in every sampled frame
