"""How a run's call ledger reads: failed items, calls cut off at max_tokens, cache hits.

One place for these cells and for the truncation warning, so `agentnet runs`, `agentnet
report` and the end of a bench say the same thing. A figure a store did not record (results
written before the ledger existed) reads "unknown", never 0.
"""

from __future__ import annotations

from agentnet.store import RunSummary

CUT_OFF_WARN_SHARE = 0.05  # above this share of calls stopped at max_tokens, accuracy is biased low
UNKNOWN = "unknown"


def share_cell(share: float | None) -> str:
    return UNKNOWN if share is None else f"{100 * share:.1f}%"


def failed_cell(s: RunSummary) -> str:
    """Failed items beside the accuracy: they count as 0 in its mean."""
    return f"{s.failed} (scored 0)" if s.failed else "0"


def cut_off_cell(s: RunSummary) -> str:
    share = s.cut_off_share
    if share is None:
        return UNKNOWN
    return f"{100 * share:.1f}% ({s.cut_off_calls}/{s.calls - s.unknown_finish_calls})"


def hit_rate_cell(s: RunSummary) -> str:
    rate = s.hit_rate
    return UNKNOWN if rate is None else f"{100 * rate:.1f}% ({s.cached_calls}/{s.calls})"


def served_cell(s: RunSummary) -> str:
    served = s.served_tokens_per_query
    return UNKNOWN if served is None else f"{served:,.1f}"


def truncation_warning(s: RunSummary, threshold: float = CUT_OFF_WARN_SHARE) -> str | None:
    """A one-line warning when more than `threshold` of the run's calls stopped at max_tokens."""
    share = s.cut_off_share
    if share is None or share <= threshold:
        return None
    limit = s.run.config.team.max_tokens
    at = f"max_tokens={limit}" if limit else "max_tokens"
    known = s.calls - s.unknown_finish_calls
    return (
        f"run {s.run.id}: {100 * share:.1f}% of calls ({s.cut_off_calls} of {known}) stopped at {at} "
        f"(more than {100 * threshold:g}%): answers cut off before the answer line score as wrong, so the "
        "accuracy is biased low; raise --max-tokens"
    )
