"""The four detectors behind one interface (:class:`~qc.detectors.base.Detector`)."""

from __future__ import annotations

from qc.config import Config
from qc.detectors.base import ARTIFACTS, Detector, DetectorResult, Event
from qc.detectors.faces import FacesDetector
from qc.detectors.flicker import FlickerDetector
from qc.detectors.morphing import MorphingDetector
from qc.detectors.physics import PhysicsDetector

__all__ = [
    "ARTIFACTS",
    "Detector",
    "DetectorResult",
    "Event",
    "FlickerDetector",
    "FacesDetector",
    "MorphingDetector",
    "PhysicsDetector",
    "DETECTORS",
    "build_detectors",
]

#: detector classes by artifact name, in report order
DETECTORS: dict[str, type[Detector]] = {
    "flicker": FlickerDetector,
    "faces": FacesDetector,
    "morphing": MorphingDetector,
    "physics": PhysicsDetector,
}


def build_detectors(config: Config) -> list[Detector]:
    """Instantiate every enabled detector with its section of ``config``."""
    out: list[Detector] = []
    for name, cls in DETECTORS.items():
        section = getattr(config, name)
        if section.enabled:
            out.append(cls(section))
    return out
