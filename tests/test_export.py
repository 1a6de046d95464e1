"""Exporting the selects: CSV, a links (or copies) folder, and an editorial timeline that
OpenTimelineIO reads back, clips and markers intact, from FCP 7 XML and CMX 3600 EDL."""

from __future__ import annotations

import csv
from pathlib import Path

import opentimelineio as otio
import pytest

from qc.dashboard import apply_reviews, open_scan, ranking_rows
from qc.errors import QCError
from qc.export import build_timeline, link_selects, selects, write_selects_csv, write_timeline
from qc.review import load_reviews, save_review
from qc.store import Store

ACCEPTED = ("hidden_cut/hidden_cut_0.mp4", "face_swap/face_swap_0.mp4", "clean/clean_0.mp4")


@pytest.fixture
def chosen(scanned_copy: Path):
    """Three accepted takes (one rejected) and their events."""
    scan = open_scan(scanned_copy)
    with Store(scan.store_path) as s:
        for path in ACCEPTED:
            save_review(s, s.get(path), decision="accepted", note=f"ok {path}")
        save_review(s, s.get("flash/flash_0.mp4"), decision="rejected")
        rows = apply_reviews(ranking_rows(s), load_reviews(s))
        picked = selects(rows)
        events = {r["path"]: s.events(r["id"]) for r in picked}
    return scan, picked, events


def test_selects_are_the_accepted_takes_in_shot_order(chosen):
    _, picked, _ = chosen
    assert [r["path"] for r in picked] == [
        "clean/clean_0.mp4", "face_swap/face_swap_0.mp4", "hidden_cut/hidden_cut_0.mp4"]


def test_csv(chosen, tmp_path: Path):
    _, picked, _ = chosen
    out = write_selects_csv(picked, tmp_path / "selects.csv")
    with out.open() as fh:
        rows = list(csv.DictReader(fh))
    assert [r["path"] for r in rows] == [r["path"] for r in picked]
    assert rows[0]["order"] == "1" and rows[1]["note"] == "ok face_swap/face_swap_0.mp4"


@pytest.mark.parametrize("copy", [False, True])
def test_links_or_copies_folder(chosen, tmp_path: Path, copy: bool):
    scan, picked, _ = chosen
    dest = tmp_path / "selects"
    (dest / "keep.txt").parent.mkdir()
    (dest / "keep.txt").write_text("mine")
    made = link_selects(scan.root, picked, dest, copy=copy)
    made = link_selects(scan.root, picked, dest, copy=copy)  # again: replaced, not doubled
    assert [p.name for p in made] == ["001_clean_clean_0.mp4", "002_face_face_swap_0.mp4",
                                      "003_hidden_hidden_cut_0.mp4"]
    assert sorted(p.name for p in dest.iterdir()) == sorted([*(p.name for p in made), "keep.txt"])
    for p, r in zip(made, picked):
        assert p.is_symlink() is not copy
        assert p.read_bytes() == (scan.root / r["path"]).read_bytes()


def test_timeline_reads_back_from_fcp_xml_and_edl(chosen, tmp_path: Path):
    scan, picked, events = chosen
    tl = build_timeline(scan.root, picked, events)
    n_markers = [len(events[r["path"]]) for r in picked]
    assert n_markers[1] >= 1 and n_markers[2] >= 1  # the face swap and the hidden cut
    for fmt, suffix in (("fcp_xml", ".xml"), ("cmx_3600", ".edl")):
        out = write_timeline(tl, tmp_path / f"selects{suffix}")
        back = otio.adapters.read_from_file(str(out), adapter_name=fmt, **(
            {"rate": 24} if fmt == "cmx_3600" else {}))
        clips = list(back.find_clips())
        assert [c.name for c in clips] == [Path(r["path"]).name for r in picked], fmt
        for c, r in zip(clips, picked):
            assert c.media_reference.target_url == (scan.root / r["path"]).resolve().as_uri()
            assert c.source_range.duration.to_seconds() == pytest.approx(r["duration_s"], abs=0.05)
            assert len(c.markers) == len(events[r["path"]]), (fmt, r["path"])
            for m, ev in zip(sorted(c.markers, key=lambda m: m.marked_range.start_time.value),
                             sorted(events[r["path"]], key=lambda e: e.start_s)):
                assert m.marked_range.start_time.to_seconds() == pytest.approx(ev.start_s, abs=0.05)
                assert ev.label.lower() in m.name.lower()


def test_timeline_format_is_checked(chosen, tmp_path: Path):
    scan, picked, events = chosen
    with pytest.raises(QCError, match="unknown timeline format"):
        write_timeline(build_timeline(scan.root, picked, events), tmp_path / "x.aaf")
