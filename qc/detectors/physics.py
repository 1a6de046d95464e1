"""Physics: teleports, impossible speed, reversals, frame skips, hidden cuts, freezes."""

from __future__ import annotations

import math
from functools import cached_property
from typing import ClassVar

import cv2
import numpy as np

from qc.config import PhysicsConfig
from qc.decode import Frame
from qc.detectors.base import Detector, DetectorResult, Event, SignalBuffer, face_blocks
from qc.motion import MOTION_GRID, QUESTIONED_PX, Motion
from qc.signals import (
    events_from_score,
    faded,
    fps_of,
    held_frames,
    quiet_nan,
    runs,
    severity_from_ratio,
)

__all__ = ["PhysicsDetector", "CUT_LABEL"]

CUT_KEY = "cut"
JUMP_KEY = "jump"
SKIP_KEY = "skip"
SPEED_KEY = "speed"
REVERSE_KEY = "reverse"
STILL_KEY = "still"
CUT_LABEL = "hidden cut"
#: a frame this flat (luma standard deviation), darker or lighter than usual, is a fade's
#: black or white, not a scene; not so where the take's own frames are as flat (the dim
#: moon picture of the generator reads 5.7, and a speed spike, a skip over it were not
#: judged), unless it is flatter than half theirs or than :data:`_UNIFORM_STD`, one colour
_FLAT_STD = 8.0
#: ... and a frame this flat is one colour, flat whatever the take's frames are
_UNIFORM_STD = 2.0


def _histogram(rgb: np.ndarray) -> np.ndarray:
    small = cv2.resize(np.ascontiguousarray(rgb), (64, 36), interpolation=cv2.INTER_AREA)
    hsv = cv2.cvtColor(small, cv2.COLOR_RGB2HSV)
    h = cv2.calcHist([hsv], [0, 1, 2], None, [12, 4, 4], [0, 180, 0, 256, 0, 256])
    return cv2.normalize(h, None, norm_type=cv2.NORM_L1).flatten()


def _hist_distance(a: np.ndarray, b: np.ndarray) -> float:
    return float(cv2.compareHist(a, b, cv2.HISTCMP_BHATTACHARYYA))


def _shift(x: np.ndarray, k: int, fill: float = np.nan) -> np.ndarray:
    """``out[t] = x[t + k]`` (NaN past the ends)."""
    out = np.full_like(x, fill, dtype=np.float64)
    if k > 0:
        out[:-k] = x[k:]
    elif k < 0:
        out[-k:] = x[:k]
    else:
        out[:] = x
    return out


class PhysicsDetector(Detector):
    """Finds discontinuities of motion and content inside one take.

    * a **hidden cut**: every frame after one instant differs in colour distribution from
      every frame before it, far more than the frames on each side differ among
      themselves (a flash comes back the next frame, and is flicker's; colour flicker
      changes every frame; the black or white frames of a fade are not a scene), and
      the picture after it is not found in the one before (:func:`_scene_match`: a
      fade or a grade changes the colours of the same picture);
    * a **jump** (teleport): some block's motion-compensated residual spikes at a single
      frame, far above that block's residual just before and after, and far above the
      take's other spikes, where nothing around it moves fast both just before and just
      after (a ball at its bounce: the flow loses it at the contact frame), not
      along the frame's edge (:data:`_EDGE_BLOCKS`) and not where the block's flow
      fails on the frame before or after (:func:`_lost_beside`: things overlapping, a
      smooth place the flow loses); or the
      fastest thing, followed by the flow, darting for one frame where the flow breaks
      (:func:`_darts`); or, at a smaller spike or at the edge, what vanished from one
      place is found far away in the next frame and what appeared there was in the
      first place the frame before (:func:`_reappearance`);
    * a **frame skip**: the camera's motion at one frame is several frames' worth; or,
      where the flow cannot read that jump (a slow pan, a lattice), the flow breaks
      down over the whole picture at that one frame (:func:`_breaks`); where the frame
      skipped, whatever reads as a jump at that frame is the skip's evidence (one event,
      as severe as the stronger of the two), not a jump beside it;
    * a **speed spike**: the fastest thing in the frame (camera removed) moves far faster
      for a few frames than around them;
    * a **reversal**: the fastest thing turns back within a frame while moving fast, in a
      way a bounce off the ground does not explain;
    * a **freeze**: a stretch of identical frames far stiller than the motion just before
      and just after it, which was visible (:data:`_FREEZE_FROM`; a person holding still
      is quiet around it too, a still scene someone walked out of stays still, and the
      black frames held in a fade have no picture to freeze).

    Speeds and reversals are read from each block's flow against the camera, where the
    block's pixels show that motion (:attr:`qc.motion.Motion.block_shown`).  With
    ``leave_faces`` they leave out the blocks of the faces the faces detector follows
    (published on each frame as ``frame.faces``; it runs first): a grimace or a quick
    nod is a face's own motion, and a face that jitters or jumps is that detector's event.
    """

    name: ClassVar[str] = "physics"
    signals: ClassVar[tuple[str, ...]] = (CUT_KEY, JUMP_KEY, SKIP_KEY, SPEED_KEY, REVERSE_KEY,
                                           STILL_KEY)

    def __init__(self, config: PhysicsConfig) -> None:
        super().__init__(config)
        self._buf = SignalBuffer(("d1", "d2", "d3", "contrast", "luma", "valid", "absdiff",
                                  "gx", "gy", "speed"))
        self._hists: list[np.ndarray] = []  # the last three histograms only
        self._blocks: list[np.ndarray] = []  # per-block residual, MOTION_GRID**2 floats a frame
        self._vel: list[np.ndarray] = []     # per-block velocity (camera removed), grid**2 x 2
        self._retrace: list[np.ndarray] = []  # per block, :func:`_retrace` (grid**2 floats)
        self._two_back: tuple[np.ndarray, np.ndarray] | None = None  # the last prev, camera
        self._reappear: dict[int, float] = {}  # frame -> _reappearance, where one was looked for
        self._scene: dict[int, float] = {}  # frame -> _scene_match, where the flow fell away
        # frame -> _scene_match, where the colours changed as much as a cut's
        self._recoloured: dict[int, float] = {}
        # the frame a look may be asked for, waiting on the next: (index, its two frames,
        # the camera)
        self._pending: tuple[int, np.ndarray, np.ndarray, np.ndarray] | None = None

    def update(self, frame: Frame) -> None:
        h = _histogram(frame.rgb)
        d = [_hist_distance(self._hists[-k], h) if len(self._hists) >= k else np.nan
             for k in (1, 2, 3)]
        self._hists = (self._hists + [h])[-3:]
        luma, contrast = frame.luma_stats
        motion = getattr(frame, "motion", None)
        if motion is None:
            self._buf.append(d1=d[0], d2=d[1], d3=d[2], contrast=contrast, luma=luma)
            self._blocks.append(np.full(MOTION_GRID * MOTION_GRID, np.nan, np.float32))
            self._vel.append(np.zeros((MOTION_GRID * MOTION_GRID, 2), np.float32))
            self._retrace.append(np.full(MOTION_GRID * MOTION_GRID, np.nan, np.float32))
            self._two_back = None
            return
        _, absd, valid = motion.residual
        k = 256.0 / motion.scale_px  # pixels at a 256-px short side
        camera = motion.camera
        consistent = float(valid.mean())  # share of pixels whose flow holds both ways
        i = len(self._blocks)
        if consistent < (1.0 - _BREAK_LOOK) * self._buf.last("valid"):  # maybe a break
            self._scene[i] = _scene_match(motion.prev, motion.cur)
        if d[0] >= self.config.cut_threshold:  # maybe a cut, maybe the same picture recoloured
            self._recoloured[i] = (self._scene[i] if i in self._scene
                                   else _scene_match(motion.prev, motion.cur))
        self._blocks.append(absd.astype(np.float32).ravel())
        self._look_for_teleport(consistent)
        self._pending = (len(self._blocks) - 1, motion.prev, motion.cur, camera)
        # a block whose content is found as well near where the camera takes it does not
        # move of its own, whatever the flow says (a lattice's look-alike, a frame border)
        own = motion.block_flow * motion.block_shown[..., None]
        # a face's own motion (a grimace, a nod) is the faces detector's to judge
        faces = getattr(frame, "faces", ())
        if faces and self.config.leave_faces:
            own = own * ~face_blocks(faces, MOTION_GRID)[..., None]
        self._vel.append((own.reshape(-1, 2) * k).astype(np.float32))
        back = self._two_back
        self._retrace.append(
            _retrace(motion.prev, motion.cur, camera, *back).ravel().astype(np.float32)
            if back is not None and back[0].shape == motion.cur.shape
            else np.full(MOTION_GRID * MOTION_GRID, np.nan, np.float32))
        self._two_back = (motion.prev, camera)
        self._buf.append(d1=d[0], d2=d[1], d3=d[2], contrast=contrast, luma=luma,
                         valid=consistent, absdiff=motion.absdiff,
                         gx=float(camera[0]) * k, gy=float(camera[1]) * k,
                         speed=_top_speed(motion, own) * k)

    def _look_for_teleport(self, after: float = np.nan) -> None:
        """Decide on the frame before the newest: where some block's residual spikes
        there above both neighbours, or the flow holds on much less of the picture there
        than on both neighbours (``after`` is the newest frame's share), look for content
        that vanished and reappeared."""
        if self._pending is None:
            return
        i, prev, cur, camera = self._pending
        self._pending = None
        before, consistent = self._buf.at("valid", i - 1), self._buf.at("valid", i)
        around = [self._blocks[j] for j in (i - 1, i + 1) if 0 <= j < len(self._blocks)]
        excess = self._blocks[i] - quiet_nan(np.nanmax, np.stack(around), axis=0)
        spikes = np.nan_to_num(excess, nan=0.0).max(initial=0.0) >= _SPIKE_LEVELS
        # (where the flow loses the thing at both places, no residual is measured there)
        lost = _fell(np.array([before, consistent, after]))[1] > _LOST_LOOK
        if spikes or lost:
            self._reappear[i] = _reappearance(prev, cur, camera)

    def finish(self, times_s: np.ndarray) -> DetectorResult:
        self._look_for_teleport()
        cfg = self.config
        s = {k: v.astype(np.float64) for k, v in self._buf.arrays().items()}
        n = len(times_s)
        fps = fps_of(times_s)

        # hidden cut at t: both frames before differ from both frames after
        cross = np.vstack([s["d1"], s["d2"], _shift(s["d2"], 1), _shift(s["d3"], 1)])
        cross = np.where(np.isnan(cross), np.vstack([s["d1"]] * 4), cross)
        # ... while the frames on each side agree with each other (a take whose every
        # frame differs from the last, as in colour flicker, has no one instant of change)
        within = np.fmax(_shift(s["d1"], -1), _shift(s["d1"], 1))
        change = cross.min(axis=0) - np.nan_to_num(within, nan=0.0)
        cut = np.nan_to_num(change, nan=0.0).clip(0) / cfg.cut_threshold
        # frames of a fade (near black or white, little contrast) are no scene of their own,
        # and flow there is unreliable: no cut, jump or motion event next to them
        contrast = s["contrast"]
        typical = float(np.nanmedian(contrast)) if n else 0.0
        # (a frame faded part way has lost contrast and gone darker, or lighter, with it;
        # a low-contrast scene of its own, at its own brightness, is a scene: a cut into
        # or out of it counts)
        # (and a dim scene is a scene: a frame with little contrast is flat where it is
        # also darker or lighter than usual, or far flatter than the take's own frames)
        flat = contrast < np.where(faded(s["luma"]), max(_FLAT_STD, 0.35 * typical),
                                   max(_UNIFORM_STD, min(_FLAT_STD, 0.5 * typical)))
        near_flat = flat | (_shift(flat.astype(float), -1, 0) > 0) | (_shift(flat.astype(float), 1, 0) > 0)
        cut = np.where(near_flat, 0.0, cut)
        # ... and a picture found again in the frame before, gain and offset aside, is the
        # same scene darker, lighter or recoloured (a dim scene fading moves its few
        # colours across the histogram's bins at once), not another shot
        for i, match in self._recoloured.items():
            if match >= _RECOLOURED and i < n:
                cut[i] = 0.0
        # flow that does not agree with itself both ways says nothing about motion
        trusted = ~near_flat & (np.nan_to_num(s["valid"], nan=0.0) >= 0.6)

        # freeze: frames identical to the one before
        absdiff = s["absdiff"]
        still = held_frames(absdiff).astype(np.float32)

        # jump: one block's residual spikes at one frame, above its own before and after
        # ... but not on a fast thing the flow did not follow (a ball at its bounce: the
        # flow fails at the contact frame, and the ball moved fast into it, though it
        # can read slow after it)
        fast = _fast_around(np.asarray(self._vel, dtype=np.float64).reshape(n, -1, 2), _FAST_PX)
        # ... nor at the frame's edge, where content crosses it and the flow is least
        # sure (a jump found only there needs the teleport check's confirmation, below)
        blocks = np.asarray(self._blocks, dtype=np.float64).reshape(n, -1)
        jump = _jumps(blocks, cfg.z_threshold, excused=fast | _EDGE_BLOCKS)
        # ... or, surely, content that vanished and reappeared far away at once
        for i, match in self._reappear.items():
            if match > 0 and i < n:
                jump[i] = max(jump[i], 1.0 + 2.0 * (match - _MATCH))
        jump = np.where(near_flat, 0.0, jump)

        # motion is judged at the take's own cadence: a frame repeated (a take made at a
        # lower rate and padded with copies) is no stop, and the motion after it spans
        # several frame intervals
        idx, steps = _cadence(still > 0)
        vel = np.asarray(self._vel, dtype=np.float64).reshape(n, -1, 2)[idx] / steps[:, None, None]
        camera = np.column_stack([s["gx"], s["gy"]])[idx] / steps[:, None]
        ok = trusted[idx]
        seen = ~near_flat[idx] & np.isfinite(camera).all(axis=1)
        skip_score = _expand(_skips(np.nan_to_num(camera), seen) / cfg.skip_px, idx, n)
        # ... or, where the flow cannot read the camera's jump, breaks at that frame alone;
        # a break to a picture not found in the one before is a cut, not a skip
        broken = np.where(near_flat, 0.0, _expand(_breaks(blocks[idx], s["valid"][idx]), idx, n))
        other = np.zeros(n, bool)
        for i, match in self._scene.items():
            if i < n:
                other[i] = match <= _SAME_SCENE
        skip_score = np.fmax(skip_score, np.where(other, 0.0, broken))
        cut = np.fmax(cut, np.where(other, broken, 0.0))
        speed = np.nan_to_num(s["speed"])[idx] / steps
        # (a frame whose every block is left out, a face filling the picture, reads no
        # speed at all: it is unmeasured, not still)
        speed_score = _expand(_speed_spikes(speed, ok & (speed > 0))
                              / cfg.speed_ratio, idx, n)
        # ... and a thing the flow follows to where it teleported moves that far for one
        # frame only: a jump
        # (a frame near a fade's flat ones is untrusted, so no dart is judged there)
        jump = np.fmax(jump, _expand(_darts(speed, ok, s["valid"][idx]), idx, n))
        skip_score, jump = _skip_takes_jump(skip_score, jump)
        retrace = np.asarray(self._retrace, dtype=np.float64).reshape(n, -1)[idx]
        reverse = _expand(_reversals(vel, ok, retrace=retrace), idx, n)

        events: list[Event] = []
        cut_frames: set[int] = set()
        for ev in events_from_score(cut, times_s, artifact=self.name, label=CUT_LABEL, max_gap=0):
            events.append(ev)
            cut_frames.update(np.flatnonzero((times_s >= ev.start_s) & (times_s <= ev.end_s)).tolist())
        for score, label in ((jump, "jump"), (skip_score, "frame skip"), (speed_score, "speed spike"),
                             (reverse, "reversal")):
            for ev in events_from_score(score, times_s, artifact=self.name, label=label):
                idx = np.flatnonzero((times_s >= ev.start_s - 1.5 / fps) & (times_s <= ev.end_s + 1.5 / fps))
                if not cut_frames.intersection(idx.tolist()):
                    events.append(ev)
        min_frames = max(2, int(np.ceil(cfg.min_freeze_s * fps)))
        around_n = max(3, int(round(0.25 * fps)))
        for a, b in runs(still > 0, max_gap=1):
            # black (or white) held in the middle of a fade is no frozen picture
            if b - a + 1 >= min_frames and not (a <= 1 and b >= n - 2) \
                    and not flat[a: b + 1].all():
                # someone holding still is quiet before and after too, and a still
                # scene someone walked out of stays still; a frozen take stops dead
                # in the middle of its visible motion and goes on with it
                around = [float(np.nanmedian(x)) for x in
                          (absdiff[max(1, a - around_n): a], absdiff[b + 1: b + 1 + around_n])
                          if np.isfinite(x).any()]
                if len(around) < 2 or min(around) < _FREEZE_FROM \
                        or np.nanmean(absdiff[a: b + 1]) >= 0.2 * max(around):
                    continue
                ratio = (b - a + 1) / min_frames
                events.append(Event(self.name, float(times_s[max(a - 1, 0)]),
                                    float(times_s[b]), severity_from_ratio(ratio + 0.5),
                                    "frozen frames"))
        return DetectorResult(
            signals={
                CUT_KEY: cut.astype(np.float32),
                JUMP_KEY: jump.astype(np.float32),
                SKIP_KEY: skip_score.astype(np.float32),
                SPEED_KEY: speed_score.astype(np.float32),
                REVERSE_KEY: reverse.astype(np.float32),
                STILL_KEY: still,
            },
            events=events,
        )


def _fast_around(vel: np.ndarray, min_px: float, *, reach: int = 2) -> np.ndarray:
    """Per frame and block, whether something in the block's 3x3 neighbourhood moved at
    least ``min_px`` a frame (camera removed) within ``reach`` frames before.

    Only the frames before count: a ball the flow loses at its floor contact was read
    fast as it fell, but slows at the contact and leaves the blocks around it, and the
    flow can read it slow for frames after.

    Parameters
    ----------
    vel : ndarray, shape (n, grid * grid, 2)
        Each block's own velocity at each frame.
    min_px : float
        Speed in the same units.
    reach : int
        Frames looked at before (a ball can read slow the frame before its contact, and
        fast the frame before that).

    Returns
    -------
    ndarray of bool, shape (n, grid * grid)
        False at the first frame.

    Examples
    --------
    >>> vel = np.zeros((6, MOTION_GRID ** 2, 2)); vel[1, 9] = (6.0, 0.0)
    >>> fast = _fast_around(vel, 5.0, reach=1)
    >>> bool(fast[2, 0]), bool(fast[2, 18]), bool(fast[2, 27]), bool(fast[1, 9]), bool(fast[3, 9])
    (True, True, False, False, False)
    >>> bool(_fast_around(vel, 5.0)[3, 9])  # two frames after the fast one
    True
    """
    n, g = vel.shape[0], MOTION_GRID
    speed = np.hypot(vel[..., 0], vel[..., 1]).reshape(n, g, g)
    pad = np.pad(speed, ((0, 0), (1, 1), (1, 1)))
    around = np.max([pad[:, dy:dy + g, dx:dx + g] for dy in range(3) for dx in range(3)], axis=0)
    moving = around >= min_px
    before = np.zeros_like(moving)
    for k in range(1, reach + 1):
        before[k:] |= moving[:-k]
    return before.reshape(n, g * g)  # nothing is before the first


def _skip_takes_jump(skip: np.ndarray, jump: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where the frame skipped (``skip`` at 1 or more), everything moved several frames'
    worth at once: what reads as a jump there (a residual spike, a dart) is the skip's
    evidence.  Returns ``(skip, jump)`` with the skip's score there the larger of the
    two and no jump: one event, not a jump beside the skip.

    Examples
    --------
    >>> skip, jump = _skip_takes_jump(np.array([0.0, 1.2, 0.5]), np.array([0.0, 1.8, 1.1]))
    >>> skip.tolist(), jump.tolist()
    ([0.0, 1.8, 0.5], [0.0, 0.0, 1.1])
    """
    skipped = skip >= 1.0
    return np.where(skipped, np.fmax(skip, jump), skip), np.where(skipped, 0.0, jump)


def _lost_beside(blocks: np.ndarray) -> np.ndarray:
    """Per frame and block, whether the block's residual is unknown on the frame before
    or the next (no pixel of it has flow that agrees both ways; past the ends counts as
    known).

    Examples
    --------
    >>> b = np.array([[1.0, 2.0], [9.0, 8.0], [np.nan, 2.0], [7.0, 1.0]])
    >>> _lost_beside(b).tolist()
    [[False, False], [True, False], [False, False], [True, False]]
    """
    unknown = np.isnan(blocks)
    out = np.zeros(blocks.shape, bool)
    out[:-1] = unknown[1:]
    out[1:] |= unknown[:-1]
    return out


def _larger_neighbour(x: np.ndarray) -> np.ndarray:
    """Per frame (row), the larger of the frame before's and the frame after's values,
    element-wise: one side only where the other is NaN or past the ends, NaN where
    neither is known.

    Examples
    --------
    >>> _larger_neighbour(np.array([[1.0], [5.0], [2.0], [np.nan]])).ravel().tolist()
    [5.0, 2.0, 5.0, 2.0]
    """
    pad = np.full_like(x[:1], np.nan, dtype=np.float64)
    return np.fmax(np.vstack([pad, x[:-1]]), np.vstack([x[1:], pad]))


def _jumps(blocks: np.ndarray, z: float, *, sep_frames: int = 12,
           excused: np.ndarray | None = None) -> np.ndarray:
    """Per frame, the strongest one-frame spike of any block's residual.

    A block's residual at ``t`` above the larger of its residuals at ``t - 1`` and
    ``t + 1``, in units of ``z`` times that block's own spread over the take (grain,
    water and foliage have a wide spread).  A spike whose block is unknown at ``t + 1``
    or ``t - 1`` (:func:`_lost_beside`) does not count: a spike judged against one
    neighbour alone says little.  Unknown after it, two things overlap as one passes the
    other (a teleported thing is followed again from its new place); unknown before it,
    the flow has lost a smooth place (a white pillar in a zoom, no pixel of it
    consistent for a frame) and finds it again on a few pixels whose mean is noise
    (session 26: 3% of the block's pixels, 27 grey levels, against 1.5 the frame after;
    a teleport's new place was background the frame before, which the flow knew).  A
    jump must then stand out from the take's other spikes: a take full of them (blinks,
    fast gestures, strumming) raises its own bar to 2.25 times its third-highest spike
    (spikes at least ``sep_frames`` apart; two real jumps in one take still count) and
    4.5 times its 90th percentile, and never below 1.5.

    Parameters
    ----------
    blocks : ndarray, shape (n, blocks)
        Motion-compensated residual of each block at each frame (NaN where unknown).
    z : float
        Robust z-score of a block's spike.
    sep_frames : int
        Spikes closer than this are one spike when ranking them.
    excused : ndarray of bool, shape (n, blocks), optional
        Spikes that do not count either (:func:`_fast_around`, the frame's edge); like
        those of blocks lost the frame after, they still raise the take's bar.

    Returns
    -------
    ndarray, shape (n,)
        1 where a spike starts to count.
    """
    n = blocks.shape[0]
    if n == 0:
        return np.zeros(0)
    excess = np.nan_to_num(blocks - _larger_neighbour(blocks), nan=0.0).clip(0)
    dev = np.abs(blocks - quiet_nan(np.nanmedian, blocks, axis=0))
    spread = np.maximum(quiet_nan(np.nanmedian, dev, axis=0) * 1.4826, 10.0 / z)
    spread = np.nan_to_num(spread, nan=10.0 / z)
    ratio = excess / (z * spread)
    # the take's bar is set by all its spikes, excused or not (a take with a fast thing
    # the flow loses is that much spikier); only the excused ones do not count
    jump = ratio.max(axis=1, initial=0.0)
    lost = _lost_beside(blocks)
    excused = lost if excused is None else excused | lost
    counted = np.where(excused, 0.0, ratio).max(axis=1, initial=0.0)
    third = _third_peak(jump, sep_frames)
    return counted / max(1.5, 2.25 * third, 4.5 * float(np.percentile(jump, 90)))


def _third_peak(x: np.ndarray, sep_frames: int) -> float:
    """The third-highest positive peak of ``x`` among peaks at least ``sep_frames``
    apart (0 where there are fewer than three): a take full of spikes or darts sets its
    own bar by it, while two real ones in one take still count.

    Examples
    --------
    >>> _third_peak(np.array([5.0, 4.0, 0, 0, 3.0, 0, 0, 2.0, 0]), 3)  # 4.0 is 5.0's
    2.0
    >>> _third_peak(np.array([5.0, 0, 0, 3.0]), 3)
    0.0
    """
    peaks: list[int] = []
    for i in np.argsort(-x, kind="stable"):
        if len(peaks) == 3 or x[i] <= 0:
            break
        if all(abs(int(i) - k) >= sep_frames for k in peaks):
            peaks.append(int(i))
    return float(x[peaks[2]]) if len(peaks) == 3 else 0.0


#: a residual spike where something in and around its block moved at least this fast
#: (pixels a frame at a 256-px short side, camera removed) within two frames before is
#: that fast thing, which the flow did not follow, not a jump: a bouncing ball moves
#: 7-16 there, the generator's teleported objects at most 3.4 (41000- to 47000-)
_FAST_PX = 5.0
#: the blocks along the frame's edge: a residual spike there alone is no jump.  Over ten
#: bench sets, 6 of the 8 clean and benign takes with a jump had it there only (a zoom's
#: or a slow pan's border spiking for one frame, 0.36-0.69), 1 of 100 teleports (session
#: 21); the teleport check still looks there
_EDGE_BLOCKS = np.pad(np.zeros((MOTION_GRID - 2, MOTION_GRID - 2), bool), 1,
                      constant_values=True).ravel()
#: a block's residual this far (grey levels) above both neighbours' asks for a closer look
_SPIKE_LEVELS = 3.0
#: a frame whose flow holds on this much less of the picture than both neighbours'
#: (:func:`_fell`) asks for a closer look too: the flow can lose a teleported thing at
#: both places, leaving no residual there (77000-'s star over the moon, 0.99 -> 0.64 ->
#: 0.98; session 17)
_LOST_LOOK = 0.15
#: a teleport is confirmed when what vanished and what appeared match at least this well
_MATCH = 0.6
#: ... while neither matches what is now in its own place better than this
_HERE = 0.6
#: ... and each stands out by this much from its best match elsewhere in its own frame
#: (eyes, wheels and windows have a twin)
_UNIQUE = 0.15
#: the smallest thing that teleports, as a fraction of the frame (an eye is smaller)
_MIN_AREA = 0.012
#: what vanished from one blob is found at the other within this share of the larger
#: blob's size (a blob holds the background the thing uncovered or covered too, so its
#: match lands off its centre: 23 px for 89000-'s 40-px blob on the rocket picture)
_PAIR_TOL = 0.6
#: a frame whose flow holds on this much less of the picture than the frame before's
#: is matched against that frame (:func:`_scene_match`), in case the flow breaks there
_BREAK_LOOK = 0.25
#: a break to a picture that matches the one before at most this well is a hidden cut;
#: above it, the same scene jumped (frame skips 0.64-0.76, cuts 0.06-0.29, session 16)
_SAME_SCENE = 0.5
#: a histogram cut to a picture found again in the frame before at least this well is
#: the same scene darker, lighter or recoloured (the generator's fades, where their
#: histograms jumped: 0.84-0.99; its hidden cuts -0.2-0.21, session 22)
_RECOLOURED = 0.5
#: a freeze stops motion of at least this many grey levels a frame, and motion that
#: fast goes on after it (the median step on either side): a still scene's quiet
#: stretch, a talking head that has not started yet (0.25-0.65 around), the ruins
#: vbench's walker leaves (4.0 before, nothing after) are no frozen picture
_FREEZE_FROM = 0.8


def _scene_match(prev: np.ndarray, cur: np.ndarray) -> float:
    """How well the middle of ``cur`` is found in ``prev``, up to a quarter of the
    frame's short side (at most 32 px) sideways and half that up or down from where it
    is: the best normalised cross-correlation (blind to a change of gain and offset).
    The same scene a few frames on scored 0.64 or more on the generator's frame skips,
    the camera having moved within that reach; another shot, under 0.3.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> scene = cv2.GaussianBlur(rng.uniform(0, 255, (144, 300)), (0, 0), 2).astype(np.uint8)
    >>> round(_scene_match(scene[:, 20:276], scene[:, 6:262]), 2)  # the camera moved 14 px
    1.0
    >>> other = cv2.GaussianBlur(rng.uniform(0, 255, (144, 256)), (0, 0), 2).astype(np.uint8)
    >>> _scene_match(scene[:, :256], other) < 0.3
    True
    """
    h, w = cur.shape
    m = max(1, min(32, min(h, w) // 4))
    middle = cur[m // 2: h - m // 2, m: w - m].astype(np.float32)
    res = cv2.matchTemplate(prev.astype(np.float32), middle, cv2.TM_CCOEFF_NORMED)
    res = np.nan_to_num(res, nan=-1.0, posinf=-1.0, neginf=-1.0)
    return float(res.max())


def _match_far(patch: np.ndarray, img: np.ndarray, at: tuple[int, int],
               min_dist: float, mask: np.ndarray | None = None) -> tuple[float, float, np.ndarray]:
    """Where ``patch`` (whose top-left corner is ``at``) matches ``img`` best, at least
    ``min_dist`` away: ``(ncc there, ncc at`` ``at``, ``offset)``; only the pixels of
    ``mask`` (uint8, nonzero) count, if given.  A place where the masked pixels of
    ``img`` are flat has no correlation and counts as -1."""
    res = cv2.matchTemplate(img, patch, cv2.TM_CCOEFF_NORMED, mask=mask)
    res = np.nan_to_num(res, nan=-1.0, posinf=-1.0, neginf=-1.0)
    rh, rw = res.shape
    x, y = min(max(at[0], 0), rw - 1), min(max(at[1], 0), rh - 1)
    here = float(res[y, x])
    yy, xx = np.ogrid[0:rh, 0:rw]
    far = np.where((yy - at[1]) ** 2 + (xx - at[0]) ** 2 >= min_dist ** 2, res, -1.0)
    j, i = np.unravel_index(int(np.argmax(far)), far.shape)
    return float(far[j, i]), here, np.array([i - at[0], j - at[1]], np.float64)


def _shifted(img: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """``img`` moved by ``shift`` (dx, dy) pixels, as the camera moves it; edges repeated."""
    h, w = img.shape[:2]
    m = np.float32([[1, 0, shift[0]], [0, 1, shift[1]]])
    return cv2.warpAffine(img, m, (w, h), borderMode=cv2.BORDER_REPLICATE)


def _reappearance(prev: np.ndarray, cur: np.ndarray, camera: np.ndarray) -> float:
    """How surely something vanished from one place and reappeared far away at once.

    The camera-compensated change between two frames falls into blobs.  A teleport
    leaves two: at ``A`` what was there is gone, at ``B`` it now is.  So the old content
    of one blob is found in the new frame at the other, and the new content of the other
    is found in the old frame at the first, both far apart (more than 15% of the width,
    no step of real motion), both unlike what is now in their own place, and at least
    one of them unique in its own frame (a blink's eye finds the other eye, a wheel the
    other wheel, in both frames; a plain thing can have a look-alike among the plain
    places of one frame and none in the other).  A blob's content is the pixels that
    changed, not its box: the box also holds the background around the thing, which
    differs at the two places.  Frames are blurred first so that a turning wheel or fine
    texture does not make one place look new.

    Parameters
    ----------
    prev, cur : ndarray of uint8, shape (H, W)
        Consecutive luma frames at the flow size.
    camera : ndarray, shape (2,)
        The camera's motion from ``prev`` to ``cur``, pixels.

    Returns
    -------
    float
        The weaker of the two matches (normalised cross-correlation, up to 1) of the best
        pair of blobs that explain each other, or 0 when none does.
    """
    h, w = cur.shape
    k = min(h, w) / 144.0
    sigma = 1.5 * k
    p = cv2.GaussianBlur(prev, (0, 0), sigma)
    c = cv2.GaussianBlur(cur, (0, 0), sigma)
    diff = cv2.GaussianBlur(cv2.absdiff(c, _shifted(p, camera)), (0, 0), sigma)
    mask = (diff > max(12.0, 4.0 * float(np.median(diff[::2, ::2])))).astype(np.uint8)
    _, labels, stats, _ = cv2.connectedComponentsWithStats(mask)
    min_dist = 0.15 * w
    blobs = []
    for j in 1 + np.argsort(-stats[1:, cv2.CC_STAT_AREA])[:3]:
        x0, y0, bw, bh, area = (int(v) for v in stats[j])
        if area >= _MIN_AREA * w * h and bw <= 0.4 * w and bh <= 0.4 * h:
            changed = (labels[y0:y0 + bh, x0:x0 + bw] == j).astype(np.uint8)
            blobs.append(_Blob(x0, y0, bw, bh, camera, p, c, min_dist, changed))
    # matching is the cost: a teleport needs two blobs; each blob's new content is
    # looked for first, and the rest only for a pair whose geometry already fits
    if len(blobs) < 2:
        return 0.0
    best = 0.0
    for b in blobs:                                   # appeared at B ...
        came = b.came
        if came[0] < max(_MATCH, best) or came[1] >= _HERE:
            continue
        for a in blobs:                               # ... having vanished from A
            tol = max(6.0 * k, _PAIR_TOL * max(a.size, b.size))
            if a is b or np.linalg.norm(b.centre + came[2] - a.centre) > tol:
                continue
            went = a.went
            if (went[0] < _MATCH or went[1] >= _HERE
                    or np.linalg.norm(a.centre + went[2] - b.centre) > tol):
                continue
            if came[0] - b.twin_new >= _UNIQUE or went[0] - a.twin_old >= _UNIQUE:
                best = max(best, min(came[0], went[0]))
    return best


class _Blob:
    """One blob of change between two frames; its matches (at least ``min_dist`` away,
    over the pixels of ``changed`` in its box) are made on demand, once each."""

    def __init__(self, x0: int, y0: int, bw: int, bh: int, camera: np.ndarray,
                 old: np.ndarray, new: np.ndarray, min_dist: float,
                 changed: np.ndarray) -> None:
        self.x0, self.y0 = x0, y0
        self.changed = changed
        self.min_dist = min_dist
        self.centre = np.array([x0 + bw / 2, y0 + bh / 2])
        self.size = max(bw, bh)
        self.camera = camera
        self.old, self.new = old, new
        self.old_patch = np.ascontiguousarray(old[y0:y0 + bh, x0:x0 + bw])
        self.new_patch = np.ascontiguousarray(new[y0:y0 + bh, x0:x0 + bw])

    def _moved(self, sign: int) -> tuple[int, int]:
        return (int(round(self.x0 + sign * self.camera[0])),
                int(round(self.y0 + sign * self.camera[1])))

    @cached_property
    def came(self) -> tuple[float, float, np.ndarray]:
        """Its new content, in the old frame."""
        return _match_far(self.new_patch, self.old, self._moved(-1), self.min_dist,
                          self.changed)

    @cached_property
    def went(self) -> tuple[float, float, np.ndarray]:
        """Its old content, in the new frame."""
        return _match_far(self.old_patch, self.new, self._moved(+1), self.min_dist,
                          self.changed)

    @cached_property
    def twin_new(self) -> float:
        """How well its new content matches elsewhere in the new frame."""
        return _match_far(self.new_patch, self.new, (self.x0, self.y0), self.min_dist,
                          self.changed)[0]

    @cached_property
    def twin_old(self) -> float:
        """How well its old content matches elsewhere in the old frame."""
        return _match_far(self.old_patch, self.old, (self.x0, self.y0), self.min_dist,
                          self.changed)[0]


def _cadence(still: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The frames that moved, and how many frame intervals each one's motion spans.

    A frame identical to the one before adds no motion; the next frame that moves
    carries the motion of every interval since the last one that moved.  A take that
    never moves keeps every frame.

    Examples
    --------
    >>> idx, steps = _cadence(np.array([False, False, True, False, True, True, False]))
    >>> idx.tolist(), steps.tolist()
    ([0, 1, 3, 6], [1.0, 1.0, 2.0, 3.0])
    """
    still = np.asarray(still, dtype=bool)
    if still.size == 0 or still.all():
        return np.arange(still.size), np.ones(still.size)
    idx = np.flatnonzero(~still)
    steps = np.diff(np.concatenate([[-1], idx])).astype(np.float64)
    steps[0] = 1.0
    return idx, steps


def _expand(score: np.ndarray, idx: np.ndarray, n: int) -> np.ndarray:
    """Scores at frames ``idx`` back onto all ``n`` frames (0 elsewhere)."""
    out = np.zeros(n)
    out[idx] = score
    return out


def _skips(camera: np.ndarray, seen: np.ndarray) -> np.ndarray:
    """How far the camera's motion at each frame departs from the frames either side.

    Frames dropped from a panning take make the whole picture move several frames'
    worth at once: the camera's step at ``t`` differs from the mean of its neighbours,
    which agree with each other.  In pixels a frame, discounted by how much the
    neighbours themselves differ (a camera that accelerates).  The camera's motion
    is the median of the flow, robust where the flow fails its forward-backward check
    (as it does at a skip); frames not ``seen`` (a fade's blanks) say nothing.

    Examples
    --------
    >>> cam = np.array([[2.0, 0.0]] * 3 + [[14.0, 0.0]] + [[2.0, 0.0]] * 3)
    >>> _skips(cam, np.ones(7, bool)).round(1).tolist()
    [0.0, 0.0, 0.5, 12.0, 0.5, 0.0, 0.0]
    """
    n = camera.shape[0]
    out = np.zeros(n)
    if n < 3:
        return out
    prev, cur, nxt = camera[:-2], camera[1:-1], camera[2:]
    dev = np.linalg.norm(cur - (prev + nxt) / 2, axis=1)
    agree = np.linalg.norm(prev - nxt, axis=1)
    ok = seen[:-2] & seen[1:-1] & seen[2:]
    out[1:-1] = np.where(ok, dev / (1.0 + agree), 0.0)
    return out


def _breaks(blocks: np.ndarray, valid: np.ndarray, *, ratio: float = 2.0, levels: float = 2.0,
            drop: float = 0.3, share: float = 0.15, min_blocks: int = 16,
            whole: float = 0.8) -> np.ndarray:
    """Per frame, how far the flow breaks down over the whole picture at that frame alone.

    Frames dropped from a take whose camera moves slowly, or over a lattice (brick,
    tiles), do not show as a step of the camera's motion: the flow reads a fraction of
    the jump, or a lattice period off.  What does show is that the flow fails at that
    one frame: the share of its pixels consistent forward and backward falls below
    both neighbours' (by ``drop`` of theirs, at 1), and many blocks' residuals spike
    there at once (at least ``ratio`` times, and ``levels`` grey levels above, the
    larger of the frames either side; a ``share`` of the blocks known at both, at 1).
    The score is the weaker of the two: a take's motion failing the flow for a stretch
    (boiling, a fast gesture) is no one frame, and one thing jumping (a teleport)
    spikes a few blocks, not the picture.  But where the flow fails on nearly all of
    the picture at once (its consistent share falls by ``whole`` of both neighbours' or
    more, at 1), that is a break on its own: one smooth picture replaced by another
    leaves little residual to spike (the generator's clean and benign kinds other than
    fades fall by 0.58 at most, the clips' generated takes by 0.41, a hidden cut from
    the dim moon picture to gravel by 1.0).  A hidden cut breaks the flow as well (told
    apart by its change of colour, or by :func:`_scene_match`), so does a flash
    (flicker's event, of which such a break is an echo).

    Parameters
    ----------
    blocks : ndarray, shape (n, blocks)
        Motion-compensated residual of each block at each frame (NaN where unknown).
    valid : ndarray, shape (n,)
        Share of each frame's pixels whose flow is consistent both ways (NaN unknown).

    Returns
    -------
    ndarray, shape (n,)
        1 where a break starts to count (0 at the first and last frame).

    Examples
    --------
    >>> blocks = np.full((5, 16), 3.0)
    >>> blocks[2, :8] = 12.0            # half the blocks spike at frame 2
    >>> valid = np.array([np.nan, 0.9, 0.45, 0.9, 0.9])
    >>> _breaks(blocks, valid).round(2).tolist()
    [0.0, 0.0, 1.67, 0.0, 0.0]
    >>> _breaks(np.full((5, 16), 3.0), np.array([0.9, 0.9, 0.0, 0.9, 0.9])).round(2).tolist()
    [0.0, 0.0, 1.25, 0.0, 0.0]
    """
    n = blocks.shape[0]
    out = np.zeros(n)
    if n < 3:
        return out
    cur, around = blocks[1:-1], _larger_neighbour(blocks)[1:-1]
    known = np.isfinite(cur) & np.isfinite(around)
    with np.errstate(invalid="ignore"):
        spiking = known & (cur > ratio * around) & (cur - around > levels)
    count = known.sum(axis=1)
    spiked = np.where(count >= min_blocks, spiking.sum(axis=1) / np.maximum(count, 1), 0.0)
    fell = _fell(valid)[1:-1]
    out[1:-1] = np.maximum(np.minimum(fell / drop, spiked / share),
                           np.where(fell >= whole, fell / whole, 0.0)).clip(0.0)
    return out


def _fell(valid: np.ndarray) -> np.ndarray:
    """Per frame, the share by which the flow's consistency (``valid``, the share of
    pixels whose flow agrees both ways) falls below the lower of the frames either side's
    (negative where it is above it; the one known side where the other is not; 0 at the
    first and last frame and where neither side is known).  A thing or the whole picture
    jumping breaks the flow at that one frame.

    Examples
    --------
    >>> _fell(np.array([np.nan, 0.9, 0.45, 0.8, 0.9])).round(3).tolist()
    [0.0, -1.0, 0.438, -0.778, 0.0]
    """
    out = np.zeros(valid.size)
    if valid.size < 3:
        return out
    base = np.fmin(valid[:-2], valid[2:])
    with np.errstate(invalid="ignore", divide="ignore"):
        out[1:-1] = np.nan_to_num((base - valid[1:-1]) / base, nan=0.0, posinf=0.0, neginf=0.0)
    return out


def _top_speed(motion: Motion, own: np.ndarray, *, looks: int = 6) -> float:
    """The speed of the fastest block whose pixels show that it moves against the camera.

    ``own`` is each block's flow against the camera (flow-frame pixels, zero where
    :attr:`~qc.motion.Motion.block_shown` or a face left it out).  Blocks are taken
    fastest first; one between 0.5 px and the reach of ``block_shown``'s search is
    passed over while the camera's motion alone explains its content as well as its own
    flow (:meth:`~qc.motion.Motion.camera_explains`: a corner of the frame, a patch of
    lattice read a pixel or two off), so that such a block does not stand in for "the
    speed around" a burst.  After ``looks`` blocks passed over, the next one counts.
    """
    speed = np.hypot(own[..., 0], own[..., 1]).ravel()
    order = np.argsort(speed)[::-1]
    for j in order[:looks]:
        v = float(speed[j])
        if v <= 0.5 or v > QUESTIONED_PX:
            return v
        if not motion.camera_explains(divmod(int(j), MOTION_GRID)):
            return v
    return float(speed[order[looks]]) if order.size > looks else 0.0


def _speed_spikes(speed: np.ndarray, trusted: np.ndarray, *, min_px: float = 2.0,
                  max_frames: int = 8, diluted: float = 1.3) -> np.ndarray:
    """How many times faster the fastest thing moves for a few frames than around them.

    For every stretch of 2 to ``max_frames`` frames: its slowest speed over the fastest
    of the two frames before and the two after.  Natural motion speeds up and slows down
    over several frames (the ratio stays near 1); an impossible burst steps up and down
    at once.  Stretches slower than ``min_px`` a frame (flow noise), or next to frames
    that do not move at all, say nothing; over a textured ground the flow follows a
    burst only part of the way (2.3-3.6 px a frame for a thing darting 5-8 times its
    0.7-1.3), so the floor is low.  A stretch of three frames or more is judged on its
    second-slowest frame while its slowest is still ``diluted`` times the frames around: a
    block's mean flow reads an object slower for the frame it crosses into the next block.
    Such a stretch is also judged on its steps, the weaker of the step up into its first
    frame (over the two frames before) and the step down out of its last (over the two
    after): the flow can read a burst slower and slower as it goes (6, 5, 4, 3.6, 3.5 px
    a frame for a thing moving 4x its speed throughout), but it still starts and stops
    at once, where natural motion ramps.

    Examples
    --------
    >>> s = np.array([1.5] * 6 + [9.0] * 4 + [1.5] * 6)
    >>> float(_speed_spikes(s, np.ones(16, bool)).max())
    6.0
    >>> s[7] = 4.0  # one frame read slower
    >>> float(_speed_spikes(s, np.ones(16, bool)).max())
    6.0
    >>> fading = np.array([1.5] * 6 + [6.0, 5.1, 3.9, 3.6, 3.5] + [0.8] * 6)
    >>> float(_speed_spikes(fading, np.ones(17, bool)).max())  # 6 / 1.5 up, 3.5 / 0.8 down
    4.0
    >>> ramp = np.array([1, 1, 2, 3, 5, 8, 9, 9, 8, 5, 3, 2, 1, 1], float)
    >>> float(_speed_spikes(ramp, np.ones(14, bool)).max()) < 2.0
    True
    """
    n = speed.size
    out = np.zeros(n)
    for a in range(2, n - 2):
        slowest, second = float(speed[a]), math.inf  # the two slowest frames of a..b
        for b in range(a + 1, min(a + max_frames, n - 2)):
            if not trusted[a - 2: b + 3].all():
                break
            v = float(speed[b])
            slowest, second = min(slowest, v), (min(second, v) if v >= slowest else slowest)
            if slowest < min_px:
                break
            before, after = float(speed[a - 2: a].max()), float(speed[b + 1: b + 3].max())
            edge = max(before, after)
            if edge < 0.5:
                continue
            # a burst of three frames or more may read slower for one of them, as the thing
            # crosses from one block into the next (a block's mean flow dilutes it): its
            # second-slowest frame counts while the slowest is still well above the frames
            # around (not a zigzag of flow glitches)
            held = b - a >= 2 and slowest >= diluted * edge
            ratio = (second if held else slowest) / edge
            if held:  # ... and on its steps: up into its first frame, down out of its last
                up, down = float(speed[a]) / max(before, 0.5), float(speed[b]) / max(after, 0.5)
                ratio = max(ratio, min(up, down))
            out[a: b + 1] = np.maximum(out[a: b + 1], ratio)
    return out


#: the fastest thing moving this many times faster for one frame than in the two frames
#: either side has jumped (a teleport the flow follows to its new place: on four bench
#: sets 17 of the generator's 40 teleports read 5-22 times, its clean and benign kinds
#: at most 3.2, a ball at its bounce; session 24)
_DART = 5.0
#: ... at least this fast (pixels a frame at a 256-px short side)
_DART_PX = 6.0
#: ... where the flow holds on at least this share less of the picture than on both
#: frames either side: a thing gone from one place and come at another breaks it at both
#: (the generator's teleports 0.10-0.37, its frame skips and face dropouts 0.08-0.29),
#: a line of text appearing does not (GoldenEye's menu on the clips, 0.02; a strumming
#: hand reads 0.06-0.07, and its many darts raise its own bar)
_DART_BREAK = 0.05


def _darts(speed: np.ndarray, trusted: np.ndarray, valid: np.ndarray, *,
           sep_frames: int = 12) -> np.ndarray:
    """How far the fastest thing's speed at one frame stands above the two frames either
    side, in units of the bar: :data:`_DART` times, or 1.25 times the take's third-highest
    such step (frames ``sep_frames`` apart) where it has many (a strumming hand).

    A teleport the flow follows reads as one frame of speed many times that of the frames
    around; natural motion, however fast, takes several frames to speed up and slow down.
    Only frames whose flow is trusted, with two trusted frames either side, count, and
    only where the flow holds on :data:`_DART_BREAK` less of the picture (``valid``, the
    share of pixels whose flow agrees both ways) than on both frames either side.

    Examples
    --------
    >>> s = np.array([2.0] * 6 + [16.0] + [2.0] * 6)
    >>> v = np.array([0.9] * 6 + [0.75] + [0.9] * 6)  # the flow breaks where it jumped
    >>> float(_darts(s, np.ones(13, bool), v).max())  # 8 times the frames around
    1.6
    >>> float(_darts(s, np.ones(13, bool), np.full(13, 0.9)).max())  # it holds: no jump
    0.0
    >>> s[7] = 12.0  # two frames fast: a burst, a speed spike's to judge
    >>> float(_darts(s, np.ones(13, bool), v).max())
    0.0
    """
    n = speed.size
    ratio = np.zeros(n)
    broke = _fell(valid) >= _DART_BREAK
    for i in range(2, n - 2):
        if speed[i] < _DART_PX or not broke[i] or not trusted[i - 2: i + 3].all():
            continue
        around = max(float(speed[i - 2: i].max()), float(speed[i + 1: i + 3].max()), 0.5)
        ratio[i] = speed[i] / around
    out = ratio / max(_DART, 1.25 * _third_peak(ratio, sep_frames))
    return np.where(out >= 1.0, out, 0.0)


#: a block whose difference from the frame two back (camera removed) is at most this
#: share of its difference from the frame before is back where it was: its motion
#: retraced the last step (the generator's reversals 0.1-0.4 at the turn, session 17;
#: 0.40-0.47 for 91000-'s brick star over the motorcycle, session 20) ...
_RETRACED = 0.45
#: ... where the frames either side are not (at least this share: 1.3-2.0 there)
_NOT_RETRACED = 1.2
#: ... and the block changed visibly from the frame before (grey levels at the flow size)
_RETRACE_LEVELS = 2.0


def _retrace(prev: np.ndarray, cur: np.ndarray, camera: np.ndarray, before: np.ndarray,
             camera_before: np.ndarray) -> np.ndarray:
    """Per block, how far ``cur`` is from the frame two back against how far it is from the
    frame before, the camera's motion taken off both: mean absolute differences, the
    first over the second; NaN where the block hardly changed from the frame before.

    A thing whose time runs backwards from ``cur`` on is back where it was two frames
    ago, so its block matches ``before`` far better than ``prev``; a thing moving on is
    further still from where it was two frames ago.

    Parameters
    ----------
    prev, cur : ndarray of uint8, shape (H, W)
        The frame before and this one, luma at the flow size.
    camera : ndarray, shape (2,)
        The camera's motion from ``prev`` to ``cur``.
    before, camera_before : ndarray
        The frame before ``prev``, and the camera's motion from it to ``prev``.

    Examples
    --------
    >>> tex = np.random.default_rng(0).integers(0, 255, (16, 16)).astype(np.uint8)
    >>> def at(x):  # a textured thing at x on a plain background
    ...     img = np.full((64, 64), 60, np.uint8); img[24:40, x:x + 16] = tex; return img
    >>> still = np.zeros(2)
    >>> back = _retrace(at(24), at(20), still, at(20), still)  # there and back
    >>> on = _retrace(at(24), at(28), still, at(20), still)    # on its way
    >>> float(np.nanmax(back)), bool(np.nanmin(on) > 0.7)
    (0.0, True)
    """
    grid = (MOTION_GRID, MOTION_GRID)
    now = cur.astype(np.float32)

    def gap(img: np.ndarray, shift: np.ndarray) -> np.ndarray:
        moved = _shifted(img.astype(np.float32), shift)
        return cv2.resize(np.abs(now - moved), grid, interpolation=cv2.INTER_AREA)

    one = gap(prev, camera)
    two = gap(before, np.asarray(camera, np.float64) + np.asarray(camera_before, np.float64))
    with np.errstate(all="ignore"):
        return np.where(one >= _RETRACE_LEVELS, two / one, np.nan)


def _reversals(vel: np.ndarray, trusted: np.ndarray, *, min_px: float = 0.5,
               keep: float = 0.6, same_speed: float = 1.3, steady: float = 0.9,
               opposite: float = -0.9, burst: float = 0.4, gravity: float = 0.5,
               retrace: np.ndarray | None = None, retraced_speed: float = 1.6,
               zigzag: float = -0.5, restitution: float = 0.85) -> np.ndarray:
    """Per frame, the strongest abrupt reversal of an object's motion (0 where none).

    A reversal at ``t`` in a block: moving steadily (two frames in one direction, cosine
    above ``steady``) before ``t`` and steadily after, at least ``min_px`` a frame, in
    opposite directions (cosine below ``opposite``), at the same speed either side of
    the turn (within a factor ``same_speed``) and with no slowing down into it (natural
    back-and-forth motion decelerates: the speeds either side of the turn stay above
    ``keep`` times those further out) nor bursting into it (a one-frame burst of the
    flow and back, as on a lattice that repeats: the speeds either side of the turn
    stay below those further out divided by ``burst``).  A neighbouring block must turn
    the same way (one object, not flow noise).  Falling then rising is allowed where it
    looks like a bounce off the ground: speeding up as it falls or slowing as it rises,
    by at least ``gravity`` px a frame per frame over the two frames either side, or
    coming back up slower than it fell (its mean speed over the three frames after the
    turn at most ``restitution`` times that over the three before: a bounce loses
    speed, and a block's mean flow can hide gravity, diluting a small ball's speed and
    blending the fall with the rise on the frame of the contact); a
    thing that goes down and comes back up at an unchanged speed turned in mid-air
    (unless a frame that would show it is missing or not trusted: then it is excused).
    Nor is a turn one of a zigzag: where the frames further out (``t - 3`` and ``t + 2``)
    are seen, neither may point back against the motion next to it (cosine below
    ``zigzag``).  On a grainy or repeating picture the flow of a still region can read up,
    up, down, down, up, in several blocks at once; an object whose time runs backwards
    goes on its way.

    Natural turns (a car, a skier, a strumming hand) curve, slow down or come back at
    another speed; an object whose time runs backwards retraces its path at once.  Held
    to that, a reversal may be slow (``min_px`` 0.5 a frame at a 256-px short side: an
    object's speed is diluted in a block's mean flow).

    The picture can show the retrace itself: ``retrace`` (frames, blocks) is
    :func:`_retrace` per frame, the block's difference from the frame two back over its
    difference from the frame before.  A block at most :data:`_RETRACED` there at the
    turn, and at least :data:`_NOT_RETRACED` on the frames either side, is back where it
    was two frames before: its turn counts on its own (no neighbour needed) at speeds
    either side within ``retraced_speed`` of each other, since a block's mean flow can
    read one object at other dilutions before and after the turn.

    Examples
    --------
    >>> v = np.zeros((8, 64, 2)); v[:4, 27:29, 0] = 2.0; v[4:, 27:29, 0] = -2.0
    >>> float(_reversals(v, np.ones(8, bool))[4])
    4.0
    >>> v[4:, 27:29, 0] = -1.0  # comes back at half the speed: a bounce, a push
    >>> float(_reversals(v, np.ones(8, bool)).max())
    0.0
    """
    n = vel.shape[0]
    grid = int(round(np.sqrt(vel.shape[1]))) if vel.ndim == 3 else 0
    out = np.zeros(n)
    if n < 4 or grid * grid != vel.shape[1]:
        return out
    norm = np.linalg.norm(vel, axis=2)  # (n, blocks)
    unit = vel / np.maximum(norm, 1e-9)[..., None]
    for t in range(2, n - 1):
        if not trusted[t - 2: t + 2].all():
            continue
        moving = norm[t - 2: t + 2].min(axis=0) >= min_px
        if not moving.any():
            continue
        brisk = np.minimum(norm[t - 1], norm[t]) >= keep * np.maximum(norm[t - 2], norm[t + 1])
        # ... nor bursting into it (the flow a period ahead on a repeating lattice for
        # one frame, and back, is no motion that turned)
        even = (burst * norm[t - 1] <= norm[t - 2]) & (burst * norm[t] <= norm[t + 1])
        before = (unit[t - 2] * unit[t - 1]).sum(axis=1)
        after = (unit[t] * unit[t + 1]).sum(axis=1)
        across = (unit[t - 1] * unit[t]).sum(axis=1)
        a, b = vel[t - 1], vel[t]
        # (where an outer frame is not there or not trusted, gravity's absence cannot be
        # seen: the turn is given the benefit of the doubt)
        seen = t >= 3 and t + 2 < n and trusted[t - 3] and trusted[t + 2]
        pulled = (((norm[t - 1] - norm[t - 3] >= 2 * gravity) | (norm[t] - norm[t + 2] >= 2 * gravity)
                   | (norm[t: t + 3].mean(axis=0) <= restitution * norm[t - 3: t].mean(axis=0)))
                  if seen else True)
        bounce = (a[:, 1] > 0) & (b[:, 1] < 0) & (np.abs(b[:, 1]) > np.abs(b[:, 0])) & pulled
        ratio = norm[t] / np.maximum(norm[t - 1], 1e-9)
        alike = (ratio < same_speed) & (ratio > 1.0 / same_speed)
        turned = (moving & brisk & even & (before > steady) & (after > steady)
                  & (across < opposite) & ~bounce)
        if seen:  # ... nor one turn of a zigzag
            turned &= (((unit[t - 3] * unit[t - 2]).sum(axis=1) > zigzag)
                       & ((unit[t + 2] * unit[t + 1]).sum(axis=1) > zigzag))
        hit = turned & alike
        strength = np.minimum(norm[t - 1], norm[t]) / min_px * -across
        best = 0.0
        if retrace is not None and t + 1 < n:
            # ... or the picture shows the block back where it was two frames before
            back = ((np.nan_to_num(retrace[t], nan=np.inf) <= _RETRACED)
                    & (np.nan_to_num(retrace[t - 1], nan=0.0) >= _NOT_RETRACED)
                    & (np.nan_to_num(retrace[t + 1], nan=0.0) >= _NOT_RETRACED))
            loose = (ratio < retraced_speed) & (ratio > 1.0 / retraced_speed)
            shown = turned & loose & back
            if shown.any():
                best = float(strength[shown].max())
        if hit.sum() < 2:
            out[t] = best
            continue
        h = hit.reshape(grid, grid)
        for i in np.flatnonzero(hit):
            y, x = divmod(int(i), grid)
            for yy in range(max(0, y - 1), min(grid, y + 2)):
                for xx in range(max(0, x - 1), min(grid, x + 2)):
                    j = yy * grid + xx
                    if j != i and h[yy, xx] and (unit[t - 1, i] * unit[t - 1, j]).sum() > 0.8:
                        best = max(best, float(min(strength[i], strength[j])))
        out[t] = best
    return out
