"""qc: artifact-detection quality control for AI-generated video.

Scans takes for flicker, unstable faces, morphing and physics jumps, scores and ranks
them, and gates them in pipelines.  The public API::

    from qc import gate_paths, scan_folder, read_report

    (result,) = gate_paths(["renders/take_012.mp4"])
    if not result.passed:
        print(result.verdict, result.take.score, result.reasons)
"""

from __future__ import annotations

__version__ = "0.1.0"

from qc.batch import ScanSummary, find_takes, scan_folder
from qc.config import Config, load_config
from qc.detectors.base import ARTIFACTS, Event
from qc.errors import ConfigError, DecodeError, QCError, ReportError, RootError, StoreError
from qc.gate import GatePolicy, GateResult, gate_exit_code, gate_paths, gate_verdict
from qc.report import Report, TakeResult, build_report, read_report, validate_report
from qc.scan import TakeAnalysis, analyse_take
from qc.store import Store

__all__ = [
    "__version__",
    "ARTIFACTS",
    "Config",
    "ConfigError",
    "DecodeError",
    "Event",
    "GatePolicy",
    "GateResult",
    "QCError",
    "Report",
    "ReportError",
    "RootError",
    "ScanSummary",
    "Store",
    "StoreError",
    "TakeAnalysis",
    "TakeResult",
    "analyse_take",
    "build_report",
    "find_takes",
    "gate_exit_code",
    "gate_paths",
    "gate_verdict",
    "load_config",
    "read_report",
    "scan_folder",
    "validate_report",
]
