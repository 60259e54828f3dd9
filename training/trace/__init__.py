"""Trace / OptoPrime-style optimisation of a team's prompts and parameters from execution traces.

`params` declares what is trainable, `problem` renders runs as OPTO problems, `extract`
reads the optimiser's replies, `optimizer` holds the protocol and our OptoPrime, and
`loop` proposes, validates, accepts or rejects, checkpoints and reports.
"""

from agentnet.training.trace.extract import CastError, ExtractionError, cast_value, parse_reply
from agentnet.training.trace.loop import TraceConfig, TraceLoop, TraceResult
from agentnet.training.trace.records import Evaluation, ProposalRecord
from agentnet.training.trace.optimizer import Optimizer, OptoPrime, OptoPrimeConfig, Proposal
from agentnet.training.trace.params import PARAM_GROUPS, Parameter, ParameterSet, TeamSpec, team_parameters
from agentnet.training.trace.problem import Episode, Problem, build_problem

OPTIMIZERS = {"optoprime": OptoPrime}

__all__ = [
    "OPTIMIZERS",
    "PARAM_GROUPS",
    "CastError",
    "Episode",
    "Evaluation",
    "ExtractionError",
    "Optimizer",
    "OptoPrime",
    "OptoPrimeConfig",
    "Parameter",
    "ParameterSet",
    "Problem",
    "Proposal",
    "ProposalRecord",
    "TeamSpec",
    "TraceConfig",
    "TraceLoop",
    "TraceResult",
    "build_problem",
    "cast_value",
    "parse_reply",
    "team_parameters",
]
