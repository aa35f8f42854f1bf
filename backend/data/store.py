"""The store interface: every read and write the backend makes, one driver per database.

``open_store(settings)`` picks the driver from the scheme of the database URL. SQL lives
in the drivers only. Methods that write on behalf of a run's owner take ``owner`` and are
fenced: if another executor has reclaimed the run they raise ``LeaseLost`` and change
nothing.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

from backend.data.execution import Event, ExecutorInfo, NodeExecution, Run, RunStatus
from backend.errors import ConfigError
from backend.settings import Settings


class Store(ABC):
    # -- lifecycle ---------------------------------------------------------------------

    @abstractmethod
    def prepare(self, auto_migrate: bool) -> None:
        """Check the schema, upgrading it first under a lock when ``auto_migrate``."""

    @abstractmethod
    def close(self) -> None: ...

    # -- executors registry ------------------------------------------------------------

    @abstractmethod
    def register_executor(self, info: ExecutorInfo) -> None: ...

    @abstractmethod
    def heartbeat(self, executor_id: str, now: float, lease_seconds: float) -> dict[str, bool]:
        """Record liveness and renew the leases of the runs this executor owns.

        Returns {run_id: cancel_requested} for every run it still owns.
        """

    @abstractmethod
    def deregister_executor(self, executor_id: str, now: float) -> None: ...

    @abstractmethod
    def list_executors(self) -> list[ExecutorInfo]: ...

    @abstractmethod
    def reap_dead_executors(self, host: str, alive: set[int], now: float) -> list[str]:
        """Mark this host's registered executors whose pid is not in ``alive`` as gone and
        expire their leases so their runs can be claimed at once. Returns their ids."""

    # -- graphs --------------------------------------------------------------------------

    @abstractmethod
    def save_graph(self, user_id: str, graph: dict[str, Any], now: float) -> int:
        """Store a new version of graph ``graph["id"]``; returns the version number."""

    @abstractmethod
    def get_graph(self, user_id: str, graph_id: str, version: int | None = None) -> dict[str, Any]:
        """The graph JSON (latest active version by default); NotFound otherwise."""

    # -- runs ----------------------------------------------------------------------------

    @abstractmethod
    def submit_run(self, run: Run, starting: Sequence[NodeExecution], event: Event) -> None:
        """Insert the run, its starting node executions and its first event atomically."""

    @abstractmethod
    def claim_runs(self, owner: str, limit: int, now: float, lease_seconds: float) -> list[Run]:
        """Take up to ``limit`` runs that are QUEUED or whose lease expired."""

    @abstractmethod
    def get_run(self, run_id: str) -> Run: ...

    @abstractmethod
    def list_runs(
        self,
        user_id: str | None = None,
        graph_id: str | None = None,
        status: RunStatus | None = None,
        limit: int = 50,
        before: tuple[float, str] | None = None,
    ) -> list[Run]:
        """Newest first; ``before`` is the (created_at, id) of the last row already seen."""

    @abstractmethod
    def node_executions(self, run_id: str) -> list[NodeExecution]: ...

    @abstractmethod
    def events(self, run_id: str, after_id: int = 0, limit: int = 1000) -> list[Event]: ...

    @abstractmethod
    def save_node_executions(
        self,
        owner: str,
        run_id: str,
        changed: Sequence[NodeExecution],
        events: Sequence[Event],
        now: float,
        lease_seconds: float,
    ) -> None:
        """Upsert node executions and append events in one fenced transaction."""

    @abstractmethod
    def finish_run(self, owner: str, run: Run, events: Sequence[Event], now: float) -> None:
        """Write the run's final status, outputs and error; fenced."""

    @abstractmethod
    def release_run(self, owner: str, run_id: str, event: Event) -> None:
        """Hand a run back: QUEUED, no owner, so any executor claims it at once."""

    @abstractmethod
    def request_cancel(self, run_id: str, now: float) -> Run:
        """Flag the run for cancellation; an unclaimed run is TERMINATED at once.
        Conflict if the run has already ended."""


def open_store(settings: Settings) -> Store:
    url = settings.resolved_database_url
    scheme = url.split(":", 1)[0].split("+", 1)[0].lower()
    if scheme == "sqlite":
        from backend.data.sqlite import SQLiteStore

        return SQLiteStore(url)
    raise ConfigError(
        f"invalid setting BACKEND_DATABASE_URL={url!r}: unsupported scheme {scheme!r} "
        "(use sqlite:///PATH)"
    )
