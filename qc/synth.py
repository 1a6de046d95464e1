"""Labelled synthetic takes: clean shots, benign hard cases and injected artifacts.

Every take is rendered from the photographs and textures that ship with
scikit-image (nothing is downloaded): a textured background seen through a
moving camera, with textured foreground objects moving smoothly on top, or a
close-up of a real face (``skimage.data.astronaut()``). Artifacts are then
injected at known frames and written down as ground truth, so detectors can be
scored against it.

The public surface is small:

* :data:`KINDS` names every kind of take and the artifact it carries
  (``None`` for clean takes and benign hard cases that detectors must leave
  alone).
* :func:`render_take` renders one take to an RGB ``uint8`` array together with
  its :class:`Truth`.
* :func:`write_take` writes frames to ``.mp4`` (H.264) or ``.gif``.
* :func:`make_set` renders and writes a labelled set with a ``truth.json``;
  :func:`read_truth` reads it back.

Everything is deterministic for a given ``seed``; the content (photographs,
shapes, positions, speeds, artifact times and strengths) varies with it.

Event times are frame timestamps, ``frame_idx / fps``: an event covering
frames ``a`` to ``b`` inclusive has ``start_s = a / fps`` and
``end_s = b / fps``. An instantaneous event (a teleport, a cut, a flash) has
``start_s == end_s``: the first frame that shows the discontinuity. Recover
frame indices with ``round(t * fps)``.
"""

from __future__ import annotations

import functools
import json
import math
import os
import tempfile
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np

__all__ = [
    "ARTIFACTS",
    "GENERATOR",
    "KINDS",
    "Truth",
    "TruthEvent",
    "make_set",
    "read_truth",
    "render_take",
    "take_suffix",
    "write_take",
]

#: Identifies the generator and its truth format in ``truth.json``.
GENERATOR = "qc.synth/1"

#: The artifact families, in report order.
ARTIFACTS = ("flicker", "faces", "morphing", "physics")

#: Kind name -> the artifact it injects (``None``: clean or benign hard case).
KINDS: dict[str, str | None] = {
    # clean takes and benign hard cases
    "clean": None,
    "fast_pan": None,
    "zoom": None,
    "exposure_ramp": None,
    "fade": None,
    "bounce": None,
    "grain": None,
    "talking_face": None,
    "short": None,
    "gif_dither": None,
    # flicker
    "flicker_global": "flicker",
    "flicker_region": "flicker",
    "flicker_color": "flicker",
    "flicker_boil": "flicker",
    "flash": "flicker",
    # unstable faces
    "face_swap": "faces",
    "face_jitter": "faces",
    "face_melt": "faces",
    "face_dropout": "faces",
    # morphing
    "morph_shape": "morphing",
    "morph_texture": "morphing",
    "morph_warp": "morphing",
    # physics
    "teleport": "physics",
    "speed_spike": "physics",
    "reverse": "physics",
    "frame_skip": "physics",
    "hidden_cut": "physics",
    "freeze": "physics",
}

_SHORT_FRAMES = 8
_MIN_FRAMES = 12
_MIN_SIZE = 32


# --------------------------------------------------------------------------
# ground truth


@dataclass(frozen=True)
class TruthEvent:
    """One injected artifact event.

    Attributes
    ----------
    start_s, end_s : float
        Timestamps (``frame_idx / fps``) of the first and last affected
        frames, inclusive; equal for an instantaneous event.
    label : str
        What a person would call it: ``"brightness pumping"``, ``"teleport"``.
    """

    start_s: float
    end_s: float
    label: str

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {"start_s": self.start_s, "end_s": self.end_s, "label": self.label}


@dataclass(frozen=True)
class Truth:
    """Written ground truth for one synthetic take.

    Attributes
    ----------
    kind : str
        A key of :data:`KINDS`.
    artifact : str or None
        The artifact family injected (one of :data:`ARTIFACTS`), ``None`` for
        clean takes and benign hard cases.
    events : tuple of TruthEvent
        The injected events, in time order; empty when ``artifact`` is None.
    fps : float
        Frame rate.
    n_frames, width, height : int
        Size of the take.
    seed : int
        The seed that reproduces the take with :func:`render_take`.
    description : str
        One sentence on the scene and the injection.
    """

    kind: str
    artifact: str | None
    events: tuple[TruthEvent, ...]
    fps: float
    n_frames: int
    width: int
    height: int
    seed: int
    description: str

    @property
    def duration_s(self) -> float:
        """Length of the take in seconds (``n_frames / fps``)."""
        return self.n_frames / self.fps

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict (the format of ``truth.json`` entries)."""
        return {
            "kind": self.kind,
            "artifact": self.artifact,
            "events": [event.to_dict() for event in self.events],
            "fps": self.fps,
            "n_frames": self.n_frames,
            "width": self.width,
            "height": self.height,
            "seed": self.seed,
            "description": self.description,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Truth:
        """Rebuild a :class:`Truth` from :meth:`to_dict` output."""
        return cls(
            kind=str(data["kind"]),
            artifact=None if data["artifact"] is None else str(data["artifact"]),
            events=tuple(
                TruthEvent(float(e["start_s"]), float(e["end_s"]), str(e["label"]))
                for e in data["events"]
            ),
            fps=float(data["fps"]),
            n_frames=int(data["n_frames"]),
            width=int(data["width"]),
            height=int(data["height"]),
            seed=int(data["seed"]),
            description=str(data["description"]),
        )


# --------------------------------------------------------------------------
# bundled images


@functools.lru_cache(maxsize=None)
def _image(name: str) -> np.ndarray:
    """A bundled scikit-image picture as read-only float32 RGB (or gray 2-D)."""
    import skimage.data

    if name == "motorcycle":
        img = skimage.data.stereo_motorcycle()[0]
    else:
        img = getattr(skimage.data, name)()
    out = np.ascontiguousarray(img, dtype=np.float32)
    out.setflags(write=False)
    return out


@functools.lru_cache(maxsize=None)
def _lfw() -> np.ndarray:
    """The 25x25 face crops of ``skimage.data.lfw_subset()`` in [0, 255]."""
    import skimage.data

    out = np.ascontiguousarray(skimage.data.lfw_subset()[:100] * 255.0, dtype=np.float32)
    out.setflags(write=False)
    return out


# Which bundled pictures play which part (grey ones are toned when used).
_BACKGROUNDS = ("coffee", "chelsea", "rocket", "motorcycle", "brick", "grass", "gravel", "moon")
_SPRITE_TEXTURES = ("chelsea", "coffee", "rocket", "motorcycle", "immunohistochemistry",
                    "coins", "clock", "brick", "gravel")
_BOIL_TEXTURES = ("grass", "gravel", "brick", "moon", "coffee", "chelsea")
_FLOORS = ("gravel", "grass", "brick")
# (shadow, highlight) colour pairs for toning grey textures.
_TONES = (
    ((0.20, 0.12, 0.08), (1.00, 0.88, 0.72)),   # warm brown
    ((0.10, 0.16, 0.08), (0.78, 0.95, 0.60)),   # green
    ((0.12, 0.12, 0.16), (0.85, 0.88, 1.00)),   # cool grey
    ((0.22, 0.08, 0.06), (1.00, 0.70, 0.55)),   # brick red
    ((0.10, 0.10, 0.10), (0.95, 0.93, 0.88)),   # neutral
)


def _tone(gray: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Map a grey image to colour between a random shadow and highlight tone."""
    lo, hi = (np.asarray(c, np.float32) for c in _TONES[rng.integers(len(_TONES))])
    jitter = rng.uniform(0.92, 1.08, 3).astype(np.float32)
    g = (gray / 255.0)[..., None]
    return np.clip((lo + (hi * jitter - lo) * g) * 255.0, 0, 255).astype(np.float32)


def _photo(name: str, rng: np.random.Generator) -> np.ndarray:
    """A bundled picture as float32 RGB, toned if grey, randomly mirrored."""
    img = _image(name)
    rgb = _tone(img, rng) if img.ndim == 2 else np.array(img[..., :3])
    if rng.random() < 0.5:
        rgb = rgb[:, ::-1]
    return np.ascontiguousarray(rgb)


# --------------------------------------------------------------------------
# small helpers


@dataclass(frozen=True)
class _Cfg:
    width: int
    height: int
    fps: float
    n: int

    @property
    def unit(self) -> float:
        """Pixel scale relative to the 256x144 reference size."""
        return min(self.width / 256.0, self.height / 144.0)

    @property
    def tau(self) -> np.ndarray:
        """Frame timestamps in seconds."""
        return np.arange(self.n, dtype=np.float64) / self.fps


@dataclass
class _Take:
    """What a kind builder returns: frames plus truth material."""

    frames: np.ndarray
    events: list[tuple[int, int, str]]
    description: str
    tracks: dict[str, np.ndarray]


def _smoothstep(x: np.ndarray | float) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def _span(rng: np.random.Generator, cfg: _Cfg, min_s: float, max_s: float, *,
          min_frames: int = 1, margin_before: int = 0) -> tuple[int, int]:
    """Pick frames ``a..b`` (inclusive) well inside the take (not in the outer ~12%)."""
    edge = max(1, math.ceil(0.12 * cfg.n))
    lo, hi = max(edge, 1 + margin_before), cfg.n - 1 - edge
    room = hi - lo + 1
    length = int(round(rng.uniform(min_s, max_s) * cfg.fps))
    length = int(np.clip(length, min_frames, room))
    a = int(rng.integers(lo, hi - length + 2))
    return a, a + length - 1


def _envelope(n: int, a: int, b: int, *, rise: float = 0.75) -> np.ndarray:
    """0 outside ``a..b``; rises smoothly to 1 and falls back inside (>0 on a..b)."""
    env = np.zeros(n)
    length = b - a + 1
    x = (np.arange(length) + 1.0) / (length + 1.0)
    up = _smoothstep(x / rise)
    down = _smoothstep((1.0 - x) / (1.0 - rise))
    env[a:b + 1] = np.minimum(up, down)
    return env


def _smooth_noise(rng: np.random.Generator, shape: tuple[int, ...], sigma: float) -> np.ndarray:
    """Gaussian-blurred white noise, normalised to unit standard deviation."""
    field = rng.standard_normal(shape).astype(np.float32)
    field = cv2.GaussianBlur(field, (0, 0), max(sigma, 0.3), borderType=cv2.BORDER_REFLECT)
    return field / max(float(field.std()), 1e-6)


def _affine(scale: float, angle_deg: float, src: Sequence[float], dst: Sequence[float], *,
            sx: float = 1.0) -> np.ndarray:
    """2x3 matrix: rotate/scale about ``src`` (x-squeeze ``sx`` first), move it to ``dst``."""
    th = math.radians(angle_deg)
    c, s = math.cos(th), math.sin(th)
    lin = scale * np.array([[c, -s], [s, c]]) @ np.diag([sx, 1.0])
    t = np.asarray(dst, float) - lin @ np.asarray(src, float)
    return np.hstack([lin, t[:, None]])


def _compose(outer: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """The 2x3 affine ``outer(inner(p))``."""
    a = np.vstack([outer, [0.0, 0.0, 1.0]])
    b = np.vstack([inner, [0.0, 0.0, 1.0]])
    return (a @ b)[:2]


def _warp(img: np.ndarray, m: np.ndarray, size: tuple[int, int], *,
          border: int = cv2.BORDER_CONSTANT, interp: int = cv2.INTER_LINEAR) -> np.ndarray:
    """``cv2.warpAffine`` that blurs first when the warp shrinks (no aliasing)."""
    shrink = math.sqrt(abs(np.linalg.det(m[:, :2])))
    if shrink < 0.8:
        img = cv2.GaussianBlur(img, (0, 0), 0.45 / shrink, borderType=cv2.BORDER_REFLECT)
    return cv2.warpAffine(img, m, size, flags=interp, borderMode=border)


def _ellipse_mask(shape: tuple[int, int], centre: Sequence[float], axes: Sequence[float],
                  *, feather: float) -> np.ndarray:
    """Soft elliptical mask in [0, 1] (1 inside), feathered over ``feather`` px."""
    yy, xx = np.mgrid[0:shape[0], 0:shape[1]].astype(np.float32)
    d = np.sqrt(((xx - centre[0]) / axes[0]) ** 2 + ((yy - centre[1]) / axes[1]) ** 2)
    r = float(min(axes))
    return _smoothstep((1.0 - d) * r / max(feather, 1e-3) + 0.5).astype(np.float32)


# --------------------------------------------------------------------------
# sprites (textured foreground objects)


_SHAPES = ("ball", "ellipse", "rounded square", "star", "triangle", "blob", "hexagon")


def _radii(shape: str, rng: np.random.Generator, n: int = 360) -> np.ndarray:
    """Outline of a shape as radius per angle (max 1)."""
    th = np.linspace(0.0, 2 * np.pi, n, endpoint=False)
    if shape == "ball":
        r = np.ones(n)
    elif shape == "ellipse":
        b = rng.uniform(0.55, 0.8)
        r = b / np.sqrt((b * np.cos(th)) ** 2 + np.sin(th) ** 2)
    elif shape == "rounded square":
        p = rng.uniform(3.5, 6.0)
        r = (np.abs(np.cos(th)) ** p + np.abs(np.sin(th)) ** p) ** (-1.0 / p)
    elif shape == "star":
        k = int(rng.choice([5, 6]))
        depth = rng.uniform(0.3, 0.45)
        wave = 0.5 + 0.5 * np.cos(k * th)
        r = 1.0 - depth * (1.0 - wave ** 1.5)
    elif shape in ("triangle", "hexagon"):
        k = 3 if shape == "triangle" else 6
        seg = 2 * np.pi / k
        poly = np.cos(np.pi / k) / np.cos((th - np.pi / 2) % seg - seg / 2)
        r = 0.85 * poly + 0.15 * np.ones(n) * poly.mean()
    elif shape == "blob":
        r = np.ones(n)
        for k in range(2, 6):
            r += rng.uniform(0.05, 0.14) / k ** 0.5 * np.cos(k * th + rng.uniform(0, 2 * np.pi))
    else:  # pragma: no cover - internal
        raise ValueError(shape)
    rot = rng.uniform(0, 2 * np.pi) if shape != "ball" else 0.0
    r = np.interp((th - rot) % (2 * np.pi), th, r, period=2 * np.pi)
    return r / r.max()


def _shape_alpha(radii: np.ndarray, size: int, radius_px: float) -> np.ndarray:
    """Antialiased mask of an outline, centred on a ``size`` x ``size`` canvas."""
    ss = 4
    n = radii.size
    th = np.linspace(0.0, 2 * np.pi, n, endpoint=False)
    c = size * ss / 2.0
    pts = np.stack([c + radius_px * ss * radii * np.cos(th),
                    c + radius_px * ss * radii * np.sin(th)], axis=1)
    canvas = np.zeros((size * ss, size * ss), np.uint8)
    cv2.fillPoly(canvas, [np.round(pts * 16).astype(np.int32)], 255, lineType=cv2.LINE_AA, shift=4)
    small = cv2.resize(canvas, (size, size), interpolation=cv2.INTER_AREA)
    return small.astype(np.float32) / 255.0


def _shade(alpha: np.ndarray, radius_px: float, *, ball: bool) -> np.ndarray:
    """Lighting for a sprite: spherical for balls, a soft bevel otherwise."""
    h, w = alpha.shape
    if ball:
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        dx, dy = (xx - w / 2) / radius_px, (yy - h / 2) / radius_px
        nz = np.sqrt(np.clip(1.0 - dx * dx - dy * dy, 0.0, 1.0))
        light = np.clip(-0.45 * dx - 0.55 * dy + 0.70 * nz, 0.0, 1.0)
        spec = np.clip(light, 0, 1) ** 24
        return (0.35 + 0.75 * light + 0.5 * spec).astype(np.float32)
    inside = (alpha > 0.5).astype(np.uint8)
    dist = cv2.distanceTransform(inside, cv2.DIST_L2, 3)
    return (0.72 + 0.28 * _smoothstep(dist / max(0.18 * radius_px, 1.0))).astype(np.float32)


def _texture(rng: np.random.Generator, name: str, size: int) -> np.ndarray:
    """A random rotated crop of a bundled picture, ``size`` x ``size`` float32 RGB."""
    src = _photo(name, rng)
    ph, pw = src.shape[:2]
    side = rng.uniform(0.28, 0.55) * min(ph, pw)
    scale = size / side
    angle = rng.uniform(-30, 30)
    half = side * 0.75
    cx, cy = rng.uniform(half, pw - half), rng.uniform(half, ph - half)
    m = _affine(scale, angle, (cx, cy), (size / 2, size / 2))
    return _warp(src, m, (size, size), border=cv2.BORDER_REFLECT)


@dataclass(frozen=True)
class _Sprite:
    rgb: np.ndarray                      # (h, w, 3) float32, straight (not premultiplied) colour
    alpha: np.ndarray                    # (h, w) float32 in [0, 1]
    radius: float                        # outline radius in scene units
    label: str                           # "chelsea-textured star"
    pivot: tuple[float, float] | None = None   # pose origin in sprite px (default: centre)
    texture: np.ndarray | None = None    # unlit texture, for morphs
    radii: np.ndarray | None = None      # outline radius per angle, for morphs

    @property
    def anchor(self) -> tuple[float, float]:
        if self.pivot is not None:
            return self.pivot
        return (self.rgb.shape[1] / 2.0, self.rgb.shape[0] / 2.0)


def _sprite_canvas(radius: float, ppu: float) -> int:
    return int(2 * math.ceil(radius * ppu * 1.15) + 4)


def _make_sprite(rng: np.random.Generator, radius: float, ppu: float, *,
                 shape: str | None = None, texture: str | None = None,
                 exclude: Iterable[str] = ()) -> _Sprite:
    """A textured, lit object of ``radius`` scene units, drawn at ``ppu`` px per unit."""
    shape = shape or str(rng.choice(_SHAPES))
    choices = [t for t in _SPRITE_TEXTURES if t not in set(exclude)]
    texture = texture or str(rng.choice(choices))
    size = _sprite_canvas(radius, ppu)
    radii = _radii(shape, rng)
    tex = _texture(rng, texture, size)
    alpha = _shape_alpha(radii, size, radius * ppu)
    shade = _shade(alpha, radius * ppu, ball=shape == "ball")
    rgb = np.clip(tex * shade[..., None], 0, 255).astype(np.float32)
    return _Sprite(rgb, alpha, radius, f"{texture}-textured {shape}", texture=tex, radii=radii)


# --------------------------------------------------------------------------
# motion


@dataclass(frozen=True)
class _Camera:
    """Camera centre (scene units) and zoom as smooth functions of time."""

    c0: tuple[float, float]
    vel: tuple[float, float]
    zoom0: float = 1.0
    zoom1: float = 1.0
    zoom_s: float = 1.0
    sway: tuple[float, float] = (0.0, 0.0)
    sway_hz: float = 0.3
    sway_phase: tuple[float, float] = (0.0, 0.0)

    def at(self, t: np.ndarray) -> np.ndarray:
        """``(len(t), 3)`` rows of ``cx, cy, zoom``."""
        t = np.asarray(t, float)
        out = np.empty((t.size, 3))
        for k in range(2):
            out[:, k] = (self.c0[k] + self.vel[k] * t
                         + self.sway[k] * np.sin(2 * np.pi * self.sway_hz * t + self.sway_phase[k]))
        out[:, 2] = self.zoom0 + (self.zoom1 - self.zoom0) * _smoothstep(t / self.zoom_s)
        return out


@dataclass(frozen=True)
class _Path:
    """An object's pose (centre in scene units, angle, scale) as a function of time."""

    p0: tuple[float, float]
    vel: tuple[float, float]
    acc: tuple[float, float] = (0.0, 0.0)
    wobble: tuple[float, float] = (0.0, 0.0)
    wobble_hz: float = 0.5
    wobble_phase: float = 0.0
    angle0: float = 0.0
    spin: float = 0.0
    breathe: float = 0.0
    breathe_hz: float = 0.5

    def pos(self, t: np.ndarray) -> np.ndarray:
        t = np.asarray(t, float)[:, None]
        wob = np.sin(2 * np.pi * self.wobble_hz * t + self.wobble_phase)
        return (np.asarray(self.p0) + np.asarray(self.vel) * t + 0.5 * np.asarray(self.acc) * t * t
                + np.asarray(self.wobble) * wob)

    def angle(self, t: np.ndarray) -> np.ndarray:
        return self.angle0 + self.spin * np.asarray(t, float)

    def scale(self, t: np.ndarray) -> np.ndarray:
        return 1.0 + self.breathe * np.sin(2 * np.pi * self.breathe_hz * np.asarray(t, float))


def _screen(cam_rows: np.ndarray, pos: np.ndarray, cfg: _Cfg) -> np.ndarray:
    """Scene positions ``(T, 2)`` seen through camera rows ``(T, 3)`` -> screen px."""
    z = cam_rows[:, 2:3]
    return z * (pos - cam_rows[:, :2]) + np.array([cfg.width / 2.0, cfg.height / 2.0])


def _inside(xy: np.ndarray, cfg: _Cfg, margin: float) -> bool:
    return bool(np.all((xy[:, 0] > margin) & (xy[:, 0] < cfg.width - margin)
                       & (xy[:, 1] > margin) & (xy[:, 1] < cfg.height - margin)))


# --------------------------------------------------------------------------
# the renderer


@dataclass
class _Layer:
    sprite: _Sprite
    pos: np.ndarray                      # (T, 2) scene units
    angle: np.ndarray                    # (T,) degrees
    scale: np.ndarray                    # (T,)
    opacity: np.ndarray | None = None    # (T,)
    frame_fn: Callable[[int], tuple[np.ndarray, np.ndarray]] | None = None
    shadow: float = 0.0
    sx: np.ndarray | None = None         # (T,) horizontal squeeze (head turn)


@dataclass
class _Plan:
    world: np.ndarray                    # (h, w, 3) float32 background
    origin: tuple[float, float]          # scene position of world pixel (0, 0)
    ppu: float                           # world/sprite pixels per scene unit
    cam: np.ndarray                      # (T, 3) cx, cy, zoom
    layers: list[_Layer]
    gain: np.ndarray                     # (T, 3) per-channel multiplicative gain
    post: list[Callable[[int, np.ndarray], np.ndarray]]
    noise: float                         # sensor noise sigma (8-bit levels)
    grain: float                         # film grain sigma (8-bit levels)
    noise_seed: int

    def cam_matrix(self, i: int, cfg: _Cfg) -> np.ndarray:
        """Scene -> screen affine for frame ``i``."""
        cx, cy, z = self.cam[i]
        return np.array([[z, 0.0, cfg.width / 2.0 - z * cx], [0.0, z, cfg.height / 2.0 - z * cy]])


def _render(plan: _Plan, cfg: _Cfg, idx: Iterable[int] | None = None) -> np.ndarray:
    """Render frames ``idx`` (default all) of a plan to uint8 RGB."""
    idx = list(range(cfg.n) if idx is None else idx)
    size = (cfg.width, cfg.height)
    out = np.empty((len(idx), cfg.height, cfg.width, 3), np.uint8)
    world_to_scene = np.array([[1.0 / plan.ppu, 0.0, plan.origin[0]],
                               [0.0, 1.0 / plan.ppu, plan.origin[1]]])
    for j, i in enumerate(idx):
        cam = plan.cam_matrix(i, cfg)
        img = _warp(plan.world, _compose(cam, world_to_scene), size, border=cv2.BORDER_REFLECT)
        for layer in plan.layers:
            rgb, alpha = layer.frame_fn(i) if layer.frame_fn else (layer.sprite.rgb, layer.sprite.alpha)
            if layer.opacity is not None:
                alpha = alpha * float(layer.opacity[i])
            sx = 1.0 if layer.sx is None else float(layer.sx[i])
            m = _compose(cam, _affine(float(layer.scale[i]) / plan.ppu, float(layer.angle[i]),
                                      layer.sprite.anchor, layer.pos[i], sx=sx))
            if layer.shadow > 0:
                blur = cv2.GaussianBlur(alpha, (0, 0), 0.12 * layer.sprite.radius * plan.ppu + 1)
                shift = np.array([[0, 0, 0.035 * cfg.height], [0, 0, 0.05 * cfg.height]]) * plan.cam[i, 2]
                sh = _warp(blur, m + shift, size)
                img = img * (1.0 - layer.shadow * sh)[..., None]
            rgba = np.dstack([rgb * alpha[..., None], alpha])
            w = _warp(rgba, m, size)
            img = img * (1.0 - w[..., 3:4]) + w[..., :3]
        img = img * plan.gain[i].astype(np.float32)
        for fn in plan.post:
            img = fn(i, img)
        if plan.noise > 0 or plan.grain > 0:
            nrng = np.random.default_rng([plan.noise_seed, i])
            noise = nrng.standard_normal((cfg.height, cfg.width, 1), np.float32) * plan.noise
            noise = noise + nrng.standard_normal((cfg.height, cfg.width, 3), np.float32) * (0.4 * plan.noise)
            if plan.grain > 0:
                g = nrng.standard_normal((cfg.height, cfg.width), np.float32)
                g = cv2.GaussianBlur(g, (0, 0), 0.7 * cfg.unit + 0.3)
                g *= plan.grain / max(float(g.std()), 1e-6)
                luma = img.mean(axis=2, keepdims=True) / 255.0
                noise = noise + g[..., None] * (0.6 + 0.8 * luma * (1.0 - luma) * 2)
            img = img + noise
        out[j] = np.clip(img + 0.5, 0, 255).astype(np.uint8)
    return out


# --------------------------------------------------------------------------
# generic scene: textured background, camera move, textured objects


@dataclass
class _Scene:
    bg: str
    world: np.ndarray
    origin: tuple[float, float]
    ppu: float
    camera: _Camera
    sprites: list[_Sprite]
    paths: list[_Path]
    noise: float
    grade: np.ndarray          # (3,) constant colour grade
    desc: str


def _world_for(rng: np.random.Generator, bg: str, cam_rows: np.ndarray, cfg: _Cfg, ppu: float,
               ) -> tuple[np.ndarray, tuple[float, float]]:
    """Background image covering every camera view in ``cam_rows``."""
    half = np.stack([cfg.width / 2.0 / cam_rows[:, 2], cfg.height / 2.0 / cam_rows[:, 2]], axis=1)
    lo = (cam_rows[:, :2] - half).min(axis=0) - 6.0
    hi = (cam_rows[:, :2] + half).max(axis=0) + 6.0
    need = hi - lo
    photo = _photo(bg, rng)
    ph, pw = photo.shape[:2]
    view = rng.uniform(0.45, 0.8)  # fraction of the photo width one frame shows
    k = max(cfg.width / (view * pw), need[0] / pw, need[1] / ph) * 1.001  # scene units per photo px
    p0 = lo - rng.uniform(0, 1, 2) * (np.array([pw, ph]) * k - need)
    size = (int(math.ceil(need[0] * ppu)), int(math.ceil(need[1] * ppu)))
    m = np.array([[ppu * k, 0.0, ppu * (p0[0] - lo[0])], [0.0, ppu * k, ppu * (p0[1] - lo[1])]])
    world = _warp(photo, m, size, border=cv2.BORDER_REFLECT)
    return world, (float(lo[0]), float(lo[1]))


def _pan_velocity(rng: np.random.Generator, cfg: _Cfg, speed: tuple[float, float]) -> np.ndarray:
    """Mostly horizontal pan, ``speed`` in frame widths per second."""
    s = rng.uniform(*speed) * cfg.width
    ang = rng.uniform(-0.35, 0.35) + (np.pi if rng.random() < 0.5 else 0.0)
    return s * np.array([math.cos(ang), 0.5 * math.sin(ang)])


def _make_scene(rng: np.random.Generator, cfg: _Cfg, *, t_max: float,
                pan: tuple[float, float] = (0.02, 0.10), zoom_to: float = 1.0,
                n_objects: tuple[int, int] = (1, 3), target_speed: tuple[float, float] = (0.06, 0.22),
                target_radius: tuple[float, float] = (0.13, 0.2), target_shape: str | None = None,
                wobble: bool = True, tripod: bool = False, exclude_bg: Iterable[str] = (),
                bg: str | None = None) -> _Scene:
    """A background photo behind 1-3 textured objects, seen by a slowly panning camera.

    Object 0 is the *target* (drawn on top, used by object artifacts). Speeds are
    in frame widths per second, radii in frame heights. ``tripod``: no handheld sway.
    """
    exclude = set(exclude_bg)
    bg = bg or str(rng.choice([b for b in _BACKGROUNDS if b not in exclude]))
    ppu = max(1.0, zoom_to)
    vel = _pan_velocity(rng, cfg, pan)
    camera = _Camera(
        c0=(0.0, 0.0), vel=(float(vel[0]), float(vel[1])), zoom0=1.0, zoom1=zoom_to,
        zoom_s=max(t_max, 1e-3),
        sway=tuple(rng.uniform(0.0, 0.006, 2) * cfg.width * (0.0 if tripod else 1.0)),
        sway_hz=rng.uniform(0.2, 0.6),
        sway_phase=tuple(rng.uniform(0, 2 * np.pi, 2)),
    )
    cam_rows = camera.at(np.linspace(0.0, t_max, 64))
    world, origin = _world_for(rng, bg, cam_rows, cfg, ppu)

    n_obj = int(rng.integers(n_objects[0], n_objects[1] + 1))
    sprites: list[_Sprite] = []
    paths: list[_Path] = []
    used: set[str] = {bg}
    for j in range(n_obj):
        target = j == 0
        radius = rng.uniform(*(target_radius if target else (0.08, 0.14))) * cfg.height
        sprite = _make_sprite(rng, radius, ppu, shape=target_shape if target else None, exclude=used)
        used.add(sprite.label.split("-")[0])
        for _attempt in range(200):
            speed = rng.uniform(*(target_speed if target else (0.02, 0.12))) * cfg.width
            heading = rng.uniform(0, 2 * np.pi)
            u = speed * np.array([math.cos(heading), 0.6 * math.sin(heading)])
            s0 = np.array([rng.uniform(0.22, 0.78) * cfg.width, rng.uniform(0.3, 0.7) * cfg.height])
            if zoom_to > 1.0:  # zoom in towards the centre: keep objects near it
                s0 = np.array([cfg.width, cfg.height]) / 2 + (s0 - np.array([cfg.width, cfg.height]) / 2) * 0.4
                u *= 0.3
            acc = rng.uniform(-0.2, 0.2, 2) * speed  # gentle: at most ~20% speed change per second
            path = _Path(
                p0=tuple(s0 - np.array([cfg.width, cfg.height]) / 2.0),
                vel=tuple(u + vel), acc=tuple(acc),
                wobble=tuple(rng.uniform(0, 0.015, 2) * cfg.width) if wobble else (0.0, 0.0),
                wobble_hz=rng.uniform(0.3, 0.9), wobble_phase=rng.uniform(0, 2 * np.pi),
                angle0=rng.uniform(-25, 25), spin=rng.uniform(-35, 35) if wobble else rng.uniform(-15, 15),
                breathe=rng.uniform(0, 0.03) if wobble else 0.0, breathe_hz=rng.uniform(0.3, 0.8),
            )
            t = np.linspace(0.0, t_max, 32)
            if _inside(_screen(camera.at(t), path.pos(t), cfg), cfg, 0.6 * radius):
                break
        sprites.append(sprite)
        paths.append(path)
    pan_w = float(np.hypot(*vel)) / cfg.width
    names = ", ".join(s.label for s in sprites)
    move = f"zoom in to {zoom_to:.2f}x" if zoom_to > 1 else f"pan {pan_w:.2f} frame widths/s"
    desc = f"{bg} background, {move}, {n_obj} object(s): {names}"
    grade = np.exp(rng.normal(0.0, 0.03, 3))
    grade /= grade @ np.array([0.299, 0.587, 0.114])
    return _Scene(bg, world, origin, ppu, camera, sprites, paths,
                  noise=float(rng.uniform(0.8, 2.0)), grade=grade, desc=desc)


def _plan(scene: _Scene, cfg: _Cfg, rng: np.random.Generator, *, tau: np.ndarray | None = None,
          obj_tau: dict[int, np.ndarray] | None = None, obj_offset: dict[int, np.ndarray] | None = None,
          ) -> _Plan:
    """Per-frame arrays for a scene. ``tau``: scene time of each frame; per-object overrides."""
    tau = cfg.tau if tau is None else tau
    obj_tau = obj_tau or {}
    obj_offset = obj_offset or {}
    layers: list[_Layer] = []
    for j in reversed(range(len(scene.sprites))):  # target (0) drawn last, on top
        t = obj_tau.get(j, tau)
        path = scene.paths[j]
        pos = path.pos(t) + obj_offset.get(j, 0.0)
        layers.append(_Layer(scene.sprites[j], pos, path.angle(t), path.scale(t), shadow=0.35))
    gain = np.tile(scene.grade, (cfg.n, 1))
    return _Plan(scene.world, scene.origin, scene.ppu, scene.camera.at(tau), layers, gain, [],
                 noise=scene.noise, grain=0.0, noise_seed=int(rng.integers(2**62)))


def _target_screen(plan: _Plan, cfg: _Cfg) -> np.ndarray:
    """Screen centre of the target object (the last layer) per frame."""
    return _screen(plan.cam, plan.layers[-1].pos, cfg)


def _world_region(plan: _Plan, cfg: _Cfg, centre: np.ndarray, radius: float, i: int,
                  *, aspect: float = 1.3) -> np.ndarray:
    """Soft elliptical mask of a region fixed in the scene, as seen in frame ``i``."""
    cx, cy, z = plan.cam[i]
    sc = z * (centre - np.array([cx, cy])) + np.array([cfg.width, cfg.height]) / 2.0
    return _ellipse_mask((cfg.height, cfg.width), sc, (z * radius * aspect, z * radius),
                         feather=0.45 * z * radius)


def _region_centre(rng: np.random.Generator, plan: _Plan, cfg: _Cfg, mid: int) -> np.ndarray:
    """A scene point that is well inside the frame at frame ``mid``."""
    cx, cy, z = plan.cam[mid]
    s = np.array([rng.uniform(0.3, 0.7) * cfg.width, rng.uniform(0.35, 0.65) * cfg.height])
    return np.array([cx, cy]) + (s - np.array([cfg.width, cfg.height]) / 2.0) / z


# --------------------------------------------------------------------------
# kind builders: clean and benign


def _clean(rng: np.random.Generator, cfg: _Cfg, **scene_kw: Any) -> _Take:
    scene = _make_scene(rng, cfg, t_max=cfg.tau[-1], **scene_kw)
    plan = _plan(scene, cfg, rng)
    return _Take(_render(plan, cfg), [], scene.desc, {"target": _target_screen(plan, cfg)})


def _k_clean(rng: np.random.Generator, cfg: _Cfg) -> _Take:
    return _clean(rng, cfg)


def _k_short(rng: np.random.Generator, cfg: _Cfg) -> _Take:
    take = _clean(rng, cfg)
    take.description = f"{_SHORT_FRAMES}-frame clean take; {take.description}"
    return take


def _k_fast_pan(rng: np.random.Generator, cfg: _Cfg) -> _Take:
    # a tracking shot: the camera follows the objects, the background streams past
    take = _clean(rng, cfg, pan=(0.35, 0.6), target_speed=(0.0, 0.05), n_objects=(1, 2))
    take.description = f"fast pan; {take.description}"
    return take


def _k_zoom(rng: np.random.Generator, cfg: _Cfg) -> _Take:
    take = _clean(rng, cfg, pan=(0.0, 0.02), zoom_to=float(rng.uniform(1.3, 1.7)))
    take.description = f"smooth zoom; {take.description}"
    return take


def _k_exposure_ramp(rng: np.random.Generator, cfg: _Cfg) -> _Take:
    scene = _make_scene(rng, cfg, t_max=cfg.tau[-1])
    plan = _plan(scene, cfg, rng)
    change = rng.uniform(0.3, 0.4) * (1 if rng.random() < 0.5 else -1)
    x = np.linspace(0.0, 1.0, cfg.n)
    ramp = 1.0 + change * (0.35 * x + 0.65 * _smoothstep(x))
    plan.gain = plan.gain * ramp[:, None]
    word = "brightens" if change > 0 else "darkens"
    return _Take(_render(plan, cfg), [], f"exposure {word} by {abs(change):.0%} over the take; {scene.desc}",
                 {"target": _target_screen(plan, cfg)})


def _k_fade(rng: np.random.Generator, cfg: _Cfg) -> _Take:
    scene = _make_scene(rng, cfg, t_max=cfg.tau[-1])
    plan = _plan(scene, cfg, rng)
    n_fade = int(np.clip(round(rng.uniform(0.4, 0.8) * cfg.fps), 3, cfg.n // 3))
    ramp = np.ones(cfg.n)
    fade_out = rng.random() < 0.5
    x = np.arange(n_fade) / (n_fade - 1.0)
    if fade_out:
        ramp[cfg.n - n_fade:] = 1.0 - x
    else:
        ramp[:n_fade] = x
    plan.gain = plan.gain * ramp[:, None]
    word = "fade to black over the last" if fade_out else "fade from black over the first"
    return _Take(_render(plan, cfg), [], f"{word} {n_fade} frames; {scene.desc}",
                 {"target": _target_screen(plan, cfg)})


def _k_grain(rng: np.random.Generator, cfg: _Cfg) -> _Take:
    scene = _make_scene(rng, cfg, t_max=cfg.tau[-1])
    plan = _plan(scene, cfg, rng)
    plan.grain = float(rng.uniform(7.0, 13.0))
    return _Take(_render(plan, cfg), [], f"strong film grain (sigma {plan.grain:.1f}); {scene.desc}",
                 {"target": _target_screen(plan, cfg)})


def _k_gif_dither(rng: np.random.Generator, cfg: _Cfg) -> _Take:
    # a locked-off shot of one object keeps the GIF small (unchanged pixels are not re-sent)
    scene = _make_scene(rng, cfg, t_max=cfg.tau[-1], n_objects=(1, 1), pan=(0.0, 0.0), tripod=True)
    plan = _plan(scene, cfg, rng)
    plan.noise = 0.0  # the palette dithering is the noise
    return _Take(_render(plan, cfg), [], f"clean take for GIF (palette + dithering); {scene.desc}",
                 {"target": _target_screen(plan, cfg)})


def _bounce_heights(t: np.ndarray, h0: float, v0: float, g: float, e: float) -> np.ndarray:
    """Height above the floor of a ball under gravity with restitution ``e``."""
    out = np.zeros_like(t)
    t0, h, v = 0.0, h0, v0
    bounces: list[tuple[float, float, float]] = []  # (start time, height, upward speed)
    for _ in range(64):
        bounces.append((t0, h, v))
        hit = (v + math.sqrt(v * v + 2 * g * h)) / g
        t0 += hit
        v = e * (g * hit - v)
        h = 0.0
        if v < 0.05 * math.sqrt(2 * g * max(h0, 1e-6)):
            break
    for start, hh, vv in bounces:
        sel = t >= start
        dt = t[sel] - start
        out[sel] = np.maximum(hh + vv * dt - 0.5 * g * dt * dt, 0.0)
    rest = t >= t0
    out[rest] = 0.0
    return out


def _k_bounce(rng: np.random.Generator, cfg: _Cfg) -> _Take:
    """A ball dropped on a floor: fast, accelerating, abruptly reversed, all plausible."""
    w, h, tau = cfg.width, cfg.height, cfg.tau
    scene = _make_scene(rng, cfg, t_max=tau[-1], pan=(0.0, 0.03), n_objects=(1, 1),
                        target_shape="ball", target_radius=(0.08, 0.12), exclude_bg=_FLOORS)
    # floor: a toned texture, foreshortened, from the foot of the wall down
    wall_screen = rng.uniform(0.62, 0.72) * h
    contact_screen = wall_screen + rng.uniform(0.12, 0.2) * h  # where the ball meets the floor
    world = np.array(scene.world)
    wall_y = wall_screen - h / 2.0  # scene units (the camera starts near 0, 0 with zoom 1)
    floor_y = contact_screen - h / 2.0
    row = int(round((wall_y - scene.origin[1]) * scene.ppu))
    floor_tex = _photo(str(rng.choice(_FLOORS)), rng)
    fh = world.shape[0] - row
    sx = rng.uniform(0.5, 0.8)
    band = _warp(floor_tex, np.array([[sx, 0.0, 0.0], [0.0, 0.3 * sx, 0.0]]),
                 (world.shape[1], fh), border=cv2.BORDER_REFLECT)
    shade = np.linspace(0.6, 1.0, fh, dtype=np.float32)[:, None, None]
    world[row:] = band * shade
    world[max(row - 2, 0):row + 1] *= 0.55  # the skirting line
    scene.world = world

    radius = scene.sprites[0].radius
    g = rng.uniform(600.0, 900.0) * h / 144.0
    e = rng.uniform(0.6, 0.82)
    for _attempt in range(100):
        h0 = rng.uniform(0.35, 0.6) * h
        v0 = rng.uniform(-0.1, 0.3) * h
        t_hit = (v0 + math.sqrt(v0 * v0 + 2 * g * h0)) / g
        if 0.15 * tau[-1] < t_hit < 0.7 * tau[-1]:
            break
    vx = rng.uniform(0.1, 0.25) * w * (1 if rng.random() < 0.5 else -1)
    x0 = (0.25 * w if vx > 0 else 0.75 * w) - w / 2.0
    heights = _bounce_heights(tau, h0, v0, g, e)
    pos = np.stack([x0 + scene.camera.vel[0] * tau + vx * tau,
                    floor_y - radius - heights], axis=1)
    plan = _plan(scene, cfg, rng)
    ball = plan.layers[-1]
    ball.pos = pos
    ball.angle = np.degrees((pos[:, 0] - pos[0, 0]) / radius)
    ball.scale = np.ones(cfg.n)
    ball.shadow = 0.0
    # contact shadow on the floor, smaller and fainter with height
    size = _sprite_canvas(radius, scene.ppu)
    blob = _ellipse_mask((size, size), (size / 2, size / 2), (radius * scene.ppu, 0.3 * radius * scene.ppu),
                         feather=0.35 * radius * scene.ppu)
    shadow = _Sprite(np.zeros((size, size, 3), np.float32), blob, radius, "shadow")
    rel = heights / max(h0, 1e-6)
    shadow_layer = _Layer(shadow, np.stack([pos[:, 0], np.full(cfg.n, floor_y)], axis=1),
                          np.zeros(cfg.n), 1.0 - 0.3 * np.clip(rel, 0, 1),
                          opacity=0.55 * (1.0 - 0.6 * np.clip(rel, 0, 1)))
    plan.layers.insert(len(plan.layers) - 1, shadow_layer)
    dh = np.diff(heights)
    n_b = int(np.sum((dh[:-1] < 0) & (dh[1:] >= 0)))
    desc = (f"ball dropped from {h0 / h:.2f} frame heights, gravity {g:.0f} px/s^2, restitution {e:.2f}, "
            f"{n_b} floor contact(s); {scene.bg} wall")
    return _Take(_render(plan, cfg), [], desc, {"target": _screen(plan.cam, pos, cfg)})


# --------------------------------------------------------------------------
# kind builders: flicker


def _k_flicker_global(rng: np.random.Generator, cfg: _Cfg) -> _Take:
    scene = _make_scene(rng, cfg, t_max=cfg.tau[-1])
    plan = _plan(scene, cfg, rng)
    a, b = _span(rng, cfg, 0.25, 0.6, min_frames=3)
    amp = rng.uniform(0.06, 0.12)
    sign = 1.0 if rng.random() < 0.5 else -1.0
    for i in range(a, b + 1):
        plan.gain[i] *= 1.0 + sign * amp * rng.uniform(0.75, 1.0)
        sign = -sign
    desc = f"global brightness pumping +-{amp:.0%} on frames {a}-{b}; {scene.desc}"
    return _Take(_render(plan, cfg), [(a, b, "brightness pumping")], desc,
                 {"target": _target_screen(plan, cfg)})


def _k_flicker_region(rng: np.random.Generator, cfg: _Cfg) -> _Take:
    scene = _make_scene(rng, cfg, t_max=cfg.tau[-1])
    plan = _plan(scene, cfg, rng)
    a, b = _span(rng, cfg, 0.3, 0.7, min_frames=3)
    centre = _region_centre(rng, plan, cfg, (a + b) // 2)
    radius = rng.uniform(0.18, 0.3) * cfg.height
    amp = rng.uniform(0.12, 0.25)
    sign = 1.0 if rng.random() < 0.5 else -1.0
    gains = {}
    for i in range(a, b + 1):
        gains[i] = sign * amp * rng.uniform(0.7, 1.0)
        sign = -sign

    def post(i: int, img: np.ndarray) -> np.ndarray:
        if i not in gains:
            return img
        mask = _world_region(plan, cfg, centre, radius, i)
        return img * (1.0 + gains[i] * mask)[..., None]

    plan.post.append(post)
    desc = f"regional brightness flicker +-{amp:.0%} in one area on frames {a}-{b}; {scene.desc}"
    return _Take(_render(plan, cfg), [(a, b, "regional flicker")], desc, {"target": _target_screen(plan, cfg)})


def _k_flicker_color(rng: np.random.Generator, cfg: _Cfg) -> _Take:
    scene = _make_scene(rng, cfg, t_max=cfg.tau[-1])
    plan = _plan(scene, cfg, rng)
    a, b = _span(rng, cfg, 0.3, 0.7, min_frames=3)
    amp = rng.uniform(0.05, 0.1)
    luma = np.array([0.299, 0.587, 0.114])
    prev = np.zeros(3)
    for i in range(a, b + 1):
        for _ in range(20):  # a fresh white balance that differs from the last one
            d = rng.normal(0.0, 1.0, 3)
            d -= (d @ luma) * np.ones(3)  # keep luma
            d *= amp / max(np.abs(d).max(), 1e-6)
            if np.abs(d - prev).max() > 0.8 * amp:
                break
        prev = d
        plan.gain[i] *= np.exp(d)
    desc = f"white-balance jitter (per-channel gains +-{amp:.0%}) on frames {a}-{b}; {scene.desc}"
    return _Take(_render(plan, cfg), [(a, b, "colour flicker")], desc, {"target": _target_screen(plan, cfg)})


def _k_flicker_boil(rng: np.random.Generator, cfg: _Cfg) -> _Take:
    scene = _make_scene(rng, cfg, t_max=cfg.tau[-1])
    plan = _plan(scene, cfg, rng)
    a, b = _span(rng, cfg, 0.3, 0.7, min_frames=3)
    centre = _region_centre(rng, plan, cfg, (a + b) // 2)
    radius = rng.uniform(0.16, 0.26) * cfg.height
    boost = rng.uniform(1.0, 1.4)
    sigma = 2.2 * cfg.unit
    seed = int(rng.integers(2**62))

    def post(i: int, img: np.ndarray) -> np.ndarray:
        if not a <= i <= b:
            return img
        frng = np.random.default_rng([seed, i])
        mask = _world_region(plan, cfg, centre, radius, i)
        low = cv2.GaussianBlur(img, (0, 0), sigma)
        detail = img - low
        tex = _texture(frng, str(frng.choice(_BOIL_TEXTURES)), max(cfg.width, cfg.height))
        tex = tex[:cfg.height, :cfg.width]
        new = tex - cv2.GaussianBlur(tex, (0, 0), sigma)
        sel = mask > 0.5
        want = max(float(detail[sel].std()), 6.0) * boost
        new *= want / max(float(new[sel].std()), 1e-6)
        return img + (new - detail) * mask[..., None]

    plan.post.append(post)
    desc = f"texture boiling (fine detail re-invented every frame) in one area on frames {a}-{b}; {scene.desc}"
    return _Take(_render(plan, cfg), [(a, b, "texture boiling")], desc, {"target": _target_screen(plan, cfg)})


def _k_flash(rng: np.random.Generator, cfg: _Cfg) -> _Take:
    scene = _make_scene(rng, cfg, t_max=cfg.tau[-1])
    plan = _plan(scene, cfg, rng)
    k, _ = _span(rng, cfg, 0.0, 0.0)
    amount = rng.uniform(0.35, 0.65)

    def post(i: int, img: np.ndarray) -> np.ndarray:
        return img + (255.0 - img) * amount if i == k else img

    plan.post.append(post)
    desc = f"single-frame white flash ({amount:.0%} towards white) at frame {k}; {scene.desc}"
    return _Take(_render(plan, cfg), [(k, k, "flash frame")], desc, {"target": _target_screen(plan, cfg)})


# --------------------------------------------------------------------------
# kind builders: morphing


def _k_morph_shape(rng: np.random.Generator, cfg: _Cfg) -> _Take:
    shapes = [s for s in _SHAPES if s != "ball"]
    first, second = (str(s) for s in rng.choice(shapes, 2, replace=False))
    scene = _make_scene(rng, cfg, t_max=cfg.tau[-1], target_shape=first)
    plan = _plan(scene, cfg, rng)
    a, b = _span(rng, cfg, 0.8, 1.2, min_frames=4)
    sprite = scene.sprites[0]
    size = sprite.rgb.shape[0]
    r_px = sprite.radius * scene.ppu
    r_a, r_b = sprite.radii, _radii(second, rng)
    progress = _smoothstep((np.arange(cfg.n) - a + 1.0) / (b - a + 2.0))

    def frame_fn(i: int) -> tuple[np.ndarray, np.ndarray]:
        p = float(progress[i])
        if p <= 0.0:
            return sprite.rgb, sprite.alpha
        alpha = _shape_alpha((1 - p) * r_a + p * r_b, size, r_px)
        shade = _shade(alpha, r_px, ball=False)
        return np.clip(sprite.texture * shade[..., None], 0, 255).astype(np.float32), alpha

    plan.layers[-1].frame_fn = frame_fn
    desc = f"the {sprite.label} morphs into a {second} over frames {a}-{b}; {scene.desc}"
    return _Take(_render(plan, cfg), [(a, b, "shape morph")], desc, {"target": _target_screen(plan, cfg)})


def _k_morph_texture(rng: np.random.Generator, cfg: _Cfg) -> _Take:
    scene = _make_scene(rng, cfg, t_max=cfg.tau[-1])
    plan = _plan(scene, cfg, rng)
    a, b = _span(rng, cfg, 0.8, 1.3, min_frames=4)
    sprite = scene.sprites[0]
    size = sprite.rgb.shape[0]
    r_px = sprite.radius * scene.ppu
    old_tex = sprite.label.split("-")[0]
    new_tex = str(rng.choice([t for t in _SPRITE_TEXTURES if t != old_tex and t != scene.bg]))
    other = _texture(rng, new_tex, size) * _shade(sprite.alpha, r_px, ball=sprite.label.endswith("ball"))[..., None]
    other = np.clip(other, 0, 255).astype(np.float32)
    pattern = _smooth_noise(rng, (size, size), 0.12 * size)
    pattern = (pattern - pattern.min()) / max(float(np.ptp(pattern)), 1e-6)
    progress = np.clip((np.arange(cfg.n) - a + 1.0) / (b - a + 2.0), 0.0, 1.0)

    def frame_fn(i: int) -> tuple[np.ndarray, np.ndarray]:
        p = float(progress[i])
        if p <= 0.0:
            return sprite.rgb, sprite.alpha
        # blotches of the new texture appear where the pattern is low and spread
        w = _smoothstep((p - 0.6 * pattern) / 0.4)
        return sprite.rgb * (1 - w[..., None]) + other * w[..., None], sprite.alpha

    plan.layers[-1].frame_fn = frame_fn
    desc = f"the {sprite.label} turns into {new_tex} texture over frames {a}-{b}; {scene.desc}"
    return _Take(_render(plan, cfg), [(a, b, "texture morph")], desc, {"target": _target_screen(plan, cfg)})


def _k_morph_warp(rng: np.random.Generator, cfg: _Cfg) -> _Take:
    scene = _make_scene(rng, cfg, t_max=cfg.tau[-1])
    plan = _plan(scene, cfg, rng)
    a, b = _span(rng, cfg, 0.6, 1.1, min_frames=4)
    track = _target_screen(plan, cfg)
    r_screen = scene.sprites[0].radius * float(plan.cam[:, 2].mean())
    half = int(math.ceil(1.8 * r_screen))
    side = 2 * half + 1
    f1 = np.dstack([_smooth_noise(rng, (side, side), 0.3 * r_screen) for _ in range(2)])
    f2 = np.dstack([_smooth_noise(rng, (side, side), 0.3 * r_screen) for _ in range(2)])
    window = _ellipse_mask((side, side), (half, half), (1.25 * r_screen, 1.25 * r_screen),
                           feather=0.9 * r_screen)[..., None]
    amp = rng.uniform(0.3, 0.5) * r_screen
    env = _envelope(cfg.n, a, b)
    rate = rng.uniform(0.6, 1.4)
    yy, xx = np.mgrid[0:cfg.height, 0:cfg.width].astype(np.float32)

    def post(i: int, img: np.ndarray) -> np.ndarray:
        if env[i] <= 0:
            return img
        ph = 2 * np.pi * rate * (i - a) / cfg.fps
        field = (f1 * math.cos(ph) + f2 * math.sin(ph)) * window * (amp * env[i])
        m = np.array([[1.0, 0.0, track[i, 0] - half], [0.0, 1.0, track[i, 1] - half]])
        disp = cv2.warpAffine(field.astype(np.float32), m, (cfg.width, cfg.height),
                              flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
        return cv2.remap(img, (xx + disp[..., 0]).astype(np.float32), (yy + disp[..., 1]).astype(np.float32),
                         cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_REFLECT)

    plan.post.append(post)
    desc = (f"elastic warp of the {scene.sprites[0].label} growing to {amp:.1f} px and back over frames {a}-{b}; "
            f"{scene.desc}")
    return _Take(_render(plan, cfg), [(a, b, "elastic warp")], desc, {"target": track})


# --------------------------------------------------------------------------
# kind builders: physics


def _k_teleport(rng: np.random.Generator, cfg: _Cfg) -> _Take:
    scene = _make_scene(rng, cfg, t_max=cfg.tau[-1], target_speed=(0.06, 0.2), target_radius=(0.12, 0.17),
                        wobble=False)
    k, _ = _span(rng, cfg, 0.0, 0.0, margin_before=1)
    radius = scene.sprites[0].radius
    base = _plan(scene, cfg, rng)
    track = _target_screen(base, cfg)
    z = base.cam[:, 2:3]
    best = None
    for _attempt in range(300):
        ang = rng.uniform(0, 2 * np.pi)
        dist = rng.uniform(max(0.22 * cfg.width, 2.6 * radius), 0.4 * cfg.width)
        d = dist * np.array([math.cos(ang), math.sin(ang)])
        moved = track[k:] + z[k:] * d
        if _inside(moved, cfg, 0.8 * radius):
            best = d
            break
    if best is None:  # fall back: jump across the frame centre
        best = (np.array([cfg.width, cfg.height]) / 2 - track[k]) * 1.6
    offset = np.zeros((cfg.n, 2))
    offset[k:] = best
    plan = _plan(scene, cfg, rng, obj_offset={0: offset})
    desc = (f"the {scene.sprites[0].label} jumps {float(np.hypot(*best)):.0f} px at frame {k} "
            f"and moves on from there; {scene.desc}")
    return _Take(_render(plan, cfg), [(k, k, "teleport")], desc, {"target": _target_screen(plan, cfg)})


def _k_speed_spike(rng: np.random.Generator, cfg: _Cfg) -> _Take:
    for _attempt in range(200):
        scene = _make_scene(rng, cfg, t_max=cfg.tau[-1], target_speed=(0.12, 0.24), target_radius=(0.12, 0.16),
                            pan=(0.0, 0.05), wobble=False)
        a, b = _span(rng, cfg, 0.12, 0.25, min_frames=3)
        factor = rng.uniform(4.0, 8.0)
        rate = np.ones(cfg.n)
        rate[a:b + 1] = factor
        obj_t = np.concatenate([[0.0], np.cumsum(rate[1:])]) / cfg.fps
        plan = _plan(scene, cfg, rng, obj_tau={0: obj_t})
        if _inside(_target_screen(plan, cfg), cfg, 0.7 * scene.sprites[0].radius):
            break
    desc = f"the {scene.sprites[0].label} moves {factor:.1f}x faster on frames {a}-{b}; {scene.desc}"
    return _Take(_render(plan, cfg), [(a, b, "speed spike")], desc, {"target": _target_screen(plan, cfg)})


def _k_reverse(rng: np.random.Generator, cfg: _Cfg) -> _Take:
    for _attempt in range(200):
        scene = _make_scene(rng, cfg, t_max=cfg.tau[-1], target_speed=(0.2, 0.38), target_radius=(0.1, 0.15),
                            pan=(0.0, 0.03), wobble=False)
        k, _ = _span(rng, cfg, 0.0, 0.0, margin_before=2)
        tau = cfg.tau
        # time runs backwards for the object from frame k: it retraces its path
        obj_t = np.array(tau)
        obj_t[k:] = 2 * tau[k - 1] - tau[k:]
        plan = _plan(scene, cfg, rng, obj_tau={0: obj_t})
        if _inside(_target_screen(plan, cfg), cfg, 0.7 * scene.sprites[0].radius):
            break
    desc = f"the {scene.sprites[0].label} reverses direction in mid-air at frame {k}; {scene.desc}"
    return _Take(_render(plan, cfg), [(k, k, "motion reversal")], desc, {"target": _target_screen(plan, cfg)})


def _k_frame_skip(rng: np.random.Generator, cfg: _Cfg) -> _Take:
    k, _ = _span(rng, cfg, 0.0, 0.0, margin_before=1)
    skip = int(rng.integers(5, 11))
    tau = (np.arange(cfg.n) + skip * (np.arange(cfg.n) >= k)) / cfg.fps
    scene = _make_scene(rng, cfg, t_max=tau[-1], pan=(0.08, 0.2), target_speed=(0.12, 0.25))
    plan = _plan(scene, cfg, rng, tau=tau)
    desc = f"{skip} frames dropped before frame {k}: the whole scene jumps ahead; {scene.desc}"
    return _Take(_render(plan, cfg), [(k, k, "frame skip")], desc, {"target": _target_screen(plan, cfg)})


def _k_hidden_cut(rng: np.random.Generator, cfg: _Cfg) -> _Take:
    k, _ = _span(rng, cfg, 0.0, 0.0, margin_before=1)
    first = _make_scene(rng, cfg, t_max=cfg.tau[-1])
    second = _make_scene(rng, cfg, t_max=cfg.tau[-1], exclude_bg=(first.bg,))
    p1 = _plan(first, cfg, rng)
    p2 = _plan(second, cfg, rng)
    frames = np.concatenate([_render(p1, cfg, range(k)), _render(p2, cfg, range(k, cfg.n))])
    track = np.concatenate([_target_screen(p1, cfg)[:k], _target_screen(p2, cfg)[k:]])
    desc = f"cut at frame {k} from [{first.desc}] to [{second.desc}]"
    return _Take(frames, [(k, k, "hidden cut")], desc, {"target": track})


def _k_freeze(rng: np.random.Generator, cfg: _Cfg) -> _Take:
    a, b = _span(rng, cfg, 0.2, 0.45, min_frames=3, margin_before=1)
    m = b - a + 1
    idx = np.arange(cfg.n)
    tau = np.where(idx < a, idx, np.maximum(idx - m, a - 1)) / cfg.fps
    scene = _make_scene(rng, cfg, t_max=cfg.tau[-1], pan=(0.05, 0.15), target_speed=(0.1, 0.22))
    plan = _plan(scene, cfg, rng, tau=tau)
    frames = _render(plan, cfg)
    frames[a:b + 1] = frames[a - 1]  # sensor noise frozen too: a held picture
    desc = f"picture frozen on frames {a}-{b} (copies of frame {a - 1}), then resumes; {scene.desc}"
    track = _target_screen(plan, cfg)
    return _Take(frames, [(a, b, "frozen frames")], desc, {"target": track})


# --------------------------------------------------------------------------
# faces: a close-up of skimage.data.astronaut()

# Measured once on astronaut() (512x512) with dlib's 68-point model.
_AST_EYES = ((203.2, 101.5), (246.8, 104.0))
_AST_MOUTH = (223.0, 145.5)
_AST_FACE_W = 87.0                      # dlib HOG box side
_AST_FACE_C = (222.5, 126.5)            # dlib HOG box centre
_AST_HEAD = ((224.0, 102.0), (86.0, 100.0))   # ellipse around hair and face
_AST_PIVOT = (222.0, 192.0)             # neck
_AST_INNER = ((224.5, 131.0), (37.0, 49.0))   # brows to chin, cheek to cheek

# LFW crops (25x25) that stay a different person (face_recognition distance > 0.6)
# and look clean once pasted in: index -> (left eye, right eye, mouth centre),
# measured with dlib's 68-point model on the 4x cubic upscale, divided by 4.
_LFW_FACES: dict[int, tuple[tuple[float, float], ...]] = {
    0: ((8.5, 8.79), (15.88, 8.58), (12.64, 19.56)),
    1: ((4.67, 8.71), (13.04, 8.92), (8.65, 18.74)),
    3: ((6.62, 9.54), (15.5, 9.46), (11.31, 18.69)),
    20: ((4.83, 8.83), (13.62, 8.33), (9.34, 17.73)),
    24: ((7.25, 8.88), (14.88, 8.67), (11.45, 18.24)),
    25: ((7.83, 8.67), (16.54, 8.88), (12.54, 17.58)),
    26: ((5.46, 9.33), (14.38, 8.46), (10.9, 18.05)),
    29: ((7.38, 9.33), (15.79, 9.0), (12.39, 20.55)),
    36: ((7.25, 8.62), (15.29, 9.17), (10.71, 18.49)),
    38: ((8.04, 8.92), (16.29, 8.58), (13.08, 17.75)),
    44: ((7.38, 8.08), (15.58, 8.04), (13.1, 17.9)),
    49: ((6.12, 8.92), (14.79, 7.88), (11.06, 19.5)),
    51: ((5.83, 9.42), (13.21, 8.42), (9.84, 18.88)),
    62: ((6.12, 9.38), (14.67, 9.29), (10.48, 18.75)),
    73: ((6.29, 9.08), (13.96, 8.58), (10.61, 18.61)),
    80: ((6.62, 9.54), (15.33, 9.21), (11.38, 18.74)),
}


@dataclass
class _Face:
    """A face close-up: world, head sprite and its per-frame pose and mouth motion."""

    plan: _Plan
    head: _Layer
    base_rgb: np.ndarray           # head sprite colour
    inner: np.ndarray              # inner-face mask in head-sprite px
    pts: dict[str, np.ndarray]     # landmarks in head-sprite px
    face_w: float                  # face width in head-sprite px
    mouth_field: np.ndarray        # (h, w) downward jaw displacement at full opening
    mouth_open: np.ndarray         # (T,) px
    grid: tuple[np.ndarray, np.ndarray]
    desc: str


def _face_scene(rng: np.random.Generator, cfg: _Cfg) -> _Face:
    """A slowly moving, slowly turning, talking face (the astronaut)."""
    box = rng.uniform(0.6, 0.7) * cfg.height
    k = box / _AST_FACE_W
    flip = rng.random() < 0.5
    src = np.array(_image("astronaut"))
    if flip:
        src = src[:, ::-1]

    def pt(p: Sequence[float]) -> np.ndarray:
        x, y = p
        return np.array([(511.0 - x) if flip else x, y]) * k

    world = cv2.resize(src, None, fx=k, fy=k, interpolation=cv2.INTER_AREA if k < 1 else cv2.INTER_CUBIC)
    face_c = pt(_AST_FACE_C)
    # camera: the face a little off-centre, slow drift and a slight push-in
    offset = np.array([rng.uniform(-0.12, 0.12) * cfg.width, rng.uniform(0.0, 0.06) * cfg.height])
    drift = rng.uniform(-0.03, 0.03, 2) * cfg.width * np.array([1.0, 0.4])
    c0 = face_c + offset
    c0[0] = np.clip(c0[0], cfg.width / 2 + 4, world.shape[1] - cfg.width / 2 - 4)
    c0[1] = np.clip(c0[1], cfg.height / 2 + 4, world.shape[0] - cfg.height / 2 - 4)
    camera = _Camera(c0=tuple(c0), vel=tuple(drift), zoom0=1.0, zoom1=float(rng.uniform(1.0, 1.06)),
                     zoom_s=cfg.tau[-1] + 1e-3, sway=tuple(rng.uniform(0.0, 1.5, 2) * cfg.unit),
                     sway_hz=rng.uniform(0.2, 0.5), sway_phase=tuple(rng.uniform(0, 2 * np.pi, 2)))

    # head sprite: an ellipse around hair and face, cut from the same picture
    (hc, ha) = _AST_HEAD
    centre, axes = pt(hc), np.array(ha) * k
    x0, y0 = int(max(centre[0] - axes[0] - 6, 0)), int(max(centre[1] - axes[1] - 6, 0))
    x1, y1 = int(min(centre[0] + axes[0] + 6, world.shape[1])), int(min(centre[1] + axes[1] + 6, world.shape[0]))
    rgb = np.ascontiguousarray(world[y0:y1, x0:x1])
    corner = np.array([x0, y0], float)
    alpha = _ellipse_mask(rgb.shape[:2], centre - corner, axes, feather=0.12 * axes[0])
    pts = {
        "eye_l": pt(_AST_EYES[0]) - corner, "eye_r": pt(_AST_EYES[1]) - corner,
        "mouth": pt(_AST_MOUTH) - corner, "pivot": pt(_AST_PIVOT) - corner,
    }
    if pts["eye_l"][0] > pts["eye_r"][0]:
        pts["eye_l"], pts["eye_r"] = pts["eye_r"], pts["eye_l"]
    inner = _ellipse_mask(rgb.shape[:2], pt(_AST_INNER[0]) - corner, np.array(_AST_INNER[1]) * k,
                          feather=0.22 * _AST_INNER[1][0] * k)
    face_w = _AST_FACE_W * k

    # head motion relative to the body: slow sway, a slow turn (roll + yaw squeeze), a slight lean
    tau = cfg.tau
    roll = rng.uniform(2.0, 5.0) * np.sin(2 * np.pi * rng.uniform(0.15, 0.4) * tau + rng.uniform(0, 2 * np.pi))
    yaw = 1.0 - rng.uniform(0.0, 0.06) * (0.5 + 0.5 * np.sin(2 * np.pi * rng.uniform(0.15, 0.35) * tau
                                                             + rng.uniform(0, 2 * np.pi)))
    sway = np.stack([rng.uniform(1.0, 3.0) * cfg.unit * np.sin(2 * np.pi * rng.uniform(0.2, 0.5) * tau
                                                               + rng.uniform(0, 2 * np.pi)) for _ in range(2)], 1)
    lean = 1.0 + rng.uniform(0.0, 0.03) * np.sin(2 * np.pi * rng.uniform(0.1, 0.3) * tau + rng.uniform(0, 6.3))
    pivot_world = pts["pivot"] + corner
    # posed about the neck: the sprite's anchor is the pivot
    sprite = _Sprite(rgb, alpha, float(max(axes)), "astronaut head", pivot=tuple(pts["pivot"]))
    head = _Layer(sprite, pivot_world + sway, roll, lean, sx=yaw)

    # talking: the jaw and lower lip move down a little, a few times a second
    hh, hw = rgb.shape[:2]
    yy, xx = np.mgrid[0:hh, 0:hw].astype(np.float32)
    mx, my = pts["mouth"]
    below = _smoothstep((yy - (my - 0.02 * face_w)) / (0.08 * face_w))
    fade = np.exp(-0.5 * ((yy - my) / (0.3 * face_w)) ** 2) * np.exp(-0.5 * ((xx - mx) / (0.22 * face_w)) ** 2)
    mouth_field = (below * fade).astype(np.float32)
    syll = np.zeros(cfg.n)
    for _ in range(2):
        syll += np.sin(2 * np.pi * rng.uniform(2.5, 5.0) * tau + rng.uniform(0, 2 * np.pi))
    mouth_open = np.clip(syll / 2.0, 0.0, 1.0) * rng.uniform(0.018, 0.03) * face_w

    plan = _Plan(world, (0.0, 0.0), 1.0, camera.at(tau), [head],
                 np.tile(np.exp(rng.normal(0, 0.02, 3)), (cfg.n, 1)), [],
                 noise=float(rng.uniform(0.8, 1.8)), grain=0.0, noise_seed=int(rng.integers(2**62)))
    desc = (f"talking head close-up (astronaut{' mirrored' if flip else ''}, face box ~{box:.0f} px), "
            f"head turning up to {np.abs(roll).max():.1f} deg")
    face = _Face(plan, head, rgb, inner, pts, face_w, mouth_field, mouth_open, (xx, yy), desc)
    head.frame_fn = _head_frames(face, [])
    return face


_HeadEffect = Callable[[int, np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


def _head_frames(face: _Face, effects: list[_HeadEffect]) -> Callable[[int], tuple[np.ndarray, np.ndarray]]:
    """Per-frame head sprite: the base picture, each effect, then the talking mouth."""
    xx, yy = face.grid
    alpha = face.head.sprite.alpha

    def frame_fn(i: int) -> tuple[np.ndarray, np.ndarray]:
        rgb = face.base_rgb
        dx = np.zeros_like(xx)
        dy = face.mouth_field * float(face.mouth_open[i])
        for effect in effects:
            rgb, d = effect(i, rgb, np.stack([dx, dy], -1))
            dx, dy = d[..., 0], d[..., 1]
        if np.any(dx) or np.any(dy):
            rgb = cv2.remap(rgb, (xx - dx).astype(np.float32), (yy - dy).astype(np.float32),
                            cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        return rgb, alpha

    return frame_fn


def _face_take(face: _Face, cfg: _Cfg, events: list[tuple[int, int, str]], desc: str) -> _Take:
    """Render a face scene; the track is the neck pivot on screen."""
    track = _screen(face.plan.cam, face.head.pos, cfg)
    return _Take(_render(face.plan, cfg), events, desc, {"face": track})


def _k_talking_face(rng: np.random.Generator, cfg: _Cfg) -> _Take:
    face = _face_scene(rng, cfg)
    return _face_take(face, cfg, [], face.desc)


def _swap_face(rng: np.random.Generator, face: _Face) -> tuple[np.ndarray, int]:
    """The head sprite with its inner face replaced by another person's.

    An LFW face (25x25 px) sets the face's shape and shading; its eyes and mouth
    are aligned onto the astronaut's, and the astronaut's own skin colour and
    finest detail (pores, lashes, edges) are kept so the new face is not a blur.
    """
    idx = int(rng.choice(sorted(_LFW_FACES)))
    big = cv2.resize(_lfw()[idx], (100, 100), interpolation=cv2.INTER_CUBIC)
    big = cv2.GaussianBlur(big, (0, 0), 0.8)
    lfw_pts = np.float32(_LFW_FACES[idx]) * 4.0  # measured on this same 4x upscale
    dst = np.float32([face.pts["eye_l"], face.pts["eye_r"], face.pts["mouth"]])
    m = cv2.getAffineTransform(lfw_pts, dst)
    hh, hw = face.base_rgb.shape[:2]
    grey = cv2.warpAffine(big, m, (hw, hh), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
    grey = grey + (grey - cv2.GaussianBlur(grey, (0, 0), 2.0))  # unsharp mask
    lab = cv2.cvtColor(np.clip(face.base_rgb / 255.0, 0, 1).astype(np.float32), cv2.COLOR_RGB2LAB)
    light = lab[..., 0]
    sel = face.inner > 0.5
    new = (grey - grey[sel].mean()) / max(float(grey[sel].std()), 1e-6) * light[sel].std() + light[sel].mean()
    new = new + 0.7 * (light - cv2.GaussianBlur(light, (0, 0), 1.2))  # fine detail
    mask = face.inner
    out = lab.copy()
    out[..., 0] = light * (1 - mask) + new * mask
    for c in (1, 2):
        smooth = cv2.GaussianBlur(lab[..., c], (0, 0), 0.08 * face.face_w)
        out[..., c] = lab[..., c] * (1 - mask) + smooth * mask
    rgb = cv2.cvtColor(out, cv2.COLOR_LAB2RGB) * 255.0
    return np.clip(rgb, 0, 255).astype(np.float32), idx


def _k_face_swap(rng: np.random.Generator, cfg: _Cfg) -> _Take:
    face = _face_scene(rng, cfg)
    a, b = _span(rng, cfg, 0.4, 0.8, min_frames=4)
    swapped, idx = _swap_face(rng, face)
    ramp = int(rng.integers(1, 4))
    weight = np.zeros(cfg.n)
    weight[a:b + 1] = 1.0
    for j in range(ramp):
        w = (j + 1.0) / (ramp + 1.0)
        if a + j <= b:
            weight[a + j] = min(weight[a + j], w)
        if b - j >= a:
            weight[b - j] = min(weight[b - j], w)

    def effect(i: int, rgb: np.ndarray, d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        w = float(weight[i])
        return (rgb if w <= 0 else rgb * (1 - w) + swapped * w), d

    face.head.frame_fn = _head_frames(face, [effect])
    desc = f"{face.desc}; the face becomes a different person (LFW #{idx}) on frames {a}-{b}"
    return _face_take(face, cfg, [(a, b, "identity change")], desc)


def _k_face_jitter(rng: np.random.Generator, cfg: _Cfg) -> _Take:
    face = _face_scene(rng, cfg)
    a, b = _span(rng, cfg, 0.3, 0.6, min_frames=3)
    shift = rng.uniform(2.0, 5.0) * cfg.unit
    turn = rng.uniform(1.5, 4.0)
    head = face.head
    head.pos = np.array(head.pos)
    head.angle = np.array(head.angle)
    for i in range(a, b + 1):
        d = rng.normal(0.0, 1.0, 2)
        head.pos[i] += shift * d / max(np.linalg.norm(d), 1e-6) * rng.uniform(0.6, 1.0)
        head.angle[i] += turn * rng.choice([-1.0, 1.0]) * rng.uniform(0.6, 1.0)
    desc = f"{face.desc}; face jitters by up to {shift:.1f} px / {turn:.1f} deg frame to frame on frames {a}-{b}"
    return _face_take(face, cfg, [(a, b, "face jitter")], desc)


def _k_face_melt(rng: np.random.Generator, cfg: _Cfg) -> _Take:
    face = _face_scene(rng, cfg)
    a, b = _span(rng, cfg, 0.6, 1.1, min_frames=4)
    xx, yy = face.grid
    fw = face.face_w
    amp = rng.uniform(0.1, 0.16) * fw
    field = np.zeros(xx.shape + (2,), np.float32)
    for name in ("eye_l", "eye_r", "mouth"):
        px, py = face.pts[name]
        bump = np.exp(-0.5 * (((xx - px) ** 2 + (yy - py) ** 2) / (0.13 * fw) ** 2))
        ang = rng.uniform(0, 2 * np.pi) if name != "mouth" else rng.uniform(0.2, np.pi - 0.2)
        field += bump[..., None] * np.array([math.cos(ang), math.sin(ang)], np.float32)
    field += 0.5 * np.dstack([_smooth_noise(rng, xx.shape, 0.12 * fw) for _ in range(2)])
    field *= face.inner[..., None]
    field /= max(float(np.abs(field).max()), 1e-6)
    env = _envelope(cfg.n, a, b)

    def effect(i: int, rgb: np.ndarray, d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return rgb, d + field * (amp * env[i])

    face.head.frame_fn = _head_frames(face, [effect])
    desc = f"{face.desc}; eyes and mouth slide out of place by up to {amp:.1f} px and back on frames {a}-{b}"
    return _face_take(face, cfg, [(a, b, "face melting")], desc)


def _k_face_dropout(rng: np.random.Generator, cfg: _Cfg) -> _Take:
    face = _face_scene(rng, cfg)
    a, b = _span(rng, cfg, 0.1, 0.25, min_frames=2)
    fw = face.face_w
    blur = rng.random() < 0.5
    if blur:
        fill = cv2.GaussianBlur(face.base_rgb, (0, 0), 0.16 * fw)
        how = "blurred away"
    else:
        skin = face.base_rgb[face.inner > 0.9].mean(axis=0)
        shading = cv2.GaussianBlur(face.base_rgb.mean(axis=2), (0, 0), 0.35 * fw)
        shading = shading / max(float(shading[face.inner > 0.9].mean()), 1e-6)
        fill = np.clip(skin[None, None, :] * shading[..., None], 0, 255).astype(np.float32)
        how = "replaced by smooth skin"
    mask = face.inner[..., None]
    dropped = face.base_rgb * (1 - mask) + fill * mask

    def effect(i: int, rgb: np.ndarray, d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return (dropped if a <= i <= b else rgb), d

    face.head.frame_fn = _head_frames(face, [effect])
    desc = f"{face.desc}; facial features {how} on frames {a}-{b} (head and hair stay)"
    return _face_take(face, cfg, [(a, b, "face dropout")], desc)


# --------------------------------------------------------------------------
# public API

_BUILDERS: dict[str, Callable[[np.random.Generator, _Cfg], _Take]] = {
    "clean": _k_clean,
    "fast_pan": _k_fast_pan,
    "zoom": _k_zoom,
    "exposure_ramp": _k_exposure_ramp,
    "fade": _k_fade,
    "bounce": _k_bounce,
    "grain": _k_grain,
    "talking_face": _k_talking_face,
    "short": _k_short,
    "gif_dither": _k_gif_dither,
    "flicker_global": _k_flicker_global,
    "flicker_region": _k_flicker_region,
    "flicker_color": _k_flicker_color,
    "flicker_boil": _k_flicker_boil,
    "flash": _k_flash,
    "face_swap": _k_face_swap,
    "face_jitter": _k_face_jitter,
    "face_melt": _k_face_melt,
    "face_dropout": _k_face_dropout,
    "morph_shape": _k_morph_shape,
    "morph_texture": _k_morph_texture,
    "morph_warp": _k_morph_warp,
    "teleport": _k_teleport,
    "speed_spike": _k_speed_spike,
    "reverse": _k_reverse,
    "frame_skip": _k_frame_skip,
    "hidden_cut": _k_hidden_cut,
    "freeze": _k_freeze,
}


def take_suffix(kind: str) -> str:
    """File suffix :func:`make_set` uses for a kind: ``".gif"`` or ``".mp4"``."""
    return ".gif" if kind == "gif_dither" else ".mp4"


def _check(kind: str, width: int, height: int, fps: float, n_frames: int) -> None:
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; expected one of {', '.join(KINDS)}")
    if width < _MIN_SIZE or height < _MIN_SIZE:
        raise ValueError(f"frame size must be at least {_MIN_SIZE}x{_MIN_SIZE}, got {width}x{height}")
    if not (math.isfinite(fps) and fps > 0):
        raise ValueError(f"fps must be positive, got {fps}")
    if n_frames < _MIN_FRAMES:
        raise ValueError(f"n_frames must be at least {_MIN_FRAMES}, got {n_frames}")


def _render_take(kind: str, *, seed: int, width: int, height: int, fps: float,
                 n_frames: int) -> tuple[_Take, Truth]:
    _check(kind, width, height, fps, n_frames)
    n = _SHORT_FRAMES if kind == "short" else int(n_frames)
    cfg = _Cfg(int(width), int(height), float(fps), n)
    rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, zlib.crc32(kind.encode())])
    take = _BUILDERS[kind](rng, cfg)
    events = tuple(TruthEvent(a / cfg.fps, b / cfg.fps, label) for a, b, label in sorted(take.events))
    truth = Truth(kind=kind, artifact=KINDS[kind], events=events, fps=cfg.fps, n_frames=n,
                  width=cfg.width, height=cfg.height, seed=int(seed), description=take.description)
    return take, truth


def render_take(kind: str, *, seed: int = 0, width: int = 256, height: int = 144,
                fps: float = 24.0, n_frames: int = 48) -> tuple[np.ndarray, Truth]:
    """Render one labelled synthetic take.

    Parameters
    ----------
    kind : str
        A key of :data:`KINDS`.
    seed : int, optional
        Content seed: photographs, objects, motion, artifact times and strengths.
    width, height : int, optional
        Frame size in pixels (at least 32). Use even sizes to write ``.mp4``.
    fps : float, optional
        Frame rate; motion is defined in seconds, so it only changes sampling.
    n_frames : int, optional
        Number of frames (at least 12). Kind ``"short"`` always has 8.

    Returns
    -------
    frames : ndarray of uint8, shape (T, height, width, 3)
        RGB frames.
    truth : Truth
        The written ground truth; events lie inside the take, away from its
        first and last ~12%.

    Raises
    ------
    ValueError
        On an unknown kind or an out-of-range size, rate or length.

    Examples
    --------
    >>> frames, truth = render_take("teleport", seed=3, width=64, height=36, n_frames=12)
    >>> frames.shape, frames.dtype, truth.artifact
    ((12, 36, 64, 3), dtype('uint8'), 'physics')
    >>> [e.label for e in truth.events]
    ['teleport']
    """
    take, truth = _render_take(kind, seed=seed, width=width, height=height, fps=fps, n_frames=n_frames)
    return take.frames, truth


def _atomic_target(path: Path) -> Path:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}", dir=path.parent)
    os.close(fd)
    return Path(tmp)


def _gif_frames(frames: np.ndarray, fps: float) -> list[av.VideoFrame]:
    """Palette-quantise with ffmpeg's palettegen/paletteuse.

    One 256-colour palette for the whole take and Sierra error-diffusion
    dithering, re-dithered only where the picture changed, as GIF makers do.
    """
    t, h, w = frames.shape[:3]
    tb = Fraction(1, 100)
    graph = av.filter.Graph()
    src = graph.add_buffer(width=w, height=h, format="rgb24", time_base=tb)
    split = graph.add("split")
    palettegen = graph.add("palettegen", "stats_mode=full")
    paletteuse = graph.add("paletteuse", "dither=sierra2_4a:diff_mode=rectangle")
    sink = graph.add("buffersink")
    src.link_to(split)
    split.link_to(palettegen, 0, 0)
    split.link_to(paletteuse, 1, 0)
    palettegen.link_to(paletteuse, 0, 1)
    paletteuse.link_to(sink)
    graph.configure()
    for i in range(t):
        vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(frames[i]), format="rgb24")
        vf.pts = int(round(i * 100 / fps))
        vf.time_base = tb
        graph.push(vf)
    graph.push(None)
    out: list[av.VideoFrame] = []
    while True:
        try:
            out.append(graph.pull())
        except (av.error.EOFError, BlockingIOError):
            break
    return out


def write_take(frames: np.ndarray, path: str | os.PathLike[str], *, fps: float, crf: int = 23) -> None:
    """Write RGB frames to ``.mp4`` (H.264, yuv420p) or ``.gif``, atomically.

    Parameters
    ----------
    frames : ndarray of uint8, shape (T, H, W, 3)
        RGB frames; not modified.
    path : str or PathLike
        Output file; the suffix picks the format. Written to a temporary file
        in the same folder and moved into place, so it is never half-written.
    fps : float
        Frame rate.
    crf : int, optional
        x264 constant rate factor (``.mp4`` only); higher is smaller.

    Raises
    ------
    ValueError
        On a bad array, an odd frame size for ``.mp4`` or an unknown suffix.
    """
    arr = np.asarray(frames)
    if arr.ndim != 4 or arr.shape[-1] != 3 or arr.dtype != np.uint8 or arr.shape[0] < 1:
        raise ValueError(f"frames must be a uint8 array (T, H, W, 3), got {arr.dtype} {arr.shape}")
    if not (math.isfinite(fps) and fps > 0):
        raise ValueError(f"fps must be positive, got {fps}")
    path = Path(path)
    suffix = path.suffix.lower()
    t, h, w = arr.shape[:3]
    if suffix not in (".mp4", ".gif"):
        raise ValueError(f"unsupported suffix {path.suffix!r}: use .mp4 or .gif")
    if suffix == ".mp4" and (h % 2 or w % 2):
        raise ValueError(f"H.264 yuv420p needs even frame sizes, got {w}x{h}")
    rate = Fraction(fps).limit_denominator(1001)
    tmp = _atomic_target(path)
    try:
        if suffix == ".mp4":
            with av.open(str(tmp), mode="w", format="mp4") as container:
                stream = container.add_stream("libx264", rate=rate)
                stream.width, stream.height = w, h
                stream.pix_fmt = "yuv420p"
                # single-threaded and without macroblock-tree rate control: otherwise the
                # same frames do not always give the same bytes (fixtures are committed)
                stream.options = {"crf": str(int(crf)), "preset": "medium", "x264-params": "mbtree=0"}
                stream.codec_context.thread_count = 1
                for i in range(t):
                    vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(arr[i]), format="rgb24")
                    vf.pts, vf.time_base = i, 1 / rate
                    for packet in stream.encode(vf):
                        container.mux(packet)
                for packet in stream.encode():
                    container.mux(packet)
        else:
            paletted = _gif_frames(arr, fps)
            with av.open(str(tmp), mode="w", format="gif") as container:
                stream = container.add_stream("gif", rate=rate)
                stream.width, stream.height = w, h
                stream.pix_fmt = "pal8"
                for i, vf in enumerate(paletted):
                    vf.pts, vf.time_base = i, 1 / rate
                    for packet in stream.encode(vf):
                        container.mux(packet)
                for packet in stream.encode():
                    container.mux(packet)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _write_json(data: dict[str, Any], path: Path) -> None:
    tmp = _atomic_target(path)
    try:
        tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def make_set(out_dir: str | os.PathLike[str], *, kinds: Iterable[str] | None = None, n_per_kind: int = 1,
             seed: int = 0, width: int = 256, height: int = 144, fps: float = 24.0, n_frames: int = 48,
             crf: int = 26) -> list[tuple[str, Truth]]:
    """Render and write a labelled set of takes with a ``truth.json``.

    Take ``i`` of every kind uses seed ``seed + i`` (kinds differ anyway) and is
    written to ``out_dir/<kind>/<kind>_<i>.mp4`` (``.gif`` for ``gif_dither``).
    ``out_dir/truth.json`` holds ``{"generator": GENERATOR, "takes":
    {relative_path: Truth.to_dict()}}``.

    Parameters
    ----------
    out_dir : str or PathLike
        Output folder, created if missing.
    kinds : iterable of str, optional
        Kinds to make; default all of :data:`KINDS`.
    n_per_kind : int, optional
        Takes per kind.
    seed : int, optional
        Base seed.
    width, height, fps, n_frames : optional
        As in :func:`render_take`.
    crf : int, optional
        x264 quality for ``.mp4`` files.

    Returns
    -------
    list of (str, Truth)
        Relative path (POSIX) and truth of each take, in writing order.
    """
    kinds = list(KINDS) if kinds is None else list(kinds)
    for kind in kinds:
        _check(kind, width, height, fps, n_frames)
    if n_per_kind < 1:
        raise ValueError(f"n_per_kind must be at least 1, got {n_per_kind}")
    if width % 2 or height % 2:
        raise ValueError(f"make_set writes H.264: width and height must be even, got {width}x{height}")
    root = Path(out_dir)
    root.mkdir(parents=True, exist_ok=True)
    made: list[tuple[str, Truth]] = []
    for kind in kinds:
        (root / kind).mkdir(exist_ok=True)
        for i in range(n_per_kind):
            frames, truth = render_take(kind, seed=seed + i, width=width, height=height, fps=fps,
                                        n_frames=n_frames)
            rel = f"{kind}/{kind}_{i}{take_suffix(kind)}"
            write_take(frames, root / rel, fps=fps, crf=crf)
            made.append((rel, truth))
    _write_json({"generator": GENERATOR, "takes": {rel: t.to_dict() for rel, t in made}}, root / "truth.json")
    return made


def read_truth(path: str | os.PathLike[str]) -> dict[str, Truth]:
    """Read a ``truth.json`` written by :func:`make_set`.

    Parameters
    ----------
    path : str or PathLike
        The ``truth.json`` file, or the folder holding it.

    Returns
    -------
    dict of str to Truth
        Relative take path -> truth.

    Raises
    ------
    ValueError
        If the file is not a truth file of this generator.
    """
    p = Path(path)
    if p.is_dir():
        p = p / "truth.json"
    data = json.loads(p.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or data.get("generator") != GENERATOR or "takes" not in data:
        raise ValueError(f"{p} is not a {GENERATOR} truth file")
    return {rel: Truth.from_dict(t) for rel, t in data["takes"].items()}
