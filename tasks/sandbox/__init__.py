"""The code sandbox: run untrusted, model-generated Python with limits, kernel containment and guards.

runner.py is the parent's side (`Sandbox`), process.py its pipes/deadline/disk watch, guard.py
the child's first code (run by path), confine.py the kernel layers the guard applies, audit.py the
audit hook it installs last.
"""

from agentnet.tasks.sandbox.runner import (
    CODE_FILE,
    GUARD_PATH,
    Containment,
    Sandbox,
    SandboxConfigError,
    SandboxContainmentWarning,
    SandboxResult,
    run_python,
)

__all__ = [
    "CODE_FILE",
    "GUARD_PATH",
    "Containment",
    "Sandbox",
    "SandboxConfigError",
    "SandboxContainmentWarning",
    "SandboxResult",
    "run_python",
]
