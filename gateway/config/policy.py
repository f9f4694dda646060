"""The retry policy of a target: how many retries, on which statuses, how to wait.

``retry.attempts`` counts retries (total calls = attempts + 1), as Portkey does, and is
capped at ``MAX_RETRY_ATTEMPTS`` (5): a larger value is lowered to the cap, since configs
written for Portkey carry such values and Portkey caps them the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .problems import Problems, status_codes

MAX_RETRY_ATTEMPTS = 5
DEFAULT_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
RETRY_COUNT_HEADER = "x-portkey-retry-count"


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 0
    on_status_codes: frozenset[int] = DEFAULT_RETRY_STATUSES
    # Wait as long as the upstream's retry-after(-ms) header asks (within a budget).
    use_retry_after_header: bool = False


NO_RETRY = RetryPolicy()


def parse_retry(value: Any, path: str, problems: Problems) -> RetryPolicy | None:
    if not isinstance(value, dict):
        problems.add(path, "must be an object like {\"attempts\": 3}")
        return None
    attempts = value.get("attempts", 0)
    if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 0:
        problems.add(f"{path}.attempts", f"must be a whole number from 0 (capped at {MAX_RETRY_ATTEMPTS})")
        attempts = 0
    codes = DEFAULT_RETRY_STATUSES
    if value.get("on_status_codes") is not None:
        codes = status_codes(value["on_status_codes"], f"{path}.on_status_codes", problems) or codes
    use_header = value.get("use_retry_after_header", False)
    if not isinstance(use_header, bool):
        problems.add(f"{path}.use_retry_after_header", "must be true or false")
        use_header = False
    return RetryPolicy(min(attempts, MAX_RETRY_ATTEMPTS), codes, use_header)


def parse_retry_count_header(text: str | None, problems: Problems) -> RetryPolicy | None:
    """``x-portkey-retry-count: N`` — retries with the default statuses."""
    if text is None:
        return None
    try:
        attempts = int(text.strip())
    except ValueError:
        attempts = -1
    if attempts < 0:
        problems.add(RETRY_COUNT_HEADER, f"must be a whole number from 0 (capped at {MAX_RETRY_ATTEMPTS})")
        return None
    return RetryPolicy(min(attempts, MAX_RETRY_ATTEMPTS))
