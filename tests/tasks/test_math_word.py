from __future__ import annotations

import asyncio
import itertools
from pathlib import Path

import pytest

from agentnet.errors import UnknownNameError
from agentnet.tasks import TaskConfig, make_task
from agentnet.tasks.base import DataNotFoundError, MalformedDataError


def test_real_files_load_with_gold_answers(shared_data: Path) -> None:
    config = TaskConfig(data_dir=shared_data)
    gsm = list(make_task("gsm8k", config).items("test"))
    assert len(gsm) == 1319 and gsm[0].answer == "18" and gsm[0].question.startswith("Janet")
    assert len(list(make_task("gsm8k", config).items("train"))) == 7473
    multi = list(make_task("multiarith", config).items())
    assert (
        len(multi) == 600
    )  # the data README says 599; the file has 600 (MultiArith has 600 problems) and multi[0].answer == "39"
    svamp = list(make_task("svamp", config).items())
    assert len(svamp) == 1000 and len({i.id for i in svamp}) == 1000


@pytest.mark.parametrize(
    "output, score",
    [
        ("She makes 9 * 2 = 18. The answer is 18", 1.0),
        ("The answer is $18.00.", 1.0),
        ("The answer is 81", 0.0),
        ("I think 17, no wait, 18", 1.0),
        ("no idea", 0.0),
    ],
)
def test_numeric_scoring(shared_data: Path, output: str, score: float) -> None:
    task = make_task("gsm8k", TaskConfig(data_dir=shared_data))
    item = next(task.items())
    assert asyncio.run(task.score(item, output)).value == score


def test_missing_data_names_every_path_tried(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENTNET_DATA_DIR", str(tmp_path / "env"))
    (tmp_path / "flag").mkdir()  # a --data-dir that does not exist is refused at construction
    with pytest.raises(DataNotFoundError) as info:
        next(make_task("gsm8k", TaskConfig(data_dir=tmp_path / "flag")).items())
    message = str(info.value)
    assert str(tmp_path / "flag" / "gsm8k" / "test.jsonl") in message
    assert str(tmp_path / "env" / "gsm8k" / "test.jsonl") in message
    assert "--data-dir" in message and "AGENTNET_DATA_DIR" in message


def test_malformed_lines_are_skipped_with_a_count_or_fail_under_strict(tmp_path: Path) -> None:
    (tmp_path / "gsm8k").mkdir()
    (tmp_path / "gsm8k" / "test.jsonl").write_text(
        '{"question": "1+1?", "answer": "#### 2"}\n{broken\n{"question": "no answer"}\n{"question": "2+2?", "answer": "#### 4"}\n'
    )
    with pytest.warns(UserWarning, match="skipped 2 malformed line\\(s\\) \\(first: line 2\\)"):
        items = list(make_task("gsm8k", TaskConfig(data_dir=tmp_path)).items())
    assert [i.answer for i in items] == ["2", "4"]
    with pytest.raises(MalformedDataError, match="test.jsonl:2: malformed line"):
        list(make_task("gsm8k", TaskConfig(data_dir=tmp_path, strict=True)).items())


def test_unknown_task_and_split() -> None:
    with pytest.raises(UnknownNameError, match="unknown task 'gsm9k'; known: .*gsm8k"):
        make_task("gsm9k")
    with pytest.raises(Exception, match="no split 'dev'; splits: test, train"):
        next(make_task("gsm8k").items("dev"))


def test_item_ids_are_stable(shared_data: Path) -> None:
    task = make_task("gsm8k", TaskConfig(data_dir=shared_data))
    first = [i.id for i in itertools.islice(task.items(), 3)]
    assert (
        first == [i.id for i in itertools.islice(task.items(), 3)] == ["gsm8k/test/1", "gsm8k/test/2", "gsm8k/test/3"]
    )


def test_hub_fallback_is_named_when_no_file_is_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    monkeypatch.delenv("AGENTNET_DATA_DIR", raising=False)  # else the real files are found there

    with pytest.raises(DataNotFoundError) as info:
        next(make_task("gsm8k", TaskConfig(data_dir=tmp_path)).items())
    if importlib.util.find_spec("datasets") is None:
        assert "pip install datasets` to fetch openai/gsm8k from the hub" in str(info.value)
    else:  # installed, but this machine reaches no hub
        assert "the hub copy openai/gsm8k failed too" in str(info.value)


def test_invalid_utf8_lines_are_malformed_not_a_traceback(tmp_path: Path) -> None:
    (tmp_path / "gsm8k").mkdir()
    (tmp_path / "gsm8k" / "test.jsonl").write_bytes(
        b'{"question": "1+1?", "answer": "#### 2"}\n{"question": "\xff?", "answer": "#### 3"}\n'
        b'{"question": "2+2?", "answer": "#### 4"}\n'
    )
    with pytest.warns(UserWarning, match="skipped 1 malformed line\\(s\\) \\(first: line 2\\)"):
        items = list(make_task("gsm8k", TaskConfig(data_dir=tmp_path)).items())
    assert [i.id for i in items] == ["gsm8k/test/1", "gsm8k/test/3"]
    with pytest.raises(MalformedDataError, match="test.jsonl:2: malformed line \\(not valid UTF-8: byte 0xff"):
        list(make_task("gsm8k", TaskConfig(data_dir=tmp_path, strict=True)).items())


def test_invalid_utf8_in_a_json_list_is_malformed_not_a_traceback(tmp_path: Path) -> None:
    (tmp_path / "svamp").mkdir()
    record = '{{"ID": "chal-{0}", "Body": "{1}", "Question": "How many?", "Answer": {0}}}'
    body = ",\n".join(
        [record.format(1, "Ann has 1."), record.format(2, "Bea has \xff."), record.format(3, "Cy has 3.")]
    )
    (tmp_path / "svamp" / "SVAMP.json").write_bytes(f"[{body}]".encode("utf-8").replace(b"\xc3\xbf", b"\xff"))
    with pytest.warns(UserWarning, match="skipped 1 malformed record\\(s\\) \\(first: record 2\\)"):
        assert [i.answer for i in make_task("svamp", TaskConfig(data_dir=tmp_path)).items()] == ["1", "3"]
    with pytest.raises(MalformedDataError, match="SVAMP.json:2: not valid UTF-8: byte 0xff"):
        list(make_task("svamp", TaskConfig(data_dir=tmp_path, strict=True)).items())
