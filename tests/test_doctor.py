"""``qc doctor``: exit 0 on a healthy installation, and a plain-words FAIL line per problem.

Broken installations are simulated (a module made unimportable, NUMBA_CACHE_DIR under a
file, a decoder that is not there) and stores are corrupted on disk.  Each test prints
the doctor's output.
"""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

import pytest

from qc.batch import scan_folder
from qc.cli import main
from qc.config import Config
from qc.store import default_store_path


def _doctor(capsys, *argv: str) -> tuple[int, str]:
    code = main(["doctor", *argv])
    out = capsys.readouterr().out
    print(f"\n$ qc doctor {' '.join(argv)}   (exit {code})\n{out}", file=sys.stderr)
    return code, out


@pytest.fixture
def scanned(take_folder: Path) -> Path:
    scan_folder(take_folder, Config.from_dict({"scan": {"jobs": 1}}))
    return take_folder


def test_a_healthy_installation_and_store(scanned: Path, capsys):
    code, out = _doctor(capsys, str(scanned))
    assert code == 0, out
    assert [line.split()[0] for line in out.splitlines()[:6]] == ["ok"] * 6
    assert "passes integrity_check (5 takes)" in out and out.rstrip().endswith("all fine")


def test_missing_face_models(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "face_recognition_models", None)  # import fails
    code, out = _doctor(capsys)
    assert code == 1
    assert "FAIL  face models  face models missing: pip install face-recognition-models" in out
    assert "1 problem" in out


def test_numba_cache_dir_not_writable(tmp_path: Path, monkeypatch, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(blocker / "cache"))
    code, out = _doctor(capsys)
    assert code == 1
    assert f"numba cache dir {blocker / 'cache'} (NUMBA_CACHE_DIR) not writable" in out
    assert "set NUMBA_CACHE_DIR to a writable folder" in out


def test_no_h264_decoder(monkeypatch, capsys):
    import av

    real = av.codec.Codec

    def codec(name, mode="r"):
        if name == "h264":
            raise av.codec.codec.UnknownCodecError(name)
        return real(name, mode)

    monkeypatch.setattr(av.codec, "Codec", codec)
    code, out = _doctor(capsys)
    assert code == 1 and "no H.264 decoder: reinstall it" in out


def test_a_store_that_is_not_a_database(tmp_path: Path, capsys):
    db = default_store_path(tmp_path)
    db.parent.mkdir(parents=True)
    db.write_bytes(b"this was a store once\n" * 500)
    code, out = _doctor(capsys, str(tmp_path))
    assert code == 1
    assert f"FAIL  store        store at {db} cannot be" in out
    assert "move it aside" not in out and f"move {db} aside and run qc scan again" in out


def test_a_store_with_a_corrupt_page(scanned: Path, capsys):
    db = default_store_path(scanned)
    con = sqlite3.connect(db)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.execute("PRAGMA journal_mode = DELETE")  # every page in the main file
    page = con.execute("PRAGMA page_size").fetchone()[0]
    pages = con.execute("PRAGMA page_count").fetchone()[0]
    con.close()
    assert pages >= 4
    data = bytearray(db.read_bytes())
    for p in range(2, pages):  # keep the header page: the file still opens
        data[p * page + 8: p * page + 40] = b"\xa5" * 32
    db.write_bytes(bytes(data))
    code, out = _doctor(capsys, str(scanned))
    assert code == 1
    line = next(x for x in out.splitlines() if x.startswith("FAIL  store"))
    assert str(db) in line and ("integrity_check" in line or "malformed" in line), line
    assert "\n" not in line


def test_no_store_yet_is_fine(tmp_path: Path, capsys):
    code, out = _doctor(capsys, str(tmp_path))
    assert code == 0 and "no store at" in out
