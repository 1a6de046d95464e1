"""The detector interface: frames stream in, per-frame signals and events come out."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from qc.decode import Frame

__all__ = ["ARTIFACTS", "Event", "DetectorResult", "Detector", "SignalBuffer", "face_blocks"]

#: the four artifacts, in report order; detector names and report keys
ARTIFACTS: tuple[str, ...] = ("flicker", "faces", "morphing", "physics")


@dataclass(frozen=True)
class Event:
    """Something a person should look at: an artifact between two times.

    Parameters
    ----------
    artifact : str
        One of :data:`ARTIFACTS`.
    start_s, end_s : float
        Where it happens in the take, seconds from the first frame.
    severity : float
        0 (barely there) to 1 (severe and certain).
    label : str
        What was seen, for a person: ``"hidden cut"``, ``"brightness pumping"``.
    """

    artifact: str
    start_s: float
    end_s: float
    severity: float
    label: str = ""

    def __post_init__(self) -> None:
        if self.artifact not in ARTIFACTS:
            raise ValueError(f"unknown artifact {self.artifact!r}")
        object.__setattr__(self, "start_s", max(0.0, float(self.start_s)))
        object.__setattr__(self, "end_s", max(self.start_s, float(self.end_s)))
        object.__setattr__(self, "severity", float(np.clip(self.severity, 0.0, 1.0)))

    def to_dict(self) -> dict[str, Any]:
        """Return the report's event object."""
        return {
            "start_s": round(self.start_s, 4),
            "end_s": round(self.end_s, 4),
            "severity": round(self.severity, 4),
            "label": self.label,
        }


@dataclass
class DetectorResult:
    """What a detector found in one take: per-frame signals and events."""

    signals: dict[str, np.ndarray] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)


class SignalBuffer:
    """Growable per-frame float32 series, one value per analysed frame (NaN where unknown)."""

    def __init__(self, names: tuple[str, ...]) -> None:
        self._names = names
        self._data: dict[str, list[float]] = {n: [] for n in names}

    def append(self, **values: float) -> None:
        """Add one frame's values; names not given are NaN."""
        for name in self._names:
            self._data[name].append(float(values.get(name, np.nan)))

    def __len__(self) -> int:
        return len(self._data[self._names[0]]) if self._names else 0

    def at(self, name: str, i: int) -> float:
        """Frame ``i``'s value of one series (NaN for a frame not there yet, or before 0)."""
        series = self._data[name]
        return series[i] if 0 <= i < len(series) else float("nan")

    def last(self, name: str) -> float:
        """The newest frame's value of one series (NaN before the first frame)."""
        return self.at(name, len(self) - 1)

    def arrays(self) -> dict[str, np.ndarray]:
        """Return the series as float32 arrays."""
        return {n: np.asarray(v, dtype=np.float32) for n, v in self._data.items()}


class Detector(ABC):
    """One artifact's detector.

    Subclasses declare :attr:`name` (the report key) and :attr:`signals` (the names of the
    per-frame series they produce), take their section of the configuration, consume
    frames one at a time in :meth:`update` (bounded memory: nothing may keep whole frames
    of the take), and report in :meth:`finish`.
    """

    name: ClassVar[str]
    signals: ClassVar[tuple[str, ...]]

    def __init__(self, config: Any) -> None:
        self.config = config

    @abstractmethod
    def update(self, frame: Frame) -> None:
        """Consume the next frame of the take."""

    @abstractmethod
    def finish(self, times_s: np.ndarray) -> DetectorResult:
        """Return the take's signals and events once every frame has been seen.

        Parameters
        ----------
        times_s : ndarray of float64
            The time of every analysed frame, in order.
        """


#: a face's blocks reach beyond its box (brows to chin) by these fractions of its size:
#: sideways and below (ears, jaw), and above (forehead, hair)
FACE_MARGIN = 0.3
FACE_MARGIN_TOP = 0.7


def face_blocks(faces: tuple[tuple[float, float, float, float], ...], grid: int) -> np.ndarray:
    """Which blocks of a ``grid`` x ``grid`` grid a face's box (widened) touches.

    Parameters
    ----------
    faces : tuple of (x0, y0, x1, y1)
        Face boxes as fractions of the frame's width and height.
    grid : int
        Blocks per side.

    Returns
    -------
    ndarray of bool, shape (grid, grid)
    """
    out = np.zeros((grid, grid), dtype=bool)
    for x0, y0, x1, y1 in faces:
        mx, my = FACE_MARGIN * (x1 - x0), FACE_MARGIN * (y1 - y0)
        top = FACE_MARGIN_TOP * (y1 - y0)
        c0, c1 = np.floor(np.clip([x0 - mx, x1 + mx], 0, 1) * grid * (1 - 1e-9)).astype(int)
        r0, r1 = np.floor(np.clip([y0 - top, y1 + my], 0, 1) * grid * (1 - 1e-9)).astype(int)
        out[r0:r1 + 1, c0:c1 + 1] = True
    return out
