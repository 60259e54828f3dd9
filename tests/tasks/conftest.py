"""Task tests read the public benchmark files (never copied into the repository)."""

import pytest

from tests.conftest import benchmark_data


@pytest.fixture
def shared_data():
    return benchmark_data()
