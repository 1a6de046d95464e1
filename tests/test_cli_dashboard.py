"""``qc dashboard``: refuses a folder never scanned; otherwise becomes the Streamlit server
(the browser test in test_browser.py runs it for real)."""

from __future__ import annotations

from pathlib import Path

from qc.cli import build_parser, main


def test_dashboard_without_a_scan_says_run_scan(tmp_path: Path, capsys):
    assert main(["dashboard", str(tmp_path)]) == 1
    assert "run qc scan" in capsys.readouterr().err


def test_dashboard_binds_to_loopback_by_default(tmp_path: Path):
    args = build_parser().parse_args(["dashboard", str(tmp_path)])
    assert (args.host, args.port) == ("127.0.0.1", 8501)
