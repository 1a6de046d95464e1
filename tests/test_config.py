from __future__ import annotations

from pathlib import Path

import pytest

from qc.config import Config, analysis_key, load_config
from qc.errors import ConfigError


def test_defaults_are_valid_and_serialisable():
    cfg = Config()
    d = cfg.to_dict()
    assert set(d) == {"decode", "flicker", "faces", "morphing", "physics", "scoring", "scan",
                      "gate"}
    assert Config.from_dict(d) == cfg


def test_unknown_key_is_named(tmp_path: Path):
    (tmp_path / "qc.toml").write_text("[flicker]\nz_treshold = 3\n")
    with pytest.raises(ConfigError, match="z_treshold"):
        load_config(root=tmp_path)


def test_unknown_section_is_named():
    with pytest.raises(ConfigError, match="flickr"):
        Config.from_dict({"flickr": {}})


@pytest.mark.parametrize(
    "data, match",
    [
        ({"decode": {"analysis_size_px": 10}}, "out of range"),
        ({"flicker": {"enabled": "yes"}}, "true or false"),
        ({"faces": {"detect_every": 1.5}}, "whole number"),
        ({"scoring": {"profile": "picky"}}, "picky"),
        ({"scoring": {"pass_score": 40, "fail_score": 60}}, "fail_score"),
        ({"scan": {"shot_pattern": "("}}, "regex"),
        ({"scan": {"extensions": "mp4"}}, "list of strings"),
        ({"gate": {"fail_on": ["flicker", "flikker"]}}, "flikker"),
        ({"gate": {"min_score": 101}}, "out of range"),
        ({"gate": {"fail_level": 1.5}}, "out of range"),
    ],
)
def test_bad_values_are_rejected(data, match):
    with pytest.raises(ConfigError, match=match):
        Config.from_dict(data)


def test_bad_toml_is_a_config_error(tmp_path: Path):
    f = tmp_path / "x.toml"
    f.write_text("[flicker\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(f)


def test_missing_explicit_file_is_a_config_error(tmp_path: Path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.toml")


def test_merge_order_defaults_then_file_then_flags(tmp_path: Path):
    (tmp_path / "qc.toml").write_text(
        '[scoring]\nprofile = "strict"\n[physics]\nz_threshold = 5\n'
    )
    cfg = load_config(root=tmp_path, overrides={"scoring": {"profile": "lenient"}})
    assert cfg.scoring.profile == "lenient"  # flag beats file
    assert cfg.physics.z_threshold == 5.0  # file beats default
    assert cfg.flicker == Config().flicker  # default stays


def test_profiles_set_thresholds_and_explicit_values_win():
    assert Config.from_dict({"scoring": {"profile": "strict"}}).scoring.thresholds() == (90, 65)
    cfg = Config.from_dict({"scoring": {"profile": "strict", "pass_score": 70}})
    assert cfg.scoring.thresholds() == (70, 65)


def test_analysis_key_follows_detectors_not_scoring():
    base = Config()
    assert analysis_key(base) == analysis_key(Config())
    assert analysis_key(base.replace("scoring", profile="strict")) == analysis_key(base)
    assert analysis_key(base.replace("flicker", z_threshold=3)) != analysis_key(base)
    assert analysis_key(base.replace("decode", threads=2)) == analysis_key(base)


def test_gate_section_is_read_and_not_part_of_the_analysis_key(tmp_path: Path):
    (tmp_path / "qc.toml").write_text(
        '[gate]\nstrict = true\nmin_score = 70\nfail_on = ["faces", "faces", "physics"]\n')
    cfg = load_config(root=tmp_path)
    assert (cfg.gate.strict, cfg.gate.min_score, cfg.gate.fail_on) == (True, 70.0,
                                                                      ("faces", "physics"))
    assert cfg.to_dict()["gate"]["fail_on"] == ["faces", "physics"]
    assert analysis_key(cfg) == analysis_key(Config())
