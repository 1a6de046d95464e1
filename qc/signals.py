"""Robust statistics over per-frame signals, and turning them into events."""

from __future__ import annotations

import numpy as np

from qc.detectors.base import Event

__all__ = [
    "robust_z", "runs", "mad", "lower_mad", "fps_of", "frames_in",
    "severity_from_ratio", "events_from_score", "quiet_nan", "held_frames", "faded",
]


#: a frame whose mean luma has gone this far of the way from the take's usual towards
#: black or white (0.6 of the usual level, or of its distance from white, is left) is
#: part of a fade: no scene of its own
FADED = 0.6


def faded(luma: np.ndarray) -> np.ndarray:
    """The frames of a take darker, or lighter, than usual as a fade leaves them: mean
    luma under :data:`FADED` of the take's median, or its distance from white under
    that share of the median's.  Physics and morphing judge no motion or shape there.

    Examples
    --------
    >>> faded(np.array([120, 121, 119, 100, 60, 20, np.nan]))
    array([False, False, False, False,  True,  True, False])
    >>> faded(np.array([120, 121, 119, 230, 250])).tolist()  # fading to white
    [False, False, False, True, True]
    """
    luma = np.asarray(luma, dtype=np.float64)
    usual = float(np.nanmedian(luma)) if np.isfinite(luma).any() else 0.0
    with np.errstate(invalid="ignore"):
        return (luma < FADED * usual) | (255.0 - luma < FADED * (255.0 - usual))


def robust_z(x: np.ndarray, *, floor: float = 0.0) -> np.ndarray:
    """Robust z-scores over median and MAD, ignoring NaN.

    Parameters
    ----------
    x : ndarray
        Values.
    floor : float
        Smallest scale used, so that a nearly constant series does not turn noise into
        huge scores.

    Returns
    -------
    ndarray of float64
        ``(x - median) / max(1.4826 * MAD, floor)``; NaN where ``x`` is NaN.

    Examples
    --------
    >>> robust_z(np.array([1.0, 1.0, 2.0, 1.0, 9.0]), floor=0.5).round(1).tolist()
    [0.0, 0.0, 2.0, 0.0, 16.0]
    """
    x = np.asarray(x, dtype=np.float64)
    if not np.isfinite(x).any():
        return np.full(x.shape, np.nan)
    med = np.nanmedian(x)
    mad = np.nanmedian(np.abs(x - med)) * 1.4826
    return (x - med) / max(mad, floor, 1e-12)


def runs(mask: np.ndarray, *, max_gap: int = 0) -> list[tuple[int, int]]:
    """Index ranges ``[start, end]`` (inclusive) of the True stretches of ``mask``.

    Stretches separated by at most ``max_gap`` False values are joined.

    Examples
    --------
    >>> runs(np.array([0, 1, 1, 0, 0, 1, 0, 1], bool), max_gap=1)
    [(1, 2), (5, 7)]
    """
    idx = np.flatnonzero(np.asarray(mask, dtype=bool))
    if idx.size == 0:
        return []
    out: list[tuple[int, int]] = []
    start = prev = int(idx[0])
    for i in idx[1:]:
        i = int(i)
        if i - prev > max_gap + 1:
            out.append((start, prev))
            start = i
        prev = i
    out.append((start, prev))
    return out


def severity_from_ratio(ratio: float) -> float:
    """Map how far a score went past its threshold (``ratio >= 1``) to a severity in 0-1.

    At the threshold an event is already worth a look (0.3); twice past it, 0.65; it
    approaches 1 as the evidence grows.

    Examples
    --------
    >>> round(severity_from_ratio(1.0), 3), round(severity_from_ratio(2.0), 3)
    (0.3, 0.65)
    """
    if not np.isfinite(ratio) or ratio < 1.0:
        return 0.0
    return float(np.clip(0.3 + 0.7 * (1.0 - 1.0 / ratio), 0.0, 1.0))


def events_from_score(
    score: np.ndarray,
    times_s: np.ndarray,
    *,
    artifact: str,
    label: str,
    threshold: float = 1.0,
    max_gap: int = 1,
) -> list[Event]:
    """Events over the stretches where ``score >= threshold``.

    Parameters
    ----------
    score : ndarray
        Per-frame evidence, scaled so that ``threshold`` is where it starts to matter.
    times_s : ndarray
        Time of each frame.
    artifact, label : str
        What the events are.
    threshold : float
        Where evidence becomes an event.
    max_gap : int
        Stretches this close together are one event.

    Returns
    -------
    list of Event
        One per stretch; severity from the stretch's peak ratio to the threshold.
    """
    score = np.nan_to_num(np.asarray(score, dtype=np.float64), nan=0.0)
    out = []
    for a, b in runs(score >= threshold, max_gap=max_gap):
        peak = float(score[a: b + 1].max())
        out.append(Event(artifact, float(times_s[a]), float(times_s[b]),
                         severity_from_ratio(peak / threshold), label))
    return out


def mad(x: np.ndarray) -> float:
    """Median absolute deviation scaled to a normal sigma (1.4826 MAD), ignoring NaN.

    Examples
    --------
    >>> round(mad(np.array([1.0, 2.0, 3.0, 100.0])), 3)
    1.483
    """
    x = np.asarray(x, dtype=np.float64)
    x = x[np.isfinite(x)]
    if x.size == 0:
        return 0.0
    return float(np.median(np.abs(x - np.median(x))) * 1.4826)


def lower_mad(x: np.ndarray) -> float:
    """The spread of the values at or below the median, scaled like :func:`mad`.

    An artifact pushes a signal up for a stretch; when that stretch is a large part of a
    short take it inflates the ordinary MAD, but not the spread of the quiet half.

    Examples
    --------
    >>> round(lower_mad(np.array([1.0, 2.0, 3.0, 50.0, 60.0])), 3)
    1.483
    """
    x = np.asarray(x, dtype=np.float64)
    x = x[np.isfinite(x)]
    if x.size == 0:
        return 0.0
    med = np.median(x)
    return float(np.median(med - x[x <= med]) * 1.4826)


def fps_of(times_s: np.ndarray, *, default: float = 24.0) -> float:
    """Frame rate from frame times (median interval), or ``default`` with too few frames."""
    times_s = np.asarray(times_s, dtype=np.float64)
    if times_s.size < 2:
        return default
    dt = float(np.median(np.diff(times_s)))
    return 1.0 / dt if dt > 0 else default


def frames_in(times_s: np.ndarray, event: Event) -> int:
    """How many analysed frames fall inside an event."""
    times_s = np.asarray(times_s)
    return int(np.count_nonzero((times_s >= event.start_s) & (times_s <= event.end_s)))


def quiet_nan(func, *args, **kwargs):  # type: ignore[no-untyped-def]
    """Call a numpy nan-function, silencing its all-NaN and empty-slice warnings."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return func(*args, **kwargs)


#: a held frame re-encoded differs from the one before by less than this (grey levels)
HELD_LEVELS = 0.5
#: ... and by less than this, it is a copy whatever the frames around it do
HELD_SURE = 0.1
#: ... otherwise it must also be under this share of the second largest difference
#: within :data:`HELD_REACH` frames before or after it: a copy is far stiller than the
#: steps around it
HELD_LOCAL = 0.3
HELD_REACH = 8


def held_frames(absdiff: np.ndarray) -> np.ndarray:
    """The frames that repeat the one before: a frozen stretch, or a take made at a
    lower rate and padded with copies.

    A held frame re-encoded is not bit-identical.  A frame is held where it differs from
    the one before by less than 15% of the take's typical difference, or by less than
    :data:`HELD_SURE` grey levels; or by less than :data:`HELD_LEVELS` and less than
    :data:`HELD_LOCAL` of the second largest difference within :data:`HELD_REACH` frames
    before it or after it (a re-encoded copy among frames that move; the largest could
    be a cut's).  A take whose every frame moves a little (a still camera on a small
    object, a talking head) steps by 0.3-0.6 levels on every frame: none of them is a
    copy.  This is the rule physics uses for freezes and for the take's cadence, and
    flicker for boiling's.

    Parameters
    ----------
    absdiff : ndarray
        Mean absolute luma difference from the frame before (NaN for the first frame).

    Returns
    -------
    ndarray of bool

    Examples
    --------
    >>> held_frames(np.array([np.nan, 6.0, 0.2, 5.0, 0.0, 7.0])).tolist()
    [False, False, True, False, True, False]

    Copies re-encoded among frames that move (over 15% of the typical step, far under
    the steps around them), and a take moving a little on every frame:

    >>> held_frames(np.array([np.nan, 2.0, 0.45, 2.2, 0.4, 1.9, 2.1])).tolist()
    [False, False, True, False, True, False, False]
    >>> held_frames(np.array([np.nan, 0.45, 0.4, 0.5, 0.38, 0.47, 0.05])).tolist()
    [False, False, False, False, False, False, True]
    """
    absdiff = np.asarray(absdiff, dtype=np.float64)
    n = absdiff.size
    moving = float(np.nanmedian(absdiff)) if np.isfinite(absdiff).any() else 0.0
    # the second largest difference within reach on either side of each frame, the
    # larger of the two (the largest alone would be a cut's, next to one)
    # (the padding leaves a window on either side of every frame, none at all included)
    padded = np.concatenate([np.full(HELD_REACH, -np.inf), np.nan_to_num(absdiff, nan=-np.inf),
                             np.full(HELD_REACH, -np.inf)])
    side = np.sort(np.lib.stride_tricks.sliding_window_view(padded, HELD_REACH), axis=1)[:, -2]
    local = np.fmax(side[:n], side[HELD_REACH + 1:HELD_REACH + 1 + n])
    with np.errstate(invalid="ignore"):
        sure = absdiff < max(HELD_SURE, 0.15 * moving)
        return sure | ((absdiff < max(HELD_LEVELS, 0.15 * moving)) & (absdiff < HELD_LOCAL * local))
