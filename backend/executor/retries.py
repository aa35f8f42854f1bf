"""The retry policy of a node whose block raised: how many attempts, how long between them.

Node option (graph metadata) > executor default. Delays grow exponentially from the first
backoff, are capped, and jittered (between half and all of the computed delay) so nodes
that failed together do not all come back at the same instant.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from backend.data.graph import NodeOptions
from backend.executor.limits import Limits


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int
    backoff_seconds: float
    max_backoff_seconds: float

    @classmethod
    def for_node(cls, options: NodeOptions, limits: Limits) -> RetryPolicy:
        backoff = options.retry_backoff_seconds
        return cls(
            max_attempts=options.max_attempts or limits.max_attempts,
            backoff_seconds=limits.retry_backoff_seconds if backoff is None else backoff,
            max_backoff_seconds=limits.retry_backoff_max_seconds,
        )

    def should_retry(self, attempt: int) -> bool:
        return attempt < self.max_attempts

    def delay(self, attempt: int, rand: Callable[[], float] = random.random) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1 for the first)."""
        capped = min(self.max_backoff_seconds, self.backoff_seconds * 2 ** min(attempt - 1, 32))
        return capped * (0.5 + rand() / 2)
