import pytest

from agentnet.answers import extract_answer


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
