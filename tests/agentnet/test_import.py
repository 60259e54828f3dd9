import subprocess
import sys


def test_import_agentnet_stays_light() -> None:
    code = "import sys, agentnet, agentnet.serving; print(sorted(m for m in ('torch', 'langgraph', 'openai', 'transformers') if m in sys.modules))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"
