"""Reading benchmark files tolerantly: one loop for every format a task reads.

JSON lines, a JSON list (or a list under one top-level key), gzip-compressed or not, and
headerless CSV. A record that does not parse — bytes that are not UTF-8, text that is not
JSON, a record the task's `parse` rejects — is *malformed*: skipped, with one warning that
counts them and names the first, or, under `TaskConfig.strict`, an error naming the file and
its line (a JSON list names the record's position instead; its line is unknown once parsed).
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import json
import warnings
from collections.abc import Callable, Iterable, Iterator
from functools import partial
from pathlib import Path
from typing import Any, Protocol, TypeVar

from agentnet.errors import ConfigError

T = TypeVar("T")
Parse = Callable[[int, dict[str, Any]], T]  # (line or position, record) -> what the task keeps
# what a `parse` raises for a record it refuses; AttributeError too, as in `record["q"].strip()`
# on a number: parsers work on untrusted JSON, and a wrong type there is the data's fault
REJECTED = (ValueError, KeyError, TypeError, AttributeError)


class Strictness(Protocol):
    """What the readers need of a `TaskConfig` (which imports this module, not the reverse)."""

    @property
    def strict(self) -> bool: ...


class DataNotFoundError(ConfigError):
    """No data file where we looked; the message lists every path tried and how to point at one."""


class MalformedDataError(ConfigError):
    """A data file that cannot be read at all, or a malformed record under --strict."""


class MalformedDataWarning(UserWarning):
    """Malformed records were skipped (the message counts them and names the first)."""


class Skips:
    """The malformed records of one file: an error at once under `strict`, else counted."""

    def __init__(self, path: Path | str, strict: bool, unit: str):
        self.path, self.strict, self.unit = path, strict, unit
        self.numbers: list[int] = []

    def reject(self, number: int, reason: str) -> None:
        if self.strict:
            raise MalformedDataError(f"{self.path}:{number}: malformed {self.unit} ({reason})")
        self.numbers.append(number)

    def each(self, attempts: Iterable[tuple[int, Callable[[], T]]]) -> Iterator[T]:
        """Each attempt's value; one that raises a `REJECTED` error is the malformed `number`.
        Warns once at the end about the ones skipped."""
        for number, attempt in attempts:
            try:
                value = attempt()
            except REJECTED as e:
                self.reject(number, reason_of(e))
                continue
            yield value
        self.warn()

    def warn(self) -> None:
        if self.numbers:
            warnings.warn(
                f"{self.path}: skipped {len(self.numbers)} malformed {self.unit}(s) "
                f"(first: {self.unit} {self.numbers[0]}); --strict makes this an error",
                MalformedDataWarning,
                stacklevel=4,
            )


def require(record: dict[str, Any], *keys: str) -> dict[str, Any]:
    """The record itself, or a ValueError naming the keys it lacks (for a `parse`)."""
    missing = [key for key in keys if key not in record]
    if missing:
        raise ValueError(f"missing {', '.join(missing)}")
    return record


def reason_of(error: Exception) -> str:
    return f"missing {error}" if isinstance(error, KeyError) else str(error)


def read_bytes(path: Path) -> bytes:
    """The file's bytes, gunzipped for `.gz`, without a UTF-8 byte-order mark."""
    try:
        raw = path.read_bytes()
        if path.suffix == ".gz":
            raw = gzip.decompress(raw)
    except (OSError, EOFError) as e:  # gzip.BadGzipFile is an OSError
        raise MalformedDataError(f"{path} cannot be read ({e}); fix or replace the file") from e
    return raw.removeprefix(codecs.BOM_UTF8)


def _bad_byte(raw: bytes, start: int) -> tuple[int, str]:
    """(line, what is wrong) for the byte at `start` that does not decode."""
    line, column = raw.count(b"\n", 0, start) + 1, start - raw.rfind(b"\n", 0, start)
    return line, f"not valid UTF-8: byte 0x{raw[start]:02x} at column {column}"


def _has_escapes(value: object) -> bool:
    """Whether decoded JSON holds bytes that were not UTF-8 (kept as lone surrogates)."""
    if isinstance(value, str):
        return any("\udc80" <= char <= "\udcff" for char in value)
    if isinstance(value, dict):
        return any(_has_escapes(k) or _has_escapes(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_escapes(v) for v in value)
    return False


def _json_lines(raw: bytes, skips: Skips) -> Iterator[tuple[int, Any]]:
    # split the bytes, not decoded text: one bad byte spoils its line only, and str.splitlines
    # would also cut at U+2028 and friends, which JSON strings may hold unescaped
    for number, line in enumerate(raw.split(b"\n"), start=1):
        if not line.strip():
            continue
        try:
            yield number, json.loads(line.decode("utf-8"))
        except UnicodeDecodeError as e:
            skips.reject(number, _bad_byte(line, e.start)[1])
        except ValueError as e:
            skips.reject(number, str(e))


def _json_document(path: Path, raw: bytes, strict: bool, container_key: str | None) -> list[Any]:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        if strict:
            line, reason = _bad_byte(raw, e.start)
            raise MalformedDataError(f"{path}:{line}: {reason}; fix or replace the file") from e
        text = raw.decode("utf-8", "surrogateescape")  # the records holding bad bytes are skipped
    try:
        data = json.loads(text)
    except ValueError as e:
        raise MalformedDataError(f"{path} is not valid JSON ({e}); fix or replace the file") from e
    if container_key is not None:
        if not isinstance(data, dict) or not isinstance(data.get(container_key), list):
            raise MalformedDataError(
                f"{path} has no {container_key!r} list at the top level; expected the "
                "dataset's published JSON file, unchanged"
            )
        data = data[container_key]
    if not isinstance(data, list):
        raise MalformedDataError(f"{path} is not a JSON list of records; fix or replace the file")
    return data


def _checked(parse: Parse[T], number: int, record: object) -> T:
    if not isinstance(record, dict):
        raise ValueError("not a JSON object")
    if _has_escapes(record):
        raise ValueError("not valid UTF-8")
    return parse(number, record)


def read_records(path: Path, config: Strictness, parse: Parse[T], *, container_key: str | None = None) -> Iterator[T]:
    """`parse(number, record)` for each record of a JSON-lines file (number: its line) or of a
    JSON list, or of `{container_key: [...]}` (number: its position from 1).

    A record that is not a JSON object, or that `parse` rejects (raising one of `REJECTED`),
    is malformed.
    """
    raw = read_bytes(path)
    if container_key is not None or raw.lstrip()[:1] == b"[":
        skips = Skips(path, config.strict, "record")
        entries: Iterable[tuple[int, Any]] = enumerate(_json_document(path, raw, config.strict, container_key), 1)
    else:
        skips = Skips(path, config.strict, "line")
        entries = _json_lines(raw, skips)
    yield from skips.each((number, partial(_checked, parse, number, record)) for number, record in entries)


def _csv_rows(text: str) -> Iterator[tuple[int, int, list[str]]]:
    """(line the record starts on, record position, fields), blank lines left out."""
    reader = csv.reader(io.StringIO(text, newline=""))
    position, line = 0, 1
    for fields in reader:
        start, line = line, reader.line_num + 1
        if any(f.strip() for f in fields):  # blank lines are layout, not records
            position += 1
            yield start, position, fields


def _checked_fields(parse: Callable[[int, list[str]], T], position: int, fields: list[str]) -> T:
    if any(_has_escapes(f) for f in fields):
        raise ValueError("not valid UTF-8")
    return parse(position, fields)


def read_csv(path: Path, config: Strictness, parse: Callable[[int, list[str]], T]) -> Iterator[T]:
    """`parse(position, fields)` for each record of a headerless CSV file (position from 1,
    malformed records included, blank lines not). Records may span lines (quoted newlines),
    so a malformed one is named by the line it starts on."""
    text = read_bytes(path).decode("utf-8", "surrogateescape")  # bad bytes spoil their record, not the file
    skips = Skips(path, config.strict, "line")
    try:
        yield from skips.each(
            (start, partial(_checked_fields, parse, position, fields)) for start, position, fields in _csv_rows(text)
        )
    except csv.Error as e:
        raise MalformedDataError(f"{path}: not a readable CSV ({e}); fix or replace the file") from e
