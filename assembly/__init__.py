"""Team assembly: the one place that turns a task, a topology spec and a backend into a `Team`.

`run`, `bench`, the topology trainers, the Trace optimiser and Optima's evaluation all build
their teams here, so a decision that needs a code check, the task's answer extraction, or a
learned topology's receive gate is wired the same way everywhere (and fails loudly where it
cannot be). Layer: above the runtime, topologies and tasks; below training and the CLI.

Import from the modules (`agentnet.assembly.team` builds teams): the package imports nothing, so
a command that only reads its options does not load the runtime and LangGraph.
"""
