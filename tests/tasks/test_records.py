"""The one record reader: every format, malformed records skipped with a count or, under
strict, an error naming file and line; bytes that are not UTF-8 are malformed records too."""

from __future__ import annotations

import gzip
import json
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from agentnet.tasks.records import MalformedDataError, MalformedDataWarning, read_csv, read_records, require


@dataclass(frozen=True)
class Config:
    strict: bool = False


def _questions(number: int, record: dict[str, Any]) -> tuple[int, str]:
    return number, require(record, "q")["q"].strip()


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)
    return path


def test_json_lines_yield_line_numbers_and_skip_blank_lines(tmp_path: Path) -> None:
    path = _write(tmp_path / "a.jsonl", b'{"q": "one"}\n\n{"q": "two"}\r\n')
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing is malformed: no warning
        assert list(read_records(path, Config(), _questions)) == [(1, "one"), (3, "two")]


def test_a_json_string_may_hold_a_raw_line_separator(tmp_path: Path) -> None:
    path = _write(tmp_path / "a.jsonl", '{"q": "one\u2028more"}\n{"q": "two"}\n'.encode())
    assert list(read_records(path, Config(), _questions)) == [(1, "one\u2028more"), (2, "two")]


def test_a_byte_order_mark_is_not_a_malformed_first_line(tmp_path: Path) -> None:
    path = _write(tmp_path / "a.jsonl", b'\xef\xbb\xbf{"q": "one"}\n')
    assert list(read_records(path, Config(), _questions)) == [(1, "one")]


@pytest.mark.parametrize("name", ["a.jsonl", "a.jsonl.gz"])
def test_invalid_utf8_line_is_skipped_with_a_count(tmp_path: Path, name: str) -> None:
    path = _write(tmp_path / name, b'{"q": "one"}\n{"q": "t\xffo"}\n{"q": "\xc3("}\n{"q": "four"}\n')
    with pytest.warns(MalformedDataWarning, match=r"skipped 2 malformed line\(s\) \(first: line 2\)"):
        assert list(read_records(path, Config(), _questions)) == [(1, "one"), (4, "four")]


@pytest.mark.parametrize("name", ["a.jsonl", "a.jsonl.gz"])
def test_invalid_utf8_line_under_strict_names_file_line_and_byte(tmp_path: Path, name: str) -> None:
    path = _write(tmp_path / name, b'{"q": "one"}\n{"q": "t\xffo"}\n')
    with pytest.raises(
        MalformedDataError, match=rf"{name}:2: malformed line \(not valid UTF-8: byte 0xff at column 9\)"
    ):
        list(read_records(path, Config(strict=True), _questions))


def test_invalid_utf8_in_a_json_list_skips_the_records_holding_it(tmp_path: Path) -> None:
    path = _write(tmp_path / "a.json", b'[{"q": "one"},\n {"q": "t\xffo"},\n {"q\xfe": "x"},\n {"q": "four"}]')
    with pytest.warns(MalformedDataWarning, match=r"skipped 2 malformed record\(s\) \(first: record 2\)"):
        assert list(read_records(path, Config(), _questions)) == [(1, "one"), (4, "four")]


def test_invalid_utf8_in_a_json_list_under_strict_names_its_line(tmp_path: Path) -> None:
    path = _write(tmp_path / "a.json", b'[{"q": "one"},\n {"q": "t\xffo"}]')
    with pytest.raises(MalformedDataError, match=r"a.json:2: not valid UTF-8: byte 0xff at column 10; fix"):
        list(read_records(path, Config(strict=True), _questions))


def test_container_key_reads_the_list_under_it(tmp_path: Path) -> None:
    path = _write(tmp_path / "a.json", json.dumps({"Data": [{"q": "one"}, {"x": 1}], "Version": 1}).encode())
    with pytest.warns(MalformedDataWarning, match=r"skipped 1 malformed record\(s\) \(first: record 2\)"):
        assert list(read_records(path, Config(), _questions, container_key="Data")) == [(1, "one")]
    with pytest.raises(MalformedDataError, match=r"a.json:2: malformed record \(missing q\)"):
        list(read_records(path, Config(strict=True), _questions, container_key="Data"))
    with pytest.raises(MalformedDataError, match="has no 'Rows' list at the top level"):
        list(read_records(path, Config(), _questions, container_key="Rows"))


@pytest.mark.parametrize(
    "data, message",
    [
        (b'[{"q": "one"}', "is not valid JSON"),
        (b'[{"q": "one"}, \xff]', "is not valid JSON"),  # a bad byte outside any string breaks the document
    ],
)
def test_a_broken_json_list_is_one_error_even_without_strict(tmp_path: Path, data: bytes, message: str) -> None:
    with pytest.raises(MalformedDataError, match=message):
        list(read_records(_write(tmp_path / "a.json", data), Config(), _questions))


def test_parse_errors_of_every_kind_are_malformed_records(tmp_path: Path) -> None:
    lines = [b'{"q": "one"}', b"[1, 2]", b'{"q": 5}', b"{broken", b'{"other": 1}', b'{"q": "six"}']
    path = _write(tmp_path / "a.jsonl", b"\n".join(lines))
    with pytest.warns(MalformedDataWarning, match=r"skipped 4 malformed line\(s\) \(first: line 2\)"):
        assert list(read_records(path, Config(), _questions)) == [(1, "one"), (6, "six")]
    with pytest.raises(MalformedDataError, match=r"a.jsonl:2: malformed line \(not a JSON object\)"):
        list(read_records(path, Config(strict=True), _questions))


def test_a_corrupt_gzip_file_is_one_error(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl.gz"
    path.write_bytes(b"not gzip at all")
    with pytest.raises(MalformedDataError, match="a.jsonl.gz cannot be read"):
        list(read_records(path, Config(), _questions))


def _pairs(position: int, fields: list[str]) -> tuple[int, str]:
    if len(fields) != 2:
        raise ValueError(f"{len(fields)} fields, expected 2")
    return position, fields[1]


def test_csv_records_span_lines_and_bad_bytes_are_malformed(tmp_path: Path) -> None:
    path = _write(tmp_path / "a.csv", b'a,"two\nlines"\n\nb,r\xe9sum\xe9\nc,three,extra\nd,four\n')
    with pytest.warns(MalformedDataWarning, match=r"a.csv: skipped 2 malformed line\(s\) \(first: line 4\)"):
        assert list(read_csv(path, Config(), _pairs)) == [(1, "two\nlines"), (4, "four")]
    with pytest.raises(MalformedDataError, match=r"a.csv:4: malformed line \(not valid UTF-8\)"):
        list(read_csv(path, Config(strict=True), _pairs))
