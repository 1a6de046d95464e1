"""Configuration: ``qc.toml`` -> frozen dataclasses, with defaults, range checks and merge order.

The merge order is: built-in defaults, then the ``qc.toml`` file (the scanned folder's, or
the one given with ``--config``), then command-line flags.  Unknown keys and out-of-range
values raise :class:`~qc.errors.ConfigError` naming the key.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_type_hints

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

from qc.errors import ConfigError

__all__ = [
    "ANALYSIS_VERSION",
    "CONFIG_FILENAME",
    "PROFILES",
    "DecodeConfig",
    "FlickerConfig",
    "FacesConfig",
    "MorphingConfig",
    "PhysicsConfig",
    "ScoringConfig",
    "ScanConfig",
    "GateConfig",
    "Config",
    "load_config",
    "analysis_key",
]

#: bump when a detector changes what it measures: stored results of older versions are rescanned
ANALYSIS_VERSION = 86
CONFIG_FILENAME = "qc.toml"
VIDEO_EXTENSIONS = (".mp4", ".mov", ".m4v", ".webm", ".mkv", ".avi", ".gif")


def _range(lo: float | None = None, hi: float | None = None) -> dict[str, Any]:
    return {"range": (lo, hi)}


@dataclass(frozen=True)
class DecodeConfig:
    """How takes are decoded for analysis."""

    #: frames are downscaled in the decoder so that their longer side is at most this
    analysis_size_px: int = field(default=320, metadata=_range(64, 4096))
    #: face detection works on frames downscaled to this longer side
    face_size_px: int = field(default=640, metadata=_range(128, 4096))
    #: analyse at most this many frames per second of video (0: every frame)
    max_fps: float = field(default=0.0, metadata=_range(0, 1000))
    #: stop after this many seconds of video (0: no limit)
    max_duration_s: float = field(default=0.0, metadata=_range(0, None))
    #: give up on a take after this many undecodable packets in a row
    max_bad_packets: int = field(default=30, metadata=_range(1, 100000))
    #: decoder threads per take (0: let FFmpeg choose)
    threads: int = field(default=0, metadata=_range(0, 64))
    #: frames decoded ahead of the analysis, in a background thread (0: decode in turn)
    prefetch: int = field(default=8, metadata=_range(0, 256))
    #: a take with more frames than this is an error, not analysed (0: no limit); a
    #: pathological take cannot run for ever
    max_frames: int = field(default=100_000, metadata=_range(0, None))
    #: a take whose frames have more pixels than this is refused (0: no limit); 8K
    #: (8192x4352) is the largest accepted by default, so memory stays bounded
    max_pixels: int = field(default=8192 * 4352, metadata=_range(0, None))


@dataclass(frozen=True)
class FlickerConfig:
    """Brightness, colour and texture that pulse from frame to frame."""

    enabled: bool = True
    #: robust z-score above which a frame's flicker residual is an event
    z_threshold: float = field(default=6.0, metadata=_range(1, 100))
    #: residual (in 8-bit luma levels) that is visible whatever the take's noise
    min_luma_levels: float = field(default=3.0, metadata=_range(0, 255))
    #: boiling: a block's re-invented detail (mean absolute residual above its usual, in
    #: 8-bit luma levels) that is visible whatever the take's noise
    boil_min_levels: float = field(default=7.0, metadata=_range(0, 255))
    #: boiling: a block's usual residual is its median over this many seconds either
    #: side, so that a block whose residual drifts slowly (an exposure ramp, dithering
    #: that grows as the picture moves) is measured against its own recent level
    boil_window_s: float = field(default=1.0, metadata=_range(0.05, 3600))
    #: flicker and boiling stay put: a block any quarter of which moves against the
    #: camera faster than this is motion the flow did not follow (a fast ball, a
    #: strumming hand), not a region flickering or boiling, unless its own mean pumps
    #: with its residual for four frames running (a region flickering hard makes the
    #: flow read it as moving).  In pixels a frame of the flow frame itself (longer side
    #: 256 px; a smaller take at its own size), because what it measures is the flow's
    #: reach; physics' speeds are normalised to a 256-px short side instead, to compare
    #: objects' motion across resolutions
    max_motion_px: float = field(default=2.0, metadata=_range(0, 1000))
    #: boiling is detail, as much brighter as darker: a block whose mean signed residual
    #: is more than this fraction of its mean absolute one is an edge or a light change
    boil_max_sign: float = field(default=0.5, metadata=_range(0, 1))


@dataclass(frozen=True)
class FacesConfig:
    """Faces that drift, jitter, melt or drop out."""

    enabled: bool = True
    #: look again for each tracked face (near where the flow took it) on one frame in this many
    detect_every: int = field(default=3, metadata=_range(1, 1000))
    #: search the whole frame for new faces on one frame in this many
    search_every: int = field(default=12, metadata=_range(1, 1000))
    #: the whole-frame search runs at this longer side (at most decode.face_size_px); a
    #: face narrower than about 80 px at this size is found only by a closer look
    search_size_px: int = field(default=384, metadata=_range(64, 4096))
    #: 128-d encoding distance above which two faces are different people
    #: (face-recognition's same-person tolerance): an identity change this far is severe
    identity_tolerance: float = field(default=0.6, metadata=_range(0.1, 2.0))
    #: encoding distance from the track's typical encoding at which an identity event
    #: starts; one person within one continuous take stays below it
    identity_drift: float = field(default=0.5, metadata=_range(0.05, 2.0))
    #: at most this many encodings per face track
    max_encodings_per_track: int = field(default=12, metadata=_range(1, 1000))
    #: robust z-score above which a face's jerk or geometry change is an event
    jitter_z: float = field(default=6.0, metadata=_range(1, 100))
    #: change of the face's own velocity (face widths per frame, per frame), kept up for
    #: several frames running, that is jitter however calm the rest of the take is (the
    #: bar of every generated talking face; 0.01 until session 21 left generated jitters
    #: of 2.6-2.9 px on a 90-px face at 0.9 of it)
    jitter_min: float = field(default=0.008, metadata=_range(0.0, 10.0))
    #: mean landmark displacement (eye distances) from the track's own geometry that is
    #: warping however calm the rest of the take is
    melt_min: float = field(default=0.01, metadata=_range(0.0, 10.0))


@dataclass(frozen=True)
class MorphingConfig:
    """Objects and bodies that slowly lose or change their shape."""

    enabled: bool = True
    #: robust z-score above which the warping error is an event
    z_threshold: float = field(default=5.0, metadata=_range(1, 100))
    #: span (seconds) over which structure drift is measured
    drift_span_s: float = field(default=1.0, metadata=_range(0.1, 30))
    #: leave out the blocks of the faces the faces detector follows (a talking mouth is
    #: not morphing; a warping face is a faces event)
    leave_faces: bool = True


@dataclass(frozen=True)
class PhysicsConfig:
    """Teleports, impossible speed, reversals, dropped frames, hidden cuts, freezes."""

    enabled: bool = True
    #: robust z-score above which a motion change is an event
    z_threshold: float = field(default=8.0, metadata=_range(1, 100))
    #: histogram distance (0-1) above which two consecutive frames are a cut
    cut_threshold: float = field(default=0.5, metadata=_range(0.01, 1))
    #: a stretch of identical frames at least this long is a freeze
    min_freeze_s: float = field(default=0.2, metadata=_range(0.01, 60))
    #: the camera's motion at one frame departing this far (pixels a frame at a 256-px
    #: short side) from the frames either side, which agree, is a frame skip
    skip_px: float = field(default=6.0, metadata=_range(0.1, 1000))
    #: something moving at least this many times faster than just before and just after,
    #: with no ramp up or down, is a speed spike
    speed_ratio: float = field(default=2.6, metadata=_range(1.1, 100))
    #: speed spikes and reversals leave out the blocks of the faces the faces detector
    #: follows (a grimace or a quick nod is a face's own motion, judged by that detector)
    leave_faces: bool = True


PROFILES: dict[str, dict[str, float]] = {
    "strict": {"pass_score": 90.0, "fail_score": 65.0},
    "default": {"pass_score": 80.0, "fail_score": 50.0},
    "lenient": {"pass_score": 65.0, "fail_score": 35.0},
}


@dataclass(frozen=True)
class ScoringConfig:
    """How the four severities become a score (0-100, higher is cleaner) and a verdict.

    ``score = 100 * prod(1 - min(1, weight_a * severity_a))`` over the four artifacts;
    a take passes at ``score >= pass_score``, fails below ``fail_score``, and is for
    review in between.  A profile sets both thresholds; explicit values override it.
    """

    profile: str = "default"
    flicker_weight: float = field(default=1.0, metadata=_range(0, 10))
    faces_weight: float = field(default=1.0, metadata=_range(0, 10))
    #: morphing is near chance on the generated benchmark (README, "Where the detectors
    #: stand"): at 0.4 it can send a take to review on its own, never fail it
    morphing_weight: float = field(default=0.4, metadata=_range(0, 10))
    physics_weight: float = field(default=1.0, metadata=_range(0, 10))
    pass_score: float | None = field(default=None, metadata=_range(0, 100))
    fail_score: float | None = field(default=None, metadata=_range(0, 100))

    def __post_init__(self) -> None:
        if self.profile not in PROFILES:
            raise ConfigError(
                f"scoring.profile: {self.profile!r} is not one of {', '.join(PROFILES)}"
            )
        if self.thresholds()[1] > self.thresholds()[0]:
            raise ConfigError("scoring: fail_score must not be above pass_score")

    def thresholds(self) -> tuple[float, float]:
        """Return ``(pass_score, fail_score)`` after applying the profile."""
        prof = PROFILES[self.profile]
        pass_score = prof["pass_score"] if self.pass_score is None else self.pass_score
        fail_score = prof["fail_score"] if self.fail_score is None else self.fail_score
        return pass_score, fail_score

    def weight(self, artifact: str) -> float:
        """Return the weight of one artifact (``flicker``, ``faces``, ...)."""
        return float(getattr(self, f"{artifact}_weight"))


@dataclass(frozen=True)
class ScanConfig:
    """Which files are takes and how they are grouped."""

    #: file name endings that are takes (case-insensitive)
    extensions: tuple[str, ...] = VIDEO_EXTENSIONS
    #: a regex on the file name; its group ``shot`` (or group 1) names the shot
    shot_pattern: str = ""
    #: takes scanned at once, in separate processes (0: the CPU count)
    jobs: int = field(default=0, metadata=_range(0, 256))
    #: a Dask distributed scheduler (``tcp://host:8786``) to scan the takes on ("": none)
    scheduler: str = ""
    #: a take still being analysed after this many seconds is stopped and reported as an
    #: error, and the scan goes on (0: no limit)
    take_timeout_s: float = field(default=1800.0, metadata=_range(0, None))
    #: a take's process using more memory than this (MB, resident) is stopped and the
    #: take reported as an error (0: no limit; Linux only)
    take_memory_mb: int = field(default=4096, metadata=_range(0, None))

    def __post_init__(self) -> None:
        if self.shot_pattern:
            try:
                re.compile(self.shot_pattern)
            except re.error as exc:
                raise ConfigError(f"scan.shot_pattern: not a valid regex: {exc}") from exc
        object.__setattr__(
            self, "extensions", tuple(e.lower() if e.startswith(".") else "." + e.lower()
                                      for e in self.extensions)
        )


@dataclass(frozen=True)
class GateConfig:
    """What ``qc gate`` and ``qc watch`` let through, on top of the scoring verdict.

    A take fails the gate when its verdict is ``fail``, when its score is below
    ``min_score``, or when an artifact named in ``fail_on`` has a severity above
    ``fail_level``; ``review`` counts as passing unless ``strict``.  An unreadable take
    never passes.
    """

    #: a ``review`` verdict does not pass
    strict: bool = False
    #: fail every take that scores below this (on top of the profile's fail score)
    min_score: float | None = field(default=None, metadata=_range(0, 100))
    #: artifacts that fail a take on their own when their severity is above ``fail_level``
    fail_on: tuple[str, ...] = ()
    #: the severity (0-1) above which a ``fail_on`` artifact fails the take; by default
    #: ``1 - pass_score / 100``, where that artifact alone would keep the take from passing
    fail_level: float | None = field(default=None, metadata=_range(0, 1))

    def __post_init__(self) -> None:
        from qc.detectors.base import ARTIFACTS  # lazy: the detectors import this module

        unknown = [a for a in self.fail_on if a not in ARTIFACTS]
        if unknown:
            raise ConfigError(
                f"gate.fail_on: unknown artifact{'s' if len(unknown) > 1 else ''}"
                f" {', '.join(map(repr, unknown))} (known: {', '.join(ARTIFACTS)})"
            )
        object.__setattr__(self, "fail_on", tuple(dict.fromkeys(self.fail_on)))


@dataclass(frozen=True)
class Config:
    """The whole resolved configuration of a scan."""

    decode: DecodeConfig = field(default_factory=DecodeConfig)
    flicker: FlickerConfig = field(default_factory=FlickerConfig)
    faces: FacesConfig = field(default_factory=FacesConfig)
    morphing: MorphingConfig = field(default_factory=MorphingConfig)
    physics: PhysicsConfig = field(default_factory=PhysicsConfig)
    scoring: ScoringConfig = field(default_factory=ScoringConfig)
    scan: ScanConfig = field(default_factory=ScanConfig)
    gate: GateConfig = field(default_factory=GateConfig)

    def to_dict(self) -> dict[str, Any]:
        """Return the configuration as plain JSON-able data (for reports)."""
        out = dataclasses.asdict(self)
        out["scan"]["extensions"] = list(self.scan.extensions)
        out["gate"]["fail_on"] = list(self.gate.fail_on)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, base: Config | None = None) -> Config:
        """Build a configuration from nested mappings, on top of ``base``.

        Raises
        ------
        ConfigError
            For an unknown section or key, a value of the wrong type or out of range.
        """
        return _build(cls, data, base if base is not None else cls(), "")

    def replace(self, section: str, **values: Any) -> Config:
        """Return a copy with some values of one section changed (validated)."""
        return Config.from_dict({section: values}, base=self)


def _check_value(name: str, value: Any, typ: Any, meta: Mapping[str, Any]) -> Any:
    text = str(typ)
    if typ is bool or text == "bool":
        if not isinstance(value, bool):
            raise ConfigError(f"{name}: expected true or false, got {value!r}")
        return value
    if "tuple" in text:
        if isinstance(value, str) or not isinstance(value, (list, tuple)):
            raise ConfigError(f"{name}: expected a list of strings, got {value!r}")
        if not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{name}: expected a list of strings, got {value!r}")
        return tuple(value)
    if typ is str or text == "str":
        if not isinstance(value, str):
            raise ConfigError(f"{name}: expected a string, got {value!r}")
        return value
    if value is None and "None" in text:
        return None
    want_int = typ is int or text == "int"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{name}: expected a number, got {value!r}")
    if want_int and not float(value).is_integer():
        raise ConfigError(f"{name}: expected a whole number, got {value!r}")
    value = int(value) if want_int else float(value)
    lo, hi = meta.get("range", (None, None))
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        span = f"{lo if lo is not None else '-inf'} to {hi if hi is not None else 'inf'}"
        raise ConfigError(f"{name}: {value} is out of range ({span})")
    return value


def _build(cls: type, data: Mapping[str, Any], base: Any, prefix: str) -> Any:
    if not isinstance(data, Mapping):
        raise ConfigError(f"{prefix.rstrip('.') or 'config'}: expected a table, got {data!r}")
    hints = get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        where = prefix.rstrip(".") or "top level"
        raise ConfigError(
            f"unknown key{'s' if len(unknown) > 1 else ''} in {where}: {', '.join(unknown)}"
            f" (known: {', '.join(fields)})"
        )
    values: dict[str, Any] = {}
    for name, f in fields.items():
        current = getattr(base, name)
        if name not in data:
            values[name] = current
        elif dataclasses.is_dataclass(hints[name]):
            values[name] = _build(hints[name], data[name], current, f"{prefix}{name}.")
        else:
            values[name] = _check_value(f"{prefix}{name}", data[name], hints[name], f.metadata)
    try:
        return cls(**values)
    except ConfigError:
        raise
    except (TypeError, ValueError) as exc:  # pragma: no cover - defensive
        raise ConfigError(f"{prefix.rstrip('.')}: {exc}") from exc


def load_config(
    path: Path | None = None,
    *,
    root: Path | None = None,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
) -> Config:
    """Resolve the configuration of a scan.

    Parameters
    ----------
    path : Path, optional
        A ``qc.toml`` to read; it must exist.
    root : Path, optional
        The scanned folder; its ``qc.toml`` is read when ``path`` is not given.
    overrides : mapping, optional
        ``{section: {key: value}}`` from command-line flags, applied last.

    Returns
    -------
    Config

    Raises
    ------
    ConfigError
        The file cannot be read or parsed, or holds an unknown key or a bad value.
    """
    config = Config()
    if path is None and root is not None and (Path(root) / CONFIG_FILENAME).is_file():
        path = Path(root) / CONFIG_FILENAME
    if path is not None:
        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise ConfigError(f"config file not found: {path}") from exc
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read config file {path}: {exc}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
        try:
            config = Config.from_dict(data, base=config)
        except ConfigError as exc:
            raise ConfigError(f"{path}: {exc}") from exc
    if overrides:
        config = Config.from_dict(overrides, base=config)
    return config


def analysis_key(config: Config) -> str:
    """Return a short hash of everything that changes a take's measurements.

    Two scans with the same key measure a take identically, so a stored result can be
    reused; scoring is not part of it (scores are recomputed from stored severities).
    """
    cfg = config.to_dict()
    cfg["decode"].pop("threads")  # how fast, not what is measured
    cfg["decode"].pop("prefetch")
    # limits decide whether a take is analysed, not what is measured: raising one and
    # rescanning a take it refused needs --force
    cfg["decode"].pop("max_frames")
    cfg["decode"].pop("max_pixels")
    payload = {
        "analysis_version": ANALYSIS_VERSION,
        **{k: cfg[k] for k in ("decode", "flicker", "faces", "morphing", "physics")},
    }
    blob = json.dumps(payload, sort_keys=True).encode()
    return hashlib.blake2b(blob, digest_size=8).hexdigest()
