from __future__ import annotations

import pytest

from agentnet.topologies.registry import LEARNED


@pytest.mark.parametrize("name", list(LEARNED))
def test_each_learned_kind_carries_the_config_its_model_reads(name: str) -> None:
    pytest.importorskip("torch_geometric", reason="SKIPPED LOUDLY: torch-geometric missing; install the [graph] extra")
    kind = LEARNED[name]
    model = kind.model_class()
    assert model.kind == name
    assert model.config_class is kind.config_class  # CLI options and saved files agree
