"""The Streamlit app, driven headless by ``streamlit.testing.v1.AppTest``."""

from __future__ import annotations

from pathlib import Path

import opentimelineio as otio
from streamlit.testing.v1 import AppTest

APP = Path(__file__).resolve().parents[1] / "app.py"


def _app(root: Path, monkeypatch) -> AppTest:
    monkeypatch.setenv("QC_DASHBOARD_ROOT", str(root))
    monkeypatch.delenv("QC_DASHBOARD_STORE", raising=False)
    return AppTest.from_file(str(APP), default_timeout=90).run()


def _table(at: AppTest):
    assert not at.exception, at.exception
    return at.dataframe(key="ranking_table").value if len(at.dataframe) else None


def _open(at: AppTest, path: str) -> AppTest:
    at.sidebar.radio(key="view").set_value("Take").run()
    at.selectbox(key="take").set_value(path).run()
    assert not at.exception, at.exception
    return at


def test_opens_on_a_fixture_scan(scanned_copy: Path, monkeypatch):
    at = _app(scanned_copy, monkeypatch)
    table = _table(at)
    assert len(table) == 10
    assert list(table["rank"]) == list(range(1, 11))
    assert table["thumb"].str.startswith("data:image/jpeg;base64,").all()
    assert (table["best"] == "★ best").sum() == 8  # ten takes in eight shots
    assert any("10** of 10 takes" in m.value for m in at.markdown)
    assert (scanned_copy / ".qc" / "cache").is_dir()  # thumbnails kept for next time


def test_filters_narrow_the_table(scanned_copy: Path, monkeypatch):
    at = _app(scanned_copy, monkeypatch)
    everything = len(_table(at))
    at.sidebar.multiselect(key="f_verdict").set_value(["fail"]).run()
    fails = _table(at)
    assert 0 < len(fails) < everything and fails["verdict"].str.contains("fail").all()
    at.sidebar.multiselect(key="f_shot").set_value(["face"]).run()
    assert set(_table(at)["path"]) <= {"face_jitter/face_jitter_0.mp4", "face_swap/face_swap_0.mp4"}
    at.sidebar.multiselect(key="f_verdict").set_value([]).run()
    at.sidebar.multiselect(key="f_shot").set_value([]).run()
    at.sidebar.slider(key="f_score").set_value((90.0, 100.0)).run()
    assert (_table(at)["score"] >= 90).all()
    at.sidebar.slider(key="f_score").set_value((0.0, 100.0)).run()
    at.sidebar.multiselect(key="f_artifact").set_value(["physics"]).run()
    assert 0 < len(_table(at)) < everything


def test_review_persists_across_a_new_session(scanned_copy: Path, monkeypatch):
    at = _open(_app(scanned_copy, monkeypatch), "face_swap/face_swap_0.mp4")
    at.button(key="rv_accept").click().run()
    at.button(key="rv_star").click().run()
    at.text_area(key=next(t.key for t in at.text_area if t.key.startswith("note_"))).input(
        "keep: the cleanest face")
    at.button(key="FormSubmitter:note_form-Save note (Ctrl+Enter)").click().run()
    assert not at.exception, at.exception

    again = _app(scanned_copy, monkeypatch)  # a new session: a restart of the dashboard
    table = _table(again)
    row = table[table["path"] == "face_swap/face_swap_0.mp4"].iloc[0]
    assert row["review"] == "✓ accepted ★"
    again.sidebar.toggle(key="f_unreviewed").set_value(True).run()
    assert "face_swap/face_swap_0.mp4" not in set(_table(again)["path"])
    assert len(_table(again)) == 9
    again.sidebar.toggle(key="f_unreviewed").set_value(False).run()
    _open(again, "face_swap/face_swap_0.mp4")
    assert any("✓ accepted" in m.value and "starred" in m.value for m in again.markdown)
    note = next(t for t in again.text_area if t.key.startswith("note_"))
    assert note.value == "keep: the cleanest face"


def test_a_take_shows_events_timeline_frames_and_faces(scanned_copy: Path, monkeypatch):
    # fixtures/truth.json: the face is swapped over 1.04-1.46 s
    at = _open(_app(scanned_copy, monkeypatch), "face_swap/face_swap_0.mp4")
    events = [b for b in at.button if b.key.startswith("ev_") and b.key != "ev_start"]
    swap = next(b for b in events if "identity change" in b.label)
    swap.click().run()
    start = at.session_state["start_s"]
    assert 1.04 - 0.1 <= start <= 1.46  # within the swap (faces looks at one frame in three)
    assert any(f"chosen time {start:.1f}" in c.value for c in at.caption)
    md = " ".join(m.value for m in at.markdown)
    assert "Timeline" in md and "Frames around each event" in md and "Faces across" in md
    assert len(at.get("vega_lite_chart")) == 1
    assert len(at.get("image")) >= 3  # two filmstrips and the face crops
    assert len(at.get("video")) == 1


def test_compare_two_takes_of_a_shot(scanned_copy: Path, monkeypatch):
    at = _app(scanned_copy, monkeypatch)
    at.sidebar.radio(key="view").set_value("Compare").run()
    at.selectbox(key="cmp_shot").set_value("face").run()
    assert not at.exception, at.exception
    assert len(at.get("video")) == 2 and len(at.get("vega_lite_chart")) == 2


def test_export_files_are_valid(scanned_copy: Path, monkeypatch):
    at = _app(scanned_copy, monkeypatch)
    # two takes with events (markers), in two shots listed in the other order
    for path in ("hidden_cut/hidden_cut_0.mp4", "face_swap/face_swap_0.mp4"):
        _open(at, path).button(key="rv_accept").click().run()
    at.sidebar.radio(key="view").set_value("Export").run()
    for key in ("ex_csv", "ex_links", "ex_timeline"):
        at.button(key=key).click().run()
        assert not at.exception, at.exception
    out = scanned_copy / ".qc" / "selects"
    assert (out / "selects.csv").read_text().count("\n") == 3
    assert sorted(p.name for p in (out / "links").iterdir()) == [
        "001_face_face_swap_0.mp4", "002_hidden_hidden_cut_0.mp4"]
    for name, adapter in (("selects.xml", "fcp_xml"), ("selects.edl", "cmx_3600")):
        tl = otio.adapters.read_from_file(str(out / name), adapter_name=adapter,
                                          **({"rate": 24} if adapter == "cmx_3600" else {}))
        clips = list(tl.find_clips())
        assert [c.name for c in clips] == ["face_swap_0.mp4", "hidden_cut_0.mp4"], name
        assert all(len(c.markers) >= 1 for c in clips), name


def test_without_a_scan_the_app_says_what_to_do(tmp_path: Path, monkeypatch):
    at = _app(tmp_path, monkeypatch)
    assert not at.exception
    assert "run qc scan" in at.error[0].value


def test_opens_at_700_takes(tmp_path: Path, monkeypatch):
    """A bench, not a timed assertion: how long the first and a later run take at 700
    takes (no video files here, so no thumbnails: this times the data path)."""
    import time

    from conftest import synthetic_store

    root = tmp_path / "takes"
    synthetic_store(root / ".qc" / "qc.db", 700)
    t0 = time.perf_counter()
    at = _app(root, monkeypatch)
    t1 = time.perf_counter()
    at.sidebar.multiselect(key="f_verdict").set_value(["fail", "review"]).run()
    t2 = time.perf_counter()
    assert len(_table(at)) == 25  # one page
    assert any("of 700 takes" in m.value for m in at.markdown)
    print(f"\n700 takes: first run {t1 - t0:.2f} s, a filter change {t2 - t1:.2f} s")


def test_a_take_deleted_since_the_scan(scanned_copy: Path, monkeypatch):
    (scanned_copy / "flash" / "flash_0.mp4").unlink()
    at = _open(_app(scanned_copy, monkeypatch), "flash/flash_0.mp4")
    assert not at.exception, at.exception
    assert any("not a file of the scanned folder" in e.value for e in at.error)
    assert any("no pictures" in w.value for w in at.warning)


def test_pages_follow_the_filters(tmp_path: Path, monkeypatch):
    from conftest import synthetic_store

    root = tmp_path / "takes"
    synthetic_store(root / ".qc" / "qc.db", 120)
    at = _app(root, monkeypatch)
    at.number_input(key="page").set_value(5).run()
    assert len(_table(at)) == 120 - 4 * 25
    # on page 5, a filter leaves 60 takes (3 pages): the last page shows
    at.sidebar.multiselect(key="f_shot").set_value([f"sh{i:03d}" for i in range(20)]).run()
    assert not at.exception, at.exception
    assert len(_table(at)) == 60 - 2 * 25
    at.sidebar.multiselect(key="f_shot").set_value(["sh001", "sh002"]).run()  # 6: one page
    assert not at.exception and len(_table(at)) == 6
