from __future__ import annotations

from agentnet.ledger import cut_off_cell, failed_cell, hit_rate_cell, served_cell, truncation_warning
from agentnet.configs import TeamConfig
from agentnet.store import RunConfig, RunRecord, RunSummary

RUN = RunRecord("r1", 0.0, RunConfig(task="gsm8k", team=TeamConfig(max_tokens=128)), 20, "finished", 0.0)


def _summary(calls: int, cut_off: int, unknown: int = 0, cached: int = 0, failed: int = 0) -> RunSummary:
    accounted = 20 if calls else 0
    return RunSummary(
        RUN, 20, failed, 0.5, 100.0, 50.0, 1.0, 10, accounted, calls, cached, cut_off, unknown, 120.0 if calls else None
    )


def test_the_warning_starts_past_five_percent_of_calls_cut_off() -> None:
    assert truncation_warning(_summary(100, 5)) is None  # exactly 5%: no warning
    warning = truncation_warning(_summary(100, 6))
    assert warning is not None and "\n" not in warning
    assert warning.startswith("run r1: 6.0% of calls (6 of 100) stopped at max_tokens=128 (more than 5%)")
    assert warning.endswith("raise --max-tokens")
    assert truncation_warning(_summary(100, 6), threshold=0.1) is None


def test_calls_without_a_finish_reason_are_left_out_and_none_known_is_unknown() -> None:
    assert truncation_warning(_summary(100, 6, unknown=40)) is not None  # 6 of 60 known: 10%
    assert cut_off_cell(_summary(100, 6, unknown=40)) == "10.0% (6/60)"
    assert truncation_warning(_summary(0, 0)) is None  # an older store: nothing to judge
    assert truncation_warning(_summary(10, 0, unknown=10)) is None
    assert cut_off_cell(_summary(10, 0, unknown=10)) == "unknown"


def test_cells() -> None:
    s = _summary(40, 2, cached=30, failed=3)
    assert (failed_cell(s), hit_rate_cell(s), served_cell(s)) == ("3 (scored 0)", "75.0% (30/40)", "120.0")
    old = _summary(0, 0)
    assert (failed_cell(old), hit_rate_cell(old), served_cell(old), cut_off_cell(old)) == (
        "0",
        "unknown",
        "unknown",
        "unknown",
    )
