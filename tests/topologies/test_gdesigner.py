from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch", reason="SKIPPED LOUDLY: torch missing; install the [graph] extra")
pytest.importorskip("torch_geometric", reason="SKIPPED LOUDLY: torch-geometric missing; install the [graph] extra")

from agentnet.agents import AgentSpec  # noqa: E402
from agentnet.errors import ConfigError  # noqa: E402
from agentnet.graph import Decision  # noqa: E402
from agentnet.topologies.embeddings import HashEmbedder  # noqa: E402
from agentnet.topologies.configs import GDesignerConfig  # noqa: E402
from agentnet.topologies.gdesigner import GDesigner  # noqa: E402

torch.set_num_threads(1)
AGENTS = [
    AgentSpec(f"a{i}", r)
    for i, r in enumerate(["math_solver", "mathematical_analyst", "programming_expert", "inspector"])
]


def model(**kw) -> GDesigner:
    return GDesigner(AGENTS, 2, Decision("final_refer"), GDesignerConfig(**kw), HashEmbedder(16))


def test_shapes_and_kl() -> None:
    m = model(hidden=8, latent=4)
    mu, logstd = m.encode("What is 2+2?")
    assert mu.shape == (4, 4) and logstd.shape == (4, 4)
    assert m.edge_index.shape[1] == 2 * (3 + 4)  # chain anchor + task node links, both directions
    z, kl = m.latent("q", sample=True)
    spatial, temporal = m.decode(z)
    assert spatial.shape == temporal.shape == (4, 4) and float(kl) >= 0
    assert torch.all(spatial.diagonal() == 0) and not torch.allclose(spatial, spatial.T)  # directed


def test_samples_carry_log_prob_penalty_and_stats() -> None:
    m = model()
    s = m.sample("What is 2+2?")
    assert s.graph.rounds == 2 and s.log_prob.requires_grad and s.penalty.requires_grad
    assert {"kl", "density", "spatial_edges", "temporal_edges"} <= set(s.stats)
    (s.log_prob + s.penalty).backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in m.parameters())


def test_decoder_can_approach_zero_and_one() -> None:
    m = model()
    with torch.no_grad():
        m.bias.fill_(12.0)
    z, _ = m.latent("q", sample=False)
    assert float(m.decode(z)[0].max()) > 0.99
    with torch.no_grad():
        m.bias.fill_(-12.0)
    assert float(m.decode(z)[0].max()) < 0.01


def test_public_code_switch_keeps_probabilities_in_the_middle() -> None:
    m = model(public_code=True)
    z, kl = m.latent("q", sample=True)
    spatial, _ = m.decode(z)
    off = spatial[~torch.eye(4, dtype=torch.bool)]
    assert float(kl) == 0.0 and torch.equal(z, m.encode("q")[0])  # deterministic, no KL
    assert 0.26 <= float(off.min()) and float(off.max()) <= 0.74
    assert torch.allclose(spatial, spatial.T)  # symmetric


def test_inference_is_deterministic_and_survives_save_load(tmp_path: Path) -> None:
    m = model()
    assert m.graph_for("q1") == m.graph_for("q1")
    loaded = GDesigner.load(m.save(tmp_path / "g.pt"), HashEmbedder(16))
    assert loaded.graph_for("q1") == m.graph_for("q1") and loaded.config == m.config


def test_bad_config() -> None:
    with pytest.raises(ConfigError, match="anchor='ring'"):
        GDesignerConfig(anchor="ring")
    with pytest.raises(ConfigError, match="at least 2 agents"):
        GDesigner(AGENTS[:1], 1, Decision(), GDesignerConfig(), HashEmbedder(8))


def test_weights_that_do_not_fit_the_saved_config_are_one_line(tmp_path: Path) -> None:
    path = model().save(tmp_path / "g.pt")
    data = torch.load(path, weights_only=True)
    name = next(iter(data["state"]))
    data["state"][name] = torch.zeros(3, 771)  # a weight of another shape, as an older version saved it
    data["state"]["stray.weight"] = torch.zeros(1)
    torch.save(data, path)
    with pytest.raises(
        ConfigError, match=r"g\.pt: its weights do not fit its gdesigner config \(.*; 1 more\).*retrain"
    ) as e:
        GDesigner.load(path, HashEmbedder(16))
    assert "\n" not in str(e.value)


def test_weights_that_do_not_fit_are_refused_before_the_sentence_encoder_loads(tmp_path: Path, monkeypatch) -> None:
    # the default embedder (MiniLM) takes seconds and prints a progress bar: a bad file is one line first
    from agentnet.topologies.embeddings import MiniLMEmbedder

    def loads(self, texts):
        raise AssertionError("the sentence encoder loaded before the weights were checked")

    monkeypatch.setattr(MiniLMEmbedder, "_encode_new", loads)
    path = model().save(tmp_path / "g.pt")
    data = torch.load(path, weights_only=True)
    data["state"]["stray.weight"] = torch.zeros(1)
    torch.save(data, path)
    with pytest.raises(ConfigError, match="its weights do not fit"):
        GDesigner.load(path)
