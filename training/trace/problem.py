"""A team's runs as an OPTO problem (OptoPrime's sections), built from their trajectories.

OptoPrime traces a program like autodiff and shows the optimiser the subgraph between the
trainable parameters and the output. A team's trace is its `Trajectory`: each recorded call
(agent, round, whose outputs it read, its output) is one operation; the parameters that fed
it (the agent's system prompt, the temperature, the decision prompt, rounds, the extraction
code) are the #Variables. A minibatch shares one #Code (the calls of its first run; every
run of a fixed graph makes the same calls) and lists each example's values with an `[i]`
suffix. Long intermediate values are clipped so the problem fits a small model's context.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from agentnet.decisions import DECISIONS, decision_info
from agentnet.prompts import optimizer_template
from agentnet.episodes import Episode
from agentnet.trajectory import MessageRecord
from agentnet.training.trace.params import Parameter, ParameterSet, TeamSpec, Value


@dataclass(frozen=True)
class Problem:
    """The sections of an OPTO problem, plus the values the optimiser's memory keeps."""

    instruction: str
    code: str
    documentation: str
    variables: str
    constraints: str
    inputs: str
    others: str
    outputs: str
    feedback: str
    values: dict[str, Value] = field(default_factory=dict)  # trainable name -> current value
    names: tuple[str, ...] = ()  # the trainable variables, in order
    schemas: dict[str, dict[str, Any]] = field(default_factory=dict)  # trainable name -> JSON Schema of its value

    def render(self) -> str:
        return (
            optimizer_template("problem")
            .substitute(
                instruction=self.instruction,
                code=self.code,
                documentation=self.documentation,
                variables=self.variables,
                constraints=self.constraints,
                inputs=self.inputs,
                others=self.others,
                outputs=self.outputs,
                feedback=self.feedback,
            )
            .strip()
        )


def clip(text: str, limit: int) -> str:
    """At most `limit` characters, saying how many were cut."""
    text = text.strip()
    if limit <= 0 or len(text) <= limit:
        return text
    return f"{text[:limit].rstrip()} …[{len(text) - limit} more characters]"


def _ident(name: str) -> str:
    return re.sub(r"\W", "_", name)


def _var(agent: str, round: int) -> str:
    return f"{_ident(agent)}_r{round}"


def _entry(type_: str, name: str, value: object) -> str:
    return f"({type_}) {name} = {value}"


class _Renderer:
    def __init__(self, spec: TeamSpec, params: ParameterSet, max_chars: int):
        self.spec, self.params, self.max_chars = spec, params, max_chars
        self.by_target = {p.target: p for p in params}

    def bound(self, target: str, fallback: str) -> str:
        """The variable name feeding `target` when it is a parameter, else the constant shown."""
        p = self.by_target.get(target)
        return p.name if p is not None else fallback

    def system_of(self, agent: str) -> str:
        role = next((a.prompt or a.role for a in self.spec.agents if a.name == agent), "")
        return self.bound(f"system:{agent}", f'role_prompt("{role}")')

    def temperature(self) -> str:
        p = self.by_target.get("temperature")
        return p.name if p is not None else f"{self.spec.agents[0].settings.temperature:g}"

    def call(self, m: MessageRecord, private: bool) -> str:
        args = [f"system={self.system_of(m.agent)}", "task=query"]
        if m.spatial_from:
            args.append(f"spatial=[{', '.join(_var(s, m.round) for s in m.spatial_from)}]")
        if m.temporal_from:
            args.append(f"temporal=[{', '.join(_var(s, m.round - 1) for s in m.temporal_from)}]")
        if private:
            args.append("private=private")
        args.append(f"temperature={self.temperature()}")
        return f"{_var(m.agent, m.round)} = call_llm({', '.join(args)})"

    def code(self, episode: Episode) -> tuple[str, list[str]]:
        """The calls of one run in order, and the functions they use."""
        t = episode.trajectory
        graph, kind = t.graph, t.graph.decision.kind
        rounds = self.by_target.get("rounds")
        lines = [
            f"# {rounds.name} = {rounds.value}: the agents' calls repeat once per round"
            if rounds
            else f"# {graph.rounds} round(s)"
        ]
        used = ["call_llm"]
        has_private = bool(episode.item.private)
        current = -1
        for m in t.messages:
            if m.kind != "agent":
                continue
            if m.round != current:
                current = m.round
                lines.append(f"# round {m.round}")
            lines.append(self.call(m, has_private))
        last = t.rounds_run - 1
        finals = f"[{', '.join(_var(n, last) for n in graph.names)}]"
        decisions = [m for m in t.messages if m.kind == "decision"]
        if decision_info(kind).llm_call:
            system = self.bound("decision.system", f'role_prompt("{graph.decision.role}")')
            for i, _ in enumerate(decisions or [None]):
                target = "answer" if i == len(decisions) - 1 or not decisions else f"answer_try{i}"
                lines.append(f"{target} = {kind}(system={system}, task=query, finals={finals})")
        else:
            lines.append(f"answer = {kind}(finals={finals})")
        used.append(kind)
        extract = self.by_target.get("extract")
        if extract is not None:
            lines.append(f"extracted = task_extract(extract(answer))  # extract is defined by {extract.name}")
            used += ["extract", "task_extract"]
        else:
            lines.append("extracted = task_extract(answer)")
            used.append("task_extract")
        lines.append("result = score(extracted, expected)")
        used.append("score")
        return "\n".join(lines), used

    def others(self, episodes: Sequence[Episode]) -> str:
        many = len(episodes) > 1
        rows = []
        for i, e in enumerate(episodes):
            suffix = f"[{i}]" if many else ""
            decisions = [m for m in e.trajectory.messages if m.kind == "decision"]
            for m in e.trajectory.messages:
                if m.kind != "agent":
                    continue
                value = f"ERROR: {m.error}" if m.error else clip(m.output, self.max_chars)
                rows.append(_entry("str", _var(m.agent, m.round) + suffix, value))
            for j, m in enumerate(decisions[:-1]):
                rows.append(_entry("str", f"answer_try{j}{suffix}", clip(m.output, self.max_chars)))
        return "\n".join(rows) or "(none)"


def _documentation(used: Sequence[str]) -> str:
    text = optimizer_template("functions").template
    docs = {}
    for block in re.split(r"^## ", text, flags=re.MULTILINE):
        name, _, body = block.partition("\n")
        if name.strip():
            docs[name.strip()] = body.strip()
    for kind in (u for u in used if u in DECISIONS and u not in docs):  # a kind functions.md does not describe
        info = decision_info(kind)
        docs[kind] = f"{kind}({'system, task, finals' if info.llm_call else 'finals'}): {info.help}."
    out = [f"[{u}] {docs[u]}" for u in dict.fromkeys(used) if u in docs]
    return "\n".join(out + ["[role_prompt] role_prompt(id): the fixed system prompt of a role (not trainable here)."])


def _constraint(p: Parameter) -> str:
    rule = ""
    if p.choices is not None:
        rule = f" One of: {', '.join(map(str, p.choices))}."
    elif p.bounds is not None:
        lo, hi = p.bounds
        rule = f" {'An integer' if p.kind == 'int' else 'A number'} from {lo:g} to {hi:g}."
    return f"({p.type_label}) {p.name}: {p.description}{rule}"


def feedback_line(index: int, episode: Episode, *, show_expected: bool) -> str:
    errors = f" Error: {episode.error}" if episode.error else ""
    return (
        optimizer_template("feedback")
        .substitute(
            index=index,
            score=f"{episode.score.value:g}",
            extracted=clip(episode.score.extracted, 200),
            expected=clip(episode.item.answer, 200) if show_expected else "(hidden)",
            tokens=episode.trajectory.usage.total_tokens,
            errors=errors,
        )
        .strip()
    )


def build_problem(
    task_name: str,
    spec: TeamSpec,
    params: ParameterSet,
    episodes: Sequence[Episode],
    *,
    max_chars: int = 600,
    show_expected: bool = True,
) -> Problem:
    """The OPTO problem for a minibatch of runs of `params.apply(spec)`.

    `show_expected` puts the gold answer in #Feedback (as Trace's own training examples do);
    overfitting to it is what the validation slice guards against.
    """
    if not episodes:
        raise ValueError("build_problem needs at least one episode")
    r = _Renderer(spec, params, max_chars)
    code, used = r.code(episodes[0])
    many = len(episodes) > 1
    inputs, outputs, feedback = [], [], []
    for i, e in enumerate(episodes):
        suffix = f"[{i}]" if many else ""
        inputs.append(_entry("str", f"query{suffix}", clip(e.item.question, max_chars)))
        if e.item.private:  # written as the lists of facts per agent
            private = str([list(facts) for facts in e.item.private])
            inputs.append(_entry("str", f"private{suffix}", clip(private, max_chars)))
        outputs.append(_entry("str", f"answer{suffix}", clip(e.trajectory.answer, max_chars) or "(empty)"))
        feedback.append(feedback_line(i, e, show_expected=show_expected))
    mean = sum(e.score.value for e in episodes) / len(episodes)
    tokens = sum(e.trajectory.usage.total_tokens for e in episodes) / len(episodes)
    feedback.append(f"Mean score {mean:.2f} over {len(episodes)} example(s); {tokens:.0f} tokens per example.")
    trainable = params.trainable
    return Problem(
        instruction=optimizer_template("instruction").substitute(examples=len(episodes), task=task_name).strip(),
        code=code,
        documentation=_documentation(used),
        variables="\n".join(_entry(p.type_label, p.name, p.value) for p in trainable),
        constraints="\n".join(_constraint(p) for p in trainable),
        inputs="\n".join(inputs),
        others=r.others(episodes),
        outputs="\n".join(outputs),
        feedback="\n".join(feedback),
        values={p.name: p.value for p in trainable},
        names=tuple(p.name for p in trainable),
        schemas={p.name: p.json_schema() for p in trainable},
    )
