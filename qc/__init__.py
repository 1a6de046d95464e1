"""qc: artifact-detection quality control for AI-generated video.

Scans takes for flicker, unstable faces, morphing and physics jumps, scores and ranks
them, and gates them in pipelines.  The public API::

    from qc import scan_take, gate_take, scan_folder, folder_report, read_report

    result = gate_take("renders/take_012.mp4", min_score=70)
    if not result.passed:
        print(result.verdict, result.take.score, result.reasons)
"""

from __future__ import annotations

__version__ = "0.1.0"

from qc.api import folder_report, gate_take, scan_take
from qc.batch import ScanSummary, find_takes, scan_folder
from qc.config import Config, load_config
from qc.detectors.base import ARTIFACTS, Event
from qc.errors import ConfigError, DecodeError, QCError, ReportError, RootError, StoreError
from qc.gate import GatePolicy, GateResult, gate_exit_code, gate_paths, gate_verdict
from qc.report import Report, TakeResult, build_report, read_report, validate_report
from qc.scan import TakeAnalysis, analyse_take
from qc.store import Store
from qc.watch import WatchSummary, watch

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
    "WatchSummary",
    "analyse_take",
    "build_report",
    "find_takes",
    "folder_report",
    "gate_exit_code",
    "gate_paths",
    "gate_take",
    "gate_verdict",
    "load_config",
    "read_report",
    "scan_folder",
    "scan_take",
    "validate_report",
    "watch",
]
