from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

import agentnet
from agentnet.errors import ConfigError, UnknownNameError
from agentnet.task_types import Item
from agentnet.tasks.base import DataNotFoundError, MalformedDataError, TaskConfig
from agentnet.tasks.choice import MMLU, MMLU_SUBJECTS, AQuA, UnknownSubjectError, extract_choice

ROLES_DIR = Path(agentnet.__file__).parent / "prompts" / "roles"


def test_mmlu_real_files_load_every_split(shared_data: Path) -> None:
    task = MMLU(TaskConfig(data_dir=shared_data))
    # The data README's 14,079 (the Sept 2020 CSVs) is what the files hold, not the later 14,042.
    items = list(task.items("test"))
    counts = {"test": len(items)} | {split: len(list(task.items(split))) for split in ("val", "dev")}
    assert counts == {"test": 14079, "val": 1542, "dev": 285}
    assert len({i.id for i in items}) == len(items)
    assert {i.answer for i in items} == {"A", "B", "C", "D"}
    assert {i.meta["subject"] for i in items} == set(MMLU_SUBJECTS)
    subjects = [i.meta["subject"] for i in items]
    assert subjects == sorted(subjects)
    first = items[0]
    assert first.id == "mmlu/test/abstract_algebra/1" and first.answer == "B"
    assert first.meta["choices"] == ["0", "4", "2", "6"]
    assert first.question.startswith("Find the degree for the given field extension")
    assert "\nA) 0\nB) 4\nC) 2\nD) 6\n" in first.question
    assert first.question.rstrip().endswith("(A, B, C or D), then explain.")


def test_mmlu_subject_filter_is_sorted_and_checked(shared_data: Path) -> None:
    task = MMLU(TaskConfig(data_dir=shared_data), subjects=("virology", "anatomy"))
    items = list(task.items("dev"))
    assert [i.meta["subject"] for i in items] == ["anatomy"] * 5 + ["virology"] * 5
    assert items[5].id == "mmlu/dev/virology/1"
    with pytest.raises(
        UnknownSubjectError, match="unknown MMLU subject 'astrology'; known: abstract_algebra, anatomy"
    ) as info:
        MMLU(subjects=("anatomy", "astrology"))
    assert isinstance(info.value, ConfigError) and isinstance(info.value, UnknownNameError)
    with pytest.raises(ConfigError, match="pass None for every subject"):
        MMLU(subjects=())


def test_aqua_real_files(shared_data: Path) -> None:
    task = AQuA(TaskConfig(data_dir=shared_data))
    test, dev = list(task.items("test")), list(task.items("dev"))
    assert len(test) == 254 and len(dev) == 254
    assert len({i.id for i in test}) == 254 and test[0].id == "aqua/test/1"
    assert {i.answer for i in test} == set("ABCDE")
    assert all(len(i.meta["choices"]) == 5 for i in test)
    first = test[0]
    assert first.answer == "A" and first.meta["choices"][0] == "5(√3 + 1)"
    assert "\nE) None of these\n" in first.question and "(A, B, C, D or E)" in first.question
    assert first.meta["rationale"].startswith("Explanation")


def test_roles_and_decisions_exist() -> None:
    for task in (MMLU, AQuA):
        assert task.decision == "final_refer"
        for role in task.roles:
            assert (ROLES_DIR / f"{role}.md").is_file(), role
    assert len(MMLU.roles) == 9 and "knowledgeable_expert" in MMLU.roles
    assert AQuA.roles == ("math_solver", "mathematical_analyst", "programming_expert", "inspector")


CHOICES = ["Paris", "Lyon", "Marseille", "New York City"]


@pytest.mark.parametrize(
    "output, letter",
    [
        ("B", "B"),
        ("b", "B"),
        ("(B)", "B"),
        ("B)", "B"),
        ("Answer: B", "B"),
        ("**Answer:** C", "C"),
        ("The answer is (C)", "C"),
        ("**D**", "D"),
        ("I choose option b", "B"),
        ("C. The capital of France is not Lyon.", "C"),
        ("C because the others are wrong", "C"),
        ("A is correct because Paris is the capital.", "A"),
        ("B is tempting, but the answer is C.", "C"),  # explicit answer beats the first letter
        ("A good question. The answer is D.", "D"),
        ("The correct option is d.", "D"),
        ("My answer is option D, since it is largest.", "D"),
        ("The answer is: **C**", "C"),
        ("Option A is wrong, option B too. C is correct.", "C"),
        ("the answer is a bit unclear; I choose option c because of the port", "C"),
        ("Final answer: \\boxed{B}", "B"),
        ("After analysis, (B) is the right one.", "B"),
        ("The capital of France is Paris.", "A"),  # the option's text, no letter
        ("The answer is Marseille.", "C"),
        ("Both Paris and Lyon are large. The answer is Lyon", "B"),
        ("It is in New York City.", "D"),  # "New York" alone would not be a separate hit
        ("Paris is the capital.\nAnswer A", "A"),  # a line ending "Answer X"
        ("ANS:D", "D"),
        ("Option C.", "C"),
        ("Lyon is second. D is the answer.", "D"),
        ("Some working first.\nB", "B"),  # a last line that is only the letter
        ("I think Lyon or Paris", ""),  # two options quoted: no answer
        ("A) Paris\nB) Lyon\nC) Marseille\nD) New York City", ""),  # echoing the options
        ("A good question, hard to say.", ""),  # the article "A" is no answer
        ("The answer is E", ""),  # not an option of a four-option question
        ("no idea", ""),
        ("", ""),
    ],
)
def test_letter_extraction(output: str, letter: str) -> None:
    assert extract_choice(output, CHOICES) == letter


def test_the_article_a_is_not_option_a() -> None:
    choices = ["Weight loss", "Pre-tibial myxoedema", "A raised TSH level", "An aversion to warm places"]
    assert extract_choice("The answer is A raised TSH level.", choices) == "C"
    assert extract_choice("A raised TSH level", choices) == "C"
    assert extract_choice("The answer is A because weight drops.", choices) == "A"


def test_long_outputs_stay_fast() -> None:
    # Bounded regex runs: these took seconds each with unbounded overlapping classes.
    for output in ("The answer is" + " " * 20000 + "!", "Answer:" + "*" * 20000, "\n" * 20000 + "1"):
        assert extract_choice(output, CHOICES) == ""


def test_extract_without_choices_reads_letters_only() -> None:
    assert MMLU().extract("The answer is (C)") == "C"
    assert MMLU().extract("The capital of France is Paris.") == ""
    assert MMLU().extract("E") == "" and AQuA().extract("E) because") == "E"


@pytest.mark.parametrize(
    "output, value",
    [
        ("B", 1.0),
        ("The answer is (B).", 1.0),
        ("I pick 4.", 1.0),
        ("The answer is 4, since [Q(sqrt 2, sqrt 3):Q] = 2 * 2.", 1.0),  # first option after "answer is"
        ("It is 4 or 2.", 0.0),  # two options quoted: no answer
        ("A", 0.0),
        ("The answer is 6", 0.0),
        ("", 0.0),
    ],
)
def test_mmlu_scoring(shared_data: Path, output: str, value: float) -> None:
    task = MMLU(TaskConfig(data_dir=shared_data), subjects=("abstract_algebra",))
    item = next(task.items("test"))  # choices 0, 4, 2, 6; gold B
    score = asyncio.run(task.score(item, output))
    assert score.value == value and score.correct == (value == 1.0)


def test_aqua_scoring_uses_five_letters() -> None:
    item = Item("aqua/test/9", "q", "E", {"choices": ["1", "2", "3", "4", "None of these"]})
    assert asyncio.run(AQuA().score(item, "E) None of these")).value == 1.0
    assert asyncio.run(AQuA().score(item, "None of these apply, so the answer is E")).value == 1.0
    score = asyncio.run(AQuA().score(item, "The answer is 3"))
    assert score.value == 0.0 and score.extracted == "C"


def _write(root: Path, relative: str, text: str) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


MMLU_CSV = (
    '"What is 1+1?",1,2,3,4,B\n'  # line 1, record 1
    '"A question\nover two lines?",w,x,y,z,D\n'  # lines 2-3, record 2
    "too,few,fields,C\n"  # line 4, record 3: malformed
    "\n"  # line 5: blank, ignored
    '"Bad letter?",a,b,c,d,F\n'  # line 6, record 4: malformed
    '"Last?",a,b,c,d,a\n'  # line 7, record 5: lower-case answer is fine
)


def test_mmlu_malformed_rows_are_skipped_with_a_count_or_fail_under_strict(tmp_path: Path) -> None:
    _write(tmp_path, "mmlu/test/anatomy_test.csv", MMLU_CSV)
    with pytest.warns(UserWarning, match=r"anatomy_test.csv: skipped 2 malformed line\(s\) \(first: line 4\)"):
        items = list(MMLU(TaskConfig(data_dir=tmp_path)).items())
    assert [(i.id, i.answer) for i in items] == [
        ("mmlu/test/anatomy/1", "B"),
        ("mmlu/test/anatomy/2", "D"),
        ("mmlu/test/anatomy/5", "A"),
    ]
    assert items[1].question.startswith("A question\nover two lines?")
    with pytest.raises(MalformedDataError, match=r"anatomy_test.csv:4: malformed line \(4 fields, expected 6"):
        list(MMLU(TaskConfig(data_dir=tmp_path, strict=True)).items())
    _write(tmp_path, "mmlu/test/anatomy_test.csv", MMLU_CSV.replace("too,few,fields,C\n", ""))
    with pytest.raises(
        MalformedDataError, match=r"anatomy_test.csv:5: malformed line \(answer 'F' is not one of A, B, C, D\)"
    ):
        list(MMLU(TaskConfig(data_dir=tmp_path, strict=True)).items())


def test_aqua_malformed_lines_are_skipped_or_fail_under_strict(tmp_path: Path) -> None:
    good = '{"question": "1+1?", "options": ["A)1", "B)2", "C)3", "D)4", "E)5"], "rationale": "", "correct": "B"}'
    four = '{"question": "2+2?", "options": ["A)1", "B)2", "C)3", "D)4"], "correct": "D"}'
    _write(tmp_path, "aqua/test.json", f"{good}\n{four}\n{good}\n")
    with pytest.warns(UserWarning, match=r"test.json: skipped 1 malformed line\(s\) \(first: line 2\)"):
        items = list(AQuA(TaskConfig(data_dir=tmp_path)).items())
    assert [i.id for i in items] == ["aqua/test/1", "aqua/test/3"] and items[0].meta["choices"][1] == "2"
    with pytest.raises(MalformedDataError, match=r"test.json:2: malformed line \(options must be a list of 5"):
        list(AQuA(TaskConfig(data_dir=tmp_path, strict=True)).items())


def test_missing_data_names_every_path_tried(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENTNET_DATA_DIR", str(tmp_path / "env"))
    (tmp_path / "flag").mkdir()  # a --data-dir that does not exist is refused at construction
    config = TaskConfig(data_dir=tmp_path / "flag")
    with pytest.raises(DataNotFoundError) as info:
        next(MMLU(config).items("val"))
    assert str(tmp_path / "flag" / "mmlu" / "val") in str(info.value)
    assert str(tmp_path / "env" / "mmlu" / "val") in str(info.value) and "--data-dir" in str(info.value)
    with pytest.raises(DataNotFoundError, match="anatomy_dev.csv"):
        next(MMLU(config, subjects=("anatomy",)).items("dev"))
    with pytest.raises(DataNotFoundError) as info:
        next(AQuA(config).items("dev"))
    assert str(tmp_path / "flag" / "aqua" / "dev.json") in str(info.value)
    (tmp_path / "flag" / "mmlu" / "test").mkdir(parents=True)
    with pytest.raises(DataNotFoundError, match="holds no <subject>_test.csv files"):
        next(MMLU(config).items())


def test_unknown_split() -> None:
    with pytest.raises(ConfigError, match="mmlu has no split 'train'; splits: test, val, dev"):
        next(MMLU().items("train"))
    with pytest.raises(ConfigError, match="aqua has no split 'val'; splits: test, dev, train"):
        next(AQuA().items("val"))


def test_mmlu_invalid_utf8_rows_are_malformed_not_a_traceback(tmp_path: Path) -> None:
    path = _write(tmp_path, "mmlu/test/anatomy_test.csv", "")
    path.write_bytes(b'"What is 1+1?",1,2,3,4,B\n"Caf\xe9?",a,b,c,d,A\n"Last?",a,b,c,d,C\n')
    with pytest.warns(UserWarning, match=r"anatomy_test.csv: skipped 1 malformed line\(s\) \(first: line 2\)"):
        items = list(MMLU(TaskConfig(data_dir=tmp_path)).items())
    assert [i.id for i in items] == ["mmlu/test/anatomy/1", "mmlu/test/anatomy/3"]
    with pytest.raises(MalformedDataError, match=r"anatomy_test.csv:2: malformed line \(not valid UTF-8\)"):
        list(MMLU(TaskConfig(data_dir=tmp_path, strict=True)).items())
