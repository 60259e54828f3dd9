from agentnet.training.minibatches import Minibatches


def test_batches_cycle_one_seeded_order_and_repeat_for_the_same_step():
    batches = Minibatches(range(5), size=2, seed=3)
    first_pass = batches.at(0) + batches.at(1) + batches.at(2)[:1]
    assert sorted(first_pass) == [0, 1, 2, 3, 4]  # every item once before any repeats
    assert batches.at(2)[1] == first_pass[0]  # then the same order again
    assert Minibatches(range(5), size=2, seed=3).at(1) == batches.at(1)  # a resumed run sees the same batch
    assert Minibatches(range(1), size=3, seed=0).at(7) == [0, 0, 0]
