"""Faces: a face that drifts to another identity, jitters, melts, or drops out."""

from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass, field
from typing import Any, ClassVar

import cv2
import numpy as np

from qc.config import FacesConfig
from qc.decode import Frame
from qc.detectors.base import Detector, DetectorResult, Event
from qc.signals import events_from_score, lower_mad, severity_from_ratio

__all__ = ["FacesDetector", "face_models"]

COUNT_KEY = "face_count"
IDENTITY_KEY = "face_identity"
JITTER_KEY = "face_jitter"
MELT_KEY = "face_melt"

# landmarks that keep their geometry while a person talks and blinks:
# jaw, brows, nose, eye corners, mouth corners
_RIGID = np.r_[0:17, 17:27, 27:36, [36, 39, 42, 45, 48, 54]]
#: a closer look at a tracked face wider than 1.6 times this scales it to this width
#: (dlib's HOG finds faces from 80 px): a 300-px face costs what a 100-px one does
_LOOK_FACE_PX = 100
#: a tracked face narrower than this missed at its own size (in its window and in the
#: whole frame) is looked for once more enlarged to :data:`_LOOK_FACE_PX`: a miss of a
#: face near dlib's 80-px HOG window is the detector's, not the face dropping out
_SMALL_FACE_PX = 90
#: face jitter is judged on the third-largest zigzag within this many frames either side
_JITTER_HALF, _JITTER_RANK = 4, 2
#: encodings every fourth detection until a track has this many (its typical face) ...
_REFERENCE_ENCODINGS = 3
#: ... then one in this many detections
_ENCODE_EVERY = 16
#: and when the face's geometry changes this many times more than it usually does
_UNUSUAL = 2.0


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
    box: tuple[float, float, float, float]       # at the face-detection size
    last_idx: int
    seen: list[tuple[int, float]] = field(default_factory=list)        # (frame idx, t)
    shapes: list[np.ndarray] = field(default_factory=list)            # rigid landmarks / eye dist
    velocity: list[tuple[int, np.ndarray]] = field(default_factory=list)  # (frame idx, face widths/frame)
    encodings: list[tuple[int, np.ndarray]] = field(default_factory=list)  # (frame idx, 128-d)
    misses: list[int] = field(default_factory=list)                   # frames where it was not found
    encoded_at: int = -10                                             # index in seen of the last encoding
    changes: list[float] = field(default_factory=list)                # geometry change at each look
    encoded_shape: np.ndarray | None = None                           # the shape at the last encoding


def _rect(box: tuple[float, float, float, float]) -> Any:
    import dlib

    return dlib.rectangle(*(int(round(v)) for v in box))


def _detect_whole(detector: Any, frame: Frame, width_px: int,
                  size_px: int) -> list[tuple[float, float, float, float]]:
    """Faces in the whole frame, searched at ``size_px``; boxes at the face size."""
    small = frame.face_gray(size_px)
    k = width_px / small.shape[1]
    return [(d.left() * k, d.top() * k, d.right() * k, d.bottom() * k)
            for d in detector(small, 0)]


def _detect_near(detector: Any, img: np.ndarray, box: tuple[float, float, float, float], *,
                 enlarge: bool = False) -> tuple[float, float, float, float] | None:
    """The face nearest ``box`` in a window around it, or None when it is not there or
    the window would cost about what the whole frame does (then the caller looks there).

    The window is the box widened by half its size on every side, scaled so that a large
    face is about :data:`_LOOK_FACE_PX` wide: the cost no longer grows with the frame.
    With ``enlarge`` a small face is enlarged to that width (at most 2x) instead: dlib's
    HOG window is 80 px, and a face near it is found on some frames and missed on others.
    """
    h, w = img.shape[:2]
    bw, bh = box[2] - box[0], box[3] - box[1]
    if bw < 8 or bh < 8:
        return None
    x0, y0 = (max(0, int(box[0] - bw / 2)) // 8) * 8, (max(0, int(box[1] - bh / 2)) // 8) * 8
    x1, y1 = min(w, int(box[2] + bw / 2 + 1)), min(h, int(box[3] + bh / 2 + 1))
    if x1 - x0 < 16 or y1 - y0 < 16:
        return None
    if enlarge:
        k = min(_LOOK_FACE_PX / bw, 2.0)
    else:
        k = 1.0 if bw <= 1.6 * _LOOK_FACE_PX else _LOOK_FACE_PX / bw
        if k == 1.0 and (x1 - x0) * (y1 - y0) > 0.25 * w * h:
            return None  # a small frame: the whole of it, as before, finds the same box
    return _look(detector, img[y0:y1, x0:x1], (x0, y0), k, box)


def _look(detector: Any, crop: np.ndarray, origin: tuple[int, int], k: float,
          box: tuple[float, float, float, float]) -> tuple[float, float, float, float] | None:
    """The face in ``crop`` (at ``origin`` in the frame) scaled by ``k`` that best
    overlaps ``box``, in frame coordinates; None below an overlap of 0.3."""
    h, w = crop.shape[:2]
    if k != 1.0:
        crop = cv2.resize(crop, (max(1, int(round(w * k))), max(1, int(round(h * k)))),
                          interpolation=cv2.INTER_AREA if k < 1.0 else cv2.INTER_LINEAR)
    else:
        crop = np.ascontiguousarray(crop)
    x0, y0 = origin
    found = [(x0 + d.left() / k, y0 + d.top() / k, x0 + d.right() / k, y0 + d.bottom() / k)
             for d in detector(crop, 0)]
    if not found:
        return None
    best = max(found, key=lambda b: _iou(b, box))
    return best if _iou(best, box) > 0.3 else None


def _shape_distance(shape: np.ndarray, ref: np.ndarray) -> float:
    """Mean landmark distance of ``shape`` from ``ref`` after similarity alignment."""
    return float(np.linalg.norm(_align(shape, ref) - ref, axis=1).mean())


def _geometry_change(shapes: list[np.ndarray]) -> float:
    """How far the newest shape is from the median of the ones before (eye distances)."""
    if len(shapes) < 3:
        return 0.0
    return _shape_distance(shapes[-1], np.median(np.asarray(shapes[-16:-1]), axis=0))


def _excess(x: np.ndarray, floor: float, z: float) -> np.ndarray:
    """``x`` above its median, in units of ``max(floor, z * spread of the quiet half)``."""
    return (x - np.median(x)) / max(floor, z * lower_mad(x), 1e-9)


class FacesDetector(Detector):
    """Tracks faces and measures their identity, jitter, geometry and presence.

    New faces are searched for with dlib's HOG detector in the whole frame, at a reduced
    size (``search_size_px``), on one frame in ``search_every``; a tracked face is followed
    by the optical flow and looked for again on every ``detect_every``-th frame in a window
    around where the flow took it (the whole frame at the face-detection size when the
    window would cost as much, or the face is not in it).  Detections are matched to tracks
    by overlap and measured with the 68-point landmark model.  Per track:

    * **identity**: 128-d encodings (the first detection and every fourth until there are
      three, then every sixteenth, and when the face's geometry changes far more than it
      usually does) compared with the track's typical face; an event from
      ``identity_drift``, twice as severe at face-recognition's same-person tolerance.
      An encoding another person than the track's opening face (at that tolerance) is an
      event too, as far over the bar as it is over the tolerance: a swap covering most
      of the encodings becomes the typical face;
    * **jitter**: the face's own velocity (median flow inside the face, camera removed,
      in face widths) changing back and forth from frame to frame, for several frames
      running (the third-largest zigzag within four frames): a head moves smoothly or
      starts and stops, a jittering face jumps and returns again and again;
    * **warping**: the rigid landmarks' distance from the track's median geometry after
      similarity alignment (talking and blinking do not move them);
    * **dropout**: a face missing at detections between two where it is present.
    """

    name: ClassVar[str] = "faces"
    signals: ClassVar[tuple[str, ...]] = (COUNT_KEY, IDENTITY_KEY, JITTER_KEY, MELT_KEY)

    def __init__(self, config: FacesConfig) -> None:
        super().__init__(config)
        self._tracks: list[_Track] = []
        self._counts: dict[int, int] = {}
        self._face_width = 0
        self._face_height = 0

    def update(self, frame: Frame) -> None:
        self._update(frame)
        frame.faces = self.faces_at(frame.idx)  # type: ignore[attr-defined]

    def faces_at(self, idx: int) -> tuple[tuple[float, float, float, float], ...]:
        """The boxes of the faces followed at frame ``idx``, as fractions of the frame.

        Published on each frame as ``frame.faces`` for the detectors after this one: what
        happens inside a face (talking, blinking, a face that warps) is this detector's.
        """
        if not self._face_width:
            return ()
        w, h = self._face_width, self._face_height
        return tuple((b[0] / w, b[1] / h, b[2] / w, b[3] / h)
                     for b in (tr.box for tr in self._tracks if self._followed(tr, idx)))

    def _followed(self, tr: _Track, idx: int) -> bool:
        """Whether ``tr`` is still followed by the flow at frame ``idx`` (seen lately)."""
        return idx - tr.last_idx <= 2 * self.config.detect_every

    def _update(self, frame: Frame) -> None:
        motion = getattr(frame, "motion", None)
        if motion is not None and self._face_width:
            self._follow(motion, frame.idx)
        cfg = self.config
        look = frame.idx % cfg.detect_every == 0
        search = frame.idx % cfg.search_every == 0
        live = [i for i, tr in enumerate(self._tracks)
                if frame.idx - tr.last_idx <= cfg.search_every + cfg.detect_every]
        if not (search or (look and live)):
            return
        detector, predictor, encoder = face_models()
        img = frame.face_gray()  # luma: all that detection and landmarks need
        rgb: np.ndarray | None = None  # the colour frame, only for an encoding
        self._face_height, self._face_width = img.shape[:2]
        boxes: list[tuple[float, float, float, float]] = []
        lost = False
        if look:  # a closer look where each tracked face should be
            for i in live:
                box = _detect_near(detector, img, self._tracks[i].box)
                if box is not None:
                    boxes.append(box)
                lost = lost or box is None  # (or not worth a closer look)
        # new faces, in the whole frame at a reduced size; a tracked face missing from its
        # window is looked for in the whole frame at the full size before it counts as gone
        if search or lost:
            size = max(img.shape[:2]) if lost else cfg.search_size_px  # the longer side
            for box in _detect_whole(detector, frame, img.shape[1], size):
                if all(_iou(box, b) <= 0.3 for b in boxes):
                    boxes.append(box)
        if lost:  # a small face missed at its own size: once more, enlarged, before it is gone
            for i in live:
                tr = self._tracks[i]
                if tr.box[2] - tr.box[0] < _SMALL_FACE_PX and all(_iou(tr.box, b) <= 0.3 for b in boxes):
                    box = _detect_near(detector, img, tr.box, enlarge=True)
                    if box is not None:
                        boxes.append(box)
        if not look:  # a search between looks: only new faces are taken
            boxes = [b for b in boxes if all(_iou(b, self._tracks[i].box) <= 0.3 for i in live)]
            if not boxes:
                return
        if look:
            self._counts[frame.idx] = len(boxes)
        matched: set[int] = set()
        for box in boxes:
            best, best_iou = None, 0.3
            for i, tr in enumerate(self._tracks):
                iou = _iou(box, tr.box)
                if i not in matched and iou > best_iou:
                    best, best_iou = i, iou
            if best is None:
                self._tracks.append(_Track(box=box, last_idx=frame.idx))
                best = len(self._tracks) - 1
            matched.add(best)
            tr = self._tracks[best]
            tr.box, tr.last_idx = box, frame.idx
            shape = predictor(img, _rect(box))
            pts = np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64)
            eye = max(_eye_distance(pts), 1.0)
            tr.seen.append((frame.idx, frame.t_s))
            tr.shapes.append((pts[_RIGID] - pts[_RIGID].mean(0)) / eye)
            if self._wants_encoding(tr):
                if rgb is None:
                    rgb = frame.face_rgb()
                enc = np.asarray(encoder.compute_face_descriptor(rgb, shape, 1))
                tr.encodings.append((frame.idx, enc))
                tr.encoded_at = len(tr.seen) - 1
                tr.encoded_shape = tr.shapes[-1]
        if look:
            for i, tr in enumerate(self._tracks):
                if i not in matched:
                    tr.misses.append(frame.idx)

    def _follow(self, motion: Any, idx: int) -> None:
        """Measure each live face's own velocity and move its box with the flow."""
        flow = motion.flow_fwd
        h, w = flow.shape[:2]
        sx = w / self._face_width
        camera = motion.camera
        for tr in self._tracks:
            if not self._followed(tr, idx):
                continue
            x0, y0, x1, y1 = (int(round(v * sx)) for v in tr.box)
            x0, y0, x1, y1 = max(0, x0), max(0, y0), min(w, x1), min(h, y1)
            if x1 - x0 < 3 or y1 - y0 < 3:
                continue
            own = np.median(flow[y0:y1, x0:x1].reshape(-1, 2), axis=0)
            tr.velocity.append((idx, (own - camera) / (x1 - x0)))
            dx, dy = own / sx
            b = tr.box
            tr.box = (b[0] + dx, b[1] + dy, b[2] + dx, b[3] + dy)

    def _wants_encoding(self, tr: _Track) -> bool:
        """Whether this detection needs a 128-d encoding (the costliest step by far).

        The first detection and every fourth until the track has a typical face to
        compare with; then every sixteenth (identity drifts over seconds, not frames),
        and when the face's geometry changes far more than it usually does from one
        look to the next (a swap or a melt, not talking) to a geometry unlike the one at
        the last encoding: a swapped face is encoded where it starts and where it ends,
        not at every look in between.
        """
        change = _geometry_change(tr.shapes)
        usual = float(np.median(tr.changes)) if len(tr.changes) >= 3 else 0.0
        tr.changes.append(change)
        if len(tr.encodings) >= self.config.max_encodings_per_track:
            return False
        k = len(tr.seen) - 1
        if len(tr.encodings) < _REFERENCE_ENCODINGS:
            return k % 4 == 0
        since = k - tr.encoded_at
        if since >= _ENCODE_EVERY:
            return True
        unusual = max(self.config.melt_min, _UNUSUAL * usual)
        if since < 2 or change <= unusual:
            return False
        return tr.encoded_shape is None or _shape_distance(tr.shapes[-1], tr.encoded_shape) > unusual

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
            # identity drift: each encoding against the track's typical face (the
            # element-wise median, so one poor first frame does not set the reference)
            if len(tr.encodings) >= 2:
                id_idx = np.array([i for i, _ in tr.encodings])
                enc = np.array([e for _, e in tr.encodings])
                ids = np.linalg.norm(enc - np.median(enc, axis=0), axis=1)
                # ... and against the face it opened with, where it is another person by
                # face-recognition's tolerance: a swap covering most of the encodings is
                # the typical face, and the median sits between the two people
                opening = np.linalg.norm(enc - enc[0], axis=1)
                ids = np.fmax(ids, opening - (cfg.identity_tolerance - cfg.identity_drift))
                identity[id_idx] = np.fmax(identity[id_idx], ids)
                score = np.zeros(n)
                # from the drift threshold (ratio 1) to the same-person tolerance (ratio 2)
                span = max(cfg.identity_tolerance - cfg.identity_drift, 1e-6)
                score[id_idx] = np.where(ids >= cfg.identity_drift,
                                         1.0 + (ids - cfg.identity_drift) / span,
                                         ids / cfg.identity_drift)
                events += events_from_score(score, times_s, artifact=self.name,
                                            label="identity change", max_gap=4 * cfg.detect_every)
            # jitter: the face's velocity changing from one frame to the next
            if len(tr.velocity) >= 3:
                v_idx = np.array([i for i, _ in tr.velocity])
                vel = np.array([v for _, v in tr.velocity])
                acc, a_idx = _zigzag(v_idx, vel)
                if acc.size >= 3:
                    acc = _sustained(acc, a_idx)
                    jitter[a_idx] = np.fmax(jitter[a_idx], acc)
                    j = np.zeros(n)
                    j[a_idx] = _excess(acc, cfg.jitter_min, cfg.jitter_z)
                    events += events_from_score(j, times_s, artifact=self.name,
                                                label="face jitter", max_gap=2)
            # warping: rigid geometry away from the track's own median geometry
            if len(tr.shapes) >= 3:
                shapes = np.asarray(tr.shapes)
                ref = np.median(shapes, axis=0)
                dev = np.array([np.linalg.norm(_align(s, ref) - ref, axis=1).mean() for s in shapes])
                melt[idx] = np.fmax(melt[idx], dev)
                m = np.zeros(n)
                m[idx] = _excess(dev, cfg.melt_min, cfg.jitter_z)
                events += events_from_score(m, times_s, artifact=self.name,
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


def _zigzag(idx: np.ndarray, vel: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """How hard a face's motion turns back and forth, per frame.

    The change of velocity into frame ``t`` and out of it point in opposite directions
    when the face jumps and returns; the smaller of the two is the jitter at ``t``.  A
    head that starts or stops turning changes velocity once, not back and forth.

    Parameters
    ----------
    idx : ndarray of int
        Frame of each velocity sample (consecutive frames only count).
    vel : ndarray, shape (N, 2)
        The face's velocity (face widths per frame, camera removed).

    Returns
    -------
    (jitter, frames) : tuple of ndarray
    """
    if len(idx) < 3:
        return np.zeros(0), np.zeros(0, dtype=int)
    acc = np.diff(vel, axis=0)                       # acc[k]: velocity change into idx[k+1]
    consecutive = (np.diff(idx)[:-1] == 1) & (np.diff(idx)[1:] == 1)
    a, b = acc[:-1], acc[1:]
    back = (a * b).sum(axis=1) < 0
    zig = np.minimum(np.linalg.norm(a, axis=1), np.linalg.norm(b, axis=1))
    return np.where(back, zig, 0.0)[consecutive], idx[1:-1][consecutive]


def _sustained(values: np.ndarray, frames: np.ndarray, *, half: int = _JITTER_HALF,
               rank: int = _JITTER_RANK) -> np.ndarray:
    """How hard a face keeps zigzagging: the ``rank + 1``-th largest value within
    ``half`` frames either side of each sample.

    A jittering face jumps back and forth for several frames running; one bad velocity
    sample (a detection snapping the box, a blink under the flow) is a single spike and
    counts for nothing here.

    Parameters
    ----------
    values : ndarray
        Jitter per sample (:func:`_zigzag`).
    frames : ndarray of int
        The frame of each sample, increasing.
    half, rank : int
        Window half-width in frames, and how many larger values it may hold.

    Returns
    -------
    ndarray
        Same shape as ``values``.
    """
    if values.size == 0:
        return values
    lo = int(frames[0])
    dense = np.zeros(int(frames[-1]) - lo + 1 + 2 * half)
    dense[frames - lo + half] = values
    windows = np.lib.stride_tricks.sliding_window_view(dense, 2 * half + 1)
    k = windows.shape[1] - 1 - rank
    return np.partition(windows, k, axis=1)[:, k][frames - lo]


def _stretches(indices: list[int], step: int) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for i in indices:
        if out and i - out[-1][1] <= step:
            out[-1] = (out[-1][0], i)
        else:
            out.append((i, i))
    return out
