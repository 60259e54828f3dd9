from __future__ import annotations

import json

import pytest

from agentnet.replies import BadReply, StreamCut, chunk, completion, json_object, model_ids
from agentnet.types import Usage

GOOD = {
    "choices": [{"message": {"content": "hi"}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 3, "completion_tokens": 1},
}


def test_a_good_completion_and_chunk_are_read() -> None:
    reply = completion(json_object(json.dumps(GOOD).encode(), "application/json"))
    assert (reply.text, reply.finish_reason, reply.usage) == ("hi", "stop", Usage(3, 1))
    parts = chunk(
        {"choices": [{"delta": {"content": "a"}, "finish_reason": None}, {"delta": {}, "finish_reason": "length"}]}
    )
    assert (parts.pieces, parts.finish_reason, parts.usage) == (("a",), "length", None)
    assert chunk({"choices": [], "usage": {"prompt_tokens": 2}}).usage == Usage(2, 0)
    assert model_ids({"data": [{"id": "m1"}, {"id": "m2"}]}) == ["m1", "m2"]


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (b"", "empty"),
        (b"[1, 2]", "a JSON list, not an object"),
        (b'{"error": {"message": "overloaded"}}', 'carries an error: \'{"message": "overloaded"}\''),
        (b"\xff\xfe", "not JSON"),
    ],
)
def test_a_body_that_is_not_a_json_object_is_named(data: bytes, says: str) -> None:
    with pytest.raises(BadReply, match=says.replace("[", r"\[")):
        json_object(data, "application/json")


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({**GOOD, "usage": {"prompt_tokens": -1}}, "token counts are not counts"),
        ({**GOOD, "usage": {"prompt_tokens": True}}, "token counts are not counts"),
        ({**GOOD, "usage": "many"}, "'usage' is a str"),
        ({"choices": [{"message": {"content": 5}}]}, "content is a int, not a string"),
        ({"choices": [{"message": "hi"}]}, "message is not an object"),
        ({"choices": [{"message": {"content": "x"}, "finish_reason": 1}]}, "'finish_reason' is a int"),
        ({"choices": ["x"]}, "a choice is not an object"),
        ({}, "'choices' is missing"),
    ],
)
def test_a_malformed_completion_is_named(body: dict, says: str) -> None:
    with pytest.raises(BadReply, match=says):
        completion(body)


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ([], "a chunk is a JSON list"),
        ({"choices": [{"delta": "a"}]}, "delta is a str"),
        ({"choices": [{"delta": {"content": ["a"]}}]}, "content is a list"),
        ({"error": "boom"}, "carries an error"),
    ],
)
def test_a_malformed_chunk_is_named(body: object, says: str) -> None:
    with pytest.raises(BadReply, match=says):
        chunk(body)


def test_bad_model_lists_and_cut_streams_read_well() -> None:
    with pytest.raises(BadReply, match="not a list of models"):
        model_ids({"data": [{"name": "m"}]})
    assert str(StreamCut(1, "reset")) == "the stream was cut after 1 chunk (reset)"


def test_a_null_token_count_is_no_usage_not_zero_tokens() -> None:
    from agentnet.replies import usage

    assert usage({"prompt_tokens": None, "completion_tokens": 3}) is None  # the backend then warns "no usage"
    assert usage({"prompt_tokens": 2}) == Usage(2, 0)
