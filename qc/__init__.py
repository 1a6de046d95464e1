"""qc: artifact-detection quality control for AI-generated video.

Scans takes for flicker, unstable faces, morphing and physics jumps, scores and ranks
them.  The public API::

    from qc import load_config, analyse_take, scan_folder, read_report
"""

from __future__ import annotations

__version__ = "0.1.0"

from qc.batch import ScanSummary, find_takes, scan_folder
from qc.config import Config, load_config
from qc.detectors.base import ARTIFACTS, Event
from qc.errors import ConfigError, DecodeError, QCError, RootError, StoreError
from qc.report import build_report, validate_report
from qc.scan import TakeAnalysis, analyse_take
from qc.store import Store

__all__ = [
    "__version__",
    "ARTIFACTS",
    "Config",
    "ConfigError",
    "DecodeError",
    "Event",
    "QCError",
    "RootError",
    "ScanSummary",
    "Store",
    "StoreError",
    "TakeAnalysis",
    "analyse_take",
    "build_report",
    "find_takes",
    "load_config",
    "scan_folder",
    "validate_report",
]
