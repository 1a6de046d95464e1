"""Frames handed to a detector one at a time, as a scan does, with the shared motion."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import numpy as np

from qc.decode import Frame
from qc.detectors.base import Detector
from qc.motion import Motion


def feed(detector: Detector, images: Any, *, fps: float = 24.0, **attrs: Any) -> list[Frame]:
    """Update ``detector`` with ``images`` (luma (H, W) or RGB (H, W, 3) arrays) in turn.

    Each frame after the first carries the motion from the one before (its green
    channel stands for luma in RGB images); ``attrs`` are set on every frame as the
    detectors that run earlier would (``faces=(...)``).  Returns the frames.
    """
    frames, prev = [], None
    for i, img in enumerate(images):
        rgb = img if img.ndim == 3 else np.dstack([img] * 3)
        gray = np.ascontiguousarray(img[..., 1] if img.ndim == 3 else img)
        frame = Frame(i, i / fps, rgb)
        if prev is not None:
            frame.motion = Motion(prev, gray)
        for name, value in attrs.items():
            setattr(frame, name, value)
        prev = gray
        detector.update(frame)
        frames.append(frame)
    return frames


def motion_with_flow(flow: np.ndarray, prev: np.ndarray | None = None,
                     cur: np.ndarray | None = None) -> Motion:
    """The motion between ``prev`` and ``cur`` (flow-size luma; black if not given) with
    ``flow`` standing in for the computed forward flow (a cached property)."""
    h, w = flow.shape[:2]
    black = np.zeros((h, w), np.uint8)
    m = Motion(black if prev is None else prev, black if cur is None else cur, shrunk=True)
    m.__dict__["flow_fwd"] = flow
    return m


def written_take(kind: str, seed: int, folder: Path) -> tuple[Path, Any]:
    """A generated take of ``kind`` written into ``folder`` as the bench writes it (H.264
    at :func:`qc.synth.make_set`'s crf): its path and its truth."""
    from qc import synth

    crf = inspect.signature(synth.make_set).parameters["crf"].default
    frames, truth = synth.render_take(kind, seed=seed)
    path = Path(folder) / "take.mp4"
    synth.write_take(frames, path, fps=truth.fps, crf=crf)
    return path, truth
