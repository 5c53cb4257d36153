"""The configuration says where its include folder is; a file moved elsewhere fails saying so."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tthc.config import DEFAULT_CONFIG, INCLUDE_DIR, ConfigError, load_config


def test_the_bundled_file_names_its_include_folder() -> None:
    assert load_config().include_dir == INCLUDE_DIR


def test_a_copy_elsewhere_fails_naming_include_dir(tmp_path: Path) -> None:
    copy = tmp_path / "pipeline.yaml"
    shutil.copy(DEFAULT_CONFIG, copy)
    with pytest.raises(ConfigError, match=r"units\[0\]\.file not found at .*relative to include_dir .*set include_dir"):
        load_config(copy)


def test_a_copy_elsewhere_works_once_include_dir_says_where(tmp_path: Path) -> None:
    copy = tmp_path / "pipeline.yaml"
    text = DEFAULT_CONFIG.read_text(encoding="utf-8").replace("include_dir: ..", f"include_dir: {INCLUDE_DIR}")
    copy.write_text(text, encoding="utf-8")
    config = load_config(copy)
    assert config.include_dir == INCLUDE_DIR and config.template_path.exists()


def test_every_limit_is_configurable_and_validated(tmp_path: Path) -> None:
    config = load_config()
    assert config.extraction.limits().max_pages == config.extraction.max_pages
    assert config.tasks.execution_timeout_minutes >= 1
    bad = tmp_path / "config" / "pipeline.yaml"
    bad.parent.mkdir()
    text = DEFAULT_CONFIG.read_text(encoding="utf-8").replace("include_dir: ..", f"include_dir: {INCLUDE_DIR}")
    bad.write_text(text.replace("max_pages: 10000", "max_pages: 0"), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"extraction\.max_pages"):
        load_config(bad)


def test_control_and_bidi_characters_in_the_configuration_are_removed_and_named(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    text = DEFAULT_CONFIG.read_text(encoding="utf-8").replace("include_dir: ..", f"include_dir: {INCLUDE_DIR}")
    text = text.replace("name: Đoàn Thanh Bình", 'name: "Đoàn\\u202e Thanh\\fBình"')  # YAML escapes
    path = tmp_path / "pipeline.yaml"
    path.write_text(text, encoding="utf-8")
    with caplog.at_level("WARNING"):
        config = load_config(path)
    assert config.report_settings("872", "2023-11").signer.name == "Đoàn Thanh Bình"
    assert "report_units.872.signer.name" in caplog.text
