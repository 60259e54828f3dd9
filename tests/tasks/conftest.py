"""Task tests read the public benchmark files in ../shared/data (never copied into the repo)."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"


@pytest.fixture
def shared_data() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"SKIPPED LOUDLY: benchmark data not found at {SHARED}; set up ../shared/data")
    return SHARED
