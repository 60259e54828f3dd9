"""The adaptive-team heads: exact probabilities of who runs, and the stop head's centred features."""

from __future__ import annotations

import itertools
import math
from collections import Counter

import pytest

torch = pytest.importorskip("torch", reason="SKIPPED LOUDLY: torch missing; install the [graph] extra")

from agentnet.topologies.embeddings import HashEmbedder  # noqa: E402
from agentnet.rounds import Spoken  # noqa: E402
from agentnet.topologies.configs import HeadsConfig  # noqa: E402
from agentnet.topologies.heads import TeamHeads, draw_round_team, round_team_log_prob  # noqa: E402


def test_the_probabilities_of_every_non_empty_team_sum_to_one() -> None:
    """A round's team is drawn given that someone runs: the non-empty teams carry all the mass."""
    p = torch.tensor([0.3, 0.05, 0.6, 0.2])
    teams = [set(c) for k in range(1, 5) for c in itertools.combinations(range(4), k)]
    total = sum(math.exp(float(round_team_log_prob(p, team))) for team in teams)
    assert total == pytest.approx(1.0, abs=1e-5)
    someone = 1 - float(torch.prod(1 - p))
    assert math.exp(float(round_team_log_prob(p, {2}))) == pytest.approx(0.7 * 0.95 * 0.6 * 0.8 / someone, abs=1e-6)


def test_teams_are_drawn_with_the_probabilities_the_log_probability_gives() -> None:
    p, g = torch.tensor([0.1, 0.05, 0.15]), torch.Generator().manual_seed(0)
    draws = Counter(frozenset(draw_round_team(p, g)) for _ in range(20000))
    assert frozenset() not in draws
    for team, n in draws.items():
        assert n / 20000 == pytest.approx(math.exp(float(round_team_log_prob(p, set(team)))), abs=0.015)


def test_a_rewarded_solo_agent_gains_probability_even_when_every_agent_is_below_one_half() -> None:
    """Under the old rule (an empty draw runs the argmax) this gradient was zero."""
    logits = torch.tensor([-1.0, -2.0, -1.5], requires_grad=True)
    round_team_log_prob(torch.sigmoid(logits), {0}).backward()
    assert logits.grad is not None and logits.grad[0] > 0 and (logits.grad[1:] < 0).all()


def test_sampled_plans_never_run_an_empty_round_and_inference_is_deterministic() -> None:
    heads = TeamHeads(3, 2, HashEmbedder(16), HeadsConfig(activation=True, skip_decision=True, activation_init=-4.0))
    q = heads.query_features("What is 2+2?")
    g = torch.Generator().manual_seed(0)
    plans = [heads.sample(q, g) for _ in range(20)]
    assert all(all(team for team in plan.active) for plan in plans)
    assert all(torch.isfinite(plan.log_prob) for plan in plans)
    once, again = heads.deterministic(q), heads.deterministic(q)
    assert once.active == again.active and all(len(team) == 1 for team in once.active)  # p ≈ 0.02: the argmax alone


def test_the_stop_gate_records_the_log_probability_of_what_it_decided() -> None:
    heads = TeamHeads(2, 3, HashEmbedder(16), HeadsConfig(stop=True, stop_init=0.0))
    q = heads.query_features("q")
    log_probs: list[torch.Tensor] = []
    stats: dict[str, float] = {}
    gate = heads.sampling_stop_gate(q, torch.Generator().manual_seed(1), log_probs, stats)
    said = {"a0": Spoken("a0", "The answer is 4", "4"), "a1": Spoken("a1", "The answer is 5", "5")}
    decisions = [gate(0, said, "q") for _ in range(10)]
    p = float(heads.stop_prob(q, 0, said).detach())
    for stopped, lp in zip(decisions, log_probs):
        assert float(lp.detach()) == pytest.approx(math.log(p) if stopped else math.log(1 - p), abs=1e-5)
    assert len(set(decisions)) == 2  # p = 0.5 at the start: both happen in ten draws


def test_the_stop_features_are_centred_by_a_mean_kept_with_the_model() -> None:
    heads = TeamHeads(2, 2, HashEmbedder(16), HeadsConfig(stop=True))
    q = heads.query_features("q")
    said = {"a0": Spoken("a0", "The answer is 4", "4")}
    x = heads.stop_features(q, 0, said)
    before = heads.stop_prob(q, 0, said)  # inference does not move the mean
    assert int(heads.stop_seen) == 0
    heads.stop_prob(q, 0, said, learn=True)
    assert torch.allclose(heads.stop_mean, x) and int(heads.stop_seen) == 1
    # the features seen so far are now the centre: only the bias speaks for them
    assert float(heads.stop_prob(q, 0, said).detach()) == pytest.approx(
        float(torch.sigmoid(heads.stop.bias.detach())[0])
    )
    assert float(before.detach()) == pytest.approx(
        float(torch.sigmoid(heads.stop.bias.detach())[0])
    )  # zero weights at the start
    loaded = TeamHeads(2, 2, HashEmbedder(16), HeadsConfig(stop=True))
    loaded.load_state_dict(heads.state_dict())
    assert torch.equal(loaded.stop_mean, heads.stop_mean)


def test_the_activation_and_decision_heads_read_the_query_centred_by_its_training_mean() -> None:
    """What every training query shares moves the bias alone: with all queries alike, a weight
    change leaves the probabilities where the bias puts them."""
    heads = TeamHeads(2, 1, HashEmbedder(16), HeadsConfig(activation=True, skip_decision=True, centre_query=True))
    q = heads.query_features("the one query")
    heads.deterministic(q)  # inference does not move the mean
    assert int(heads.query_seen) == 0
    heads.sample(q, torch.Generator().manual_seed(0))
    assert torch.allclose(heads.query_mean, q) and int(heads.query_seen) == 1
    with torch.no_grad():
        heads.act.weight.fill_(3.0)
        heads.decide.weight.fill_(-3.0)
    assert torch.allclose(heads.activation_probs(q), torch.sigmoid(heads.act.bias).reshape(1, 2))
    assert float(heads.decide_prob(q)) == pytest.approx(float(torch.sigmoid(heads.decide.bias)), abs=1e-6)


def test_heads_saved_before_the_query_centring_load_as_the_uncentred_heads_they_were() -> None:
    heads = TeamHeads(2, 1, HashEmbedder(16), HeadsConfig(activation=True))
    with torch.no_grad():
        heads.act.weight.fill_(1.0)
    old = {k: v for k, v in heads.state_dict().items() if not k.startswith("query_")}
    loaded = TeamHeads(2, 1, HashEmbedder(16), HeadsConfig(activation=True))
    loaded.load_state_dict(old)  # strict: the missing mean is filled, not an error
    q = loaded.query_features("q")
    assert torch.allclose(loaded.query_mean, torch.zeros(16))
    assert torch.allclose(loaded.activation_probs(q), torch.sigmoid(heads.act(q)).reshape(1, 2))


def test_the_stop_head_reads_agreement_tool_status_logprob_and_who_spoke() -> None:
    heads = TeamHeads(3, 2, HashEmbedder(16), HeadsConfig(stop=True), models=["small", "small", "big"])
    q = heads.query_features("q")
    said = {"a0": Spoken("a0", "x", "4", "small", "failed", -0.5), "a1": Spoken("a1", "y", "4", "small", None, -1.5)}
    tail = heads.stop_features(q, 0, said)[-5:].tolist()
    # agreement 2/2, one tool run of one failed, mean log-probability -1, small spoke and big did not
    assert tail == pytest.approx([1.0, 1.0, -1.0, 1.0, 0.0])
    old = TeamHeads(3, 2, HashEmbedder(16), HeadsConfig(stop=True, read_said=False), models=["small", "small", "big"])
    assert old.stop.in_features == heads.stop.in_features - 4


def test_a_model_saved_before_read_said_loads_as_it_was_trained() -> None:
    from agentnet.topologies.learned import config_from_dict

    assert config_from_dict(HeadsConfig, {"stop": True}).read_said is False
    assert config_from_dict(HeadsConfig, {"stop": True, "read_said": True}).read_said is True
