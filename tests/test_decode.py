from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from conftest import moving_square, write_audio_only, write_video
from odd_media import encode
from qc.config import DecodeConfig
from qc.decode import VideoReader
from qc.errors import DecodeError


def _read(path: Path, **cfg) -> tuple[list, VideoReader]:
    with VideoReader(path, DecodeConfig(**cfg)) as r:
        frames = [(f.idx, f.t_s, f.rgb.shape) for f in r]
    return frames, r


def test_constant_rate_timestamps_and_media(clean_take: Path):
    frames, r = _read(clean_take)
    assert len(frames) == 24
    assert [f[0] for f in frames] == list(range(24))
    assert np.allclose([f[1] for f in frames], np.arange(24) / 24, atol=1e-3)
    info = r.info
    assert info is not None
    assert (info.width, info.height, info.frames, info.codec) == (128, 72, 24, "h264")
    assert info.fps == pytest.approx(24, rel=1e-3)
    assert info.duration_s == pytest.approx(1.0, abs=0.01)


def test_downscaled_in_decoder_keeps_aspect(tmp_path: Path):
    path = write_video(tmp_path / "big.mp4", moving_square(4, width=640, height=360))
    frames, _ = _read(path, analysis_size_px=160)
    assert frames[0][2] == (90, 160, 3)


def test_anamorphic_pixels_are_analysed_at_the_display_shape(tmp_path: Path):
    """Stored 64x48 with 2:1 pixels: shown, and analysed, as 128x48."""
    path = encode(tmp_path / "wide.mp4", moving_square(4, width=64, height=48), sar=(2, 1))
    frames, r = _read(path, analysis_size_px=64)
    assert frames[0][2] == (24, 64, 3)
    assert (r.info.width, r.info.height) == (128, 48)


def test_variable_frame_rate_uses_real_timestamps(tmp_path: Path):
    """Frames at 0, 1, 2, then a gap (frames 3-5 dropped), 6, 7 ... in 1/24 s units."""
    pts = [0, 1, 2, 6, 7, 8, 9, 10]
    path = write_video(tmp_path / "vfr.mp4", moving_square(len(pts)), pts=pts,
                       time_base=Fraction(1, 24))
    frames, _ = _read(path)
    t = np.array([f[1] for f in frames])
    assert np.allclose(t, np.array(pts) / 24, atol=1e-3)


def test_rotation_metadata_is_applied(tmp_path: Path):
    """A landscape 128x72 encode flagged as rotated by 90 degrees is a portrait take."""
    path = write_video(tmp_path / "rot.mp4", moving_square(4), rotation=90)
    with VideoReader(path) as r:
        it = iter(r)
        first = next(it)
        assert first.rgb.shape[:2] == (128, 72)
        list(it)
    assert (r.info.width, r.info.height) == (72, 128)


def test_animated_gif(tmp_path: Path):
    path = write_video(tmp_path / "a.gif", moving_square(6), codec="gif", fps=10)
    frames, r = _read(path)
    assert len(frames) == 6
    assert r.info.codec == "gif"
    assert r.info.fps == pytest.approx(10, rel=0.05)


def test_odd_dimensions(tmp_path: Path):
    path = write_video(tmp_path / "odd.gif", moving_square(3, width=97, height=55), codec="gif")
    frames, r = _read(path)
    assert (r.info.width, r.info.height) == (97, 55)
    assert len(frames) == 3


def test_max_fps_samples_frames(clean_take: Path):
    frames, _ = _read(clean_take, max_fps=8)
    assert len(frames) == 8


def test_face_rgb_is_larger_and_upright(tmp_path: Path):
    path = write_video(tmp_path / "f.mp4", moving_square(3, width=640, height=360), rotation=90)
    with VideoReader(path, DecodeConfig(analysis_size_px=160, face_size_px=320)) as r:
        it = iter(r)
        f = next(it)
        assert f.face_rgb().shape == (320, 180, 3)
        assert f.face_gray().shape == (320, 180)
        assert f.face_gray(160).shape == (160, 90)
        assert f.rgb.shape == (160, 90, 3)
        list(it)


def test_face_gray_is_the_luma_of_face_rgb(tmp_path: Path):
    path = write_video(tmp_path / "f.mp4", moving_square(3, width=640, height=360))
    with VideoReader(path, DecodeConfig(analysis_size_px=160, face_size_px=320)) as r:
        f = next(iter(r))
        rgb = f.face_rgb().astype(np.float64)
        luma = rgb @ [0.299, 0.587, 0.114]
        # swscale's luma and a round trip through RGB differ by rounding, not content
        assert np.abs(f.face_gray() - luma).mean() < 3.0


def test_scaler_matches_pyav_reformat(tmp_path: Path):
    import av

    from qc.decode import Scaler

    path = write_video(tmp_path / "f.mp4", moving_square(4, width=320, height=180))
    scale = Scaler()
    with av.open(str(path)) as c:
        for src in c.decode(video=0):
            for w, h, fmt in ((160, 90, "rgb24"), (96, 54, "gray"), (160, 90, "rgb24")):
                want = src.reformat(width=w, height=h, format=fmt).to_ndarray()
                np.testing.assert_array_equal(scale(src, w, h, fmt), want)


@pytest.mark.parametrize(
    "make, reason",
    [
        (lambda p: p.write_bytes(b""), "empty file"),
        (lambda p: p.write_text("this is not a video\n" * 50), "not a video"),
        (lambda p: p.write_bytes(np.random.default_rng(0).bytes(20000)), "not a video"),
    ],
    ids=["zero-bytes", "text", "random-bytes"],
)
def test_bad_files_raise_one_line_decode_errors(tmp_path: Path, make, reason):
    p = tmp_path / "bad.mp4"
    make(p)
    with pytest.raises(DecodeError, match=reason) as info:
        _read(p)
    assert "\n" not in str(info.value)


def test_audio_only(tmp_path: Path):
    p = write_audio_only(tmp_path / "a.mp4")
    with pytest.raises(DecodeError, match="audio only"):
        _read(p)


def test_one_frame_video(tmp_path: Path):
    p = write_video(tmp_path / "one.mp4", moving_square(1))
    with pytest.raises(DecodeError, match="only 1 frame"):
        _read(p)


@pytest.mark.parametrize("keep", [0.05, 0.3, 0.6, 0.9])
def test_truncated_file(tmp_path: Path, keep: float):
    full = write_video(tmp_path / "full.mp4", moving_square(96, width=160, height=96))
    data = full.read_bytes()
    p = tmp_path / "cut.mp4"
    p.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(DecodeError) as info:
        _read(p)
    assert "\n" not in str(info.value)


def test_missing_file(tmp_path: Path):
    with pytest.raises(DecodeError, match="disappeared"):
        VideoReader(tmp_path / "gone.mp4")
