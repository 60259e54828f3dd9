"""The runtime: compiles communication graphs into LangGraph StateGraphs and runs teams.

Imports langgraph only when a team runs; never imports topologies or training.
"""

from agentnet.runtime.team import Team, TeamEvent

__all__ = ["Team", "TeamEvent"]
