import random

import pytest

from agentnet.training.optima.mcts import Tree, edit_distance, keep_top, pairs, select
from agentnet.training.optima.reward import turns
from tests.training.optima.conftest import conversation


def add(tree: Tree, reward: float, *texts: str) -> None:
    agents = ["a0", "a1"] * 3
    tree.add(turns(conversation(*[(agents[i], t, 1) for i, t in enumerate(texts)])), reward)


def scripted_tree() -> Tree:
    """Two openings; after "A" Bob's replies differ a lot in reward."""
    tree = Tree()
    add(tree, 1.0, "A", "good", "end1")
    add(tree, 0.8, "A", "good", "end2")
    add(tree, 0.0, "A", "bad", "end3")
    add(tree, 0.3, "B", "meh", "end4")
    return tree


def test_rewards_back_up_as_means_along_each_path():
    tree = scripted_tree()
    (a, b) = sorted(tree.root.children, key=lambda n: n.output)
    assert tree.root.value == pytest.approx((1.0 + 0.8 + 0.0 + 0.3) / 4)
    assert a.value == pytest.approx(0.6)
    good, bad = sorted(a.children, key=lambda n: -n.value)
    assert good.value == pytest.approx(0.9) and bad.value == 0.0
    assert [n.output for n in good.children[0].path()] == ["A", "good", "end1"]
    assert b.value == pytest.approx(0.3)


def test_pairs_come_from_nodes_whose_children_differ_enough():
    found = pairs(scripted_tree(), min_best=0.2, min_gap=0.45)
    # after "A": good 0.9 vs bad 0.0 (gap 0.9); at the root: A 0.6 vs B 0.3 (gap 0.3 < 0.45)
    assert [(p.chosen, p.rejected) for p in found] == [("good", "bad")]
    assert found[0].agent == "a1" and found[0].chosen_value == pytest.approx(0.9)
    assert found[0].prompt[1].content == "turn 1"
    assert pairs(scripted_tree(), min_best=0.95, min_gap=0.45) == []
    root_pair = pairs(scripted_tree(), min_best=0.2, min_gap=0.2)
    assert ("A", "B") in [(p.chosen, p.rejected) for p in root_pair]
    assert len(keep_top(root_pair, 0.5)) == 1 and keep_top(root_pair, 0.5)[0].chosen == "good"


def test_select_takes_expandable_nodes_and_skips_near_duplicates():
    tree = Tree()
    add(tree, 1.0, "Ann lives in Lyon.", "ok", "end")
    add(tree, 0.9, "Ann lives in Lyon!", "ok2", "end")  # distance 1/18 from the first: a near-duplicate
    add(tree, 0.1, "Completely different text", "x", "end")
    chosen = select(tree, 10, random.Random(0), top=10, min_distance=0.25)
    outputs = [n.output for n in chosen]
    assert not any(n.output.startswith("end") for n in chosen)  # conversation ends cannot be expanded
    assert not ({"Ann lives in Lyon.", "Ann lives in Lyon!"} <= set(outputs))
    assert len(select(tree, 2, random.Random(0))) == 2


def test_edit_distance_is_normalised_levenshtein():
    assert edit_distance("kitten", "sitting") == pytest.approx(3 / 7)
    assert edit_distance("", "abc") == 1.0
    assert edit_distance("same", "same") == 0.0
