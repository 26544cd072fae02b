"""Airflow Variables the sync reads, with the sync's own defaults.

Airflow 3.3's `Variable.get(key, default=…)` hands an unset Variable's default to the secrets masker: every log line
holding it is masked ("key_check" would print as ***), and a default shorter than five characters ("0.2", "50")
logs "Skipping masking for a secret as it's too short" in every task. The defaults here are settings, not secrets,
so they are applied after the read, never passed to it.
"""

from __future__ import annotations

from typing import Any


def variable(name: str, default: Any) -> Any:
    """The Variable's value, or `default` when it is not set."""
    from airflow.sdk import Variable

    value = Variable.get(name, default=None)
    return default if value is None else value
