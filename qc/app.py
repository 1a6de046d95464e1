"""The review dashboard (Streamlit): layout only.

Data comes through the library (``qc.dashboard``, ``qc.review``, ``qc.thumbs``,
``qc.export``), cached here with Streamlit's caches.  This file is run by Streamlit as
a script and is never imported by the library, which stays free of Streamlit.

Open it with ``qc dashboard DIR``, or ``streamlit run app.py -- DIR [--store FILE]``;
tests point it at a folder with ``QC_DASHBOARD_ROOT`` (and ``QC_DASHBOARD_STORE``).
"""

from __future__ import annotations

import argparse
import base64
import math
import os
import sys
from pathlib import Path
from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

from qc.dashboard import (
    SORT_KEYS,
    VERDICTS,
    Filters,
    Scan,
    apply_reviews,
    filter_rows,
    group_by_shot,
    open_scan,
    page_rows,
    ranking_rows,
    resolve_inside,
    sort_rows,
    take_detail,
    timeline_data,
)
from qc.detectors.base import ARTIFACTS
from qc.errors import QCError
from qc.export import (
    build_timeline,
    link_selects,
    selects,
    selects_csv,
    write_selects_csv,
    write_timeline,
)
from qc.review import REVIEW_STATES, Review, load_reviews, review_key, save_review
from qc.store import Store
from qc.thumbs import face_crops, filmstrip, thumbnail

VIEWS = ("Ranking", "Take", "Compare", "Export")
ARTIFACT_COLORS = {"flicker": "#e6b800", "faces": "#d62728", "morphing": "#9467bd",
                   "physics": "#17becf"}
VERDICT_ICONS = {"pass": "● pass", "review": "◐ review", "fail": "○ fail", "error": "× error"}
REVIEW_ICONS = {"accepted": "✓ accepted", "rejected": "✗ rejected", "unreviewed": ""}


# -- where the data is -------------------------------------------------------------------
def _location() -> tuple[str | None, str | None]:
    """The folder (and store) to open: the environment, else the script's arguments."""
    if os.environ.get("QC_DASHBOARD_ROOT"):
        return os.environ["QC_DASHBOARD_ROOT"], os.environ.get("QC_DASHBOARD_STORE") or None
    p = argparse.ArgumentParser(prog="app.py", add_help=False)
    p.add_argument("root", nargs="?")
    p.add_argument("--store")
    args, _ = p.parse_known_args(sys.argv[1:])
    return args.root, args.store


# -- cached data access (plain functions; the page never mutates what they return) --------
@st.cache_data(max_entries=4, show_spinner=False)
def _rows(token: str, store_path: str) -> list[dict[str, Any]]:
    with Store(store_path, readonly=True) as store:
        return ranking_rows(store)


def _reviewed_rows(scan: Scan) -> list[dict[str, Any]]:
    with Store(scan.store_path, readonly=True) as store:  # one small query: never stale
        reviews = load_reviews(store)
    return apply_reviews(_rows(scan.token, str(scan.store_path)), reviews)


@st.cache_data(max_entries=64, show_spinner=False)
def _detail(token: str, store_path: str, path: str) -> dict[str, Any]:
    with Store(store_path, readonly=True) as store:
        d = take_detail(store, path)
    return {"take": d.take, "events": d.events, "signals": d.signals}


@st.cache_data(max_entries=2048, show_spinner=False)
def _data_uri(jpeg: str) -> str:
    return "data:image/jpeg;base64," + base64.b64encode(Path(jpeg).read_bytes()).decode()


def _thumb_uri(scan: Scan, row: dict[str, Any]) -> str | None:
    if row["status"] != "ok":
        return None
    try:
        file = resolve_inside(scan.root, row["path"])
        jpeg = thumbnail(file, scan.cache_dir, take_id=row["hash"] or row["path"],
                         duration_s=row["duration_s"])
    except QCError:
        return None
    return _data_uri(str(jpeg)) if jpeg else None


# -- small pieces ------------------------------------------------------------------------
def _filters() -> Filters:
    s = st.session_state
    review = set(s.get("f_review", []))
    if s.get("f_unreviewed"):
        review = {"unreviewed"}
    return Filters(
        verdicts=frozenset(s.get("f_verdict", [])),
        artifacts=frozenset(s.get("f_artifact", [])),
        shots=frozenset(s.get("f_shot", [])),
        score_range=tuple(float(x) for x in s.get("f_score", (0.0, 100.0))),  # type: ignore[arg-type]
        review=frozenset(review),
        text=s.get("f_text", ""),
    )


def _open_take(path: str, start_s: float = 0.0) -> None:
    st.session_state["take"] = path
    st.session_state["start_s"] = start_s
    st.session_state["view"] = "Take"


def _seek(start_s: float) -> None:
    st.session_state["start_s"] = start_s


def _on_table_select() -> None:
    sel = st.session_state.get("ranking_table")
    rows = st.session_state.get("_page_paths", [])
    try:
        picked = sel["selection"]["rows"]  # type: ignore[index]
    except (KeyError, TypeError):
        return
    if picked and picked[0] < len(rows):
        _open_take(rows[picked[0]])


def _save_review(scan: Scan, path: str, **change: Any) -> None:
    with Store(scan.store_path) as store:
        take = store.get(path)
        if take is None:
            return
        rv = load_reviews(store).get(review_key(take.hash, take.path), Review())
        fields = {"decision": rv.decision, "starred": rv.starred, "note": rv.note, **change}
        save_review(store, take, **fields)


def _label(row: dict[str, Any]) -> str:
    if row["status"] != "ok":
        return f"  –  error   {row['path']}"
    return f"#{row['rank']}  {row['score']:.0f}  {row['verdict']}   {row['path']}"


# -- views -------------------------------------------------------------------------------
def _sidebar(scan: Scan, rows: list[dict[str, Any]]) -> None:
    sb = st.sidebar
    sb.markdown(f"**{scan.root.name}** · {len(rows)} takes")
    sb.caption(f"last scan {scan.run.get('finished', '?')} · {scan.root}")
    sb.radio("View", VIEWS, key="view", horizontal=True)
    sb.subheader("Filter")
    sb.multiselect("Verdict", VERDICTS, key="f_verdict")
    sb.multiselect("Artifact", ARTIFACTS, key="f_artifact",
                   help="takes where this artifact has at least one event")
    sb.multiselect("Shot", sorted({r["shot"] for r in rows}), key="f_shot")
    sb.slider("Score", 0.0, 100.0, (0.0, 100.0), step=1.0, key="f_score")
    sb.multiselect("Review", REVIEW_STATES, key="f_review")
    sb.toggle("Only unreviewed", key="f_unreviewed")
    sb.text_input("Search path, label or note", key="f_text")
    sb.subheader("Order")
    sb.selectbox("Sort by", SORT_KEYS, key="sort_by")
    sb.toggle("Descending", key="sort_desc")
    sb.toggle("Group by shot", key="group_shot", value=False)
    sb.selectbox("Takes per page", (25, 50, 100), key="per_page")
    sb.toggle("Thumbnails", key="thumbs", value=True)


def _ordered(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    s = st.session_state
    out = sort_rows(rows, s.get("sort_by", "rank"), descending=s.get("sort_desc", False))
    if s.get("group_shot"):
        out = [r for _, group in group_by_shot(out) for r in group]
    return out


def _ranking(scan: Scan, rows: list[dict[str, Any]]) -> None:
    shown = _ordered(filter_rows(rows, _filters()))
    counts = {v: sum(r["verdict"] == v for r in shown) for v in VERDICTS}
    todo = sum(r["review"] == "unreviewed" for r in shown)
    st.markdown(f"**{len(shown)}** of {len(rows)} takes · "
                + " · ".join(f"{n} {v}" for v, n in counts.items() if n)
                + f" · {todo} unreviewed")
    per_page = int(st.session_state.get("per_page", 25))
    pages = max(1, -(-len(shown) // per_page))
    if st.session_state.get("page", 1) > pages:  # the filters left fewer pages
        st.session_state["page"] = pages
    page = st.number_input(f"Page (1-{pages})", 1, pages, 1, key="page") if pages > 1 else 1
    page_rows_, _ = page_rows(shown, int(page), per_page)
    st.session_state["_page_paths"] = [r["path"] for r in page_rows_]
    with_thumbs = st.session_state.get("thumbs", True)
    if with_thumbs and page_rows_:
        with st.spinner("extracting thumbnails (once; cached in .qc/cache)"):
            thumbs = [_thumb_uri(scan, r) for r in page_rows_]
    else:
        thumbs = [None] * len(page_rows_)
    table = pd.DataFrame([{
        "thumb": th,
        "path": r["path"],
        "shot": r["shot"],
        "best": "★ best" if r["best_in_shot"] else "",
        "rank": r["rank"],
        "score": r["score"],
        "verdict": VERDICT_ICONS.get(r["verdict"], r["verdict"]),
        "severities": [round(r[a] or 0.0, 3) for a in ARTIFACTS] if r["status"] == "ok" else [],
        "duration_s": r["duration_s"],
        "worst": (f"{r['worst_label']} @ {r['worst_s']:.2f}s" if r["worst_s"] is not None
                  else (r["error"] or "")),
        "review": REVIEW_ICONS.get(r["review"], "") + (" ★" if r["starred"] else ""),
    } for r, th in zip(page_rows_, thumbs)])
    if table.empty:
        st.info("No take matches the filters.")
        return
    st.dataframe(
        table, key="ranking_table", on_select=_on_table_select, selection_mode="single-row",
        hide_index=True, width="stretch", row_height=64 if with_thumbs else 35,
        height=38 + len(table) * (64 if with_thumbs else 35),
        column_order=[c for c in table.columns if with_thumbs or c != "thumb"],
        column_config={
            "thumb": st.column_config.ImageColumn("", width="small"),
            "path": st.column_config.TextColumn("take", width="medium"),
            "best": st.column_config.TextColumn("best", help="the best take of its shot"),
            "score": st.column_config.ProgressColumn("score", min_value=0, max_value=100,
                                                     format="%.0f"),
            "severities": st.column_config.BarChartColumn(
                "flicker·faces·morph·phys", y_min=0.0, y_max=1.0,
                help="the four severities, 0-1: flicker, faces, morphing, physics"),
            "duration_s": st.column_config.NumberColumn("length", format="%.1f s"),
        },
    )
    st.caption("Click a row to open the take. ★ marks the best take of each shot.")


def _timeline_chart(detail: dict[str, Any], artifacts: list[str], start_s: float | None,
                    height: int = 220) -> alt.Chart | None:
    lines, spans = timeline_data(detail["signals"], detail["events"], artifacts=artifacts)
    if not lines:
        return None
    base_x = alt.X("t_s:Q", title="seconds")
    layers = []
    if spans:
        layers.append(alt.Chart(pd.DataFrame(spans)).mark_rect(opacity=0.25).encode(
            x=alt.X("start_s:Q", title="seconds"), x2="end_s:Q",
            color=alt.Color("artifact:N", scale=alt.Scale(domain=list(ARTIFACT_COLORS),
                                                           range=list(ARTIFACT_COLORS.values())),
                            legend=alt.Legend(title="event")),
            tooltip=["artifact", "label", "severity", "start_s", "end_s"]))
    layers.append(alt.Chart(pd.DataFrame(lines)).mark_line(strokeWidth=1.2).encode(
        x=base_x, y=alt.Y("value:Q", title="signal (scaled 0-1)"),
        strokeDash=alt.StrokeDash("artifact:N", legend=None),
        detail="signal:N",
        tooltip=["artifact", "signal", "t_s", alt.Tooltip("raw:Q", format=".4f")],
    ).encode(stroke=alt.Stroke("signal:N", legend=alt.Legend(title="signal"))))
    if start_s is not None:
        layers.append(alt.Chart(pd.DataFrame([{"t_s": start_s}])).mark_rule(
            color="black", strokeDash=[4, 3]).encode(x="t_s:Q"))
    return alt.layer(*layers).resolve_scale(color="independent").properties(height=height)


def _player(scan: Scan, path: str, start_s: float, key: str) -> None:
    try:
        file = resolve_inside(scan.root, path)
    except QCError as exc:
        st.error(str(exc))
        return
    if file.suffix.lower() == ".gif":
        st.image(str(file))
    else:
        # Streamlit starts a video at a whole second: the filmstrip shows the exact frames
        st.video(str(file), start_time=int(start_s), muted=True)


def _review_controls(scan: Scan, row: dict[str, Any], rows: list[dict[str, Any]]) -> None:
    path = row["path"]
    bar = st.container(horizontal=True, gap="small")
    cols = [bar] * 6
    cols[0].button("Accept", key="rv_accept", shortcut="A", type="primary",
                   help="accept this take (key A)", on_click=_save_review,
                   args=(scan, path), kwargs={"decision": "accepted"})
    cols[1].button("Reject", key="rv_reject", shortcut="X", help="reject this take (key X)",
                   on_click=_save_review, args=(scan, path), kwargs={"decision": "rejected"})
    cols[2].button("☆ Unstar" if row["starred"] else "★ Star", key="rv_star", shortcut="S",
                   help="star or unstar (key S)", on_click=_save_review, args=(scan, path),
                   kwargs={"starred": not row["starred"]})
    cols[3].button("Undecide", key="rv_clear", shortcut="U", help="clear the decision (key U)",
                   on_click=_save_review, args=(scan, path), kwargs={"decision": None})
    paths = st.session_state.get("_nav_paths") or [r["path"] for r in rows]
    i = paths.index(path) if path in paths else -1
    cols[4].button("◀ Prev", key="nav_prev", shortcut="K", disabled=i <= 0,
                   help="previous take in the ranking (key K)", on_click=_open_take,
                   args=(paths[i - 1] if i > 0 else path,))
    cols[5].button("Next ▶", key="nav_next", shortcut="J", disabled=i < 0 or i >= len(paths) - 1,
                   help="next take in the ranking (key J)", on_click=_open_take,
                   args=(paths[i + 1] if 0 <= i < len(paths) - 1 else path,))
    with st.form("note_form", clear_on_submit=False, border=False):
        note = st.text_area("Note", value=row["note"], key=f"note_{row['key']}", height=68,
                            placeholder="what to tell the editor about this take")
        if st.form_submit_button("Save note (Ctrl+Enter)"):
            _save_review(scan, path, note=note)
            st.rerun()


def _pictures(scan: Scan, row: dict[str, Any], events: list[Any]) -> None:
    """Frames around each event and face crops across face events (cached files)."""
    file = resolve_inside(scan.root, row["path"])
    take_id = row["hash"] or row["path"]
    if events:
        st.markdown("**Frames around each event**")
        for ev in events[:8]:
            strip = filmstrip(file, scan.cache_dir, take_id=take_id, t_s=ev.start_s,
                              fps=row["fps"], duration_s=row["duration_s"])
            st.caption(f"{ev.artifact}: {ev.label} at {ev.start_s:.2f}s")
            imgs = [(t, p) for t, p in strip if p is not None]
            st.image([str(p) for _, p in imgs],
                     caption=[("▶ " if abs(t - ev.start_s) < 1e-3 else "") + f"{t:.2f}s"
                              for t, _ in imgs], width=160)
    face_events = [e for e in events if e.artifact == "faces"]
    if face_events:
        st.markdown("**Faces across each face event** (empty: no face found)")
        for ev in face_events[:4]:
            with st.spinner("finding faces (once; cached)"):
                crops = face_crops(file, scan.cache_dir, take_id=take_id, start_s=ev.start_s,
                                   end_s=ev.end_s, duration_s=row["duration_s"])
            st.caption(f"{ev.label} at {ev.start_s:.2f}s")
            cols = st.columns(len(crops))
            for col, (t, p) in zip(cols, crops):
                if p is None:
                    col.markdown(f"*no face*  \n{t:.2f}s")
                else:
                    col.image(str(p), caption=f"{t:.2f}s")


def _take(scan: Scan, rows: list[dict[str, Any]]) -> None:
    by_path = {r["path"]: r for r in rows}
    ordered = _ordered(filter_rows(rows, _filters())) or _ordered(rows)
    st.session_state["_nav_paths"] = [r["path"] for r in ordered]
    options = [r["path"] for r in ordered]
    if st.session_state.get("take") not in by_path:
        st.session_state["take"] = options[0] if options else None
    if st.session_state["take"] not in options:
        options = [st.session_state["take"], *options]
    path = st.selectbox("Take", options, key="take", format_func=lambda p: _label(by_path[p]),
                        on_change=_seek, args=(0.0,))
    if path is None:
        st.info("No takes in this scan.")
        return
    row = by_path[path]
    head = f"### {path}"
    if row["status"] == "ok":
        head += f"  ·  {row['score']:.1f}  ·  {VERDICT_ICONS[row['verdict']]}  ·  shot {row['shot']}"
        head += "  ·  ★ best of its shot" if row["best_in_shot"] else ""
    st.markdown(head)
    if row["status"] != "ok":
        _review_controls(scan, row, rows)
        st.error(f"this take could not be scanned: {row['error']}")
        return
    detail = _detail(scan.token, str(scan.store_path), path)
    events = detail["events"]
    start_s = float(st.session_state.get("start_s", 0.0))
    left, right = st.columns([3, 2])
    with left:
        _player(scan, path, start_s, key="player")
        st.caption(f"playing from {int(start_s)} s (Streamlit starts at whole seconds);"
                   f" chosen time {start_s:.2f} s")
    with right:
        st.markdown(f"**Review** · {REVIEW_ICONS.get(row['review']) or 'unreviewed'}"
                    + (" · ★ starred" if row["starred"] else ""))
        _review_controls(scan, row, rows)
        st.markdown("**Events** (click to play from there)")
        st.button("▶ from the start", key="ev_start", on_click=_seek, args=(0.0,))
        for i, ev in enumerate(events):
            label = f"▶ {ev.start_s:.2f}s  {ev.artifact}: {ev.label} ({ev.severity:.2f})"
            st.button(label, key=f"ev_{i}", on_click=_seek, args=(ev.start_s,))
        if not events:
            st.caption("no events: nothing was flagged")
    st.markdown("**Timeline** — per-frame signals, events shaded")
    default = sorted({e.artifact for e in events}) or list(ARTIFACTS)
    arts = st.multiselect("Signals of", ARTIFACTS, default=default, key=f"tl_{row['key']}")
    chart = _timeline_chart(detail, arts or list(ARTIFACTS), start_s)
    if chart is not None:
        st.altair_chart(chart, width="stretch", key="timeline_chart")
    try:
        _pictures(scan, row, events)
    except (QCError, OSError) as exc:  # moved or deleted since the scan, unreadable cache
        st.warning(f"no pictures of this take: {exc}")
    with st.expander("Media facts and the configuration that scored it"):
        take = detail["take"]
        st.json({"media": take.media, "hash": take.hash, "size": take.size,
                 "severities": take.severities, "score": take.score, "rank": take.rank})
        st.json(scan.run.get("config", {}), expanded=False)


def _compare(scan: Scan, rows: list[dict[str, Any]]) -> None:
    shots = [s for s, g in group_by_shot(rows) if len(g) >= 1]
    current = next((r["shot"] for r in rows if r["path"] == st.session_state.get("take")), None)
    shot = st.selectbox("Shot", shots, key="cmp_shot",
                        index=shots.index(current) if current in shots else 0)
    takes = sort_rows([r for r in rows if r["shot"] == shot and r["status"] == "ok"], "rank")
    picked = st.multiselect("Takes", [r["path"] for r in takes], key=f"cmp_takes_{shot}",
                            default=[r["path"] for r in takes[:3]])
    if len(picked) < 2:
        st.info("Pick two or more takes of the shot to compare them.")
    by_path = {r["path"]: r for r in rows}
    cols = st.columns(max(1, len(picked)))
    for col, path in zip(cols, picked):
        r = by_path[path]
        with col:
            st.markdown(f"**{path}**  \n{r['score']:.1f} · {VERDICT_ICONS[r['verdict']]}"
                        + (" · ★ best" if r["best_in_shot"] else "")
                        + (f" · {REVIEW_ICONS[r['review']]}" if r["review"] != "unreviewed" else ""))
            _player(scan, path, 0.0, key=f"cmp_{path}")
            detail = _detail(scan.token, str(scan.store_path), path)
            chart = _timeline_chart(detail, list(ARTIFACTS), None, height=160)
            if chart is not None:
                st.altair_chart(chart, width="stretch", key=f"cmp_chart_{path}")
            st.button("Open", key=f"cmp_open_{path}", on_click=_open_take, args=(path,))


def _export(scan: Scan, rows: list[dict[str, Any]]) -> None:
    chosen = selects(rows)
    st.markdown(f"**{len(chosen)} accepted takes** in shot order (accept takes in the Take view).")
    if chosen:
        st.dataframe(pd.DataFrame([{k: r[k] for k in ("shot", "path", "rank", "score", "note")}
                                   for r in chosen]), hide_index=True, width="stretch")
    out_dir = scan.root / ".qc" / "selects"
    st.caption(f"Files are written to {out_dir}")
    c1, c2, c3, c4 = st.columns(4)
    written: list[str] = []
    try:
        if c1.button("CSV", key="ex_csv", disabled=not chosen):
            written.append(str(write_selects_csv(chosen, out_dir / "selects.csv")))
        if c2.button("Links folder", key="ex_links", disabled=not chosen):
            link_selects(scan.root, chosen, out_dir / "links")
            written.append(str(out_dir / "links"))
        if c3.button("Copies folder", key="ex_copies", disabled=not chosen):
            link_selects(scan.root, chosen, out_dir / "copies", copy=True)
            written.append(str(out_dir / "copies"))
        if c4.button("Timeline (FCP XML + EDL)", key="ex_timeline", disabled=not chosen):
            with Store(scan.store_path, readonly=True) as store:
                events = {r["path"]: store.events(r["id"]) for r in chosen}
            tl = build_timeline(scan.root, chosen, events, name=f"qc selects {scan.root.name}")
            written.append(str(write_timeline(tl, out_dir / "selects.xml")))
            written.append(str(write_timeline(tl, out_dir / "selects.edl")))
    except (QCError, OSError) as exc:
        st.error(f"export failed: {exc}")
    for w in written:
        st.success(f"written: {w}")
    if chosen:
        st.download_button("Download the CSV", selects_csv(chosen), file_name="selects.csv",
                           mime="text/csv", key="ex_download")


def _from_link(rows: list[dict[str, Any]]) -> None:
    """Open what a link names, once per session: ``?take=shot/t1.mp4&t=1.5&view=Take``.

    Only takes of the store can be named, so a link reaches no other file.
    """
    if st.session_state.get("_link_done"):
        return
    st.session_state["_link_done"] = True
    qp = st.query_params
    by_path = {r["path"]: r for r in rows}
    if qp.get("take") in by_path:
        try:
            start = float(qp.get("t", 0.0))
        except ValueError:
            start = 0.0
        # a time within the take: not negative, not NaN, not past its end (1e308)
        end = by_path[qp["take"]].get("duration_s") or 0.0
        start = min(max(0.0, start), end) if math.isfinite(start) else 0.0
        _open_take(qp["take"], start)
    elif qp.get("view") in VIEWS:
        st.session_state["view"] = qp["view"]


def main() -> None:
    """Lay out the dashboard for the folder given on the command line or in the environment."""
    st.set_page_config(page_title="qc review", page_icon="🎬", layout="wide")
    root, store = _location()
    if not root:
        st.error("No folder given: run `qc dashboard DIR` (or `streamlit run app.py -- DIR`).")
        return
    try:
        scan = open_scan(root, store)
    except QCError as exc:
        st.error(str(exc))
        return
    rows = _reviewed_rows(scan)
    _from_link(rows)
    st.session_state.setdefault("view", "Ranking")
    _sidebar(scan, rows)
    view = st.session_state["view"]
    st.title("qc review" if view == "Ranking" else f"qc review · {view.lower()}")
    if view == "Ranking":
        _ranking(scan, rows)
    elif view == "Take":
        _take(scan, rows)
    elif view == "Compare":
        _compare(scan, rows)
    else:
        _export(scan, rows)


if __name__ == "__main__":
    main()
