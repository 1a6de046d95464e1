"""Benchmarks that print figures: detector accuracy on a generated labelled set, and speed.

``qc bench accuracy`` generates a labelled set with :mod:`qc.synth`, scans it with the
current configuration and prints, per artifact and per kind of injection, the figures an
editor can trust qc by: ROC-AUC of the artifact's severity (injected vs clean and benign
takes), how often an event of the right kind lands within 0.5 s of the injected one,
and how often a clean take fails or a broken take passes.
"""

from __future__ import annotations

import tempfile
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import numpy as np

from qc.batch import scan_folder
from qc.config import Config
from qc.detectors.base import ARTIFACTS
from qc.report import build_report
from qc.store import Store, default_store_path

__all__ = ["roc_auc", "AccuracyResult", "evaluate", "accuracy", "print_accuracy", "SpeedResult",
           "speed", "print_speed", "make_speed_set", "write_long_take", "decode_only",
           "cold_start", "kernel_timings"]

#: an event counts as found when it lies within this many seconds of the injected one
TOLERANCE_S = 0.5


def roc_auc(positive: Sequence[float], negative: Sequence[float]) -> float:
    """Area under the ROC curve: the chance a positive scores above a negative (ties 1/2).

    Examples
    --------
    >>> roc_auc([0.9, 0.8], [0.1, 0.8])
    0.875
    """
    pos = np.asarray(positive, dtype=np.float64)
    neg = np.asarray(negative, dtype=np.float64)
    if pos.size == 0 or neg.size == 0:
        return float("nan")
    greater = (pos[:, None] > neg[None, :]).sum()
    ties = (pos[:, None] == neg[None, :]).sum()
    return float((greater + 0.5 * ties) / (pos.size * neg.size))


@dataclass
class KindFigures:
    """One kind of generated take: how qc judged its takes."""

    kind: str
    artifact: str | None
    takes: int = 0
    found: int = 0           # takes whose every injected event was found in time
    verdicts: dict[str, int] = field(default_factory=dict)
    severity: list[float] = field(default_factory=list)  # of its own artifact (or the worst)
    false_events: dict[str, int] = field(default_factory=dict)  # clean kinds: events by artifact


@dataclass
class AccuracyResult:
    """Figures per artifact and per kind."""

    auc: dict[str, float]
    found_rate: dict[str, float]
    broken_pass_rate: dict[str, float]
    clean_fail_rate: float
    clean_flagged_rate: dict[str, float]
    kinds: dict[str, KindFigures]
    takes: int


def _hit(events: list[dict], start: float, end: float) -> bool:
    return any(e["start_s"] <= end + TOLERANCE_S and e["end_s"] >= start - TOLERANCE_S
               for e in events)


def evaluate(report: dict, truth: dict) -> AccuracyResult:
    """Compare a scan report with the ground truth of the generated set.

    Parameters
    ----------
    report : dict
        A ``qc.report/1`` report of the set's folder.
    truth : dict
        ``path -> qc.synth.Truth``.
    """
    entries = {t["path"]: t for t in report["takes"]}
    kinds: dict[str, KindFigures] = {}
    sev: dict[str, dict[str, list[float]]] = {a: {"pos": [], "neg": []} for a in ARTIFACTS}
    clean_fail = clean_n = 0
    for path, tr in sorted(truth.items()):
        e = entries.get(path)
        if e is None or e["status"] != "ok":
            continue
        k = kinds.setdefault(tr.kind, KindFigures(tr.kind, tr.artifact))
        k.takes += 1
        k.verdicts[e["verdict"]] = k.verdicts.get(e["verdict"], 0) + 1
        arts = e["artifacts"]
        if tr.artifact is None:
            clean_n += 1
            clean_fail += e["verdict"] == "fail"
            for a in ARTIFACTS:
                sev[a]["neg"].append(arts[a]["severity"])
                if arts[a]["events"]:
                    k.false_events[a] = k.false_events.get(a, 0) + 1
            k.severity.append(max(arts[a]["severity"] for a in ARTIFACTS))
        else:
            a = tr.artifact
            sev[a]["pos"].append(arts[a]["severity"])
            k.severity.append(arts[a]["severity"])
            if all(_hit(arts[a]["events"], ev.start_s, ev.end_s) for ev in tr.events):
                k.found += 1
    auc = {a: roc_auc(sev[a]["pos"], sev[a]["neg"]) for a in ARTIFACTS}
    found: dict[str, float] = {}
    broken_pass: dict[str, float] = {}
    for a in ARTIFACTS:
        ks = [k for k in kinds.values() if k.artifact == a]
        n = sum(k.takes for k in ks)
        found[a] = sum(k.found for k in ks) / n if n else float("nan")
        broken_pass[a] = sum(k.verdicts.get("pass", 0) for k in ks) / n if n else float("nan")
    clean = [k for k in kinds.values() if k.artifact is None]
    flagged = {a: (sum(k.false_events.get(a, 0) for k in clean) / clean_n if clean_n else float("nan"))
               for a in ARTIFACTS}
    return AccuracyResult(
        auc=auc, found_rate=found, broken_pass_rate=broken_pass,
        clean_fail_rate=clean_fail / clean_n if clean_n else float("nan"),
        clean_flagged_rate=flagged, kinds=kinds, takes=sum(k.takes for k in kinds.values()),
    )


def accuracy(
    *,
    n: int = 10,
    seed: int = 1000,
    config: Config | None = None,
    workdir: Path | None = None,
    jobs: int | None = None,
    kinds: Sequence[str] | None = None,
    size: tuple[int, int] = (256, 144),
    n_frames: int = 48,
) -> AccuracyResult:
    """Generate ``n`` takes of every kind, scan them, and evaluate against the truth.

    The seeds differ from those of the committed fixtures (``seed`` 1000 onwards), so the
    figures are measured on takes the detectors were not tuned on.
    """
    from qc import synth

    config = config or Config()
    with tempfile.TemporaryDirectory(prefix="qc-bench-") as tmp:
        root = Path(workdir) if workdir is not None else Path(tmp) / "set"
        root.mkdir(parents=True, exist_ok=True)
        truth_file = root / "truth.json"
        if not truth_file.is_file():
            synth.make_set(root, kinds=kinds, n_per_kind=n, seed=seed, width=size[0],
                           height=size[1], n_frames=n_frames)
        truth = synth.read_truth(truth_file)
        store_path = Path(tmp) / "qc.db" if workdir is None else default_store_path(root)
        scan_folder(root, config, jobs=jobs, store_path=store_path, force=True)
        with Store(store_path, readonly=True) as store:
            report = build_report(store, root=str(root), config=config.to_dict())
    return evaluate(report, truth)


def _fmt(x: float) -> str:
    return "  -  " if not np.isfinite(x) else f"{x:5.2f}"


def print_accuracy(res: AccuracyResult, out: TextIO) -> None:
    """Print the figures as two tables: per artifact, then per kind."""
    print(f"{res.takes} takes scanned\n", file=out)
    print("artifact   ROC-AUC  found<=0.5s  broken-pass  clean-flagged", file=out)
    for a in ARTIFACTS:
        print(f"{a:<10} {_fmt(res.auc[a])}    {_fmt(res.found_rate[a])}        "
              f"{_fmt(res.broken_pass_rate[a])}        {_fmt(res.clean_flagged_rate[a])}", file=out)
    print(f"\nclean and benign takes that fail: {_fmt(res.clean_fail_rate)}"
          "   (goal < 0.05; broken takes that pass: goal < 0.05; AUC >= 0.95; found >= 0.90)\n",
          file=out)
    print("kind             artifact   takes  found  pass review fail  mean-severity  "
          "false events (clean kinds)", file=out)
    for k in sorted(res.kinds.values(), key=lambda k: (k.artifact or "", k.kind)):
        fe = ", ".join(f"{a}:{c}" for a, c in sorted(k.false_events.items())) or "-"
        found = f"{k.found:5d}" if k.artifact else "    -"
        v = k.verdicts
        print(f"{k.kind:<16} {k.artifact or 'clean':<10} {k.takes:5d}  {found}  "
              f"{v.get('pass', 0):4d} {v.get('review', 0):6d} {v.get('fail', 0):4d}  "
              f"{np.mean(k.severity) if k.severity else 0:13.2f}  {fe}", file=out)


# ---------------------------------------------------------------------------------------
# qc bench speed: how close a scan comes to decoding alone

#: the kinds of take in the generated speed set: faces, motion and artifacts all exercised
SPEED_KINDS = ("talking_face", "clean", "fast_pan", "face_swap", "flicker_global", "teleport")


def write_long_take(path: Path, kind: str, *, seconds: float, width: int, height: int,
                    fps: int = 24, seed: int = 7, loop_frames: int = 24) -> Path:
    """Write a long H.264 take without holding it: ``loop_frames`` rendered frames of
    ``kind`` played forwards and backwards until ``seconds`` are filled.

    x264 ``preset=fast``, ``crf=23``, yuv420p: what a generator's H.264 output looks like
    to a decoder.
    """
    import av

    from qc import synth

    frames, _ = synth.render_take(kind, seed=seed, width=width, height=height,
                                  n_frames=loop_frames)
    order = list(range(loop_frames)) + list(range(loop_frames - 2, 0, -1))
    tmp = path.with_name(f".{path.name}.tmp.mp4")
    with av.open(str(tmp), "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"crf": "23", "preset": "fast"}
        for i in range(int(round(seconds * fps))):
            vf = av.VideoFrame.from_ndarray(frames[order[i % len(order)]], format="rgb24")
            for packet in stream.encode(vf):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    tmp.replace(path)
    return path


def make_speed_set(root: Path, *, seconds: float = 10.0, width: int = 1280,
                   height: int = 720) -> list[Path]:
    """The benchmark's takes (one per :data:`SPEED_KINDS`), generated unless present."""
    root.mkdir(parents=True, exist_ok=True)
    paths = []
    for kind in SPEED_KINDS:
        path = root / f"{kind}.mp4"
        if not path.is_file():
            write_long_take(path, kind, seconds=seconds, width=width, height=height)
        paths.append(path)
    return paths


def decode_only(path: str, threads: int = 0) -> int:
    """Decode every frame of a take with PyAV and the scan's decoder threading; nothing
    else.  Returns the number of frames."""
    import av

    with av.open(path, metadata_errors="ignore") as container:
        stream = container.streams.video[0]
        if threads:
            stream.codec_context.thread_count = threads
        stream.thread_type = "AUTO"
        return sum(1 for _ in container.decode(stream))


def _decode_all(paths: list[Path], threads: int, jobs: int) -> tuple[float, int]:
    """Decode-only over every take, ``jobs`` takes at once in processes as a scan runs them."""
    import multiprocessing
    import time
    from concurrent.futures import ProcessPoolExecutor

    t0 = time.perf_counter()
    if jobs <= 1:
        frames = sum(decode_only(str(p), threads) for p in paths)
    else:
        ctx = multiprocessing.get_context("forkserver")
        with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
            frames = sum(pool.map(decode_only, [str(p) for p in paths], [threads] * len(paths)))
    return time.perf_counter() - t0, frames


def _scan_all(root: Path, config: Config, jobs: int) -> float:
    import time

    with tempfile.TemporaryDirectory(prefix="qc-speed-") as tmp:
        t0 = time.perf_counter()
        scan_folder(root, config, jobs=jobs, store_path=Path(tmp) / "qc.db", force=True)
        return time.perf_counter() - t0


def _in_subprocess(code: str, env: dict[str, str] | None = None) -> list[float]:
    """Run ``code`` in a fresh Python; it prints numbers, one line."""
    import os
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True,
                         env={**os.environ, **(env or {})}, timeout=600)
    return [float(x) for x in out.stdout.split()]


_COLD_START = """
import time
t0 = time.perf_counter()
import qc.kernels
t1 = time.perf_counter()
qc.kernels.warm_up()
print(t1 - t0, time.perf_counter() - t1)
"""

# VmHWM, not ru_maxrss: the latter keeps the parent's peak across fork and exec
_PEAK_RSS = """
from qc.config import Config
from qc.scan import analyse_take
a = analyse_take({path!r}, Config())
assert a.status == "ok", a.error
hwm = [line for line in open("/proc/self/status") if line.startswith("VmHWM:")]
print(int(hwm[0].split()[1]) / 1024, a.media.frames)
"""


def cold_start() -> tuple[float, float, float]:
    """``(import_s, compile_s, load_s)``: the kernels compiled in a fresh process with an
    empty numba cache, then loaded from that cache by another fresh process."""
    with tempfile.TemporaryDirectory(prefix="qc-numba-") as cache:
        env = {"NUMBA_CACHE_DIR": cache}
        imp, compile_s = _in_subprocess(_COLD_START, env)
        _, load_s = _in_subprocess(_COLD_START, env)
    return imp, compile_s, load_s


def peak_rss_mb(path: Path) -> tuple[float, int]:
    """Peak resident memory (MB) of a fresh process that scans one take, and its frames."""
    rss, frames = _in_subprocess(_PEAK_RSS.format(path=str(path)))
    return rss, int(frames)


def _numpy_flow_median(flow: np.ndarray) -> np.ndarray:
    return np.median(flow.reshape(-1, 2), axis=0)


def _numpy_warp_residual_blocks(prev, cur, flow_bwd, flow_fwd, grid):
    """Vectorised numpy version of :func:`qc.kernels.warp_residual_blocks`."""
    h, w = cur.shape
    ys, xs = np.mgrid[0:h, 0:w]
    u, v = flow_bwd[..., 0].astype(np.float64), flow_bwd[..., 1].astype(np.float64)
    px, py = xs + u, ys + v
    inside = (px >= 0) & (py >= 0) & (px <= w - 1) & (py <= h - 1)
    px, py = np.clip(px, 0, w - 1), np.clip(py, 0, h - 1)
    x0, y0 = np.floor(px).astype(np.intp), np.floor(py).astype(np.intp)
    fx, fy = px - x0, py - y0
    x1, y1 = np.minimum(x0 + 1, w - 1), np.minimum(y0 + 1, h - 1)

    def sample(img):
        return ((img[y0, x0] * (1 - fx) + img[y0, x1] * fx) * (1 - fy)
                + (img[y1, x0] * (1 - fx) + img[y1, x1] * fx) * fy)

    fu, fv = sample(flow_fwd[..., 0]), sample(flow_fwd[..., 1])
    ok = inside & ((u + fu) ** 2 + (v + fv) ** 2 <= 0.01 * (u * u + v * v + fu * fu + fv * fv) + 0.5)
    r = cur - sample(prev.astype(np.float64))
    block = np.minimum(ys * grid // h, grid - 1) * grid + np.minimum(xs * grid // w, grid - 1)
    n = np.bincount(block[ok], minlength=grid * grid)
    total = np.bincount(block.ravel(), minlength=grid * grid)
    with np.errstate(all="ignore"):
        signed = np.bincount(block[ok], weights=r[ok], minlength=grid * grid) / n
        absd = np.bincount(block[ok], weights=np.abs(r[ok]), minlength=grid * grid) / n
    return (signed.reshape(grid, grid), absd.reshape(grid, grid),
            (n / np.maximum(total, 1)).reshape(grid, grid))


def _numpy_rolling_median(x: np.ndarray, half: int) -> np.ndarray:
    """Vectorised numpy version of :func:`qc.kernels.rolling_median` (NaN-padded windows)."""
    pad = np.full((half, x.shape[1]), np.nan)
    windows = np.lib.stride_tricks.sliding_window_view(np.vstack([pad, x, pad]), 2 * half + 1, axis=0)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN windows give NaN
        return np.nanmedian(windows, axis=-1)


def kernel_timings(*, repeat: int = 30) -> list[tuple[str, float, float]]:
    """``(kernel, numba ms, numpy ms)`` per call: the per-frame kernels on flow-sized
    frames (256x144), ``rolling_median`` on a 10-s take's 8x8 block signals (240 x 64,
    one second either side), once per take."""
    import time

    from qc import kernels

    kernels.warm_up()
    rng = np.random.default_rng(0)
    prev = rng.integers(0, 256, (144, 256)).astype(np.uint8)
    cur = np.roll(prev, 2, axis=1)
    bwd = (rng.normal(0, 1, (144, 256, 2)) + (-2.0, 0.0)).astype(np.float32)
    fwd = (-bwd + rng.normal(0, 0.2, bwd.shape)).astype(np.float32)
    signal = rng.normal(3, 1, (240, 64))
    signal[0] = np.nan  # the first frame has no residual

    def best(fn) -> float:
        times = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        return 1000 * float(np.median(times))

    return [
        ("warp_residual_blocks",
         best(lambda: kernels.warp_residual_blocks(prev, cur, bwd, fwd, grid=8)),
         best(lambda: _numpy_warp_residual_blocks(prev, cur, bwd, fwd, 8))),
        ("flow_median",
         best(lambda: kernels.flow_median(fwd)),
         best(lambda: _numpy_flow_median(fwd))),
        ("rolling_median",
         best(lambda: kernels.rolling_median(signal, 24)),
         best(lambda: _numpy_rolling_median(signal, 24))),
    ]


@dataclass
class SpeedResult:
    """What ``qc bench speed`` measured."""

    takes: int
    frames: int
    video_s: float
    size: str
    jobs: int
    decode_s: dict[int, float]          # jobs -> decode-only seconds
    scan_s: dict[int, float]            # jobs -> scan seconds
    shares: dict[str, float]            # part of the analysis -> share of its time
    cold: tuple[float, float, float] | None = None
    memory: tuple[float, int, str] | None = None   # peak MB, frames, size
    kernels: list[tuple[str, float, float]] = field(default_factory=list)


def speed(
    root: Path | None = None,
    *,
    keep: Path | None = None,
    jobs: int | None = None,
    repeat: int = 2,
    seconds: float = 10.0,
    memory: bool = True,
    config: Config | None = None,
) -> SpeedResult:
    """Measure a scan against decoding alone on 720p24 H.264 takes.

    Decode-only and scans alternate, ``repeat`` times, and the fastest of each counts, so
    that a busy machine slows both alike.  ``root`` is a folder of takes to measure
    instead of the generated set (kept in ``keep`` when given).
    """
    import os

    from qc.batch import find_takes
    from qc.scan import analyse_take

    config = config or Config()
    jobs = jobs or os.cpu_count() or 1
    with tempfile.TemporaryDirectory(prefix="qc-speed-") as tmp:
        work = Path(keep) if keep is not None else Path(tmp)
        if root is None:
            root = work / "takes"
            make_speed_set(root, seconds=seconds)
        paths = [t.file for t in find_takes(root, config)]
        if not paths:
            raise ValueError(f"no takes under {root}")
        # one in-process pass, after loading the kernels and the face models once, splits
        # the analysis time
        from qc.detectors.faces import face_models
        from qc.kernels import warm_up

        warm_up()
        face_models()
        totals: dict[str, float] = {}
        frames = 0
        video_s = 0.0
        size = ""
        for p in paths:
            a = analyse_take(p, config)
            if a.status != "ok" or a.media is None:
                continue
            frames += a.media.frames
            video_s += a.media.duration_s
            size = f"{a.media.width}x{a.media.height}"
            for k, v in a.timings_s.items():
                totals[k] = totals.get(k, 0.0) + v
        total = totals.pop("total", 0.0) or 1.0
        shares = {k: v / total for k, v in totals.items()}
        decode_s: dict[int, float] = {}
        scan_s: dict[int, float] = {}
        counts = sorted({1, jobs})
        for _ in range(max(1, repeat)):
            for n in counts:
                d, _ = _decode_all(paths, config.decode.threads, n)
                s = _scan_all(root, config, n)
                decode_s[n] = min(decode_s.get(n, d), d)
                scan_s[n] = min(scan_s.get(n, s), s)
        result = SpeedResult(takes=len(paths), frames=frames, video_s=video_s, size=size,
                             jobs=jobs, decode_s=decode_s, scan_s=scan_s, shares=shares)
        result.cold = cold_start()
        result.kernels = kernel_timings()
        if memory:
            long = work / "long-1080p.mp4"
            if not long.is_file():
                write_long_take(long, "talking_face", seconds=60.0, width=1920, height=1080)
            rss, n = peak_rss_mb(long)
            result.memory = (rss, n, "60-s 1920x1080")
    return result


def print_speed(res: SpeedResult, out: TextIO) -> None:
    """Print the figures of :func:`speed`, with the goals beside them."""
    print(f"{res.takes} takes, {res.size}, {res.frames} frames, {res.video_s:.1f} s of video\n",
          file=out)
    print("                      wall s    fps   real-time   scan / decode-only", file=out)
    for n in sorted(res.scan_s):
        d, s = res.decode_s[n], res.scan_s[n]
        print(f"decode only, {n} job{'s' if n > 1 else ' '}  {d:7.2f}  {res.frames / d:6.0f}"
              f"   {res.video_s / d:6.1f}x", file=out)
        print(f"scan,        {n} job{'s' if n > 1 else ' '}  {s:7.2f}  {res.frames / s:6.0f}"
              f"   {res.video_s / s:6.1f}x     {s / d:5.2f}", file=out)
    if len(res.scan_s) > 1:
        one, many = res.scan_s[1], res.scan_s[max(res.scan_s)]
        print(f"speedup 1 -> {max(res.scan_s)} jobs: {one / many:.2f}x", file=out)
    print("(goals: scan / decode-only <= 1.3, real-time >= 15x for 720p24)\n", file=out)
    print("share of one take's analysis time (1 job; 'decode' is waiting for frames):", file=out)
    for k, v in sorted(res.shares.items(), key=lambda kv: -kv[1]):
        print(f"  {k:<10} {100 * v:5.1f} %", file=out)
    other = 1.0 - sum(res.shares.values())
    print(f"  {'other':<10} {100 * other:5.1f} %  (shrinking, frame hand-over, the loop)", file=out)
    if res.cold is not None:
        imp, comp, load = res.cold
        print(f"\ncold start: numba kernels compiled in {comp:.2f} s (goal <= 5 s), loaded from the"
              f" cache in {load:.2f} s (goal <= 0.5 s); importing qc.kernels {imp:.2f} s", file=out)
    if res.memory is not None:
        rss, n, what = res.memory
        print(f"memory: peak RSS {rss:.0f} MB scanning a {what} take ({n} frames; goal <= 600 MB)",
              file=out)
    if res.kernels:
        print("\nkernel                 numba ms   numpy ms   speedup", file=out)
        for name, nb, npy in res.kernels:
            verdict = "" if nb < npy else "   slower than numpy: remove it"
            print(f"{name:<22} {nb:8.3f}   {npy:8.3f}   {npy / nb:6.1f}x{verdict}", file=out)
