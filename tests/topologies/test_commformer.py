"""CommFormer on tiny teams: hand-computable selections, exact log-probabilities checked against
brute-force Plackett–Luce enumeration and Monte Carlo, straight-through gradients, the gate, the
bi-level schedule and persistence."""

from __future__ import annotations

import itertools
import math
from collections import Counter
from pathlib import Path

import pytest

torch = pytest.importorskip("torch", reason="SKIPPED LOUDLY: torch missing; install the [graph] extra")

from agentnet.agents import AgentSpec  # noqa: E402
from agentnet.errors import ConfigError  # noqa: E402
from agentnet.graph import CommGraph, Decision  # noqa: E402
from agentnet.runtime import Team  # noqa: E402
from agentnet.testing import ScriptedBackend  # noqa: E402
from agentnet.topologies.configs import CommFormerConfig  # noqa: E402
from agentnet.topologies.commformer import CommFormer, gumbel_top_k  # noqa: E402
from agentnet.topologies.embeddings import HashEmbedder  # noqa: E402
from agentnet.topologies.learned import build_graph  # noqa: E402

torch.set_num_threads(1)

DECISION = Decision("last_agent")


def team(n: int) -> list[AgentSpec]:
    return [AgentSpec(f"a{i}", "math_solver") for i in range(n)]


def model(n: int = 5, rounds: int = 2, **kw) -> CommFormer:
    return CommFormer(team(n), rounds, DECISION, CommFormerConfig(**{"warmup_steps": 0, **kw}), HashEmbedder(dim=16))


def randomise(m: CommFormer, seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        m.spatial.copy_(torch.randn(m.spatial.shape, generator=g))
        m.temporal.copy_(torch.randn(m.temporal.shape, generator=g))


def test_config_errors_name_the_value() -> None:
    with pytest.raises(ConfigError, match=r"ratio=0.0 must be in \(0, 1\]"):
        CommFormerConfig(ratio=0.0)
    with pytest.raises(ConfigError, match="freeze_after=1.5"):
        CommFormerConfig(freeze_after=1.5)
    with pytest.raises(ConfigError, match="edge_every=0"):
        CommFormerConfig(edge_every=0)
    with pytest.raises(ConfigError, match="k=13"):
        CommFormer(team(13), 1, DECISION, CommFormerConfig(ratio=1.0, gate=False))


def test_shapes_k_and_groups() -> None:
    m = model(5)
    assert m.k == 2 and model(3).k == 1 and model(2).k == 1  # max(floor(0.4 N), 1)
    assert m.spatial.shape == m.temporal.shape == (5, 5)
    assert torch.all(m.spatial == 1.0)  # CommFormer's initialisation
    groups = {g["name"]: g for g in m.param_groups()}
    assert list(groups) == ["edges", "gate"] and groups["edges"]["lr"] == groups["gate"]["lr"] == 1e-2
    assert groups["edges"]["params"] == [m.spatial, m.temporal] and len(groups["gate"]["params"]) == 5
    assert model(5, gate=False).param_groups()[1]["params"] == []


def test_samples_respect_k_and_agent_order() -> None:
    m = model(5)
    randomise(m, 0)
    slots = [min(2, i + 1) for i in range(5)]  # spatial row i: senders j < i plus "no message"
    for _ in range(1000):
        s = m.sample("q")
        assert s.spatial_select.sum(1).round().tolist() == slots
        assert s.temporal_select.sum(1).round().tolist() == [2] * 5
        for i, name in enumerate(s.graph.names):
            senders = [int(u[1:]) for u in s.graph.spatial_preds(name, 0)]
            assert all(j < i for j in senders)  # so every round is acyclic
            assert len(senders) in (slots[i] - 1, slots[i])
            assert len(s.graph.temporal_preds(name, 1)) == 2
        assert s.graph.spatial[0] == s.graph.spatial[1]
        assert math.isfinite(s.log_prob.item())


def test_straight_through_gradients_only_on_sampled_rows() -> None:
    m = model(5)
    randomise(m, 1)
    s = m.sample("q")
    hard = s.spatial_select.detach()
    assert torch.allclose(hard, hard.round(), atol=1e-6)  # forward value is the hard selection
    w = torch.randn(5, 5, generator=torch.Generator().manual_seed(2))
    ((s.spatial_select * w).sum() + (s.temporal_select * w.T).sum()).backward()
    g = m.spatial.grad
    assert torch.all(g[:2] == 0)  # rows 0 (only "no message") and 1 (takes both {a0, none}) are not random
    for i in range(2, 5):
        assert torch.all(g[i, : i + 1] != 0) and torch.all(g[i, i + 1 :] == 0)  # masked j > i: zero
    assert torch.all(m.temporal.grad != 0)


def brute_force(probs: list[float], chosen: set[int]) -> float:
    """Σ over the orders of `chosen` of the Plackett–Luce probability of drawing them first."""
    total = 0.0
    for order in itertools.permutations(chosen):
        p, left = 1.0, 1.0
        for a in order:
            p *= probs[a] / left
            left -= probs[a]
        total += p
    return total


def all_graphs(m: CommFormer) -> list[tuple[CommGraph, float]]:
    """Every graph a sample can return, with its brute-force probability."""
    n, rounds = len(m.agents), m.rounds

    def rows(theta: torch.Tensor, allowed: list[list[int]]) -> list[list[tuple[set[int], float]]]:
        out = []
        for i, cand in enumerate(allowed):
            p = torch.softmax(theta[i, cand].double(), 0).tolist()
            probs = dict(zip(cand, p))
            slots = min(m.k, len(cand))
            out.append([(set(c), brute_force(probs, set(c))) for c in itertools.combinations(cand, slots)])
        return out

    spatial = rows(m.spatial.detach(), [list(range(i + 1)) for i in range(n)])
    temporal = rows(m.temporal.detach(), [list(range(n))] * n) if rounds > 1 else [[(set(), 1.0)]] * n
    graphs = []
    for s_rows in itertools.product(*spatial):
        for t_rows in itertools.product(*temporal):
            s = {(j, i) for i, (c, _) in enumerate(s_rows) for j in c if j != i}
            t = {(j, i) for i, (c, _) in enumerate(t_rows) for j in c}
            p = math.prod(q for _, q in s_rows) * math.prod(q for _, q in t_rows)
            graphs.append((build_graph(m.agents, s, t, rounds, m.decision), p))
    return graphs


@pytest.mark.parametrize("ratio", [0.4, 0.7])  # N=3: k=1 and k=2
def test_exact_log_prob_equals_enumeration(ratio: float) -> None:
    m = model(3, rounds=2, ratio=ratio)
    randomise(m, 3)
    graphs = all_graphs(m)
    assert len(graphs) == (2 * 3 * 27 if m.k == 1 else 3 * 27)
    exact = [m.graph_log_prob(g).exp().item() for g, _ in graphs]
    assert sum(exact) == pytest.approx(1.0, abs=1e-6)
    assert exact == pytest.approx([p for _, p in graphs], abs=1e-7)
    # impossible graphs are -inf, not an error: a sender after its receiver; too many senders
    temporal = {(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2)}
    assert m.graph_log_prob(build_graph(m.agents, {(1, 0)}, temporal, 2, DECISION)).item() == float("-inf")
    assert m.graph_log_prob(build_graph(m.agents, {(0, 2), (1, 2)}, temporal, 2, DECISION)).item() == float("-inf")


def test_monte_carlo_frequencies_match_exact_probabilities() -> None:
    m = model(3, rounds=2, ratio=0.7)  # k=2: 81 possible graphs
    randomise(m, 4)
    n = 2000
    counts = Counter(m.sample("q").graph for _ in range(n))
    for graph, p in all_graphs(m):
        assert abs(counts[graph] / n - p) < 4 * math.sqrt(p * (1 - p) / n) + 2e-3, graph
    # and the sampler alone, on one 4-way row: P({0,1}) under Plackett-Luce
    theta = torch.tensor([[2.0, 1.0, 0.0, -1.0]])
    allowed, gen = torch.ones(1, 4, dtype=torch.bool), torch.Generator().manual_seed(5)
    hits = sum(gumbel_top_k(theta, allowed, 2, 1.0, gen)[0][0, :2].all().item() for _ in range(4000))
    p = brute_force(torch.softmax(theta[0], 0).tolist(), {0, 1})
    assert abs(hits / 4000 - p) < 4 * math.sqrt(p * (1 - p) / 4000)


def test_warmup_is_dense_and_untrained() -> None:
    m = model(4, rounds=2, warmup_steps=3)
    m.set_step(0, 10)
    s = m.sample("q")
    assert set(s.graph.spatial[0]) == {(f"a{j}", f"a{i}") for i in range(4) for j in range(i)}
    assert len(s.graph.temporal[0]) == 16 and s.stats["density"] == 1.0
    assert s.log_prob.item() == 0.0 and s.log_prob.requires_grad  # backward() works, gives zeros
    assert m.active_groups(0) == ["gate"]
    m.set_step(4, 10)
    assert len(m.sample("q").graph.spatial[0]) < 6 and m.active_groups(4) == ["edges"]


def test_bilevel_schedule_and_freezing() -> None:
    m = model(4, warmup_steps=2, edge_every=2, freeze_after=0.5)
    m.set_step(0, 10)
    assert [m.active_groups(t) for t in range(7)] == [
        ["gate"],
        ["gate"],
        ["edges"],
        ["gate"],
        ["edges"],
        ["gate"],
        ["gate"],
    ]
    m.set_step(5, 10)  # 5 >= 0.5 * 10: the graph stops changing
    s = m.sample("q")
    assert s.graph == m.graph_for("q") and s.log_prob.item() == 0.0
    plain = model(4, warmup_steps=1, gate=False)
    assert [plain.active_groups(t) for t in range(3)] == [[], ["edges"], ["edges"]]
    assert model(4, edge_every=1).active_groups(1) == ["edges", "gate"]
    unfrozen = model(4, freeze_after=0.5)  # no total given: never frozen
    unfrozen.set_step(99)
    assert unfrozen.active_groups(99) == ["gate"] and unfrozen.active_groups(100) == ["edges"]


def test_gate_records_log_probs_that_reach_only_gate_parameters() -> None:
    m = model(3)
    s = m.sample("What is 2+2?")
    decisions = [
        s.gate(a, r, own, "What is 2+2?") for a, r, own in [("a1", 0, ""), ("a2", 1, "It is 4"), ("a0", 1, "5")]
    ]
    assert [(a, r, d) for a, r, d in s.gate_decisions] == [
        ("a1", 0, decisions[0]),
        ("a2", 1, decisions[1]),
        ("a0", 1, decisions[2]),
    ]
    assert len(s.gate_log_probs) == 3
    p = m.gate_prob("a2", "It is 4", "What is 2+2?").item()
    assert s.gate_log_probs[1].item() == pytest.approx(math.log(p if decisions[1] else 1 - p), rel=1e-5)
    assert 0 < s.stats["gate_open_prob"] < 1 and s.stats["gate_open_rate"] == sum(decisions) / 3
    sum(s.gate_log_probs).backward()
    assert m.spatial.grad is None and m.temporal.grad is None
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in m.param_groups()[1]["params"][:4])
    assert m.gate_bias.grad[[1, 2, 0]].ne(0).all()
    with pytest.raises(ConfigError, match="no agent 'zz'"):
        m.gate_prob("zz", "", "q")
    off = model(3, gate=False)
    assert off.sample("q").gate is None and off.inference_gate is None


def test_runtime_calls_the_sampled_gate() -> None:
    m = model(3, rounds=2)
    s = m.sample("q")
    graph = s.graph
    team_run = Team(graph, ScriptedBackend(lambda msgs, st: "The answer is 4"), receive_gate=s.gate).run("q")
    assert team_run.answer
    with_senders = sum(
        bool(graph.spatial_preds(a, r) or graph.temporal_preds(a, r)) for r in range(2) for a in graph.names
    )
    assert len(s.gate_log_probs) == with_senders > 0
    assert torch.isfinite(s.total_log_prob())


def test_graph_for_is_deterministic_top_k() -> None:
    m = model(3, rounds=2)  # k = 1
    with torch.no_grad():
        m.spatial.copy_(torch.tensor([[0.0, 0, 0], [0.0, 5.0, 0], [3.0, 1.0, 0.0]]))  # a1: no message; a2 ← a0
        m.temporal.copy_(torch.tensor([[0.0, 1, 0], [0.0, 0, 2], [4.0, 0, 0]]))  # a0 ← a1, a1 ← a2, a2 ← a0
    g = m.graph_for("q")
    assert g.spatial[0] == (("a0", "a2"),)
    assert set(g.temporal[0]) == {("a1", "a0"), ("a2", "a1"), ("a0", "a2")}
    assert m.graph_for("another query") == g
    gate = m.inference_gate
    assert gate("a1", 0, "", "q") == (m.gate_prob("a1", "", "q").item() > 0.5)


def test_save_load_round_trip(tmp_path: Path) -> None:
    m = model(4, rounds=2, ratio=0.5, seed=3)
    randomise(m, 6)
    path = m.save(tmp_path / "cf.pt")
    loaded = CommFormer.load(path, HashEmbedder(dim=16))
    assert loaded.config == m.config and loaded.graph_for("q") == m.graph_for("q")
    assert loaded.gate_prob("a2", "x", "q").item() == m.gate_prob("a2", "x", "q").item()
    torch.save({"kind": "gdesigner"}, tmp_path / "other.pt")
    with pytest.raises(ConfigError, match="not 'commformer'"):
        CommFormer.load(tmp_path / "other.pt", HashEmbedder(dim=16))


def test_reinforce_on_the_exact_log_prob_learns_a_rewarded_edge() -> None:
    """REINFORCE with a mean baseline on a toy reward (1 when a2 hears a1) makes a1 -> a2 the inference edge."""
    m = model(4, rounds=1, gate=False)  # k = 1: a2 picks one of a0, a1, "no message"
    assert m.graph_for("q").spatial_preds("a2", 0) == ["a0"]  # equal scores at init: the lowest index wins
    opt = torch.optim.Adam([m.spatial], lr=0.1)
    for _ in range(40):
        samples = [m.sample("q") for _ in range(4)]
        rewards = [float(("a1", "a2") in s.graph.spatial[0]) for s in samples]
        base = sum(rewards) / len(rewards)
        opt.zero_grad()
        sum(-(r - base) * s.log_prob for s, r in zip(samples, rewards)).backward()
        opt.step()
    assert m.graph_for("q").spatial_preds("a2", 0) == ["a1"]
