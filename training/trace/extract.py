"""Reading the optimiser's reply: a JSON object {reasoning, suggestion: {variable: value}}, as
small local models actually write it, and casting each value to its parameter's type.

Small models wrap the JSON in ```json fences, add prose before and after, use single
quotes or Python literals, put raw newlines inside strings, leave trailing commas, or stop
mid-object when they hit max_tokens. `parse_reply` tries, in order: each fenced block and
each balanced {...} span, with strict JSON, lenient JSON, Python literals, and a repair
that closes an unfinished object; then per-variable patterns. Every repair is noted so the
report can say how a suggestion was read.
"""

from __future__ import annotations

import ast
import json
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from agentnet.errors import AgentNetError

if TYPE_CHECKING:
    from agentnet.training.trace.params import Parameter, ParameterSet, Value

_FENCE = re.compile(r"```[A-Za-z0-9_+-]*[ \t]*\n?(.*?)(?:```|\Z)", re.DOTALL)
_NUMBER = re.compile(r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?")
_TRAILING_COMMA = re.compile(r",(\s*[}\]])")
_SMART_QUOTES = str.maketrans({"\u201c": '"', "\u201d": '"', "\u2018": "'", "\u2019": "'"})


class ExtractionError(AgentNetError):
    """The optimiser's reply holds no readable suggestion."""


class CastError(AgentNetError):
    """A suggested value does not fit its parameter (type, bounds, choices, code)."""


@dataclass(frozen=True)
class ParsedReply:
    reasoning: str
    suggestion: dict[str, object]  # variable name -> the value as the model wrote it
    terminate: bool = False  # the model said TERMINATE: no change
    notes: tuple[str, ...] = field(default=())  # repairs applied while reading


# -- finding the JSON object ----------------------------------------------------------------


@dataclass
class _Quotes:
    """Whether a left-to-right scan is inside a quoted string (' or ", backslash escapes)."""

    prose_apostrophes: bool = False  # an apostrophe inside a word (don't) is prose, not a delimiter
    quote: str = ""  # the open quote, "" outside strings
    escaped: bool = False

    def outside(self, c: str, prev: str = "") -> bool:
        """Take one character; True when it is structure (outside every string, not a quote mark)."""
        if self.quote:
            if self.escaped:
                self.escaped = False
            elif c == "\\":
                self.escaped = True
            elif c == self.quote:
                self.quote = ""
            return False
        if c in "\"'":
            if not (self.prose_apostrophes and c == "'" and prev.isalnum()):
                self.quote = c
            return False
        return True


def _spans(text: str) -> Iterator[str]:
    """Balanced {...} spans (quote-aware, ' or "), outermost first; an unfinished one to the end."""
    i = 0
    while (start := text.find("{", i)) != -1:
        depth, quotes = 0, _Quotes(prose_apostrophes=True)
        for j in range(start, len(text)):
            c = text[j]
            if not quotes.outside(c, text[j - 1] if j else ""):
                continue
            if c == "{":
                depth += 1
            elif c == "}":
                depth -= 1
                if depth == 0:
                    yield text[start : j + 1]
                    i = j + 1
                    break
        else:
            yield text[start:]  # never closed: a reply cut off at max_tokens
            return


def _close(fragment: str) -> str:
    """Close an unfinished JSON object: end an open string, drop a dangling key or comma, add closers."""
    stack, quotes = [], _Quotes()
    for c in fragment:
        if not quotes.outside(c):
            continue
        if c in "{[":
            stack.append("}" if c == "{" else "]")
        elif c in "}]" and stack:
            stack.pop()
    out = (fragment + quotes.quote).rstrip()
    if out.endswith(":"):
        out += " null"
    out = out.rstrip(",")
    return out + "".join(reversed(stack))


_VALUE_START = re.compile(r'\s*(?:["{\[\d-]|true\b|false\b|null\b)')


def _escape_inner_quotes(text: str) -> str:
    """Escape the double quotes a model left unescaped inside a JSON string value.

    A `"` inside a string closes it only when JSON can go on from there: at the end, or
    before `:`, `}`, `]`, or a `,` followed by the start of another key or value.
    """
    out, inside, escaped = [], False, False
    for i, c in enumerate(text):
        if inside and escaped:
            escaped = False
        elif inside and c == "\\":
            escaped = True
        elif c == '"':
            if inside:
                rest = text[i + 1 :].lstrip()
                closes = not rest or rest[0] in ":}]" or (rest[0] == "," and _VALUE_START.match(rest, 1))
                if not closes:
                    out.append('\\"')
                    continue
            inside = not inside
        out.append(c)
    return "".join(out)


def _pythonish(text: str) -> str:
    return re.sub(r"\btrue\b", "True", re.sub(r"\bfalse\b", "False", re.sub(r"\bnull\b", "None", text)))


def _load(candidate: str) -> tuple[dict[str, object], str] | None:
    """The object in `candidate`, and which reading worked ('' for strict JSON)."""
    attempts = (
        ("", lambda s: json.loads(s)),
        ("lenient JSON", lambda s: json.loads(_TRAILING_COMMA.sub(r"\1", s.translate(_SMART_QUOTES)), strict=False)),
        ("Python literal", lambda s: ast.literal_eval(_pythonish(s.translate(_SMART_QUOTES)))),
        ("closed an unfinished object", lambda s: json.loads(_TRAILING_COMMA.sub(r"\1", _close(s)), strict=False)),
        ("closed an unfinished Python literal", lambda s: ast.literal_eval(_pythonish(_close(s)))),
        (
            "escaped quotes inside strings",
            lambda s: json.loads(_TRAILING_COMMA.sub(r"\1", _close(_escape_inner_quotes(s))), strict=False),
        ),
    )
    for how, load in attempts:
        try:
            value = load(candidate)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            continue
        if isinstance(value, dict):
            return value, how
    return None


def _candidates(text: str) -> Iterator[tuple[str, str]]:
    for block in _FENCE.findall(text):
        for span in _spans(block):
            yield span, "fenced block"
    for span in _spans(text):
        yield span, ""


def _lookup(d: Mapping[str, object], *keys: str) -> object:
    lowered = {str(k).strip().lower(): v for k, v in d.items()}
    for k in keys:
        if k in lowered:
            return lowered[k]
    return None


def _as_suggestion(obj: dict[str, object], names: Sequence[str]) -> tuple[dict[str, object], str] | None:
    inner = _lookup(obj, "suggestion", "suggestions", "variables", "update")
    if isinstance(inner, str):  # a suggestion given as a JSON string
        loaded = _load(inner)
        inner = loaded[0] if loaded else None
    if isinstance(inner, dict):
        return inner, ""
    if names and any(_match(k, names) for k in obj):  # the wrapper was left out
        return {
            k: v for k, v in obj.items() if _match(k, names)
        }, "no 'suggestion' key: read the variables at top level"
    return None


def _match(key: object, names: Sequence[str]) -> str | None:
    """The variable a key means: exact, else ignoring case, a '(type)' prefix, '#', quotes and spaces."""
    if isinstance(key, str) and key in names:
        return key
    k = re.sub(r"^\s*\((?:str|int|float|code)\)\s*", "", str(key)).strip(" #'\"`").lower()
    for n in names:
        if n.lower() == k:
            return n
    return None


def _patterns(text: str, names: Sequence[str]) -> dict[str, object]:
    """Last resort: `"name": "value"` / `"name": 3` / `name = value` for each known variable."""
    found: dict[str, object] = {}
    for n in names:
        q = re.escape(n)
        m = re.search(rf"""["']?{q}["']?\s*:\s*"((?:[^"\\]|\\.)*)""", text, re.DOTALL) or re.search(
            rf"""["']?{q}["']?\s*:\s*'((?:[^'\\]|\\.)*)""", text, re.DOTALL
        )
        if m:
            try:
                found[n] = json.loads(f'"{m.group(1)}"', strict=False)
            except ValueError:
                found[n] = m.group(1)
            continue
        m = re.search(rf"""["']?{q}["']?\s*(?::|=)\s*({_NUMBER.pattern})""", text)
        if m:
            found[n] = m.group(1)
    return found


def parse_reply(text: str, names: Sequence[str]) -> ParsedReply:
    """The reasoning and suggested values in an optimiser's reply; `names` are the variables.

    Raises `ExtractionError` (quoting the reply's start) when nothing can be read.
    """
    stripped = text.strip()
    reasoning_only: str | None = None
    for candidate, where in _candidates(stripped):
        loaded = _load(candidate)
        if loaded is None:
            continue
        obj, how = loaded
        found = _as_suggestion(obj, names)
        if found is None:
            if reasoning_only is None and _lookup(obj, "reasoning") is not None:
                reasoning_only = str(_lookup(obj, "reasoning")).strip()
            continue
        suggestion, note = found
        notes = tuple(n for n in (where and f"read from a {where}", how and f"read as {how}", note) if n)
        reasoning = _lookup(obj, "reasoning", "reason", "thoughts")
        return ParsedReply(str(reasoning or "").strip(), suggestion, False, notes)
    if re.search(r"\bTERMINATE\b", stripped):
        return ParsedReply(stripped.replace("TERMINATE", "").strip(), {}, True)
    by_pattern = _patterns(stripped, names)
    if by_pattern:
        return ParsedReply("", by_pattern, False, ("no JSON object: values found by pattern",))
    if reasoning_only is not None:  # JSON mode often stops after the reasoning: a reply, just no edit
        return ParsedReply(reasoning_only, {}, False, ("the reply has reasoning but no 'suggestion'",))
    head = stripped[:200].replace("\n", " ")
    raise ExtractionError(f"no JSON suggestion in the optimiser's reply ({len(stripped)} chars): {head!r}")


# -- casting values ---------------------------------------------------------------------------


def _number(raw: object, name: str) -> float:
    if isinstance(raw, bool):
        raise CastError(f"{name}: {raw!r} is a boolean, not a number")
    if isinstance(raw, (int, float)):
        value = float(raw)
    else:
        m = _NUMBER.search(str(raw))
        if not m:
            raise CastError(f"{name}: {str(raw)[:60]!r} holds no number")
        value = float(m.group())
    if not math.isfinite(value):
        raise CastError(f"{name}: {raw!r} is not a finite number")
    return value


def _code(raw: object, param: Parameter) -> str:
    text = str(raw).strip()
    fenced = _FENCE.findall(text)
    if fenced:
        text = fenced[0].strip()
    try:
        tree = ast.parse(text)
    except SyntaxError as e:
        raise CastError(f"{param.name}: the code does not parse (line {e.lineno}: {e.msg})") from None
    wanted = _function(str(param.value))
    if wanted is not None:
        got = {f.name: len(f.args.args) for f in tree.body if isinstance(f, ast.FunctionDef)}
        if got.get(wanted[0]) != wanted[1]:
            raise CastError(
                f"{param.name}: the code must define {wanted[0]}() with {wanted[1]} argument(s), as before; "
                f"it defines {', '.join(got) or 'no function'}"
            )
    return text + "\n"


def _function(code: str) -> tuple[str, int] | None:
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return None
    fns = [f for f in tree.body if isinstance(f, ast.FunctionDef)]
    return (fns[0].name, len(fns[0].args.args)) if fns else None


def cast_value(param: Parameter, raw: object) -> tuple[Value, str | None]:
    """`raw` as a value of `param`'s kind, and a note when it had to be changed to fit.

    Numbers outside the bounds are clamped (noted), not refused: the direction of a small
    model's suggestion is the useful signal, and the report shows the clamp.
    """
    note = None
    if param.kind == "text":
        value: Value = (
            raw.strip() if isinstance(raw, str) else json.dumps(raw) if isinstance(raw, (dict, list)) else str(raw)
        )
        if not str(value).strip():
            raise CastError(f"{param.name}: an empty text")
    elif param.kind == "code":
        value = _code(raw, param)
    else:
        number = _number(raw, param.name)
        if param.kind == "int":
            if number != int(number):
                raise CastError(f"{param.name}: {raw!r} is not a whole number")
            number = int(number)
        if param.bounds is not None:
            lo, hi = param.bounds
            clamped = min(max(number, lo), hi)
            if clamped != number:
                note = f"{param.name}={number:g} clamped to {clamped:g} (bounds {lo:g}..{hi:g})"
                number = clamped
        value = int(number) if param.kind == "int" else float(number)
    if param.choices is not None:
        by_text = {str(c).lower(): c for c in param.choices}
        if str(value).lower() not in by_text:
            raise CastError(f"{param.name}: {value!r} is not one of {', '.join(map(str, param.choices))}")
        value = by_text[str(value).lower()]
    return value, note


def resolve_suggestion(params: ParameterSet, suggestion: Mapping[str, object]) -> tuple[dict[str, Value], list[str]]:
    """The valid changes (cast, differing from the current values) and a note per problem.

    As in OptoPrime, a value that cannot be read is skipped with a note; the rest apply.
    """
    trainable = [p.name for p in params.trainable]
    changes: dict[str, Value] = {}
    notes: list[str] = []
    for key, raw in suggestion.items():
        name = _match(key, trainable)
        if name is None:
            frozen = _match(key, params.names)
            notes.append(f"{key}: not trainable, ignored" if frozen else f"{key}: no such variable, ignored")
            continue
        try:
            value, note = cast_value(params[name], raw)
        except CastError as e:
            notes.append(str(e))
            continue
        if note:
            notes.append(note)
        if value != params[name].value:
            changes[name] = value
    return changes, notes
