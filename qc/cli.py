"""The ``qc`` command: parse, call the library, turn errors into exit codes.

Exit status: 0 the command ran (a scan with error takes still ran), 2 usage or
configuration error, 3 the folder cannot be read, 1 anything else that stopped qc.
``qc gate``: 0 every take passes, 1 a take fails, 3 a take cannot be read (3 wins over
1), 2 usage or configuration error.  ``QC_DEBUG=1`` shows the traceback of an error.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from qc import __version__
from qc.batch import ScanProgress, TakeRef, scan_folder
from qc.config import PROFILES, load_config
from qc.errors import ConfigError, QCError
from qc.report import build_report, write_csv, write_json
from qc.scan import TakeAnalysis
from qc.store import Store, default_store_path

__all__ = ["main", "build_parser"]

log = logging.getLogger("qc")

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # argparse's own exits with 2 as well
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"qc: error: {message}\n")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None


def _seconds(text: str) -> float:
    value = _number(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


def _policy_flags(sp: argparse.ArgumentParser) -> None:
    sp.add_argument("--profile", choices=sorted(PROFILES), help="scoring profile")
    sp.add_argument("--min-score", type=_number, metavar="N", help="fail takes that score below N")
    sp.add_argument("--fail-on", metavar="ARTIFACTS",
                    help="comma-separated artifacts (flicker,faces,morphing,physics) that fail a"
                         " take on their own when their severity is above the fail level")
    sp.add_argument("--fail-level", type=_number, metavar="S",
                    help="severity (0-1) above which a --fail-on artifact fails the take"
                         " (default: 1 - pass_score/100)")
    sp.add_argument("--strict", action="store_true", help="a review verdict does not pass")
    sp.add_argument("--sidecar", action="store_true",
                    help="write take.mp4.qc.json beside each take (atomically)")
    sp.add_argument("--config", metavar="FILE", type=Path,
                    help="qc.toml to use (default: each take's folder's qc.toml)")
    sp.add_argument("--store", metavar="FILE", type=Path,
                    help="the SQLite store (default: the take's folder's .qc/qc.db)")
    sp.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
    sp.add_argument("-v", "--verbose", action="count", default=0, help="say more (twice: debug)")
    _limit_flags(sp)


def _limit_flags(sp: argparse.ArgumentParser) -> None:
    sp.add_argument("--take-timeout", type=_seconds, metavar="S",
                    help="stop a take still being analysed after S seconds and report it as an"
                         " error (default 1800; 0: no limit)")
    sp.add_argument("--max-frames", type=_positive_int, metavar="N",
                    help="a take with more than N frames is an error (default 100000; 0: no"
                         " limit)")


def _limit_overrides(args: argparse.Namespace, overrides: dict[str, dict[str, Any]]) -> None:
    if getattr(args, "take_timeout", None) is not None:
        overrides.setdefault("scan", {})["take_timeout_s"] = args.take_timeout
    if getattr(args, "max_frames", None) is not None:
        overrides.setdefault("decode", {})["max_frames"] = args.max_frames


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every ``qc`` command."""
    p = _Parser(prog="qc", description="Artifact-detection QC for AI-generated video.")
    p.add_argument("--version", action="version", version=f"qc {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    def outputs(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--json", metavar="FILE", type=Path, help="write the report (qc.report/1)")
        sp.add_argument("--csv", metavar="FILE", type=Path, help="write the ranking as CSV")
        sp.add_argument("--store", metavar="FILE", type=Path,
                        help="the SQLite store (default: DIR/.qc/qc.db)")
        sp.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
        sp.add_argument("-v", "--verbose", action="count", default=0, help="say more (twice: debug)")

    s = sub.add_parser("scan", help="scan every take under a folder, rank them, report")
    s.add_argument("root", metavar="DIR", type=Path, help="the folder of takes")
    outputs(s)
    s.add_argument("--config", metavar="FILE", type=Path, help="qc.toml to use (default: DIR/qc.toml)")
    s.add_argument("--force", action="store_true", help="rescan takes even if unchanged")
    s.add_argument("-j", "--jobs", type=_positive_int, metavar="N",
                   help="takes scanned at once (default: the CPU count)")
    s.add_argument("--shot-pattern", metavar="REGEX",
                   help="regex on the file name whose group 'shot' (or 1) names the shot")
    s.add_argument("--profile", choices=sorted(PROFILES), help="scoring profile")
    s.add_argument("--scheduler", metavar="ADDR",
                   help="scan on the Dask cluster of this scheduler (tcp://host:8786); its"
                        " workers must see DIR at the same path")
    _limit_flags(s)

    r = sub.add_parser("report", help="the last scan's report again, from the store")
    r.add_argument("root", metavar="DIR", type=Path, help="the scanned folder")
    outputs(r)

    g = sub.add_parser("gate", help="pass or fail takes, for pipelines (exit 0 pass, 1 fail,"
                                    " 3 unreadable)")
    g.add_argument("paths", metavar="TAKE", type=Path, nargs="+",
                   help="take files, or folders of takes")
    _policy_flags(g)
    g.add_argument("--json", action="store_true",
                   help="print the takes as a report (qc.report/1) instead of lines")
    g.add_argument("--force", action="store_true", help="analyse takes even if unchanged")
    g.add_argument("--no-store", action="store_true", help="neither read nor write a store")

    w = sub.add_parser("watch", help="gate takes as they land in a folder; run hooks")
    w.add_argument("root", metavar="DIR", type=Path, help="the folder to watch")
    _policy_flags(w)
    w.add_argument("--on-pass", metavar="CMD",
                   help="run CMD with the take's path appended as one argument (no shell)")
    w.add_argument("--on-fail", metavar="CMD",
                   help="the same for takes that fail or cannot be read")
    w.add_argument("--move-failed", metavar="DIR", type=Path,
                   help="move takes that fail or cannot be read into DIR")
    w.add_argument("--settle", type=_seconds, default=2.0, metavar="S",
                   help="a file is complete once unchanged for S seconds (default 2)")
    w.add_argument("--poll", type=_seconds, default=1.0, metavar="S",
                   help="list the folder every S seconds (default 1)")
    w.add_argument("--new-only", action="store_true",
                   help="leave alone the takes already there when the watch starts")
    w.add_argument("--max-takes", type=_positive_int, metavar="N", help="stop after N takes")
    w.add_argument("--idle-timeout", type=_seconds, metavar="S",
                   help="stop after S seconds with nothing to do")

    d = sub.add_parser("dashboard", help="open the review dashboard on a scanned folder")
    d.add_argument("root", metavar="DIR", type=Path, help="the scanned folder")
    d.add_argument("--store", metavar="FILE", type=Path,
                   help="the SQLite store (default: DIR/.qc/qc.db)")
    d.add_argument("--host", default="127.0.0.1", help="address to serve on (default 127.0.0.1)")
    d.add_argument("--port", type=_positive_int, default=8501, help="port (default 8501)")

    dr = sub.add_parser("doctor", help="check the installation (decoder, face models, numba"
                                       " cache, a worker) and a folder's store")
    dr.add_argument("root", metavar="DIR", type=Path, nargs="?",
                    help="a scanned folder: its store is checked too")
    dr.add_argument("--store", metavar="FILE", type=Path,
                    help="the SQLite store to check (default: DIR/.qc/qc.db)")

    b = sub.add_parser("bench", help="benchmarks that print figures")
    bsub = b.add_subparsers(dest="bench", metavar="WHAT", parser_class=_Parser)
    bsub.required = True
    acc = bsub.add_parser("accuracy", help="detector accuracy on a generated labelled set")
    acc.add_argument("--n", type=_positive_int, default=10, help="takes per kind (default 10)")
    acc.add_argument("--seed", type=_positive_int, default=1000, help="first seed (default 1000)")
    acc.add_argument("--config", metavar="FILE", type=Path, help="qc.toml to evaluate")
    acc.add_argument("--keep", metavar="DIR", type=Path,
                     help="generate the set into DIR (or reuse it) instead of a temporary folder")
    acc.add_argument("--kinds", help="comma-separated kinds to generate (default: all)")
    acc.add_argument("-j", "--jobs", type=_positive_int, metavar="N")
    acc.add_argument("-v", "--verbose", action="count", default=0)
    spd = bsub.add_parser("speed", help="scan time against decoding alone, memory, cold start")
    spd.add_argument("root", metavar="DIR", type=Path, nargs="?",
                     help="takes to measure (default: generate six 10-s 720p24 H.264 takes)")
    spd.add_argument("--keep", metavar="DIR", type=Path,
                     help="generate the takes into DIR (or reuse them) instead of a temporary folder")
    spd.add_argument("-j", "--jobs", type=_positive_int, metavar="N",
                     help="processes for the parallel runs (default: the CPU count)")
    spd.add_argument("--repeat", type=_positive_int, default=2,
                     help="alternate decode-only and scan this many times; the fastest counts")
    spd.add_argument("--seconds", type=_seconds, default=10.0, help="length of each generated take")
    spd.add_argument("--no-memory", action="store_true",
                     help="skip the peak-memory run on a 60-s 1080p take")
    spd.add_argument("--config", metavar="FILE", type=Path, help="qc.toml to measure")
    spd.add_argument("-v", "--verbose", action="count", default=0)
    return p


class _BarProgress(ScanProgress):
    """A tqdm progress bar over takes on a terminal; silent otherwise."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.bar: Any = None

    def start(self, total: int, to_scan: int) -> None:
        if self.enabled:
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit="take", file=sys.stderr, dynamic_ncols=True,
                            leave=False)

    def frames(self, take: TakeRef, done: int) -> None:
        if self.bar is not None:
            self.bar.set_postfix_str(f"{take.path} frame {done}", refresh=True)

    def take_done(self, take: TakeRef, analysis: TakeAnalysis | None) -> None:
        if self.bar is not None:
            self.bar.update(1)
        if analysis is not None and analysis.status == "error":
            msg = f"{take.path}: {analysis.error}"
            if self.bar is not None:
                self.bar.write(f"qc: {msg}", file=sys.stderr)
            else:
                log.warning("%s", msg)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _worst_event(entry: dict[str, Any]) -> str:
    best: tuple[float, str] = (0.0, "-")
    for art in (entry.get("artifacts") or {}).values():
        for ev in art["events"]:
            if ev["severity"] > best[0]:
                best = (ev["severity"], f"{ev.get('label') or ''} @ {ev['start_s']:.2f}s")
    return best[1]


def print_table(report: dict[str, Any], out: TextIO) -> None:
    """The ranking, one line per take: rank, score, verdict, worst event, path."""
    takes = report["takes"]
    if not takes:
        print("no takes found", file=out)
        return
    rows = [("RANK", "SCORE", "VERDICT", "WORST", "PATH")]
    for e in takes:
        if e["status"] == "ok":
            worst = _worst_event(e)
            rows.append((str(e["rank"]), f"{e['score']:.1f}", e["verdict"], worst,
                         e["path"] + ("  *" if e.get("best_in_shot") else "")))
        else:
            rows.append(("-", "-", "error", e["error"], e["path"]))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r[:4], widths)) + "  " + r[4], file=out)
    counts = {v: sum(1 for e in takes if e["verdict"] == v) for v in ("pass", "review", "fail", "error")}
    print(f"\n{len(takes)} takes: " + ", ".join(f"{n} {v}" for v, n in counts.items() if n)
          + "   (* best take of its shot)", file=out)


def _write_outputs(args: argparse.Namespace, report: dict[str, Any]) -> None:
    if args.json:
        write_json(report, args.json)
    if args.csv:
        write_csv(report, args.csv)
    if not args.quiet:
        print_table(report, sys.stdout)


def _cmd_scan(args: argparse.Namespace) -> int:
    overrides: dict[str, dict[str, Any]] = {}
    if args.shot_pattern is not None:
        overrides.setdefault("scan", {})["shot_pattern"] = args.shot_pattern
    if args.jobs is not None:
        overrides.setdefault("scan", {})["jobs"] = args.jobs
    if args.profile is not None:
        overrides.setdefault("scoring", {})["profile"] = args.profile
    _limit_overrides(args, overrides)
    # the root is checked before its qc.toml is read, so a missing folder exits 3, not 2
    if args.config is None and not args.root.is_dir():
        from qc.errors import RootError

        raise RootError(f"no such folder: {args.root}" if not args.root.exists()
                        else f"not a folder: {args.root}")
    config = load_config(args.config, root=args.root, overrides=overrides)
    progress = _BarProgress(enabled=not args.quiet and sys.stderr.isatty())
    try:
        summary = scan_folder(args.root, config, store_path=args.store, force=args.force,
                              progress=progress, root_label=str(args.root),
                              scheduler=args.scheduler)
    finally:
        progress.close()
    log.info("%d takes: %d scanned, %d unchanged, %d errors", summary.found, summary.scanned,
             summary.skipped, summary.errors)
    store_path = args.store or default_store_path(args.root)
    with Store(store_path, readonly=True) as store:
        report = build_report(store, root=str(args.root), config=config.to_dict())
    _write_outputs(args, report)
    return EXIT_OK


def _cmd_report(args: argparse.Namespace) -> int:
    store_path = args.store or default_store_path(args.root)
    with Store(store_path, readonly=True) as store:
        run = store.last_run()
        if run is None:
            raise QCError(f"no finished scan in {store_path}: run qc scan first")
        report = build_report(store, root=str(args.root), config=run["config"],
                              created=run["finished"])
    _write_outputs(args, report)
    return EXIT_OK


def _policy_overrides(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    from qc.gate import parse_artifacts

    overrides: dict[str, dict[str, Any]] = {}
    if args.profile is not None:
        overrides.setdefault("scoring", {})["profile"] = args.profile
    gate: dict[str, Any] = {}
    if args.min_score is not None:
        gate["min_score"] = args.min_score
    if args.fail_on is not None:
        gate["fail_on"] = list(parse_artifacts(args.fail_on))
    if args.fail_level is not None:
        gate["fail_level"] = args.fail_level
    if args.strict:
        gate["strict"] = True
    if gate:
        overrides["gate"] = gate
    _limit_overrides(args, overrides)
    return overrides


def _cmd_gate(args: argparse.Namespace) -> int:
    from qc.gate import format_line, gate_exit_code, gate_paths, gate_report
    from qc.report import report_json

    def show(result: Any) -> None:
        if not args.quiet and not args.json:
            print(format_line(result), flush=True)

    results = gate_paths(args.paths, config_file=args.config, overrides=_policy_overrides(args),
                         store_path=args.store, use_store=not args.no_store, force=args.force,
                         sidecar=args.sidecar, on_result=show)
    if args.json:
        sys.stdout.write(report_json(gate_report(results, root=".")))
    return gate_exit_code(results)


def _cmd_watch(args: argparse.Namespace) -> int:
    import signal
    import threading

    from qc.errors import RootError
    from qc.watch import watch

    if args.config is None and not args.root.is_dir():
        raise RootError(f"no such folder: {args.root}" if not args.root.exists()
                        else f"not a folder: {args.root}")
    config = load_config(args.config, root=args.root, overrides=_policy_overrides(args))
    stop = threading.Event()
    previous = None
    try:  # a pipeline stops the watch with SIGTERM: finish the take in hand, then exit
        previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    except ValueError:  # not the main thread
        pass

    def show(watched: Any) -> None:
        if not args.quiet:
            print(watched.line(), flush=True)

    try:
        watch(args.root, config, store_path=args.store, on_pass=args.on_pass,
              on_fail=args.on_fail, move_failed=args.move_failed, sidecar=args.sidecar,
              settle_s=args.settle, poll_s=args.poll, new_only=args.new_only,
              max_takes=args.max_takes, idle_timeout_s=args.idle_timeout, stop=stop,
              on_take=show)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    return EXIT_OK


def _cmd_dashboard(args: argparse.Namespace) -> int:
    from qc.dashboard import open_scan, streamlit_command

    scan = open_scan(args.root, args.store)  # fails early, with a message, if never scanned
    cmd = streamlit_command(scan.root, store=args.store, host=args.host, port=args.port)
    print(f"qc: dashboard of {scan.root} at http://{args.host}:{args.port}  (Ctrl+C stops it)",
          file=sys.stderr)
    sys.stdout.flush()
    sys.stderr.flush()
    if os.name == "posix":  # become the server: one process, one PID to stop
        os.execv(cmd[0], cmd)
    import subprocess

    return subprocess.call(cmd)


def _cmd_doctor(args: argparse.Namespace) -> int:
    from qc.doctor import run_checks

    store = args.store or (default_store_path(args.root) if args.root is not None else None)
    checks = run_checks(store, on_check=lambda c: print(c.line(), flush=True))
    bad = [c for c in checks if not c.ok]
    if store is None:
        print("(no folder given: its store was not checked; qc doctor DIR checks it)")
    print("all fine" if not bad else f"{len(bad)} problem{'s' if len(bad) > 1 else ''}: see FAIL"
          " above")
    return EXIT_OK if not bad else EXIT_FAILURE


def _cmd_bench(args: argparse.Namespace) -> int:
    from qc.bench import accuracy, print_accuracy

    config = load_config(args.config) if args.config else load_config()
    if args.bench == "speed":
        from qc.bench import print_speed, speed
        from qc.errors import RootError

        if args.root is not None and not args.root.is_dir():
            raise RootError(f"no such folder: {args.root}")
        result = speed(args.root, keep=args.keep, jobs=args.jobs, repeat=max(1, args.repeat),
                       seconds=args.seconds or 10.0, memory=not args.no_memory, config=config)
        print_speed(result, sys.stdout)
        return EXIT_OK
    kinds = [k.strip() for k in args.kinds.split(",")] if args.kinds else None
    if kinds:
        from qc.synth import KINDS

        unknown = [k for k in kinds if k not in KINDS]
        if unknown:
            raise ConfigError(f"unknown kinds: {', '.join(unknown)} (known: {', '.join(KINDS)})")
    result = accuracy(n=max(1, args.n), seed=args.seed, config=config, workdir=args.keep,
                      jobs=args.jobs, kinds=kinds)
    print_accuracy(result, sys.stdout)
    return EXIT_OK


def _setup_logging(args: argparse.Namespace) -> None:
    level = logging.WARNING
    if getattr(args, "quiet", False):
        level = logging.ERROR
    elif getattr(args, "verbose", 0) >= 2:
        level = logging.DEBUG
    elif getattr(args, "verbose", 0) == 1:
        level = logging.INFO
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("qc: %(message)s"))
    root = logging.getLogger("qc")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``qc`` command line; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    _setup_logging(args)
    commands = {"scan": _cmd_scan, "report": _cmd_report, "gate": _cmd_gate,
                "watch": _cmd_watch, "dashboard": _cmd_dashboard, "bench": _cmd_bench,
                "doctor": _cmd_doctor}
    try:
        return commands[args.command](args)
    except KeyboardInterrupt:
        print("qc: interrupted; finished takes are stored, the next scan resumes", file=sys.stderr)
        return 130
    except QCError as exc:
        if os.environ.get("QC_DEBUG"):
            traceback.print_exc()
        print(f"qc: {'configuration error: ' if isinstance(exc, ConfigError) else ''}{exc}",
              file=sys.stderr)
        return exc.exit_code
