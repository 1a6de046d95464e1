"""Flicker: brightness, colour or texture that pulses or boils from frame to frame."""

from __future__ import annotations

from typing import ClassVar

import cv2
import numpy as np

from qc.config import FlickerConfig
from qc.decode import Frame
from qc.detectors.base import Detector, DetectorResult, Event
from qc.kernels import rolling_median
from qc.motion import MOTION_GRID
from qc.signals import (events_from_score, fps_of, frames_in, held_frames, mad, quiet_nan,
                        severity_from_ratio)

__all__ = ["FlickerDetector"]

LUMA_KEY = "luma"
GLOBAL_KEY = "flicker_global"
REGION_KEY = "flicker_region"
COLOR_KEY = "flicker_color"
BOIL_KEY = "flicker_boil"
#: regional flicker: frames running that a block pumps on, moving or not
RUN_FRAMES = 4
#: a block that reverses only twice within the window (a frame out of place one way,
#: the next the other way, then back) is regional flicker at this many times the bar
#: (session 22: strong grain read 1.0 and 1.08 on one block, in two of 1,100 clean and
#: benign takes, and 87000-'s grain_9 failed on it; the sun glints over the water of
#: videocrafter's duck read 1.87); three reversals or more count at the bar (the
#: generator's regional flicker: 7 to 17 frames reversing on each)
BLIP_BAR = 1.5
#: a boiling event whose residual (above its usual level) is at least this coherent from
#: one frame to the next (:func:`_coherence`; detail re-invented on every frame reads
#: -0.5) moved structure the flow did not follow: warping, a morphing event
WARP_COHERENCE = -0.25
WARP_LABEL = "warping"
BOIL_LABEL = "texture boiling"
#: a block whose residual (above its usual level) undoes the step before's this surely
#: (:func:`_block_coherence`) is detail re-invented on that frame, and counts for boiling
#: whatever the rest of the take's residual does (session 17: the generator's boils read
#: -0.3 to -0.8 on each of their frames; an elastic warp's residual, which goes on the
#: same way, -0.05 to 0.37 over its event)
REINVENTED = -0.4
#: ... for this long at least, where nothing else finds the boil
REINVENTED_MIN_S = 0.25
#: ... or held at this fraction of its bar or more for :data:`REINVENTED_HELD_S`,
#: reaching the bar on some frame: a weak boil's measure dips under its bar on every
#: other frame (session 18: 87000-'s brick boil at 0.6-1.4 of it for 12 frames, nothing
#: else in the take over 0.54)
REINVENTED_HELD = 0.6
REINVENTED_HELD_S = 0.4
#: ... and its visibility floor is this share of ``boil_min_levels`` (6 levels at the
#: default 7): blocks re-invented on each frame are surely boiling, so fainter detail
#: drawn anew counts (session 20: boils over the smooth moon picture and over bricks
#: read 2.5-7 levels there for 12-17 frames; over nine sets and the clips no clean or
#: benign take gains a boil at 6; offline, a grain take does at 5)
REINVENTED_FLOOR = 6.0 / 7.0
#: a boiling event this brief (frames that move) counts only inside a stretch near its
#: bar (:data:`REINVENTED_HELD` of it) of :data:`BRIEF_HELD_FRAMES` frames at least: a
#: ball the flow loses at its bounce spikes over the bar for a frame or two (85000-'s
#: bounce_9: 1.3, 4.2, 0.1, 3.3 between 0.3 and 0.5), so do the corners of a zoom, one
#: block at a time (85000-'s zoom_9: 2.1, 1.1, 0.2, 1.1); a generated boil is held near
#: the bar around its peaks (session 21)
BRIEF_FRAMES = 4
BRIEF_HELD_FRAMES = 5


def _reversal(step: np.ndarray) -> np.ndarray:
    """How far a change reverses at once: ``min(|a[t]|, |a[t+1]|)`` where the signs differ.

    ``step[t]`` is the change from frame t-1 to t (axis 0).  A flash (+x then -x) or
    pumping scores x; a steady ramp, a fade or the corner where a fade starts scores 0.
    The value is placed at frame t (the frame that stands out).
    """
    step = np.nan_to_num(np.asarray(step, dtype=np.float64), nan=0.0)
    out = np.zeros_like(step)
    if step.shape[0] >= 3:
        a, b = step[1:-1], step[2:]
        out[1:-1] = np.where(np.sign(a) * np.sign(b) < 0, np.minimum(np.abs(a), np.abs(b)), 0.0)
    return out


def _step(x: np.ndarray) -> np.ndarray:
    """Change from the previous frame along axis 0 (0 for the first frame)."""
    out = np.zeros_like(x, dtype=np.float64)
    out[1:] = np.diff(x, axis=0)
    return out


def _repeated(score: np.ndarray, *, window: int, at_least: int = 2) -> np.ndarray:
    """Keep a (frames, blocks) score only where the same block reverses ``at_least`` times
    within ``window`` frames either side: pulsing, not one object passing by."""
    hits = (score >= 1.0).astype(np.float64)
    n = hits.shape[0]
    csum = np.vstack([np.zeros((1,) + hits.shape[1:]), np.cumsum(hits, axis=0)])
    lo = np.clip(np.arange(n) - window, 0, n)
    hi = np.clip(np.arange(n) + window + 1, 0, n)
    count = csum[hi] - csum[lo]
    return np.where(count >= at_least, score, 0.0)


def _run_length(hits: np.ndarray) -> np.ndarray:
    """The length of the run of ``True`` each element of ``hits`` is in, along axis 0.

    Examples
    --------
    >>> _run_length(np.array([1, 1, 0, 1, 1, 1, 0], bool))
    array([2, 2, 0, 3, 3, 3, 0])
    """
    hits = np.asarray(hits, dtype=bool)
    out = np.zeros(hits.shape, dtype=np.int64)
    for t in range(hits.shape[0]):  # the run so far ...
        out[t] = np.where(hits[t], (out[t - 1] if t else 0) + 1, 0)
    for t in range(hits.shape[0] - 2, -1, -1):  # ... and its whole length, carried back
        out[t] = np.where(hits[t] & hits[t + 1], out[t + 1], out[t])
    return out


def _products(resid: np.ndarray, last: np.ndarray) -> np.ndarray:
    """Per block, the means of ``resid * last``, ``resid ** 2`` and ``last ** 2``, (3, grid, grid).

    ``resid`` is a step's residual image (``cur`` less ``prev`` carried onto it),
    ``last`` the step before's carried onto ``cur`` too: what :func:`_coherence` is
    made of.
    """
    grid = (MOTION_GRID, MOTION_GRID)
    return np.stack([cv2.resize(x, grid, interpolation=cv2.INTER_AREA)
                     for x in (resid * last, resid * resid, last * last)]).astype(np.float32)


def _coherence(products: np.ndarray) -> float:
    """The correlation of a residual with the step before's, from summed :func:`_products`.

    Detail re-invented on every frame (boiling, noise) gives -0.5: each residual holds a
    frame's detail, the next one the same detail with the opposite sign.  A change that
    goes on the same way (structure moving where the flow does not follow it) gives up
    to 1.  NaN where either residual has no energy.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = [rng.normal(0, 1, (128, 128)).astype(np.float32) for _ in range(3)]
    >>> round(_coherence(_products(x[2] - x[1], x[1] - x[0]).sum(axis=(1, 2))), 1)
    -0.5
    >>> round(_coherence(_products(x[1] - x[0], x[1] - x[0]).sum(axis=(1, 2))), 1)
    1.0
    """
    return float(_block_coherence(np.asarray(products, dtype=np.float64)))


def _block_coherence(products: np.ndarray) -> np.ndarray:
    """Per frame and block, :func:`_coherence` of one frame's products, (frames, blocks, 3)
    -> (frames, blocks); NaN where either residual has no energy.

    Examples
    --------
    >>> p = np.array([[[-1.0, 2.0, 2.0], [1.0, 0.0, 1.0]]])
    >>> _block_coherence(p)
    array([[-0.5,  nan]])
    """
    both, a, b = products[..., 0], products[..., 1], products[..., 2]
    ok = (a > 0) & (b > 0)
    return np.where(ok, both / np.sqrt(np.where(ok, a * b, 1.0)), np.nan)


def _held_near_bar(score: np.ndarray, times_s: np.ndarray, moving_s: np.ndarray,
                   min_frames: int) -> list[Event]:
    """The stretches where a boiling ``score`` stays at :data:`REINVENTED_HELD` of its bar
    or more for ``min_frames`` frames that move (their times ``moving_s``) at least.

    Examples
    --------
    >>> t = np.arange(10) / 24.0
    >>> score = np.array([0, 0.7, 0.9, 1.2, 0.8, 0.65, 0, 0.9, 1.5, 0])
    >>> [round(e.start_s * 24) for e in _held_near_bar(score, t, t, 5)]  # one dip joins them
    [1]
    >>> _held_near_bar(score, t, t[::2], 5)  # copies in between do not count
    []
    """
    return [ev for ev in events_from_score(score, times_s, artifact="flicker", label=BOIL_LABEL,
                                           threshold=REINVENTED_HELD)
            if frames_in(moving_s, ev) >= min_frames]


def _at_peak(excess: np.ndarray, value: np.ndarray, frames: np.ndarray) -> np.ndarray:
    """The sum over ``frames`` (bool over axis 0) of ``value`` (frames, blocks, ...) at the
    block of the largest ``excess`` (frames, blocks) on each frame, NaN taken as 0.

    Examples
    --------
    >>> excess = np.array([[0.0, 8.0], [5.0, 1.0], [9.0, 0.0]])
    >>> value = np.array([[1.0, -0.5], [0.3, 1.0], [np.nan, 1.0]])
    >>> float(_at_peak(excess, value, np.array([True, True, True])))
    -0.2
    """
    e = excess[frames]
    picked = value[frames][np.arange(e.shape[0]), e.argmax(axis=1)]
    return np.nan_to_num(picked, nan=0.0).sum(axis=0)


class FlickerDetector(Detector):
    """Finds brightness pumping, regional flicker, colour flicker, flashes and boiling.

    Per frame it keeps the mean luma and chroma, and the motion-compensated residual of
    each block of an 8x8 grid (signed: a brightness change not explained by motion;
    absolute: detail re-invented between frames).  A steady exposure change or a fade has
    a constant first difference and so no second difference; pumping and flashes have a
    large one.  Thresholds are the larger of a visible floor (``min_luma_levels``) and a
    robust z-score over the take itself.

    A boiling event whose residual goes on the same way from frame to frame rather than
    undoing itself (coherence at least :data:`WARP_COHERENCE`) is reported as a morphing
    event, ``"warping"``: an elastic warp or a melt leaves a residual the flow could not
    follow, as boiling does, but it moves the shape instead of re-drawing its detail.
    Boiling is also measured over the blocks whose residual undoes the step before's on
    each frame (:data:`REINVENTED`) against that measure's own spread, and a lower floor
    (:data:`REINVENTED_FLOOR` of ``boil_min_levels``): such an event, lasting
    :data:`REINVENTED_MIN_S` (or held near its bar for :data:`REINVENTED_HELD_S`), is
    boiling where the take's other residual raised the plain measure's bar over it, or
    where it is fainter than that floor.  The ``flicker_boil`` signal is the larger of
    the two.  Boiling lasts: three frames that move at least, and an event of no more
    than :data:`BRIEF_FRAMES` only inside a stretch of :data:`BRIEF_HELD_FRAMES` near
    its bar (a thing the flow loses for a frame or two spikes over it and drops back).
    """

    name: ClassVar[str] = "flicker"
    signals: ClassVar[tuple[str, ...]] = (LUMA_KEY, GLOBAL_KEY, REGION_KEY, COLOR_KEY, BOIL_KEY)

    def __init__(self, config: FlickerConfig) -> None:
        super().__init__(config)
        self._means: list[np.ndarray] = []   # (luma, R-G, B-G) per frame
        self._signed: list[np.ndarray] = []  # per-block signed residual
        self._abs: list[np.ndarray] = []     # per-block absolute residual
        self._bright: list[np.ndarray] = []  # per-block mean luma of the frame
        self._moving: list[np.ndarray] = []  # per block, its fastest quarter's speed (px/frame)
        self._absdiff: list[float] = []      # mean absolute difference from the frame before
        self._step_products: list[np.ndarray] = []  # per block, _products with the last step's
        self._last_resid: np.ndarray | None = None  # the last step's residual image

    def update(self, frame: Frame) -> None:
        rgb = frame.rgb
        # exact per-channel sums (OpenCV's is 70x faster than numpy's mean over axis 0)
        m = np.array(cv2.sumElems(rgb)[:3]) / (rgb.shape[0] * rgb.shape[1])
        self._means.append(np.array([frame.luma_stats[0], m[0] - m[1], m[2] - m[1]]))
        motion = getattr(frame, "motion", None)
        if motion is None:
            nan = np.full((MOTION_GRID, MOTION_GRID), np.nan)
            self._signed.append(nan)
            self._abs.append(nan)
            self._bright.append(nan)
            self._moving.append(nan)
            self._absdiff.append(np.nan)
            self._step_products.append(np.full((3, MOTION_GRID, MOTION_GRID), np.nan))
            self._last_resid = None
        else:
            signed, absd, _ = motion.residual
            self._signed.append(signed.astype(np.float32))
            self._abs.append(absd.astype(np.float32))
            self._bright.append(cv2.resize(motion.cur, (MOTION_GRID, MOTION_GRID),
                                           interpolation=cv2.INTER_AREA).astype(np.float32))
            self._moving.append(motion.block_peak_speed.astype(np.float32))
            self._absdiff.append(motion.absdiff)
            # the residual against the step before's, carried onto this frame too
            resid, last = motion.residual_image, self._last_resid
            if last is None or last.shape != resid.shape:
                self._step_products.append(np.full((3, MOTION_GRID, MOTION_GRID), np.nan))
            else:
                self._step_products.append(_products(resid, motion.carry(last)))
            self._last_resid = resid

    def finish(self, times_s: np.ndarray) -> DetectorResult:
        cfg = self.config
        n = len(self._means)
        means = np.asarray(self._means).reshape(n, 3)
        floor = cfg.min_luma_levels

        # global brightness pumping and flashes: a change that reverses at once ...
        rev = _reversal(_step(means[:, 0]))
        # ... in the picture as a whole: the motion-compensated change of the typical block
        # reverses with it.  Bright things moving into and out of view (a train's lit
        # windows) move the mean brightness, not the typical block.
        signed = np.asarray(self._signed, dtype=np.float64).reshape(n, -1)
        typical = quiet_nan(np.nanmedian, signed, axis=1) if n else np.zeros(0)
        rev = np.minimum(rev, _reversal(np.nan_to_num(typical, nan=0.0)))
        global_score = rev / max(floor, cfg.z_threshold * mad(rev))

        # colour flicker: white balance that jumps and comes back
        crev = _reversal(_step(means[:, 1:])).max(axis=1) if n else np.zeros(0)
        color_score = crev / max(floor, cfg.z_threshold * mad(crev))

        # regional flicker: a block's motion-compensated brightness change (minus the
        # frame's) that reverses, again and again
        local = signed - quiet_nan(np.nanmedian, signed, axis=1, keepdims=True) if n else signed
        # ... in a block that stays put on both frames of the reversal: a block moving
        # against the camera holds motion the flow did not follow (a fast ball)
        moving = np.asarray(self._moving, dtype=np.float64).reshape(n, -1)
        stays = np.nan_to_num(moving, nan=np.inf) <= cfg.max_motion_px
        still = stays.copy()
        still[:-1] &= stays[1:]
        rev_all = _reversal(local)
        brev = np.where(still, rev_all, 0.0)
        bar = max(2 * floor, cfg.z_threshold * mad(brev[brev > 0]) if (brev > 0).any() else 0)
        # ... or whose own brightness pumps: its mean, uncompensated, moves as its
        # residual does (a region flickering makes the flow read it as moving; a thing
        # the flow does not follow, a train's windows going by, moves a block's mean far
        # more than the residual it leaves), reversing on every frame for a run of frames
        bright = np.asarray(self._bright, dtype=np.float64).reshape(n, -1)
        dbright = _step(bright)
        dbright -= quiet_nan(np.nanmedian, dbright, axis=1, keepdims=True)
        with np.errstate(all="ignore"):
            ratio = dbright / local
        agree = (ratio >= 0.5) & (ratio <= 2.0)
        agree[:-1] &= agree[1:]  # a reversal at t is the steps at t and t + 1
        pumping = _run_length((rev_all >= bar) & agree) >= RUN_FRAMES
        per_block = np.where(still | pumping, rev_all, 0.0) / bar
        window = max(2, int(round(0.25 * fps_of(times_s))))
        # (a block that reverses twice only, out of place one way and then the other,
        # must stand further out: noise somewhere among every block of every frame
        # crosses the bar twice by chance, where a region pulsing crosses it again and
        # again)
        pulsing = _repeated(per_block, window=window, at_least=3)
        blip = _repeated(per_block / BLIP_BAR, window=window)
        region_score = np.fmax(pulsing, blip).max(axis=1, initial=0.0)

        # boiling: a block's detail re-invented every frame, far above its usual residual
        raw_abs = np.asarray(self._abs, dtype=np.float64).reshape(n, -1)
        # ... less what the frame's own change of brightness explains: a fade or an
        # exposure change scales every block's luma alike, so each block's residual is
        # that rate times its brightness (boiling in one area leaves the rate near 0)
        with np.errstate(all="ignore"):
            rate = quiet_nan(np.nanmedian, signed / np.maximum(bright, 8.0), axis=1, keepdims=True)
        absd = raw_abs - np.abs(np.nan_to_num(rate, nan=0.0) * bright)
        # ... above the block's usual residual around that time (its median over
        # boil_window_s either side): a block whose residual drifts slowly is measured
        # against its own recent level, and a boil stands out against it
        # (over the frames that move: a take padded with copies of its frames has a
        # residual of 0 on every copy, which would set the usual level at nothing)
        half = max(1, int(round(cfg.boil_window_s * fps_of(times_s))))
        held = held_frames(np.asarray(self._absdiff))

        def above_usual(x: np.ndarray) -> np.ndarray:  # (frames, blocks)
            return x - rolling_median(np.where(held[:, None], np.nan, x), half)

        excess = above_usual(absd)
        # ... where the content stays put: a block that moves against the camera (a fast
        # ball the flow cannot follow) or whose residual is mostly of one sign (an edge
        # or a brightness change, not detail re-invented) is not boiling
        with np.errstate(all="ignore"):
            one_sign = np.abs(signed) > cfg.boil_max_sign * raw_abs
        put = stays & ~one_sign
        put_excess = np.where(put, np.nan_to_num(excess, nan=0.0), 0.0)
        boil = put_excess.max(axis=1, initial=0.0).clip(0)
        # ... judged at the take's own cadence: a copy shows nothing re-invented, and
        # counting the copies' zeros would shrink the take's spread
        moves = ~held
        boil_score = boil / max(cfg.boil_min_levels, cfg.z_threshold * mad(boil[moves]))
        # each block's residual products with the step before's, above their usual
        # level: the part a boil adds, whatever the block's motion leaves anyway
        products = np.asarray(self._step_products, dtype=np.float64).reshape(n, 3, -1)
        products = np.stack([above_usual(products[:, j]) for j in range(3)], axis=-1)
        # ... and the same measured over the blocks whose residual undoes the step
        # before's on that frame: detail re-invented there.  Elsewhere in the take the
        # edges of things the flow does not follow can leave as much residual as a boil
        # adds, which raises the take's spread until the boil is under the bar; they go
        # on the same way from frame to frame, re-invented detail does not
        reinvented = put & (np.nan_to_num(_block_coherence(products), nan=1.0) <= REINVENTED)
        fresh = np.where(reinvented, np.nan_to_num(excess, nan=0.0), 0.0).max(axis=1, initial=0.0)
        fresh_score = fresh.clip(0) / max(REINVENTED_FLOOR * cfg.boil_min_levels,
                                             cfg.z_threshold * mad(fresh[moves]))

        events: list[Event] = []
        for score, label in (
            (global_score, "brightness pumping"),
            (color_score, "colour flicker"),
            (region_score, "regional flicker"),
        ):
            for ev in events_from_score(score, times_s, artifact=self.name, label=label):
                if ev.start_s == ev.end_s and label == "brightness pumping":
                    ev = Event(ev.artifact, ev.start_s, ev.end_s, ev.severity, "flash")
                events.append(ev)
        # boiling must last: a single frame of residual is motion, not boiling (three
        # frames that move; the copies between them do not count)
        held_near = _held_near_bar(boil_score, times_s, times_s[moves], BRIEF_HELD_FRAMES)
        for ev in events_from_score(boil_score, times_s, artifact=self.name, label=BOIL_LABEL):
            length = frames_in(times_s[moves], ev)
            if length < 3:
                continue
            # ... and a brief one must be held near its bar around it
            if length <= BRIEF_FRAMES and not any(
                    e.start_s <= ev.start_s and ev.end_s <= e.end_s for e in held_near):
                continue
            # ... and must be re-invented: detail drawn anew on every frame leaves a
            # residual that undoes the step before's (-0.5 coherence); structure moving
            # where the flow does not follow it (an elastic warp, something melting)
            # leaves one that goes on the same way, which is morphing, not flicker
            frames = (times_s >= ev.start_s) & (times_s <= ev.end_s)
            if _coherence(_at_peak(put_excess, products, frames)) >= WARP_COHERENCE:
                ev = Event("morphing", ev.start_s, ev.end_s, ev.severity, WARP_LABEL)
            events.append(ev)
        # boiling found only among the blocks re-invented on each frame is boiling too,
        # if it lasts (a limb jolting as someone lands leaves such a residual for a few
        # frames); one event where it overlaps one already found
        at_least = max(3, int(round(REINVENTED_MIN_S * fps_of(times_s))))
        fresh_events = [ev for ev in events_from_score(fresh_score, times_s, artifact=self.name,
                                                       label=BOIL_LABEL)
                        if frames_in(times_s[moves], ev) >= at_least]
        # ... or if it stays near its bar for longer, reaching it (one event from the
        # stretch near the bar, as severe as its peak)
        held_for = max(3, int(round(REINVENTED_HELD_S * fps_of(times_s))))
        for ev in _held_near_bar(fresh_score, times_s, times_s[moves], held_for):
            peak = float(fresh_score[(times_s >= ev.start_s) & (times_s <= ev.end_s)].max())
            if peak >= 1.0:
                fresh_events.append(Event(self.name, ev.start_s, ev.end_s, severity_from_ratio(peak),
                                          BOIL_LABEL))
        for ev in fresh_events:
            same = [e for e in events if e.label == BOIL_LABEL
                    and e.start_s <= ev.end_s and ev.start_s <= e.end_s]
            for e in same:
                events.remove(e)
            events.append(Event(self.name, min([ev.start_s] + [e.start_s for e in same]),
                                max([ev.end_s] + [e.end_s for e in same]),
                                max([ev.severity] + [e.severity for e in same]), ev.label))
        return DetectorResult(
            signals={
                LUMA_KEY: means[:, 0].astype(np.float32),
                GLOBAL_KEY: global_score.astype(np.float32),
                REGION_KEY: region_score.astype(np.float32),
                COLOR_KEY: color_score.astype(np.float32),
                BOIL_KEY: np.fmax(boil_score, fresh_score).astype(np.float32),
            },
            events=events,
        )
