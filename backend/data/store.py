"""The store interface: every read and write the backend makes, one driver per database.

``open_store(settings)`` picks the driver from the scheme of the database URL. SQL lives
in the drivers only. Methods that write on behalf of a run's owner take ``owner`` and are
fenced: if another executor has reclaimed the run they raise ``LeaseLost`` and change
nothing.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from typing import Any, ClassVar

from backend.data.execution import (
    Event,
    ExecutorInfo,
    NodeExecution,
    NodeStatus,
    Run,
    RunStatus,
    RunWrite,
)
from backend.data.files import FileRecord
from backend.data.hooks import HookRecord
from backend.data.run_keys import RunKey
from backend.data.schedules import ScheduleAdvance, ScheduleRecord
from backend.data.stats import RunStats
from backend.data.store_ops import OperationsStore
from backend.data.store_secrets import SecretsStore


class Store(OperationsStore, SecretsStore):
    # A database server that may be down for a while (a start waits for it); an embedded
    # database's errors are the set-up's and fail at once.
    waits_for_server: ClassVar[bool] = False

    # -- lifecycle ---------------------------------------------------------------------

    @abstractmethod
    def prepare(self, auto_migrate: bool) -> None:
        """Check the schema, upgrading it first under a lock when ``auto_migrate``."""

    @abstractmethod
    def close(self) -> None: ...

    def listen(self, on_wakeup: Callable[[], None]) -> Callable[[], None] | None:
        """Call ``on_wakeup`` (from another thread) whenever a run is queued, handed back
        or cancelled; returns a function that stops listening. None: the database cannot
        push, callers poll."""
        return None

    def is_disconnect(self, exc: BaseException) -> bool:
        """True if ``exc`` means the connection was lost and a fresh call may succeed."""
        return False

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
        """The graph JSON (latest active version by default); NotFound otherwise.

        A deleted graph is not found by default; an explicit ``version`` still is, because
        runs pin their version and must run (and recover) after the graph is deleted.
        """

    def graph_version(self, user_id: str, graph_id: str) -> int:
        """The active version of a graph that is not deleted (NotFound as ``get_graph``):
        what a submit reads on every call, so drivers answer it without the graph's JSON."""
        return int(self.get_graph(user_id, graph_id)["version"])

    @abstractmethod
    def list_graphs(
        self, user_id: str, limit: int = 50, before: tuple[float, str] | None = None
    ) -> list[dict[str, Any]]:
        """The user's graphs that are not deleted, each its active version as
        {id, version, name, description, created_at}; newest first, ``before`` as in
        ``list_runs``."""

    @abstractmethod
    def find_graph(self, user_id: str, digest: str) -> dict[str, Any] | None:
        """The user's oldest live graph whose content hash (``graph.content_hash``) is
        ``digest``, as its active version's JSON; None if there is none."""

    @abstractmethod
    def delete_graph(self, user_id: str, graph_id: str) -> None:
        """Mark every version deleted; runs keep their history. NotFound otherwise."""

    # -- runs ----------------------------------------------------------------------------

    @abstractmethod
    def submit_run(
        self,
        run: Run,
        starting: Sequence[NodeExecution],
        event: Event,
        key: RunKey | None = None,
        advance: ScheduleAdvance | None = None,
    ) -> str:
        """Insert the run, its starting node executions and its first event atomically;
        returns the run's id.

        With ``key``, the key is claimed in the same transaction: when it already started
        a run, nothing is inserted and that run's id is returned (Conflict if it was
        asked with another fingerprint, RateLimited past the key's rate). With
        ``advance``, the schedule moves on in the same transaction too, or ScheduleMoved
        is raised and nothing at all is written."""

    @abstractmethod
    def has_claimable(self, now: float, exclude_users: Collection[str] = ()) -> bool:
        """Whether claim_runs would find work of a user not in ``exclude_users``; a read,
        so polling takes no write lock."""

    @abstractmethod
    def claim_runs(
        self,
        owner: str,
        limit: int,
        now: float,
        lease_seconds: float,
        per_user: int | None = None,
        active: Mapping[str, int] | None = None,
    ) -> list[Run]:
        """Take up to ``limit`` runs that are QUEUED or whose lease expired: every user's
        oldest before anyone's second, and with ``per_user``, at most that many runs of
        one user counting the ``active`` ones {user: runs} the claimer already has. Each
        claim counts in the run's ``stalled_claims`` until a node finishes."""

    @abstractmethod
    def claim_runs_with_state(
        self,
        owner: str,
        limit: int,
        now: float,
        lease_seconds: float,
        per_user: int | None = None,
        active: Mapping[str, int] | None = None,
    ) -> list[tuple[Run, list[NodeExecution]]]:
        """``claim_runs``, and each claimed run's node executions (in ``seq`` order) read
        in the same transaction: all an executor needs to start them, in one round trip."""

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
        parent_run_id: str | None = None,
    ) -> list[Run]:
        """Newest first; ``before`` is the (created_at, id) of the last row already seen;
        ``parent_run_id`` keeps the sub-agent runs that run started."""

    @abstractmethod
    def node_executions(self, run_id: str) -> list[NodeExecution]: ...

    @abstractmethod
    def node_executions_page(
        self,
        run_id: str,
        limit: int,
        after_seq: int | None = None,
        status: NodeStatus | None = None,
        node_id: str | None = None,
    ) -> list[NodeExecution]:
        """Up to ``limit`` of the run's node executions in creation order (``seq``),
        those after ``after_seq`` only, of one status and one node when given."""

    @abstractmethod
    def run_stats(self, run_id: str) -> RunStats:
        """The run's node counts by status, attempts and LLM usage, from counters kept
        as its nodes are written: constant time, however many nodes the run has."""

    @abstractmethod
    def events(self, run_id: str, after_id: int = 0, limit: int = 1000) -> list[Event]: ...

    @abstractmethod
    def events_after(self, positions: Mapping[str, int], limit: int = 1000) -> list[Event]:
        """The events of each run in ``positions`` after its position {run_id: event id},
        up to ``limit`` per group of runs read together, in id order within a run."""

    @abstractmethod
    def save_writes(
        self, owner: str, writes: Sequence[RunWrite], now: float, lease_seconds: float
    ) -> set[str]:
        """Apply the writes of several runs in ONE transaction, each fenced by its run's
        lease (and renewing it). Returns the ids of the runs ``owner`` no longer owns:
        their writes are skipped, the others' are committed. A write with ``finish`` ends
        its run after its nodes and events are written, as ``finish_run`` would."""

    @abstractmethod
    def finish_run(self, owner: str, run: Run, events: Sequence[Event], now: float) -> None:
        """Write the run's final status, outputs and error; fenced."""

    @abstractmethod
    def release_run(self, owner: str, run_id: str, event: Event) -> None:
        """Hand a run back: QUEUED, no owner, so any executor claims it at once."""

    @abstractmethod
    def request_cancel(self, run_id: str, now: float) -> Run:
        """Flag the run, and every unfinished sub-agent run below it, for cancellation; an
        unclaimed one is TERMINATED at once. Conflict if the run has already ended."""

    # -- sub-agent runs ---------------------------------------------------------------------

    @abstractmethod
    def start_child_run(self, run: Run, starting: Sequence[NodeExecution], event: Event) -> Run:
        """Submit ``run`` unless a run with its id exists (its parent node started it before
        a crash); returns the stored run either way."""

    @abstractmethod
    def ended_runs(self, run_ids: Collection[str]) -> list[Run]:
        """Those of ``run_ids`` that have ended."""

    # -- the Persist/Retrieve key/value store -------------------------------------------------

    @abstractmethod
    def kv_get(self, user_id: str, scope: str, key: str) -> tuple[bool, Any]:
        """(found, value) of ``key`` in the user's ``scope``."""

    @abstractmethod
    def kv_put(self, user_id: str, scope: str, key: str, value: Any, now: float) -> None: ...

    @abstractmethod
    def kv_count(self, user_id: str) -> int:
        """How many keys the user has stored, in all scopes."""

    # -- schedules -------------------------------------------------------------------------

    @abstractmethod
    def create_schedule(self, record: ScheduleRecord) -> None: ...

    @abstractmethod
    def get_schedule(self, user_id: str, schedule_id: str) -> ScheduleRecord:
        """NotFound unless the schedule exists and belongs to ``user_id``."""

    @abstractmethod
    def list_schedules(self, user_id: str, graph_id: str | None = None) -> list[ScheduleRecord]:
        """The user's schedules, oldest first."""

    @abstractmethod
    def update_schedule(self, record: ScheduleRecord) -> ScheduleRecord:
        """Write every field the owner may change; returns it at its new revision (a
        scheduler that read the old one no longer fires it). NotFound as ``get``."""

    @abstractmethod
    def delete_schedule(self, user_id: str, schedule_id: str) -> None: ...

    @abstractmethod
    def due_schedules(self, now: float, limit: int) -> list[ScheduleRecord]:
        """Enabled schedules whose next fire time is at or before ``now``, earliest first."""

    @abstractmethod
    def next_fire_time(self) -> float | None:
        """The earliest next fire time of any enabled schedule."""

    @abstractmethod
    def advance_schedule(self, advance: ScheduleAdvance) -> bool:
        """Move a schedule on without a run (missed slots skipped, a slot that cannot
        fire); False, and nothing written, if it changed since ``advance.revision``."""

    @abstractmethod
    def purge_run_keys(self, now: float) -> int:
        """Delete expired run keys; returns how many."""

    # -- webhook hooks ------------------------------------------------------------------------

    @abstractmethod
    def create_hook(self, record: HookRecord, secret: str) -> None:
        """Store a hook; ``secret`` is its encrypted secret."""

    @abstractmethod
    def get_hook(self, user_id: str, hook_id: str) -> HookRecord:
        """NotFound unless the hook exists and belongs to ``user_id``."""

    @abstractmethod
    def get_hook_for_delivery(self, hook_id: str) -> tuple[HookRecord, str]:
        """The hook and its encrypted secret, whoever owns it (a delivery proves itself
        with the secret, not with a user's key); NotFound otherwise."""

    @abstractmethod
    def list_hooks(self, user_id: str, graph_id: str | None = None) -> list[HookRecord]: ...

    @abstractmethod
    def update_hook(self, record: HookRecord) -> None:
        """Write the hook's name, input and enabled flag; NotFound as ``get_hook``."""

    @abstractmethod
    def delete_hook(self, user_id: str, hook_id: str) -> None: ...

    # -- files (binary block outputs) ------------------------------------------------------

    @abstractmethod
    def create_file(self, record: FileRecord, chunks: Sequence[bytes], max_run_bytes: int) -> bool:
        """Store a file and its bytes (in order) in ONE transaction, unless the run's files
        would then pass ``max_run_bytes``: then store nothing and return False."""

    @abstractmethod
    def get_file(
        self, user_id: str, file_id: str, created_since: float | None = None
    ) -> FileRecord:
        """NotFound unless the file exists, is ``user_id``'s and (with ``created_since``)
        was created at or after it."""

    @abstractmethod
    def file_chunks(self, file_id: str) -> Iterator[bytes]:
        """The file's bytes, chunk by chunk; each chunk is read when it is asked for."""

    @abstractmethod
    def list_files(
        self,
        user_id: str,
        run_id: str | None = None,
        created_since: float | None = None,
        limit: int = 50,
        before: tuple[float, str] | None = None,
    ) -> list[FileRecord]:
        """The user's files (of one run), newest first, ``before`` as in ``list_runs``."""

    @abstractmethod
    def purge_files(self, created_before: float) -> int:
        """Delete every file created before ``created_before``; returns how many."""
