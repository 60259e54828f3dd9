"""What every trainer's `fit(on_step)` returns (DSPy's `compile` spirit): an `Artefact`.

Every trainer keeps its state in an output directory. `fit` first resumes from that directory
when it holds a checkpoint of the same run (a checkpoint of a different run is an error naming
the difference), runs the remaining steps, checkpointing each, and returns the saved artefact with `use`: how
to use it (`--topology KIND:PATH` or `--model PATH` on the CLI; for Trace's parameters, the
Python call that applies them to the team — no CLI option takes a parameter file yet).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal


@dataclass(frozen=True)
class Artefact:
    kind: Literal["topology", "params", "model"]
    path: Path
    use: str  # the option that takes it, e.g. "--topology gdesigner:runs/model.pt"
    details: Any = field(default=None, compare=False)  # the trainer's own result (scores, policy…)
