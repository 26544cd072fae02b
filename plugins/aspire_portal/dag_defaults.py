"""What every DAG of the package shares: its `default_args` (owner, retries, the failure mail) and its callback."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aspire_portal.failure_alerts import FailureNotifier, failure_notifier

OWNER = "data-engineering"


def default_args(
    *, retries: int, retry_delay: timedelta, max_retry_delay: timedelta | None = None, backoff: bool = False
) -> dict[str, Any]:
    """The `default_args` of a DAG: its retries (exponential `backoff` up to `max_retry_delay`) and the failure
    mail of each task that fails for good."""
    args: dict[str, Any] = {
        "owner": OWNER,
        "retries": retries,
        "retry_delay": retry_delay,
        "on_failure_callback": failure_notifier(),
    }
    if backoff:
        args["retry_exponential_backoff"] = True
    if max_retry_delay is not None:
        args["max_retry_delay"] = max_retry_delay
    return args


def on_failure() -> FailureNotifier:
    """The DAG-level callback: a run that failed without a failed task (e.g. timed out) is mailed."""
    return failure_notifier()
