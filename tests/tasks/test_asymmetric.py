from __future__ import annotations

import asyncio
import itertools
import re

import pytest

from agentnet.errors import ConfigError
from agentnet.prompts import load_role
from agentnet.tasks.asymmetric import FAMILIES, Asymmetric, Fact, Query, make_puzzle, solve
from agentnet.tasks.base import TaskConfig


def test_items_are_deterministic_given_seed_and_index() -> None:
    a = list(Asymmetric(TaskConfig(seed=7)).items("train"))
    b = list(Asymmetric(TaskConfig(seed=7)).items("train"))
    assert a == b and len(a) == 200 and len(list(Asymmetric().items())) == 100
    assert a[0].id == "asymmetric/train/s7-n2/0"
    other_seed = list(Asymmetric(TaskConfig(seed=8)).items("train"))
    assert sum(x.question == y.question for x, y in zip(a, other_seed)) < 20
    # a shorter split is a prefix of a longer one: sizes cut streams, they do not reseed them
    assert list(Asymmetric(train_size=5, config=TaskConfig(seed=7)).items("train")) == a[:5]
    assert {i.meta["family"] for i in a} == set(FAMILIES)


def test_train_and_test_are_disjoint() -> None:
    task = Asymmetric(TaskConfig(seed=3))

    def fingerprint(item):  # type: ignore[no-untyped-def]
        return item.question, tuple(tuple(sorted(p)) for p in item.private)

    train = {fingerprint(i) for i in task.items("train")}
    test = [fingerprint(i) for i in task.items("test")]
    assert len(train) == 200 and len(set(test)) == 100 and not train.intersection(test)


@pytest.mark.parametrize("agents", [2, 3, 5, 8])
def test_needed_facts_are_split_so_no_agent_can_answer_alone(agents: int) -> None:
    for seed, split, index in itertools.product(range(4), ("train", "test"), range(30)):
        puzzle = make_puzzle(seed, split, index, agents)
        assert len(puzzle.private) == agents
        everything = [f for hand in puzzle.private for f in hand]
        assert solve(puzzle.query, puzzle.needed) == puzzle.answer == solve(puzzle.query, everything)
        for fact in puzzle.needed:  # in exactly one private list, and indispensable
            assert sum(fact in hand for hand in puzzle.private) == 1
            assert solve(puzzle.query, [f for f in everything if f != fact]) is None
        for hand in puzzle.private:  # every agent holds something needed, none enough
            assert any(f in puzzle.needed for f in hand)
            assert solve(puzzle.query, hand) is None
        assert len({f.key for f in everything}) == len(everything)  # no key defined twice
        question = puzzle.query.text
        assert not any(f.text in question for f in everything)


def test_item_meta_matches_the_puzzle_and_the_question_hides_private_facts() -> None:
    task = Asymmetric(TaskConfig(seed=1), agents=3)
    assert task.roles == ("alice", "bob", "info_holder")
    for index, item in enumerate(itertools.islice(task.items("test"), 30)):
        puzzle = make_puzzle(1, "test", index, 3)
        assert item.private == tuple(tuple(f.text for f in hand) for hand in puzzle.private)
        assert item.meta["needed"] == [f.text for f in puzzle.needed] and item.meta["family"] == puzzle.family
        assert item.question.startswith(puzzle.query.text) and "<A>" in item.question
        assert "Alice, Bob and Agent 3" in item.question
        assert not any(text in item.question for hand in item.private for text in hand)


def test_fact_texts_read_as_their_structure() -> None:
    for index in range(60):
        for fact in (f for hand in make_puzzle(0, "test", index).private for f in hand):
            assert fact.key[0] in fact.text
            if fact.source is not None:
                assert fact.source[0] in fact.text and fact.value is None
            else:
                assert str(fact.value) in fact.text


def test_solver_on_a_hand_written_chain() -> None:
    facts = [
        Fact(("Ann", "lives"), "Ann lives in the city where Bea works.", source=("Bea", "works")),
        Fact(("Bea", "works"), "Bea works in Lyon.", value="Lyon"),
        Fact(("red", "coins"), "The red box holds 3 coins.", value=3),
        Fact(("blue", "coins"), "The blue box holds twice as many.", source=("red", "coins"), op="times", k=2),
    ]
    assert solve(Query("value", (("Ann", "lives"),), "?"), facts) == "Lyon"
    assert solve(Query("value", (("Ann", "lives"),), "?"), facts[:1]) is None
    assert solve(Query("value", (("blue", "coins"),), "?"), facts) == "6"
    assert solve(Query("max", (("red", "coins"), ("blue", "coins")), "?"), facts) == "blue"
    assert solve(Query("min", (("red", "coins"), ("blue", "coins")), "?"), facts[3:]) is None


@pytest.mark.parametrize(
    "output, value, em",
    [
        ("Bea told me. <A>{gold}</A>", 1.0, 1.0),
        ("The answer is {gold}.", 1.0, 1.0),
        ("<A>Nowhere</A>", 0.0, 0.0),
        ("<A>{gold} or Oslo</A>", 0.5, 0.0),  # F1: P 1/3, R 1 -> 0.5
    ],
)
def test_scoring(output: str, value: float, em: float) -> None:
    task = Asymmetric()
    item = next(i for i in task.items() if i.meta["family"] == "chain" and " " not in i.answer)
    score = asyncio.run(task.score(item, output.format(gold=item.answer)))
    assert score.value == pytest.approx(value) and score.details["em"] == em


def test_bad_settings_and_split() -> None:
    with pytest.raises(ConfigError, match="agents=1: the facts must split over 2 to 8 agents"):
        Asymmetric(agents=1)
    with pytest.raises(ConfigError, match="test_size=-1"):
        Asymmetric(test_size=-1)
    with pytest.raises(ConfigError, match="no split 'dev'; splits: train, test"):
        next(Asymmetric().items("dev"))


def test_role_files_exist_and_ask_for_the_tag() -> None:
    for role in ("alice", "bob", "info_holder", "qa_expert"):
        card = load_role(role)
        assert re.search(r"<A>.*</A>", card.system) and card.title
