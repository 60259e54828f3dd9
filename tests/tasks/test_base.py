"""TaskConfig validation, the data roots, split names, and the FileTask base's hub switch."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentnet.errors import ConfigError
from agentnet.tasks.base import DataDirError, DataNotFoundError, TaskConfig, check_split, data_roots
from agentnet.tasks.math_word import GSM8K


def test_a_data_dir_that_does_not_exist_is_refused_at_construction(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AGENTNET_DATA_DIR", str(tmp_path))  # set, yet the bad flag is not ignored
    with pytest.raises(DataDirError, match=f"data directory {tmp_path / 'nope'} does not exist; pass --data-dir"):
        TaskConfig(data_dir=tmp_path / "nope")
    (tmp_path / "file").write_text("")
    with pytest.raises(ConfigError, match=f"{tmp_path / 'file'} is not a directory"):
        TaskConfig(data_dir=tmp_path / "file")


def test_data_dir_is_a_path_and_comes_before_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENTNET_DATA_DIR", str(tmp_path / "env"))
    config = TaskConfig(data_dir=str(tmp_path))  # type: ignore[arg-type]  # the CLI may hand over a str
    assert config.data_dir == tmp_path
    assert data_roots(config) == [tmp_path, tmp_path / "env"]


def test_positional_fields_keep_their_order() -> None:
    config = TaskConfig(None, True, 7)
    assert (config.data_dir, config.strict, config.seed, config.hub) == (None, True, 7, True)


def test_every_field_has_a_help_text() -> None:
    from dataclasses import fields

    helps = [f.metadata.get("help", "") for f in fields(TaskConfig)]
    assert all(helps) and not any("[" in h for h in helps)  # rich would take "[x]" for markup and drop it


def test_check_split_resolves_aliases_and_lists_the_known_ones() -> None:
    assert check_split("t", "test", ("dev",), {"test": "dev"}) == "dev"
    assert check_split("t", "dev", ("dev",)) == "dev"
    with pytest.raises(ConfigError, match=r"^t has no split 'x'; splits: dev, test \(= dev\)$"):
        check_split("t", "x", ("dev",), {"test": "dev"})


def test_without_hub_a_missing_file_is_the_plain_no_data_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AGENTNET_DATA_DIR", raising=False)
    with pytest.raises(DataNotFoundError) as info:
        next(GSM8K(TaskConfig(data_dir=tmp_path, hub=False)).items())
    assert str(tmp_path / "gsm8k" / "test.jsonl") in str(info.value) and "the hub" not in str(info.value)
