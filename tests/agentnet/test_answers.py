import pytest

from agentnet.answers import code_from, extract_answer, last_boxed, last_boxed_at


@pytest.mark.parametrize(
    "text, answer",
    [
        ("Work... The answer is 1,234.", "1234"),
        ("so 3 + 4 = 7\nThe answer is: $7.00", "7"),
        ("first 12 then 18", "18"),
        ("The answer is B", "B"),
        ("no digits\nfinal: yes", "final: yes"),
        ("", ""),
    ],
)
def test_extract(text: str, answer: str) -> None:
    assert extract_answer(text) == answer


@pytest.mark.parametrize(
    "text, answer",
    [
        # \boxed{}, also inside a display block after "The answer is:" (it read "\[" before)
        ("So she pays \\boxed{18} dollars for 2 days.", "18"),
        ("The answer is:\n\\[\n\\boxed{-38000}\n\\]", "-38000"),
        ("The answer is $\\boxed{\\$1,234.50}$.", "1234.5"),
        ("The answer is:\n\\[\n-38000\n\\]", "-38000"),
        # a later statement overrides an earlier box, and a later box an earlier statement
        ("\\boxed{5}? No: the answer is 18.", "18"),
        ("The answer is 5, or rather \\boxed{18}", "18"),
        # "Answer: N" at a line's start, in plain text or markdown
        ("3 * 4 = 12\nAnswer: 12\nThat is 1 dozen.", "12"),
        ("**Final Answer:** 7 apples, 1 each", "7"),
        ("Let me answer: first 3 * 4 = 12, then 12 + 1 = 13", "13"),  # mid-line "answer:" states nothing
        # the result of a calculation that the statement opens with, not its first number
        ("The answer is 2 + 16 = 18", "18"),
        ("The answer is $2 \\times 9 = 18$.", "18"),
        ("The answer is 3 x 6 = 18 apples", "18"),
        ("The answer is 7 (since 3 + 4 = 7).", "7"),
        ("The answer is 18. Check: 9 + 9 = 18 and 2 = 2", "18"),
        # the unicode minus
        ("The answer is \u22125", "-5"),
        ("it drops to \u221212 degrees", "-12"),
    ],
)
def test_extract_checked_against_peer_graders(text: str, answer: str) -> None:
    assert extract_answer(text) == answer


def test_last_boxed_skips_a_box_cut_off_by_the_length_limit() -> None:
    assert last_boxed("\\boxed{\\frac{1}{2}} then \\boxed{3") == "\\frac{1}{2}"
    assert last_boxed_at("x \\boxed 5.") == (2, "5")
    assert last_boxed("no box") is None


def test_code_from_reads_the_last_fenced_block() -> None:
    text = "First try:\n```python\nx = 1\n```\nBetter:\n```py\ndef f():\n    return 2\n```\n"
    assert code_from(text) == "def f():\n    return 2"
    assert code_from("  return a + b  ") == "return a + b"
