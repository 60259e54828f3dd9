"""A real HTTP peer speaking a sliver of the OpenAI API, scripted per request: for error paths
(5xx, 429, slow answers) that a real model server cannot be made to produce on demand.

The name older tests import; the server itself is the fault-injection server in tests/faults.py."""

from __future__ import annotations

from tests.faults import FaultServer as OpenAIPeer
from tests.faults import Step

__all__ = ["OpenAIPeer", "Step"]
