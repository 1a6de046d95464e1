"""The dashboard's data layer: rows, filters, order, pages, and the folder boundary."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import synthetic_store
from qc.dashboard import (
    Filters,
    apply_reviews,
    filter_rows,
    group_by_shot,
    open_scan,
    page_rows,
    ranking_rows,
    resolve_inside,
    sort_rows,
    streamlit_command,
    take_detail,
    timeline_data,
)
from qc.detectors.base import ARTIFACTS, Event
from qc.errors import QCError, StoreError
from qc.review import Review
from qc.store import Store


def _rows(root: Path) -> list[dict]:
    scan = open_scan(root)
    with Store(scan.store_path, readonly=True) as s:
        return apply_reviews(ranking_rows(s), {})


def test_rows_of_a_fixture_scan(scanned_fixtures: Path):
    rows = _rows(scanned_fixtures)
    assert len(rows) == 10
    assert [r["rank"] for r in rows] == list(range(1, 11))
    by = {r["path"].split("/")[-1]: r for r in rows}
    assert by["clean_0.mp4"]["verdict"] == "pass" and by["clean_0.mp4"]["n_events"] == 0
    cut = by["hidden_cut_0.mp4"]
    assert cut["worst_label"] == "hidden cut" and cut["worst_artifact"] == "physics"
    assert abs(cut["worst_s"] - 1.0) <= 0.1 and cut["physics"] > 0
    assert {r["shot"] for r in rows if r["path"].startswith("face")} == {"face"}
    assert sum(r["best_in_shot"] for r in rows if r["shot"] == "face") == 1
    assert all(r["review"] == "unreviewed" for r in rows)


def test_filters_narrow_the_rows(scanned_fixtures: Path):
    rows = _rows(scanned_fixtures)
    fails = filter_rows(rows, Filters(verdicts=frozenset({"fail"})))
    assert fails and all(r["verdict"] == "fail" for r in fails) and len(fails) < len(rows)
    flick = filter_rows(rows, Filters(artifacts=frozenset({"flicker"})))
    assert flick and all(r["flicker"] > 0 for r in flick)
    face = filter_rows(rows, Filters(shots=frozenset({"face"})))
    assert {r["path"] for r in face} == {"face_jitter/face_jitter_0.mp4", "face_swap/face_swap_0.mp4"}
    high = filter_rows(rows, Filters(score_range=(80.0, 100.0)))
    assert high and all(r["score"] >= 80 for r in high)
    cut = filter_rows(rows, Filters(text="CUT"))  # in the path or the worst event's label
    assert "hidden_cut/hidden_cut_0.mp4" in [r["path"] for r in cut]
    assert all("cut" in (r["path"] + r["worst_label"]).lower() for r in cut)
    assert [r["path"] for r in filter_rows(rows, Filters(text="hidden_cut/"))] == [
        "hidden_cut/hidden_cut_0.mp4"]
    with pytest.raises(ValueError, match="unknown filter"):
        Filters(verdicts=frozenset({"maybe"}))


def test_review_filter():
    rows = [{"path": p, "shot": "s", "verdict": "pass", "score": 90.0, "key": p}
            for p in ("a", "b", "c")]
    rows = apply_reviews(rows, {"a": Review("accepted"), "b": Review(None, starred=True)})
    assert [r["path"] for r in filter_rows(rows, Filters(review=frozenset({"unreviewed"})))] == ["b", "c"]
    assert [r["path"] for r in filter_rows(rows, Filters(review=frozenset({"starred"})))] == ["b"]
    assert [r["path"] for r in filter_rows(rows, Filters(review=frozenset({"accepted"})))] == ["a"]


def test_sort_group_and_page():
    rows = [{"path": f"sh{i % 3 + 1}/t{i}.mp4", "shot": f"sh{[10, 2, 1][i % 3]}",
             "score": float(i * 7 % 100), "rank": None, "duration_s": 1.0,
             **{a: 0.0 for a in ARTIFACTS}} for i in range(12)]
    rows.append({"path": "bad.mp4", "shot": "sh1", "score": None, "rank": None,
                 "duration_s": None, **{a: None for a in ARTIFACTS}})
    best = sort_rows(rows, "score", descending=True)
    scores = [r["score"] for r in best]
    assert scores[-1] is None and scores[:-1] == sorted(scores[:-1], reverse=True)
    assert sort_rows(rows, "score")[-1]["path"] == "bad.mp4"  # missing last either way
    assert [s for s, _ in group_by_shot(best)] == ["sh1", "sh2", "sh10"]  # natural order
    page, pages = page_rows(best, 3, 5)
    assert pages == 3 and len(page) == 3
    assert page_rows([], 1, 25) == ([], 1)
    with pytest.raises(ValueError):
        sort_rows(rows, "colour")


def test_timeline_data_scales_signals_and_widens_events():
    t = np.arange(5, dtype=np.float32) / 24
    signals = {"t_s": t, "physics.jump": np.array([0, 1, 4, 2, np.nan], np.float32),
               "flicker.luma": np.full(5, np.nan, np.float32)}
    lines, spans = timeline_data(signals, [Event("physics", 1 / 12, 1 / 12, 0.5, "jump")])
    assert [round(x["value"], 3) for x in lines] == [0.0, 0.25, 1.0, 0.5]  # NaN dropped
    assert {x["signal"] for x in lines} == {"jump"}  # an all-NaN signal has nothing to show
    assert spans[0]["end_s"] > spans[0]["start_s"]


def test_take_detail(scanned_fixtures: Path):
    scan = open_scan(scanned_fixtures)
    with Store(scan.store_path, readonly=True) as s:
        d = take_detail(s, "hidden_cut/hidden_cut_0.mp4")
        assert d.events and "t_s" in d.signals and d.review == Review()
        with pytest.raises(QCError, match="no take"):
            take_detail(s, "nope.mp4")


def test_open_scan_without_a_scan_says_run_scan(tmp_path: Path):
    with pytest.raises(StoreError, match="run qc scan"):
        open_scan(tmp_path)


def test_resolve_inside_refuses_to_leave_the_folder(tmp_path: Path):
    root = tmp_path / "takes"
    (root / "s").mkdir(parents=True)
    (root / "s" / "t.mp4").write_bytes(b"x")
    secret = tmp_path / "secret.txt"
    secret.write_text("no")
    os.symlink(secret, root / "s" / "link.mp4")
    assert resolve_inside(root, "s/t.mp4") == (root / "s" / "t.mp4").resolve()
    for bad in ("../secret.txt", "s/../../secret.txt", str(secret), "s/link.mp4", "s/none.mp4"):
        with pytest.raises(QCError):
            resolve_inside(root, bad)


def test_streamlit_command_binds_to_loopback(tmp_path: Path):
    cmd = streamlit_command(tmp_path, port=9999)
    assert cmd[1:4] == ["-m", "streamlit", "run"] and cmd[4].endswith("app.py")
    assert Path(cmd[4]).is_file()
    assert cmd[cmd.index("--server.address") + 1] == "127.0.0.1"
    assert cmd[cmd.index("--server.port") + 1] == "9999"
    assert cmd[cmd.index("--") + 1] == str(tmp_path)


def test_ranking_at_700_takes_is_fast(tmp_path: Path):
    """A bench, not a timed assertion: prints how long the ranking takes at 700 takes."""
    db = tmp_path / "qc.db"
    synthetic_store(db, 700)
    t0 = time.perf_counter()
    with Store(db, readonly=True) as s:
        rows = ranking_rows(s)
    t1 = time.perf_counter()
    shown = sort_rows(filter_rows(apply_reviews(rows, {}), Filters(verdicts=frozenset({"fail", "review"}),
                                                                   score_range=(10.0, 90.0))),
                      "score", descending=True)
    page, pages = page_rows(group_by_shot(shown), 1, 25)
    t2 = time.perf_counter()
    assert len(rows) == 700 and pages >= 1
    print(f"\n700 takes: ranking query {1000 * (t1 - t0):.1f} ms,"
          f" filter+sort+group+page {1000 * (t2 - t1):.1f} ms")
