"""Faces: a face that drifts to another identity, jitters, melts, or drops out."""

from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from qc.config import FacesConfig
from qc.decode import Frame
from qc.detectors.base import Detector, DetectorResult, Event
from qc.signals import events_from_score, mad, severity_from_ratio

__all__ = ["FacesDetector", "face_models"]

COUNT_KEY = "face_count"
IDENTITY_KEY = "face_identity"
JITTER_KEY = "face_jitter"
MELT_KEY = "face_melt"

# landmarks that keep their geometry while a person talks and blinks:
# jaw, brows, nose, eye corners, mouth corners
_RIGID = np.r_[0:17, 17:27, 27:36, [36, 39, 42, 45, 48, 54]]


@functools.lru_cache(maxsize=1)
def face_models() -> tuple[Any, Any, Any]:
    """dlib's HOG face detector, 68-point landmark model and 128-d encoder.

    The models come from the ``face-recognition-models`` package (nothing is
    downloaded); loaded once per process.
    """
    with warnings.catch_warnings():
        # face_recognition_models imports the deprecated pkg_resources
        warnings.simplefilter("ignore")
        import face_recognition.api as fr
    return fr.face_detector, fr.pose_predictor_68_point, fr.face_encoder


def _iou(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    x0, y0 = max(a[0], b[0]), max(a[1], b[1])
    x1, y1 = min(a[2], b[2]), min(a[3], b[3])
    inter = max(0.0, x1 - x0) * max(0.0, y1 - y0)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _align(points: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Similarity-align ``points`` onto ``ref`` (least squares); both (N, 2)."""
    pc, rc = points.mean(0), ref.mean(0)
    p, r = points - pc, ref - rc
    u, s, vt = np.linalg.svd(p.T @ r)
    d = np.sign(np.linalg.det(u @ vt)) or 1.0
    rot = u @ np.diag([1.0, d]) @ vt
    scale = (s * [1.0, d]).sum() / max((p ** 2).sum(), 1e-9)
    return p @ rot * scale + rc


def _eye_distance(points: np.ndarray) -> float:
    return float(np.linalg.norm(points[36:42].mean(0) - points[42:48].mean(0)))


@dataclass
class _Track:
    box: tuple[float, float, float, float]
    last_idx: int
    seen: list[tuple[int, float]] = field(default_factory=list)        # (frame idx, t)
    shapes: list[np.ndarray] = field(default_factory=list)            # rigid landmarks / eye dist
    centres: list[np.ndarray] = field(default_factory=list)           # rigid landmarks, px / eye dist
    ref: np.ndarray | None = None
    identity: list[tuple[int, float]] = field(default_factory=list)   # (frame idx, distance)
    misses: list[int] = field(default_factory=list)                   # frames where it was not found


class FacesDetector(Detector):
    """Tracks faces and measures their identity, jitter, geometry and presence.

    Faces are detected with dlib's HOG detector on every ``detect_every``-th frame at the
    face-detection size, matched to tracks by overlap, and measured with the 68-point
    landmark model.  Per track:

    * **identity**: 128-d encodings at spaced detections, compared with the track's first
      (face-recognition's same-person tolerance is 0.6);
    * **jitter**: the landmarks' second difference over time relative to the head's
      smooth motion, normalised by the distance between the eyes;
    * **melt**: the rigid landmarks' distance from the track's median geometry after
      similarity alignment (talking and blinking do not move them);
    * **dropout**: a face missing at detections between two where it is present.
    """

    name: ClassVar[str] = "faces"
    signals: ClassVar[tuple[str, ...]] = (COUNT_KEY, IDENTITY_KEY, JITTER_KEY, MELT_KEY)

    def __init__(self, config: FacesConfig) -> None:
        super().__init__(config)
        self._tracks: list[_Track] = []
        self._done: list[_Track] = []
        self._counts: dict[int, int] = {}
        self._n = 0

    def update(self, frame: Frame) -> None:
        self._n = frame.idx + 1
        if frame.idx % self.config.detect_every:
            return
        detector, predictor, encoder = face_models()
        img = frame.face_rgb()
        dets = list(detector(img, 0))
        self._counts[frame.idx] = len(dets)
        matched: set[int] = set()
        for det in dets:
            box = (det.left(), det.top(), det.right(), det.bottom())
            best, best_iou = None, 0.3
            for i, tr in enumerate(self._tracks):
                iou = _iou(box, tr.box)
                if i not in matched and iou > best_iou:
                    best, best_iou = i, iou
            if best is None:
                track = _Track(box=box, last_idx=frame.idx)
                self._tracks.append(track)
                best = len(self._tracks) - 1
            matched.add(best)
            tr = self._tracks[best]
            tr.box, tr.last_idx = box, frame.idx
            shape = predictor(img, det)
            pts = np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64)
            eye = max(_eye_distance(pts), 1.0)
            tr.seen.append((frame.idx, frame.t_s))
            tr.centres.append(pts[_RIGID] / eye)
            tr.shapes.append((pts[_RIGID] - pts[_RIGID].mean(0)) / eye)
            if self._wants_encoding(tr):
                enc = np.asarray(encoder.compute_face_descriptor(img, shape, 1))
                if tr.ref is None:
                    tr.ref = enc
                tr.identity.append((frame.idx, float(np.linalg.norm(enc - tr.ref))))
        for i, tr in enumerate(self._tracks):
            if i not in matched:
                tr.misses.append(frame.idx)

    def _wants_encoding(self, tr: _Track) -> bool:
        k = len(tr.seen) - 1
        if len(tr.identity) >= self.config.max_encodings_per_track:
            return False
        # the first detection, then every fourth: identity drifts over seconds, not frames
        return k % 4 == 0

    def finish(self, times_s: np.ndarray) -> DetectorResult:
        cfg = self.config
        n = len(times_s)
        count = np.full(n, np.nan, np.float32)
        for idx, c in self._counts.items():
            if idx < n:
                count[idx] = c
        identity = np.full(n, np.nan, np.float32)
        jitter = np.full(n, np.nan, np.float32)
        melt = np.full(n, np.nan, np.float32)
        events: list[Event] = []
        for tr in self._tracks:
            if len(tr.seen) < 2:
                continue
            idx = np.array([i for i, _ in tr.seen])
            # identity drift against the track's first encoding
            for i, dist in tr.identity:
                identity[i] = dist
            ids = np.array([d for _, d in tr.identity])
            id_idx = np.array([i for i, _ in tr.identity])
            if ids.size:
                score = np.zeros(n)
                score[id_idx] = ids / cfg.identity_tolerance
                events += events_from_score(score, times_s, artifact=self.name,
                                            label="identity change", max_gap=4 * cfg.detect_every)
            # jitter: landmarks off the head's smooth path
            cen = np.asarray(tr.centres)
            if len(cen) >= 3:
                d2 = np.linalg.norm(cen[1:-1] - 0.5 * (cen[:-2] + cen[2:]), axis=2).mean(axis=1)
                j = np.zeros(n)
                j[idx[1:-1]] = d2
                jitter[idx[1:-1]] = d2
                scale = max(0.08, cfg.jitter_z * mad(d2))
                events += events_from_score(j / scale, times_s, artifact=self.name,
                                            label="face jitter", max_gap=2 * cfg.detect_every)
            # melt: rigid geometry away from the track's own median geometry
            shapes = np.asarray(tr.shapes)
            ref = np.median(shapes, axis=0)
            dev = np.array([np.linalg.norm(_align(s, ref) - ref, axis=1).mean() for s in shapes])
            melt[idx] = dev
            m = np.zeros(n)
            m[idx] = dev
            scale = max(0.12, cfg.jitter_z * mad(dev))
            events += events_from_score(m / scale, times_s, artifact=self.name,
                                        label="face warping", max_gap=2 * cfg.detect_every)
            # dropout: missing between two detections of the same face
            first, last = idx[0], idx[-1]
            gaps = [i for i in tr.misses if first < i < last]
            if gaps:
                fps_gap = max(1, cfg.detect_every)
                for a, b in _stretches(gaps, fps_gap):
                    events.append(Event(self.name, float(times_s[a]), float(times_s[b]),
                                        severity_from_ratio(1.5 + (b - a) / fps_gap),
                                        "face dropout"))
        return DetectorResult(
            signals={COUNT_KEY: count, IDENTITY_KEY: identity, JITTER_KEY: jitter, MELT_KEY: melt},
            events=events,
        )


def _stretches(indices: list[int], step: int) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for i in indices:
        if out and i - out[-1][1] <= step:
            out[-1] = (out[-1][0], i)
        else:
            out.append((i, i))
    return out
