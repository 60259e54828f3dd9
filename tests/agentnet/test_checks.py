"""Numbers and documents checked at the edge (agentnet.checks) and by GenerationSettings, one place."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

import pytest

from agentnet.checks import MAX_JSON_DEPTH, check_fields, json_depth, load_document, number, parse_json, read_text
from agentnet.errors import ConfigError
from agentnet.types import GenerationSettings

NAN, INF = float("nan"), float("inf")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (3.5, "n=3.5 is not a whole number"),
        (True, "n=True is not a whole number"),  # bool is an int in Python; not here
        ("3", "n='3' is not a whole number"),
        (2**70, "n=1180591620717411303424 does not fit in 64 bits"),
        (10**30, "n=10000000…(31 digits) does not fit in 64 bits"),
        (-(2**63) - 1, "does not fit in 64 bits"),
    ],
)
def test_an_int_is_whole_not_a_bool_and_fits_64_bits(value: object, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        number("n", value, int)


def test_a_huge_int_is_quoted_by_its_size() -> None:
    with pytest.raises(ConfigError, match=r"n=10000000…\(101 digits\) does not fit"):
        number("n", 10**100, int)


@pytest.mark.parametrize("value", [NAN, INF, -INF])
def test_a_float_is_finite(value: float) -> None:
    with pytest.raises(ConfigError, match="is not a finite number"):
        number("--timeout", value, float)


def test_a_flag_is_named_as_typed_and_a_range_says_which_way() -> None:
    with pytest.raises(ConfigError, match=r"^--timeout 0 must be above 0$"):
        number("--timeout", 0, float, gt=0)
    with pytest.raises(ConfigError, match=r"^p=1.5 must be at most 1$"):
        number("p", 1.5, float, le=1)
    assert number("x", 2, float) == 2.0  # an int where a float goes is fine (JSON writes 2.0 as 2)


@dataclass(frozen=True)
class Knobs:
    rate: float = field(default=0.1, metadata={"gt": 0})
    count: int = 3
    limit: int | None = None
    on: bool = False
    name: str = "x"

    def __post_init__(self) -> None:
        check_fields(self)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"rate": NAN}, "rate=nan is not a finite number"),
        ({"rate": 0.0}, "rate=0.0 must be above 0"),
        ({"count": 3.5}, "count=3.5 is not a whole number"),
        ({"count": True}, "count=True is not a whole number"),
        ({"limit": 1.0}, "limit=1.0 is not a whole number"),
        ({"on": 1}, "on=1 is not true or false"),
        ({"name": ["a"]}, "name=\\['a'\\] is a list, not text"),
    ],
)
def test_check_fields_reads_types_and_metadata_bounds(change: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Knobs(**change)
    assert Knobs(limit=None) == Knobs()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"max_tokens": 3.5}, "max_tokens=3.5 is not a whole number"),
        ({"max_tokens": True}, "max_tokens=True is not a whole number"),
        ({"max_tokens": 0}, "max_tokens=0 must be at least 1"),
        ({"max_tokens": 10**7}, "max_tokens=10000000 must be at most 1,000,000"),
        ({"temperature": NAN}, "temperature=nan is not a finite number"),
        ({"temperature": INF}, "temperature=inf is not a finite number"),
        ({"temperature": 2.5}, "temperature=2.5 is out of range: it must be at least 0 and at most 2"),
        ({"top_p": NAN}, "top_p=nan is not a finite number"),
        ({"seed": NAN}, "seed=nan is not a whole number"),
        ({"seed": 2**64}, "seed=18446744073709551616 does not fit in 64 bits"),
        ({"seed": True}, "seed=True is not a whole number"),
        ({"stop": ("a", 3)}, "must be a list of strings"),
        ({"model": 5}, "model=5 is a int, not text"),
    ],
)
def test_generation_settings_check_themselves(change: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        GenerationSettings(**change)


def test_generation_settings_take_a_list_of_stops_from_a_file() -> None:
    assert GenerationSettings(stop=["\n\n"]).stop == ("\n\n",)  # type: ignore[arg-type]


def test_json_nested_100000_levels_is_one_line_quickly() -> None:
    deep = "[" * 100_000 + "]" * 100_000  # no RecursionError: the depth scan stops at the limit
    with pytest.raises(ConfigError, match=f"more than {MAX_JSON_DEPTH} levels deep"):
        parse_json(deep, "the graph file")


def test_json_depth_skips_brackets_inside_strings() -> None:
    assert json_depth('{"a": "[[[[{{{{", "b": [1, {"c": "\\"]"}]}') == 3
    assert parse_json('{"a": "[[[["}', "x") == {"a": "[[[["}


@pytest.mark.parametrize("text", ['{"max_tokens": NaN}', '{"x": Infinity}', '{"x": -Infinity}', '{"x": 1e999}'])
def test_json_refuses_nan_infinity_and_overflowing_floats(text: str) -> None:
    with pytest.raises(ConfigError, match="invalid JSON"):
        parse_json(text, "the graph file")


def test_a_long_prompt_in_a_document_is_one_line() -> None:
    text = json.dumps({"agents": [{"name": "a0", "system": "x" * 5_000_000}]})
    with pytest.raises(
        ConfigError,
        match=r"^the file: agents\[0\]\.system is 5,000,000 characters; "
        r"a prompt or name is at most 1,000,000$",
    ):
        load_document(text, "the file")
    with pytest.raises(ConfigError, match=r"^the file is larger than 33,554,432 characters$"):
        load_document(json.dumps({"system": "x" * 50_000_000}), "the file")


def test_read_text_refuses_a_file_past_its_limit_before_reading_it(tmp_path) -> None:
    big = tmp_path / "big.json"
    big.write_bytes(b" " * 2_000)
    with pytest.raises(ConfigError, match="is larger than 1,000 bytes"):
        read_text(big, "the graph file", limit=1_000)
    with pytest.raises(ConfigError, match="cannot read the graph file"):
        read_text(tmp_path / "missing.json", "the graph file")
