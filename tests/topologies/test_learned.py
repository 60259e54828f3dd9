from __future__ import annotations

import itertools
import math

import pytest

torch = pytest.importorskip("torch", reason="SKIPPED LOUDLY: torch missing; install the [graph] extra")

from agentnet.graph import find_cycle  # noqa: E402
from agentnet.topologies.learned import bernoulli_edges, dag_log_prob, pair_order, sample_dag, threshold_dag  # noqa: E402

torch.set_num_threads(1)
PROBS = torch.tensor([[0.0, 0.7, 0.2], [0.6, 0.0, 0.9], [0.3, 0.4, 0.0]])


def test_log_probs_match_brute_force_enumeration_on_three_agents() -> None:
    pairs = pair_order(3)
    total, reachable = 0.0, 0
    for mask in itertools.product([0, 1], repeat=len(pairs)):
        edges = {p for p, m in zip(pairs, mask) if m}
        logp = float(dag_log_prob(PROBS, edges))
        if find_cycle(["0", "1", "2"], [(str(i), str(j)) for i, j in edges]):
            assert logp == -math.inf  # the process never yields a cycle
        elif logp > -math.inf:
            reachable += 1
            total += math.exp(logp)
    assert total == pytest.approx(1.0, abs=1e-5) and reachable == 25  # the 25 labelled DAGs on 3 nodes

    # hand-computed: the empty graph is every candidate declined
    assert math.exp(float(dag_log_prob(PROBS, set()))) == pytest.approx(0.3 * 0.8 * 0.4 * 0.1 * 0.7 * 0.6)


def test_sampling_frequencies_follow_the_log_probs() -> None:
    g = torch.Generator().manual_seed(0)
    counts: dict[frozenset, int] = {}
    for _ in range(4000):
        edges, logp = sample_dag(PROBS, g)
        assert float(logp) == pytest.approx(float(dag_log_prob(PROBS, edges)))
        counts[frozenset(edges)] = counts.get(frozenset(edges), 0) + 1
    for edges, count in counts.items():
        expected = math.exp(float(dag_log_prob(PROBS, set(edges))))
        assert count / 4000 == pytest.approx(expected, abs=0.03)


def test_thousand_samples_are_all_acyclic_and_gradients_flow() -> None:
    logits = torch.randn(5, 5, requires_grad=True)
    g = torch.Generator().manual_seed(1)
    for _ in range(1000):
        edges, logp = sample_dag(torch.sigmoid(logits), g)
        assert find_cycle([str(i) for i in range(5)], [(str(i), str(j)) for i, j in edges]) is None
    logp.backward()
    assert logits.grad is not None and logits.grad.abs().sum() > 0


def test_threshold_graph_keeps_the_strongest_acyclic_edges() -> None:
    assert threshold_dag(PROBS, 0.5) == {(1, 2), (0, 1)}  # 1->0 (0.6) would close a cycle with 0->1


def test_temporal_bernoulli_edges_include_self_edges() -> None:
    probs = torch.tensor([[0.999, 0.001], [0.001, 0.999]])
    edges, logp = bernoulli_edges(probs, torch.Generator().manual_seed(0))
    assert edges == {(0, 0), (1, 1)} and float(logp) == pytest.approx(4 * math.log(0.999), abs=1e-3)


def test_a_topology_file_that_runs_code_when_unpickled_is_refused_without_running_it(tmp_path) -> None:
    import pickle

    import pytest

    from agentnet.errors import ConfigError
    from agentnet.topologies.registry import load_learned

    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    evil = tmp_path / "evil.pt"
    evil.write_bytes(pickle.dumps({"kind": "gdesigner", "state": Payload()}))
    with pytest.raises(ConfigError, match="is not an agentnet gdesigner topology"):
        load_learned(f"gdesigner:{evil}")
    assert not marker.exists()


def test_a_json_file_passed_as_a_topology_is_one_clear_error(tmp_path) -> None:
    import pytest

    from agentnet.errors import ConfigError
    from agentnet.topologies.registry import load_learned

    path = tmp_path / "graph.json"
    path.write_text('{"agents": []}')
    with pytest.raises(ConfigError, match="graph.json is not an agentnet commformer topology"):
        load_learned(f"commformer:{path}")


def test_a_model_saved_before_the_stop_head_read_what_was_said_loads_as_trained() -> None:
    # heads saved without read_said (models from before it existed) must rebuild the head they trained
    from agentnet.topologies.configs import CommFormerConfig, GDesignerConfig
    from agentnet.topologies.learned import config_from_dict

    for cls in (GDesignerConfig, CommFormerConfig):
        assert config_from_dict(cls, {"heads": {"stop": True}}).heads.read_said is False
        assert config_from_dict(cls, {"heads": {"stop": True, "read_said": True}}).heads.read_said is True
        assert config_from_dict(cls, {}).heads.read_said is True  # no heads saved: today's defaults
