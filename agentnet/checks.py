"""Numbers and documents checked once, at the edge, so nothing downstream meets NaN, a 70-bit
count or a 100,000-level JSON document.

Numbers: finite, in range and of the declared type — an int refuses 3.5 and `true` (bool is an
int in Python), a float refuses NaN and ±Infinity, every int fits 64 bits (SQLite, LangGraph's
msgpack checkpoints and torch seeds all stop there). Ranges come from field metadata with
pydantic's names: `ge`, `gt`, `le`, `lt`. Config dataclasses call `check_fields(self)` first in
`__post_init__`; the CLI generator (`agentnet.options`) runs the same check on each option under
its flag's name before any config is built, so a bad flag is one line before anything is created.

Documents (topology and config files): `read_text` bounds the size, `parse_json` the nesting
and refuses NaN/Infinity (Python's json accepts them; no server does), `check_texts` bounds every
string (a 50 MB system prompt is a mistake, not a prompt).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import re
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, NoReturn, Union, get_args, get_origin

from agentnet.errors import ConfigError

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
# max_tokens above any served context window (10^6); it also keeps the reply-size cap
# (max_tokens × MAX_CHARS_PER_TOKEN characters) a bound worth having
MAX_COMPLETION_TOKENS = 1_000_000
MAX_JSON_DEPTH = 64  # a CommGraph document is 5 levels deep; a trained model's config 3
MAX_FILE_BYTES = 32 << 20  # 64 agents with long prompts fit many times over
MAX_TEXT_CHARS = 1_000_000  # one prompt: ~250k tokens, beyond the context window of every model served here
BOUNDS = ("ge", "gt", "le", "lt")


def show(value: object, limit: int = 24) -> str:
    """A value as an error message quotes it: huge ints and long strings cut to size."""
    text = repr(value) if isinstance(value, str) else str(value)
    if len(text) <= limit:
        return text
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{text[:8]}…({len(text)} digits)"
    return text[: limit - 1] + "…"


def _named(label: str, value: object) -> str:
    """`--timeout nan` for a flag, `timeout=nan` for a field."""
    return f"{label} {show(value)}" if label.startswith("-") else f"{label}={show(value)}"


def _bound(words: str, bound: float | None) -> str:
    return f"{words} {bound:,}" if isinstance(bound, int) else f"{words} {bound:g}"


def _range(
    label: str, value: float, ge: float | None, gt: float | None, le: float | None, lt: float | None, shown: object
) -> None:
    """One-sided: `x=0 must be at least 1`; two-sided: `x=3 is out of range: it must be at least 0 and at most 2`."""
    tests = [
        (ge, value >= ge if ge is not None else True, "at least"),
        (gt, value > gt if gt is not None else True, "above"),
        (le, value <= le if le is not None else True, "at most"),
        (lt, value < lt if lt is not None else True, "below"),
    ]
    given = [(b, ok, w) for b, ok, w in tests if b is not None]
    if all(ok for _, ok, _ in given):
        return
    if len(given) == 1:
        raise ConfigError(f"{_named(label, shown)} must be {_bound(given[0][2], given[0][0])}")
    both = " and ".join(_bound(w, b) for b, _, w in given)
    raise ConfigError(f"{_named(label, shown)} is out of range: it must be {both}")


def number(
    label: str,
    value: object,
    kind: type,
    *,
    ge: float | None = None,
    gt: float | None = None,
    le: float | None = None,
    lt: float | None = None,
) -> float:
    """`value` checked as an int or a float named `label` (a field name, or a flag like `--timeout`)."""
    given = value
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{_named(label, value)} is not a whole number; give an integer such as 3")
        if not INT64_MIN <= value <= INT64_MAX:
            raise ConfigError(f"{_named(label, value)} does not fit in 64 bits; give a number below 2**63")
    else:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{_named(label, value)} is not a number; give one such as 0.5")
        if isinstance(value, int):
            value = float(value)  # an int where a float is expected is fine (JSON writes 1.0 as 1)
        if not math.isfinite(value):
            raise ConfigError(f"{_named(label, value)} is not a finite number; give one such as 0.5")
    _range(label, value, ge, gt, le, lt, given)
    return value


def bounds(metadata: Mapping[str, Any]) -> dict[str, float]:
    return {k: metadata[k] for k in BOUNDS if k in metadata}


Kind = Literal["int", "float", "bool", "str"]
_KINDS: dict[object, Kind] = {int: "int", float: "float", bool: "bool", str: "str"}


def kind_of(annotation: object) -> tuple[Kind | None, bool]:
    """(the scalar kind a field holds, whether None is allowed); (None, _) for anything else."""
    optional = False
    if get_origin(annotation) in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        optional = len(args) < len(get_args(annotation))
        if len(args) != 1:
            return None, optional
        annotation = args[0]
    return _KINDS.get(annotation), optional


def _hints(cls: type) -> dict[str, object]:
    """The fields' resolved annotations; a field whose annotation cannot be resolved (a name imported
    only for type checkers) is left out, not an error."""
    try:
        return typing.get_type_hints(cls)
    except NameError:
        import sys

        scope = vars(sys.modules[cls.__module__])
        out = {}
        for f in dataclasses.fields(cls):
            try:
                out[f.name] = eval(f.type, scope) if isinstance(f.type, str) else f.type  # noqa: S307 - the class's own annotation
            except NameError:
                continue
        return out


@functools.cache
def _field_kinds(cls: type) -> tuple[tuple[str, Kind, bool, tuple[tuple[str, float], ...]], ...]:
    hints = _hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        if f.name not in hints:
            continue
        kind, optional = kind_of(hints[f.name])
        if kind is not None:
            out.append((f.name, kind, optional, tuple(bounds(f.metadata).items())))
    return tuple(out)


def check_value(label: str, value: object, kind: Kind, optional: bool = False, **limits: float) -> None:
    if value is None and optional:
        return
    if kind in ("int", "float"):
        number(label, value, int if kind == "int" else float, **limits)
    elif kind == "bool" and not isinstance(value, bool):
        raise ConfigError(f"{_named(label, value)} is not true or false")
    elif kind == "str" and not isinstance(value, str):
        raise ConfigError(f"{_named(label, value)} is a {type(value).__name__}, not text")


def check_fields(config: object) -> None:
    """Every int, float, bool and str field of a config dataclass checked by its type and its
    metadata bounds; the first bad one is a `ConfigError` naming it."""
    cls: type = type(config)
    for name, kind, optional, limits in _field_kinds(cls):
        check_value(name, getattr(config, name), kind, optional, **dict(limits))


# -- documents --------------------------------------------------------------------------------
def read_text(path: str | Path, what: str, limit: int = MAX_FILE_BYTES) -> str:
    """A UTF-8 file of at most `limit` bytes (checked before it is read into memory)."""
    try:
        with open(path, "rb") as f:
            data = f.read(limit + 1)
        if len(data) > limit:
            raise ConfigError(f"{what} {path} is larger than {limit:,} bytes; give the file agentnet wrote")
        return data.decode("utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"cannot read {what} {path} ({e})") from None


# a JSON string, or one bracket: strings are skipped whole, so brackets inside them do not count
_TOKENS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]', re.S)


def json_depth(text: str, stop_at: int = MAX_JSON_DEPTH) -> int:
    """How deeply `text` nests arrays and objects (the scan stops once past `stop_at`)."""
    depth = deepest = 0
    for m in _TOKENS.finditer(text):
        c = m.group()
        if c in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > stop_at:
                    break
        elif c in "]}":
            depth -= 1
    return deepest


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {show(text)} is too large for a float")
    return value


def _no_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a number JSON allows")


def parse_json(text: str, what: str, *, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """JSON text of bounded size and nesting, without NaN or ±Infinity (nor numbers that overflow to them)."""
    if len(text) > MAX_FILE_BYTES:
        raise ConfigError(f"{what} is larger than {MAX_FILE_BYTES:,} characters")
    depth = json_depth(text, max_depth)
    if depth > max_depth:
        raise ConfigError(
            f"{what} nests arrays/objects more than {max_depth} levels deep; it is not a document agentnet wrote"
        )
    try:
        return json.loads(text, parse_float=_finite, parse_constant=_no_constant)
    except RecursionError:  # the scan above should have caught it; never a traceback
        raise ConfigError(f"{what} is nested too deeply") from None
    except ValueError as e:  # JSONDecodeError, NaN/Infinity, an int of more than 4,300 digits
        raise ConfigError(f"{what} is invalid JSON ({show(str(e), 160)})") from None


def check_texts(data: object, what: str, limit: int = MAX_TEXT_CHARS, path: str = "") -> None:
    """Every string in a parsed document (keys included) at most `limit` characters."""
    if isinstance(data, str):
        if len(data) > limit:
            raise ConfigError(
                f"{what}: {path or 'the text'} is {len(data):,} characters; a prompt or name is at most {limit:,}"
            )
    elif isinstance(data, dict):
        for k, v in data.items():
            check_texts(k, what, limit, f"{path}.{show(k, 40)} (a key)".lstrip("."))
            check_texts(v, what, limit, f"{path}.{k}".lstrip("."))
    elif isinstance(data, (list, tuple)):
        for i, v in enumerate(data):
            check_texts(v, what, limit, f"{path}[{i}]")


def load_document(text: str, what: str) -> Any:
    """`parse_json` then `check_texts`: a loaded file, every part bounded."""
    data = parse_json(text, what)
    check_texts(data, what)
    return data
