from __future__ import annotations

import pytest

from agentnet.training.trace.extract import CastError, ExtractionError, cast_value, parse_reply, resolve_suggestion
from agentnet.training.trace.params import DEFAULT_EXTRACT, Parameter, ParameterSet

NAMES = ["a0_prompt", "rounds"]

MESSY = {
    "fenced with prose around": 'Here you go:\n```json\n{"reasoning": "r", "suggestion": {"a0_prompt": "Be exact."}}\n```\nGood luck!',
    "trailing prose, no fence": '{"reasoning": "r", "suggestion": {"a0_prompt": "Be exact."}} I think this {helps}.',
    "single quotes": "{'reasoning': 'r', 'suggestion': {'a0_prompt': 'Be exact.'}}",
    "trailing commas": '{"reasoning": "r", "suggestion": {"a0_prompt": "Be exact.",},}',
    "cut off after the value": '{"reasoning": "r", "suggestion": {"a0_prompt": "Be exact."',
    "cut off inside the value": '{"reasoning": "r", "suggestion": {"a0_prompt": "Be exact.',
    "smart quotes": "{\u201creasoning\u201d: \u201cr\u201d, \u201csuggestion\u201d: {\u201ca0_prompt\u201d: \u201cBe exact.\u201d}}",
    "no wrapper": 'My suggestion: {"a0_prompt": "Be exact."}',
    "suggestion as a string": '{"reasoning": "r", "suggestion": "{\\"a0_prompt\\": \\"Be exact.\\"}"}',
    "typed key": '{"suggestion": {"(str) a0_prompt": "Be exact."}}',
    "no JSON at all": 'I would set "a0_prompt": "Be exact." and leave the rest.',
    "unescaped quotes": '{"reasoning": "It ends with "The answer is N", where N is a number.",\n'
    '"suggestion": {"a0_prompt": "Be exact."}}',
}


@pytest.mark.parametrize("reply", MESSY.values(), ids=MESSY.keys())
def test_suggestion_is_read_from_messy_replies(reply: str) -> None:
    parsed = parse_reply(reply, NAMES)
    changes, notes = resolve_suggestion(_params(), parsed.suggestion)
    assert changes == {"a0_prompt": "Be exact."}, (parsed, notes)


def test_repairs_are_noted_and_raw_newlines_survive() -> None:
    parsed = parse_reply(
        '```\n{"reasoning": "two\nlines", "suggestion": {"a0_prompt": "Line 1\nLine 2", "rounds": 2,}}\n```', NAMES
    )
    assert parsed.suggestion == {"a0_prompt": "Line 1\nLine 2", "rounds": 2}
    assert parsed.reasoning == "two\nlines"
    assert parsed.notes == ("read from a fenced block", "read as lenient JSON")


def test_unescaped_quotes_inside_a_value_are_kept_in_the_value() -> None:
    reply = '{"reasoning": "r", "suggestion": {"a0_prompt": "End with "The answer is N", then stop.", "rounds": 2}}'
    parsed = parse_reply(reply, NAMES)
    assert parsed.suggestion == {"a0_prompt": 'End with "The answer is N", then stop.', "rounds": 2}
    assert parsed.notes == ("read as escaped quotes inside strings",)


def test_terminate_reasoning_only_and_garbage() -> None:
    assert parse_reply("No change is needed. TERMINATE", NAMES).terminate
    only = parse_reply('{\n"reasoning": "The team used 94 tokens."\n}', NAMES)
    assert (only.reasoning, only.suggestion, only.notes) == (
        "The team used 94 tokens.",
        {},
        ("the reply has reasoning but no 'suggestion'",),
    )
    with pytest.raises(ExtractionError, match="no JSON suggestion in the optimiser's reply .*'I am a small model"):
        parse_reply("I am a small model and I like turtles.", NAMES)


def test_numbers_are_cast_and_clamped_with_a_note() -> None:
    rounds = Parameter("rounds", 1, "r", "rounds", kind="int", bounds=(1, 4))
    temperature = Parameter("temperature", 0.0, "t", "temperature", kind="float", bounds=(0.0, 2.0))
    assert cast_value(rounds, "3 rounds") == (3, None)
    assert cast_value(rounds, 2.0) == (2, None)
    assert cast_value(rounds, "9") == (4, "rounds=9 clamped to 4 (bounds 1..4)")
    assert cast_value(temperature, "0.35") == (0.35, None)
    with pytest.raises(CastError, match="2.5 is not a whole number"):
        cast_value(rounds, 2.5)
    with pytest.raises(CastError, match="holds no number"):
        cast_value(rounds, "many")
    with pytest.raises(CastError, match="is a boolean"):
        cast_value(rounds, True)


def test_text_and_choices() -> None:
    text = Parameter("a0_prompt", "x", "p", "system:a0")
    assert cast_value(text, "  Be brief.  ") == ("Be brief.", None)
    with pytest.raises(CastError, match="an empty text"):
        cast_value(text, "   ")
    mode = Parameter("mode", "fast", "m", "system:a0", choices=("fast", "careful"))
    assert cast_value(mode, "Careful") == ("careful", None)
    with pytest.raises(CastError, match="not one of fast, careful"):
        cast_value(mode, "slow")


def test_code_must_parse_and_keep_the_signature() -> None:
    code = Parameter("extract_answer", DEFAULT_EXTRACT, "c", "extract", kind="code")
    good = "```python\ndef extract(output: str) -> str:\n    return output.strip()\n```"
    assert cast_value(code, good)[0] == "def extract(output: str) -> str:\n    return output.strip()\n"
    with pytest.raises(CastError, match="does not parse"):
        cast_value(code, "def extract(output):\n  return (")
    with pytest.raises(CastError, match=r"must define extract\(\) with 1 argument"):
        cast_value(code, "def parse(output):\n    return output\n")


def test_unknown_frozen_and_unusable_values_are_skipped_with_notes() -> None:
    params = ParameterSet(
        (*_params(), Parameter("temperature", 0.0, "t", "temperature", kind="float", trainable=False))
    )
    changes, notes = resolve_suggestion(
        params, {"a0_prompt": "New.", "rounds": "lots", "temperature": 1, "colour": "red"}
    )
    assert changes == {"a0_prompt": "New."}
    assert notes == [
        "rounds: 'lots' holds no number",
        "temperature: not trainable, ignored",
        "colour: no such variable, ignored",
    ]


def _params() -> ParameterSet:
    return ParameterSet(
        (
            Parameter("a0_prompt", "Old.", "p", "system:a0"),
            Parameter("rounds", 1, "r", "rounds", kind="int", bounds=(1, 4)),
        )
    )
