from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from agentnet.errors import ConfigError
from agentnet.task_types import Item
from agentnet.tasks.base import DataNotFoundError, MalformedDataError, TaskConfig
from agentnet.tasks.choice import extract_choice
from agentnet.tasks.qa import (
    ARCChallenge,
    HotpotQA,
    HotpotQAContext,
    TriviaQA,
    TwoWikiMultiHopQA,
    exact_match,
    extract_qa_answer,
    normalize_answer,
    qa_score,
    token_f1,
)


@pytest.mark.parametrize(
    "text, normal",
    [
        ("The Eiffel Tower!", "eiffel tower"),
        ("  a   b\tc ", "b c"),
        ("An apple.", "apple"),
        ("theater", "theater"),  # articles only as whole words
        ("Jean-Paul  Sartre", "jeanpaul sartre"),  # punctuation goes without a space, as in SQuAD
        ("U.S.A.", "usa"),
    ],
)
def test_normalisation(text: str, normal: str) -> None:
    assert normalize_answer(text) == normal


@pytest.mark.parametrize(
    "prediction, golds, em, f1",
    [
        ("the Eiffel Tower.", ["Eiffel Tower"], 1.0, 1.0),
        ("Eiffel Tower Paris", ["Eiffel Tower"], 0.0, 0.8),  # P 2/3, R 1
        ("tower", ["Eiffel Tower"], 0.0, 2 / 3),  # P 1, R 1/2
        ("new new york", ["new york"], 0.0, 0.8),  # counts clip: 2 shared of 3 predicted
        ("JFK", ["John F. Kennedy", "JFK"], 1.0, 1.0),  # best alias
        ("John Kennedy", ["John F. Kennedy", "JFK"], 0.0, 0.8),  # P 1, R 2/3
        ("yes it is", ["yes"], 0.0, 0.0),  # HotpotQA: no partial credit on yes/no
        ("no", ["yes"], 0.0, 0.0),
        ("Paris", ["London"], 0.0, 0.0),
        ("", ["Paris"], 0.0, 0.0),
        ("Paris", [], 0.0, 0.0),
        ("The Beatles", ["Beatles", "the fab four"], 1.0, 1.0),
    ],
)
def test_exact_match_and_f1(prediction: str, golds: list[str], em: float, f1: float) -> None:
    assert exact_match(prediction, golds) == em
    assert token_f1(prediction, golds) == pytest.approx(f1)
    score = qa_score(prediction, golds)
    assert score.value == pytest.approx(f1) and score.details == {"em": em, "f1": pytest.approx(f1)}


@pytest.mark.parametrize(
    "output, extracted",
    [
        ("Hmm <A>Paris</A> no wait <A>Lyon</A>", "Lyon"),
        ("<A>\n the Eiffel Tower.\n</a>", "the Eiffel Tower"),
        ("Both hops point there. <A>Lyon", "Lyon"),  # closing tag cut off
        ("Reasoning...\nThe answer is Barack Obama.", "Barack Obama"),
        ("**Answer:** 1923.", "1923"),
        ("Final answer: yes", "yes"),
        ("Paris.\nBecause the tower is there.", "Paris"),
        ("", ""),
    ],
)
def test_extraction(output: str, extracted: str) -> None:
    assert extract_qa_answer(output) == extracted


@pytest.mark.parametrize(
    "output, letter",
    [
        ("<A>C</A>", "C"),
        ("The answer is (B).", "B"),
        ("B) because plants need light", "B"),
        ("**D**\nIt is the only one.", "D"),
        ("<A>photosynthesis</A>", "A"),  # an option's text maps to its letter
        ("A plant would wilt.", ""),  # an article is not an option
        ("I am not sure.", ""),
        ("<A>E</A>", ""),  # not an option here
    ],
)
def test_choice_extraction(output: str, letter: str) -> None:
    assert extract_choice(output, ["photosynthesis", "respiration", "erosion", "melting"], "ABCD") == letter


def test_hotpotqa_real_file(shared_data: Path) -> None:
    task = HotpotQA(TaskConfig(data_dir=shared_data))
    items = list(task.items("dev"))
    assert len(items) == 7405 and len({i.id for i in items}) == 7405
    first = items[0]
    assert first.id == "hotpotqa/dev/1" and first.answer == "yes" and first.meta["type"] == "comparison"
    assert first.question.startswith("Were Scott Derrickson and Ed Wood of the same nationality?\n")
    assert "<A>" in first.question
    assert next(task.items("test")) == first  # "test" is an alias; ids still say dev
    assert asyncio.run(task.score(first, "They were both American. <A>Yes</A>")).value == 1.0
    with pytest.raises(ConfigError, match="no split 'train'; splits: dev, test \\(= dev\\)"):
        next(task.items("train"))


def _hotpot_record(_id: str, answer: str = "Paris") -> dict:
    return {
        "_id": _id,
        "question": "Which city is the tower in?",
        "answer": answer,
        "supporting_facts": [["Tower", 0], ["City", 1]],
        "context": [
            ["Noise", ["Unrelated text."]],
            ["Tower", ["The tower is", " in the city."]],
            ["City", ["The city is big.", " It is Paris."]],
        ],
        "type": "bridge",
        "level": "hard",
    }


def _write(path: Path, data: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path


def test_hotpotqa_context_official_format(tmp_path: Path) -> None:
    _write(tmp_path / "hotpotqa-context" / "hotpot_dev_distractor_v1.json", [_hotpot_record("5a8b")])
    task = HotpotQAContext(TaskConfig(data_dir=tmp_path))
    (item,) = task.items()
    assert item.id == "hotpotqa-context/dev/5a8b" and item.answer == "Paris"
    assert "[Tower] The tower is in the city." in item.question and "Question: Which city" in item.question
    assert item.meta["type"] == "bridge" and item.meta["level"] == "hard" and item.private == ()
    # Optima's asymmetric setting: gold paragraphs dealt first, one per agent
    (split,) = HotpotQAContext(TaskConfig(data_dir=tmp_path), private_agents=2).items()
    assert "[Tower]" not in split.question
    assert [p[:7] for p in split.private[0]] == ["[Tower]", "[Noise]"]
    assert [p[:6] for p in split.private[1]] == ["[City]"]
    with pytest.raises(ConfigError, match="private_agents=1"):
        HotpotQAContext(private_agents=1)


def test_twowiki_published_format(tmp_path: Path) -> None:
    record = {**_hotpot_record("8813f87c"), "type": "compositional", "evidences": [["Tower", "located in", "Paris"]]}
    record.pop("level")
    _write(tmp_path / "2wikimultihopqa" / "dev.json", [record])
    (item,) = TwoWikiMultiHopQA(TaskConfig(data_dir=tmp_path)).items("test")
    assert item.id == "2wikimultihopqa/dev/8813f87c" and item.meta["evidences"] == [["Tower", "located in", "Paris"]]
    assert asyncio.run(TwoWikiMultiHopQA().score(item, "<A>paris</A>")).details == {"em": 1.0, "f1": 1.0}


def test_triviaqa_scores_against_every_alias(tmp_path: Path) -> None:
    data = {
        "Data": [
            {
                "Question": "Which Lloyd Webber musical premiered in the US on 10th December 1993?",
                "QuestionId": "tc_33",
                "QuestionSource": "http://www.triviacountry.com/",
                "Answer": {
                    "Aliases": ["Sunset Blvd", "Sunset Boulevard"],
                    "NormalizedAliases": ["sunset blvd", "sunset boulevard"],
                    "NormalizedValue": "sunset boulevard",
                    "Type": "WikipediaEntity",
                    "Value": "Sunset Boulevard",
                },
                "EntityPages": [],
                "SearchResults": [],
            },
            {"Question": "No answer here", "QuestionId": "tc_34"},
        ],
        "Domain": "Web",
        "Split": "dev",
        "Version": 1.0,
        "VerifiedEval": False,
    }
    _write(tmp_path / "triviaqa" / "triviaqa-unfiltered" / "unfiltered-web-dev.json", data)
    with pytest.warns(UserWarning, match="skipped 1 malformed record\\(s\\) \\(first: record 2\\)"):
        (item,) = TriviaQA(TaskConfig(data_dir=tmp_path)).items()
    assert item.id == "triviaqa/dev/tc_33" and item.answer == "Sunset Boulevard"
    assert set(item.meta["aliases"]) == {"Sunset Blvd", "sunset blvd", "sunset boulevard"}
    score = asyncio.run(TriviaQA().score(item, "It was <A>Sunset Blvd.</A>"))
    assert score.value == 1.0 and score.extracted == "Sunset Blvd"
    _write(tmp_path / "bad" / "triviaqa" / "unfiltered-web-dev.json", [1, 2])
    with pytest.raises(MalformedDataError, match="no 'Data' list"):
        next(TriviaQA(TaskConfig(data_dir=tmp_path / "bad")).items())


def test_arc_challenge_jsonl_with_letter_and_number_labels(tmp_path: Path) -> None:
    lines = [
        {
            "id": "Mercury_7175875",
            "answerKey": "B",
            "question": {
                "stem": "Which process makes sugar in plants?",
                "choices": [
                    {"text": "respiration", "label": "A"},
                    {"text": "photosynthesis", "label": "B"},
                    {"text": "erosion", "label": "C"},
                    {"text": "melting", "label": "D"},
                ],
            },
        },
        {
            "id": "NYSEDREGENTS_2015_4_11",
            "answerKey": "3",
            "question": {
                "stem": "Which is a liquid?",
                "choices": [
                    {"text": "ice", "label": "1"},
                    {"text": "steam", "label": "2"},
                    {"text": "water", "label": "3"},
                    {"text": "rock", "label": "4"},
                ],
            },
        },
    ]
    _write(
        tmp_path / "arc-challenge" / "ARC-Challenge" / "ARC-Challenge-Test.jsonl",
        "\n".join(json.dumps(line) for line in lines) + "\n",
    )
    task = ARCChallenge(TaskConfig(data_dir=tmp_path))
    first, second = task.items()
    assert first.id == "arc-challenge/test/Mercury_7175875" and first.answer == "B"
    assert "B) photosynthesis" in first.question and first.meta["choices"][1] == "photosynthesis"
    assert second.answer == "C" and second.meta["labels"] == ["1", "2", "3", "4"] and "C) water" in second.question
    assert asyncio.run(task.score(first, "The answer is B")).value == 1.0
    assert asyncio.run(task.score(second, "<A>water</A>")).value == 1.0
    wrong = asyncio.run(task.score(first, "A) respiration"))
    assert wrong.value == 0.0 and wrong.extracted == "A" and not wrong.correct


def test_missing_files_name_every_path_tried(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AGENTNET_DATA_DIR", raising=False)
    config = TaskConfig(data_dir=tmp_path)
    expected = {
        "hotpotqa-context": (HotpotQAContext(config), "hotpotqa-context/hotpot_dev_distractor_v1.json"),
        "2wikimultihopqa": (TwoWikiMultiHopQA(config), "2wikimultihopqa/dev.json"),
        "triviaqa": (TriviaQA(config), "triviaqa/triviaqa-unfiltered/unfiltered-web-dev.json"),
        "arc-challenge": (ARCChallenge(config), "arc-challenge/ARC-Challenge-Test.jsonl"),
        "hotpotqa": (HotpotQA(config), "hotpotqa/hotpot_dev_v1_simplified.json"),
    }
    for name, (task, relative) in expected.items():
        with pytest.raises(DataNotFoundError) as info:
            next(task.items())
        assert f"no {name} data" in str(info.value) and str(tmp_path / relative) in str(info.value)
    with pytest.raises(DataNotFoundError, match="verified-web-dev.json"):
        next(TriviaQA(config).items("verified"))


def test_malformed_records_are_skipped_or_fail_under_strict(tmp_path: Path) -> None:
    bad_context = {**_hotpot_record("b"), "context": [["Title", "not a sentence list"]]}
    no_answer = {k: v for k, v in _hotpot_record("c").items() if k != "answer"}
    _write(
        tmp_path / "hotpotqa-context" / "hotpot_dev_distractor_v1.json",
        [_hotpot_record("a"), bad_context, no_answer, "text", _hotpot_record("e", "Lyon")],
    )
    with pytest.warns(UserWarning, match="skipped 3 malformed record\\(s\\) \\(first: record 2\\)"):
        items = list(HotpotQAContext(TaskConfig(data_dir=tmp_path)).items())
    assert [i.answer for i in items] == ["Paris", "Lyon"]
    with pytest.raises(MalformedDataError, match="hotpot_dev_distractor_v1.json:2: malformed record \\(context"):
        list(HotpotQAContext(TaskConfig(data_dir=tmp_path, strict=True)).items())
    _write(
        tmp_path / "arc-challenge" / "ARC-Challenge-Test.jsonl",
        '{"id": "x", "question": {"stem": "?", "choices": []}, "answerKey": "A"}\n{broken\n',
    )
    with pytest.warns(UserWarning, match="skipped 2 malformed line\\(s\\) \\(first: line 1\\)"):
        assert list(ARCChallenge(TaskConfig(data_dir=tmp_path)).items()) == []
    with pytest.raises(MalformedDataError, match="ARC-Challenge-Test.jsonl:1: malformed line \\(answerKey 'A'"):
        list(ARCChallenge(TaskConfig(data_dir=tmp_path, strict=True)).items())
    _write(tmp_path / "2wikimultihopqa" / "dev.json", "[{not json")
    with pytest.raises(MalformedDataError, match="is not valid JSON"):
        next(TwoWikiMultiHopQA(TaskConfig(data_dir=tmp_path)).items())


def test_score_uses_item_aliases() -> None:
    item = Item("x/1", "Who?", "Robert Zimmerman", {"aliases": ["Bob Dylan"]})
    score = asyncio.run(HotpotQA().score(item, "<A>Bob Dylan</A>"))
    assert score.correct and score.details["em"] == 1.0


def test_invalid_utf8_in_triviaqa_records_is_malformed_not_a_traceback(tmp_path: Path) -> None:
    def record(qid: str, question: str) -> dict:
        return {"Question": question, "QuestionId": qid, "Answer": {"Value": "Paris", "Aliases": []}}

    text = json.dumps({"Data": [record("tq1", "Capital?"), record("tq2", "Caf\u00e9?")]}, ensure_ascii=False)
    path = _write(tmp_path / "triviaqa" / "unfiltered-web-dev.json", "")
    path.write_bytes(text.encode().replace(b"\xc3\xa9", b"\xe9"))
    with pytest.warns(UserWarning, match="skipped 1 malformed record\\(s\\) \\(first: record 2\\)"):
        assert [i.id for i in TriviaQA(TaskConfig(data_dir=tmp_path)).items()] == ["triviaqa/dev/tq1"]
    with pytest.raises(MalformedDataError, match="unfiltered-web-dev.json:1: not valid UTF-8: byte 0xe9"):
        list(TriviaQA(TaskConfig(data_dir=tmp_path, strict=True)).items())
