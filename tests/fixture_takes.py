"""Every committed fixture take analysed once per test session.

The fixtures (``fixtures/``, made by :mod:`qc.synth`) are 48-frame takes of one kind
each; ``fixtures/truth.json`` says what was injected where.  The per-detector tests ask
of these analyses what a viewer would: is the injected artifact found at the right
time, and are the clean and benign takes left alone?
"""

from __future__ import annotations

import json
from pathlib import Path

from qc.config import Config
from qc.detectors.base import Event
from qc.scan import TakeAnalysis, analyse_take
from qc.synth import KINDS

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
TRUTH = json.loads((FIXTURES / "truth.json").read_text())["takes"]
#: seconds an event may lie from the injected stretch and still count as found
TOLERANCE_S = 0.5

BENIGN = sorted(k for k, a in KINDS.items() if a is None)


def kinds_of(artifact: str) -> list[str]:
    """The fixture kinds that inject ``artifact``."""
    return sorted(k for k, a in KINDS.items() if a == artifact)


def analyse_fixtures() -> dict[str, tuple[TakeAnalysis, list[dict]]]:
    """Kind -> (its fixture take's analysis, its injected events)."""
    config = Config()
    out = {}
    for rel, truth in TRUTH.items():
        out[truth["kind"]] = (analyse_take(FIXTURES / rel, config), truth["events"])
    return out


def events_of(analysis: TakeAnalysis, artifact: str) -> list[Event]:
    assert analysis.status == "ok", analysis.error
    return [e for e in analysis.events if e.artifact == artifact]


def found_in_time(analysis: TakeAnalysis, artifact: str, injected: list[dict]) -> bool:
    """Whether every injected stretch has an ``artifact`` event within the tolerance."""
    events = events_of(analysis, artifact)
    return all(
        any(e.start_s <= inj["end_s"] + TOLERANCE_S and e.end_s >= inj["start_s"] - TOLERANCE_S
            for e in events)
        for inj in injected
    )


def describe(analysis: TakeAnalysis) -> str:
    return "; ".join(f"{e.artifact}/{e.label} {e.start_s:.2f}-{e.end_s:.2f} s sev {e.severity:.2f}"
                     for e in analysis.events) or "no events"
