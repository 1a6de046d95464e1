"""The dashboard's edges: loopback only, no file outside the scanned folder, no pickles.

Hostile inputs arrive three ways: paths handed to ``resolve_inside`` (the one door to
files), take names in the store and query parameters of the app's URL, and raw HTTP
requests to a real server.  A secret file beside the scanned folder must never be read
or served.  Each test prints what it tried.
"""

from __future__ import annotations

import ast
import http.client
import os
import pickle
import re
import socket
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from conftest import moving_square, write_video
from qc.batch import rescore
from qc.config import Config
from qc.dashboard import resolve_inside
from qc.errors import QCError
from qc.store import Store, default_store_path

REPO = Path(__file__).resolve().parents[1]
APP = REPO / "app.py"
SECRET = b"QC-SECRET-7f3a9c"


def _outside(tmp: Path, root: Path) -> Path:
    """A secret file beside the scanned folder, and ways into it from inside."""
    secret = tmp / "secret.txt"
    secret.write_bytes(SECRET + b"\n")
    (root / "s").mkdir(exist_ok=True)
    os.symlink(secret, root / "s" / "link_out.mp4")
    os.symlink(tmp, root / "s" / "dir_out")
    return secret


def test_resolve_inside_refuses_every_way_out(tmp_path: Path):
    root = tmp_path / "takes"
    root.mkdir()
    secret = _outside(tmp_path, root)
    write_video(root / "s" / "ok.mp4", moving_square(4))
    hostile = [
        "../secret.txt", "s/../../secret.txt", "./../secret.txt", str(secret), "/etc/passwd",
        "s/link_out.mp4", "s/dir_out/secret.txt", "%2e%2e/secret.txt", "..%2fsecret.txt",
        "s\\..\\..\\secret.txt", "s/ok.mp4\x00.txt", "", ".", "s", "~/secret.txt",
        "file:///etc/passwd", "s/" + "x" * 5000 + ".mp4", "\\xff/../secret.txt",
        "s/ok.mp4/..", "//etc/passwd",
    ]
    rows = []
    for rel in hostile:
        try:
            got = resolve_inside(root, rel)
        except QCError as exc:
            rows.append((rel, f"REFUSED  {str(exc).removeprefix('refused: ')[:70]}"))
            continue
        rows.append((rel, f"SERVED {got}"))
    print(f"\nresolve_inside({root.name}, ...) on {len(hostile)} hostile paths:")
    for rel, what in rows:
        print(f"  {rel[:40]!r:44} {what}")
    assert all(what.startswith("REFUSED") for _, what in rows)
    assert resolve_inside(root, "s/ok.mp4") == (root / "s" / "ok.mp4").resolve()


def _hostile_store(root: Path, secret: Path) -> list[str]:
    """Add takes whose stored names lead out of the folder (a tampered store, or links)."""
    names = ["../secret.mp4", "s/link_out.mp4", "s/dir_out/secret.mp4", str(secret)]
    write_video(secret.parent / "secret.mp4", moving_square(24))  # would play if reached
    with Store(default_store_path(root)) as store:
        run = store.last_run()["id"]
        for i, name in enumerate(names):
            store.save_take(path=name, shot="evil", content_hash=f"evil{i}", size=1, mtime_ns=1,
                            analysis_key="k", status="ok", error=None,
                            media={"duration_s": 1.0, "fps": 24.0, "frames": 24, "width": 128,
                                   "height": 72, "codec": "h264"},
                            events=[], signals={"t_s": np.arange(24, dtype=np.float32) / 24},
                            run_id=run)
        rescore(store, Config())
    return names


def _app(root: Path, monkeypatch, **query: str) -> AppTest:
    monkeypatch.setenv("QC_DASHBOARD_ROOT", str(root))
    monkeypatch.delenv("QC_DASHBOARD_STORE", raising=False)
    at = AppTest.from_file(str(APP), default_timeout=90)
    at.query_params.update(query)
    return at.run()


def _served_files(at: AppTest) -> list[str]:
    """What the page would show of the file system: videos and images it registered."""
    out = []
    for el in at.get("video") + at.get("imgs"):
        proto = getattr(el, "proto", None)
        out.append(str(getattr(proto, "url", "")) or repr(el))
    return out


def test_take_names_in_the_store_cannot_reach_outside(scanned_copy: Path, monkeypatch):
    secret = _outside(scanned_copy.parent, scanned_copy)
    names = _hostile_store(scanned_copy, secret)
    at = _app(scanned_copy, monkeypatch)
    assert not at.exception, at.exception
    table = at.dataframe(key="ranking_table").value
    evil = table[table["path"].isin(names)]
    print(f"\nranking with {len(names)} hostile take names: thumbnails"
          f" {list(evil['thumb'])} (None: refused)")
    assert evil["thumb"].isna().all()
    at.sidebar.radio(key="view").set_value("Take").run()
    rows = []
    for name in names:
        at.selectbox(key="take").set_value(name).run()
        assert not at.exception, at.exception
        errors = [e.value for e in at.error]
        rows.append((name, errors, len(at.get("video"))))
        assert any("refused" in e or "not a file" in e for e in errors), (name, errors)
        assert len(at.get("video")) == 0
    print("take view of each hostile name:")
    for name, errors, videos in rows:
        print(f"  {name[:40]!r:44} videos {videos}  {errors[0][:70] if errors else ''}")


@pytest.mark.parametrize("query", [
    {"take": "../secret.txt"}, {"take": "/etc/passwd"}, {"take": "s/link_out.mp4"},
    {"take": "../secret.txt", "view": "Take"}, {"view": "../../etc/passwd"},
    {"take": "clean/clean_0.mp4", "t": "1e308"}, {"take": "clean/clean_0.mp4", "t": "nan"},
    {"take": "clean/clean_0.mp4", "t": "-5"},
], ids=lambda q: "&".join(f"{k}={v}" for k, v in q.items()))
def test_query_parameters_open_only_takes_of_the_scan(scanned_copy: Path, monkeypatch, query):
    _outside(scanned_copy.parent, scanned_copy)
    at = _app(scanned_copy, monkeypatch, **query)
    view = at.session_state["view"]
    opened = at.session_state["take"] if "take" in at.session_state else None
    print(f"\n?{'&'.join(f'{k}={v}' for k, v in query.items())} -> view {view}, take {opened},"
          f" exception {bool(at.exception)}")
    assert not at.exception, at.exception
    with Store(default_store_path(scanned_copy), readonly=True) as store:
        assert opened is None or opened in {t.path for t in store.takes()}
    if "start_s" in at.session_state:
        start = at.session_state["start_s"]
        assert 0.0 <= start < 1e6 and start == start, start  # finite, not NaN


def test_nothing_untrusted_is_unpickled():
    """No module of qc, nor the app, loads pickles or evaluates data; the only pickles
    are the worker pipes' (qc.workers), written by processes qc started itself."""
    risky = re.compile(r"\b(pickle\.loads?|cPickle|dill|joblib\.load|shelve\.open|marshal\.loads"
                       r"|read_pickle|torch\.load|yaml\.load|eval|exec)\s*\(|allow_pickle\s*="
                       r"\s*True|persist\s*=")
    found = []
    for f in sorted((REPO / "qc").rglob("*.py")) + [APP]:
        text = f.read_text()
        ast.parse(text)  # every module is plain Python
        found += [f"{f.relative_to(REPO)}:{text[: m.start()].count(chr(10)) + 1}: {m.group(0)}"
                  for m in risky.finditer(text)]
    recv = [f.name for f in (REPO / "qc").rglob("*.py") if ".recv()" in f.read_text()]
    print(f"\nrisky calls in qc/ and app.py: {found or 'none'}; pipe receivers: {recv}")
    assert found == []
    assert recv == ["workers.py"]


def test_a_pickle_planted_in_the_store_is_never_executed(tmp_path: Path):
    """Signals are float32 bytes read with numpy's frombuffer, never unpickled."""
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (Path.touch, (marker,))

    with Store(tmp_path / "qc.db") as store:
        tid = store.save_take(path="a.mp4", shot="s", content_hash="h", size=1, mtime_ns=1,
                              analysis_key="k", status="ok", error=None, media=None, events=[],
                              signals={}, run_id=None)
        payload = pickle.dumps(Evil())
        payload += b"\x00" * (-len(payload) % 4)
        with store._tx() as db:
            db.execute("INSERT INTO signals (take_id, name, data) VALUES (?, 't_s', ?)",
                       (tid, payload))
        got = store.signals(tid)
    print(f"\na pickle planted as a signal read back as {got['t_s'].dtype} x{got['t_s'].size};"
          f" executed: {marker.exists()}")
    assert not marker.exists() and got["t_s"].dtype == np.float32


def test_streamlit_run_from_the_checkout_binds_to_loopback():
    config = tomllib.loads((REPO / ".streamlit" / "config.toml").read_text())
    assert config["server"]["address"] == "127.0.0.1"
    assert config["browser"]["gatherUsageStats"] is False


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _listening(port: int) -> list[str]:
    """Local addresses listening on ``port``, from /proc/net/tcp and tcp6."""
    out = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            local, state = line.split()[1], line.split()[3]
            addr, p = local.rsplit(":", 1)
            if state == "0A" and int(p, 16) == port:  # LISTEN
                out.append(addr)
    return out


def test_a_real_server_listens_on_loopback_and_serves_no_outside_file(scanned_copy: Path):
    _outside(scanned_copy.parent, scanned_copy)
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "qc", "dashboard", str(scanned_copy),
                             "--port", str(port)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert proc.poll() is None, "the dashboard exited"
                assert time.monotonic() < deadline, "the dashboard did not start"
                time.sleep(0.3)
        addrs = _listening(port)
        paths = ["/../secret.txt", "/%2e%2e/secret.txt", "/static/../../secret.txt",
                 "/static/%2e%2e/%2e%2e/%2e%2e/secret.txt", "/media/../../secret.txt",
                 "/app/static/../../secret.txt", "/?take=../secret.txt",
                 "/component/../../../secret.txt", "/_stcore/../../secret.txt",
                 f"/media/{'..%2f' * 8}etc%2fpasswd"]
        rows = []
        for path in paths:
            con = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            con.request("GET", path)
            resp = con.getresponse()
            body = resp.read()
            con.close()
            rows.append((path, resp.status, SECRET in body or b"root:x:0" in body))
        print(f"\nqc dashboard on port {port} listens on {addrs} (0100007F = 127.0.0.1)")
        for path, status, leaked in rows:
            print(f"  GET {path:45} {status}  {'LEAKED' if leaked else 'nothing outside'}")
        assert addrs and all(a == "0100007F" for a in addrs), addrs
        assert not any(leaked for _, _, leaked in rows)
    finally:
        os.killpg(proc.pid, 9)
        proc.wait()
