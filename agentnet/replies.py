"""What an OpenAI-compatible server's 200 reply must look like, checked before it is used.

A server (or a proxy in front of it) can answer 200 with an HTML error page, a text/plain
note, `"choices": []`, a null message or a stream that stops half-way. Each becomes a
`BadReply` or `StreamCut` naming what was wrong; `OpenAIBackend` retries both like a 5xx
and finally raises a `BackendError`, so no JSONDecodeError/AttributeError/IndexError
escapes the LLM boundary.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from agentnet.types import Usage

# The largest token count one call may report. No served context window is near 10^9 tokens, so a
# count above it is not a count; refusing it (a failed call naming the value) rather than clamping
# keeps made-up numbers out of every tokens-per-query figure, and sums of such counts over any
# number of calls and items stay far inside SQLite's 64-bit integers.
MAX_USAGE_TOKENS = 10**9


class BadReply(Exception):
    """A 200 reply that is not a valid chat completion (the message says what was wrong)."""


class StreamCut(Exception):
    """A stream that ended before its last chunk (the connection dropped, or no finish)."""

    def __init__(self, chunks: int, how: str):
        self.chunks = chunks
        super().__init__(f"the stream was cut after {chunks} chunk{'s' if chunks != 1 else ''} ({how})")


TokenLogprobs = tuple[tuple[str, float], ...]  # (token text, log-probability), in order


@dataclass(frozen=True)
class Reply:
    text: str
    finish_reason: str | None
    usage: Usage | None  # None: the server sent none
    logprobs: TokenLogprobs | None = None  # None: the server sent none (or not in a form we read)
    model: str | None = None  # the model the server says answered (None: it did not say)


@dataclass(frozen=True)
class ChunkParts:
    pieces: tuple[str, ...]
    finish_reason: str | None
    usage: Usage | None
    logprobs: TokenLogprobs = ()
    model: str | None = None


def logprobs(choice: dict[str, Any]) -> TokenLogprobs | None:
    """A choice's token log-probabilities (`logprobs.content[].{token, logprob}`), or None.
    Optional information: a malformed block is ignored, never a failed call."""
    block = choice.get("logprobs")
    content = block.get("content") if isinstance(block, dict) else None
    if not isinstance(content, list):
        return None
    out = []
    for entry in content:
        token = entry.get("token") if isinstance(entry, dict) else None
        value = entry.get("logprob") if isinstance(entry, dict) else None
        if not isinstance(token, str) or isinstance(value, bool) or not isinstance(value, (int, float)):
            return None
        if not -1e4 < value <= 0:  # NaN, +inf, a positive "log-probability": not one
            return None
        out.append((token, float(value)))
    return tuple(out)


def preview(data: bytes | str, limit: int = 80) -> str:
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    text = " ".join(text.split())
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")


def json_object(data: bytes, content_type: str) -> dict[str, Any]:
    """The body as a JSON object, or `BadReply` saying what it was instead."""
    kind = content_type.split(";")[0].strip() or "no content type"
    if not data.strip():
        raise BadReply(f"the 200 reply is empty ({kind})")
    try:
        body = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        raise BadReply(f"the 200 reply is not JSON ({kind}, {len(data)} bytes: {preview(data)})") from None
    if not isinstance(body, dict):
        raise BadReply(f"the 200 reply is a JSON {type(body).__name__}, not an object: {preview(data)}")
    if body.get("error"):
        raise BadReply(f"the 200 reply carries an error: {preview(json.dumps(body['error']))}")
    return body


def usage(raw: object) -> Usage | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise BadReply(f"'usage' is a {type(raw).__name__}, not an object")
    if any(key in raw and raw[key] is None for key in ("prompt_tokens", "completion_tokens")):
        return None  # a count sent as null is no usage, which the backend warns about, not 0 tokens
    counts = [raw.get("prompt_tokens", 0), raw.get("completion_tokens", 0)]
    if not all(isinstance(c, int) and not isinstance(c, bool) and c >= 0 for c in counts):
        raise BadReply(f"'usage' token counts are not counts: {preview(json.dumps(raw))}")
    if max(counts) > MAX_USAGE_TOKENS:
        raise BadReply(
            f"'usage' reports {max(counts):.3g} tokens for one call, more than any server can "
            f"({MAX_USAGE_TOKENS:.0e}): {preview(json.dumps(raw))}"
        )
    return Usage(counts[0], counts[1])


def _model(body: dict[str, object]) -> str | None:
    model = body.get("model")
    return model if isinstance(model, str) else None


def _finish(choice: dict[str, object]) -> str | None:
    finish = choice.get("finish_reason")
    if finish is not None and not isinstance(finish, str):
        raise BadReply(f"'finish_reason' is a {type(finish).__name__}, not a string")
    return finish


def _choices(body: dict[str, Any], *, may_be_empty: bool) -> list[dict[str, Any]]:
    choices = body.get("choices")
    if choices is None and may_be_empty:
        return []
    if not isinstance(choices, list):
        what = "missing" if choices is None else f"a {type(choices).__name__}, not a list"
        raise BadReply(f"'choices' is {what}")
    if not choices and not may_be_empty:
        raise BadReply("'choices' is empty")
    if not all(isinstance(c, dict) for c in choices):
        raise BadReply("a choice is not an object")
    return choices


def completion(body: dict[str, Any]) -> Reply:
    """The first choice's text of a chat completion body."""
    choice = _choices(body, may_be_empty=False)[0]
    message = choice.get("message")
    if not isinstance(message, dict):
        raise BadReply(
            "the first choice has no message" if message is None else "the first choice's message is not an object"
        )
    content = message.get("content")
    if content is None:
        raise BadReply("the first choice's message content is null")
    if not isinstance(content, str):
        raise BadReply(f"the first choice's message content is a {type(content).__name__}, not a string")
    return Reply(content, _finish(choice), usage(body.get("usage")), logprobs(choice), _model(body))


def chunk(body: object) -> ChunkParts:
    """The text pieces, finish reason and usage of one streamed chunk (choices may be empty)."""
    if not isinstance(body, dict):
        raise BadReply(f"a chunk is a JSON {type(body).__name__}, not an object")
    if body.get("error"):
        raise BadReply(f"the stream carries an error: {preview(json.dumps(body['error']))}")
    pieces: list[str] = []
    finish: str | None = None
    tokens: list[tuple[str, float]] = []
    for choice in _choices(body, may_be_empty=True):
        tokens.extend(logprobs(choice) or ())
        delta = choice.get("delta")
        if delta is not None and not isinstance(delta, dict):
            raise BadReply(f"a chunk's delta is a {type(delta).__name__}, not an object")
        piece = (delta or {}).get("content")
        if piece is not None and not isinstance(piece, str):
            raise BadReply(f"a chunk's content is a {type(piece).__name__}, not a string")
        if piece:
            pieces.append(piece)
        finish = _finish(choice) or finish
    return ChunkParts(tuple(pieces), finish, usage(body.get("usage")), tuple(tokens), _model(body))


def model_ids(body: dict[str, Any]) -> list[str]:
    data = body.get("data")
    if not isinstance(data, list) or not all(isinstance(m, dict) and isinstance(m.get("id"), str) for m in data):
        raise BadReply(f"the model list's 'data' is not a list of models: {preview(json.dumps(data))}")
    return [m["id"] for m in data]
