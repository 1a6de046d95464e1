"""``qc doctor``: is this installation able to scan, and is a folder's store sound?

Each check returns a :class:`Check` with one line in plain words: what works, or what
is wrong and what to do about it.  Nothing here raises for a broken installation; the
command exits non-zero when any check fails.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Check", "run_checks", "check_decoder", "check_face_models", "check_numba_cache",
           "check_analysis", "check_dashboard", "check_store"]

#: decoders a generated take is likely to need
DECODERS = ("h264", "hevc", "vp9", "vp8", "av1", "prores", "mpeg4", "mjpeg", "gif", "png")


@dataclass(frozen=True)
class Check:
    """One thing ``qc doctor`` looked at."""

    name: str
    ok: bool
    detail: str

    def line(self) -> str:
        """``ok    decoder    PyAV 14 ...`` or ``FAIL  face models  ...``."""
        return f"{'ok' if self.ok else 'FAIL':5} {self.name:12} {self.detail}"


def check_decoder() -> Check:
    """PyAV imports, and FFmpeg in it has the usual video decoders."""
    try:
        import av
    except ImportError as exc:
        return Check("decoder", False, f"PyAV cannot be imported ({exc}): pip install av")
    missing = []
    for name in DECODERS:
        try:
            av.codec.Codec(name, "r")
        except Exception:
            missing.append(name)
    major = ".".join(map(str, av.library_versions.get("libavcodec", ())))
    if "h264" in missing:
        return Check("decoder", False, f"PyAV {av.__version__} has no H.264 decoder: reinstall"
                                       " it (pip install --force-reinstall av)")
    extra = f"; no decoder for {', '.join(missing)}" if missing else ""
    return Check("decoder", True, f"PyAV {av.__version__} (libavcodec {major}) decodes"
                                  f" {', '.join(d for d in DECODERS if d not in missing)}{extra}")


def check_face_models() -> Check:
    """dlib and the face-recognition-models data are installed and load."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pkg_resources is deprecated
            import face_recognition_models as frm
    except ImportError:
        return Check("face models", False,
                     "face models missing: pip install face-recognition-models")
    files = [frm.face_recognition_model_location(), frm.pose_predictor_model_location()]
    gone = [f for f in files if not os.path.isfile(f)]
    if gone:
        return Check("face models", False, f"face model files missing ({', '.join(gone)}):"
                                           " pip install --force-reinstall face-recognition-models")
    try:
        import dlib  # noqa: F401
    except ImportError:
        return Check("face models", False, "dlib missing: pip install dlib-bin")
    try:
        from qc.detectors.faces import face_models

        face_models()
    except Exception as exc:
        return Check("face models", False, f"face models cannot be loaded: {exc}")
    return Check("face models", True, f"dlib's detector, landmarks and encoder load"
                                      f" ({os.path.dirname(files[0])})")


def _writable(folder: Path) -> str | None:
    """Why ``folder`` cannot hold new files (None: it can)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".qc-doctor-"):
            pass
    except OSError as exc:
        return exc.strerror or str(exc)
    return None


def check_numba_cache() -> Check:
    """numba imports and can keep compiled kernels (else every process compiles them)."""
    try:
        import numba
    except ImportError as exc:
        return Check("numba", False, f"numba cannot be imported ({exc}): pip install numba")
    env = os.environ.get("NUMBA_CACHE_DIR")
    if env:
        folder, how = Path(env), "NUMBA_CACHE_DIR"
    else:
        import qc.kernels

        folder, how = Path(qc.kernels.__file__).parent / "__pycache__", "beside qc/kernels.py"
    why = _writable(folder)
    if why is not None:
        return Check("numba", False, f"numba cache dir {folder} ({how}) not writable ({why}):"
                                     " kernels are compiled again in every process; set"
                                     " NUMBA_CACHE_DIR to a writable folder")
    return Check("numba", True, f"numba {numba.__version__}, kernels cached in {folder} ({how})")


def check_analysis() -> Check:
    """A generated 8-frame take is analysed end to end in a supervised worker process."""
    try:
        import av
        import numpy as np

        from qc.config import Config
        from qc.workers import Limits, run_jobs
    except Exception as exc:
        return Check("analysis", False, f"qc's analysis cannot be imported: {exc}")
    with tempfile.TemporaryDirectory(prefix="qc-doctor-") as tmp:
        take = Path(tmp) / "doctor.mp4"
        try:
            with av.open(str(take), "w") as out:
                stream = out.add_stream("mpeg4", rate=24)
                stream.width, stream.height, stream.pix_fmt = 96, 64, "yuv420p"
                for i in range(8):
                    img = np.zeros((64, 96, 3), np.uint8)
                    img[20:40, 8 + 6 * i: 28 + 6 * i] = 220
                    for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                        out.mux(packet)
                for packet in stream.encode():
                    out.mux(packet)
        except Exception as exc:
            return Check("analysis", False, f"cannot write a test take with PyAV: {exc}")
        from qc.batch import _analyse_job

        outcome: dict[str, str] = {}
        run_jobs([("take", (str(take), Config()))], _analyse_job, workers=1,
                 limits=Limits(timeout_s=120),
                 on_done=lambda _, r: outcome.update(ok=r.status == "ok", why=r.error or ""),
                 on_failed=lambda _, why: outcome.update(ok=False, why=why))
    if not outcome.get("ok"):
        return Check("analysis", False, f"a generated test take could not be analysed in a"
                                        f" worker process: {outcome.get('why')}")
    return Check("analysis", True, "a generated test take is decoded and analysed by all four"
                                   " detectors in a worker process")


def check_dashboard() -> Check:
    """Streamlit, for ``qc dashboard``."""
    try:
        import streamlit
    except ImportError:
        return Check("dashboard", False, "streamlit missing (only qc dashboard needs it):"
                                         " pip install streamlit")
    return Check("dashboard", True, f"streamlit {streamlit.__version__}")


def check_store(path: Path) -> Check:
    """The store at ``path`` opens, is at a schema this qc knows, and passes SQLite's
    integrity check."""
    from qc.errors import StoreError, one_line
    from qc.store import Store

    if not path.exists():
        return Check("store", True, f"no store at {path} yet (qc scan creates it)")
    advice = (f"move {path} aside and run qc scan again (its reviews go with it; `sqlite3"
              f" {path} .recover` may save them)")
    try:
        with Store(path, readonly=True) as store:
            problems = store.integrity_problems()
            takes = len(store.takes()) if not problems else 0
    except StoreError as exc:
        why = exc.__cause__ if exc.__cause__ is not None else exc
        return Check("store", False, f"store at {path} cannot be opened ({why}): {advice}")
    except Exception as exc:  # sqlite3 raises DatabaseError on the first query of garbage
        return Check("store", False, f"store at {path} cannot be read ({exc}): {advice}")
    if problems:
        more = f" and {len(problems) - 1} more" if len(problems) > 1 else ""
        return Check("store", False, f"store at {path} failed integrity_check"
                                     f" ({one_line(problems[0])}{more}): {advice}")
    return Check("store", True, f"store at {path} passes integrity_check ({takes} takes)")


def run_checks(store: Path | None = None, *, on_check: Callable[[Check], None] | None = None,
               ) -> list[Check]:
    """Every check, in order; ``store`` (a database file) is checked when given."""
    checks: list[Callable[[], Check]] = [check_decoder, check_face_models, check_numba_cache,
                                         check_analysis, check_dashboard]
    if store is not None:
        checks.append(lambda: check_store(store))
    out = []
    for fn in checks:
        try:
            result = fn()
        except Exception as exc:  # a check must report, never crash the doctor
            result = Check(getattr(fn, "__name__", "check").removeprefix("check_"), False,
                           f"the check itself failed: {type(exc).__name__}: {exc}")
        out.append(result)
        if on_check is not None:
            on_check(result)
    return out

