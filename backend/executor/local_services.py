"""Sub-agents and a key/value store for a run without a database (``run-local``, tests).

Sub-agent nodes run the graphs given here (an export's ``sub_graphs``), matched by the
same rules an import uses; each child runs to its end in this process before the node
goes on. Stored keys live as long as the object.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from backend.blocks.files import DirectoryFileSink, FileSink
from backend.blocks.runtime import KeyValue, ServiceRefused, SubAgentResult, SubAgents
from backend.data.execution import NodeExecution, Run
from backend.data.graph import Graph
from backend.data.subgraphs import resolve
from backend.errors import InvalidInput
from backend.executor.credentials import Resolver
from backend.executor.limits import Limits
from backend.executor.local import run_local
from backend.executor.pool import WorkerPool


class LocalServices:
    def __init__(
        self,
        sub_graphs: Sequence[Graph],
        pool: WorkerPool,
        limits: Limits,
        credentials: Resolver | None = None,
        files_dir: Path | None = None,
    ) -> None:
        """Files nodes produce go under ``files_dir``, a folder per run (default: a
        temporary folder)."""
        self.sub_graphs = list(sub_graphs)
        self.files_dir = files_dir or Path(tempfile.mkdtemp(prefix="agent-server-files-"))
        self.pool = pool
        self.limits = limits
        self.credentials = credentials
        self.store: dict[tuple[str, str], Any] = {}
        self._calls: dict[str, dict[str, Graph]] = {}

    def agents(self, run: Run, ne: NodeExecution, token_budget: int | None) -> SubAgents:
        return _LocalSubAgents(self, run, ne)

    def kv(self, run: Run) -> KeyValue:
        return _LocalKeyValue(self)

    def files(self, run: Run, ne: NodeExecution) -> FileSink:
        return DirectoryFileSink(self.files_dir / run.id)

    def callee(self, graph_id: str, ne: NodeExecution) -> Graph:
        """The sub-graph the node runs: by the reference rules, within the graphs given."""
        for graph in self.sub_graphs:
            if graph.id == graph_id:
                return graph
        for caller in self.sub_graphs:
            if caller.has_node(ne.node_id):
                calls = self._calls.setdefault(caller.id, resolve(caller, self.sub_graphs)[0])
                if ne.node_id in calls:
                    return calls[ne.node_id]
        raise ServiceRefused(f"graph {graph_id} is not among the sub-graphs given")


class _LocalSubAgents:
    def __init__(self, services: LocalServices, parent: Run, ne: NodeExecution) -> None:
        self.services, self.parent, self.ne = services, parent, ne

    async def run(
        self, graph_id: str, graph_version: int, inputs: dict[str, Any]
    ) -> SubAgentResult:
        s = self.services
        if self.parent.depth + 1 > s.limits.max_agent_depth:
            raise ServiceRefused(
                f"sub-agents nest at most {s.limits.max_agent_depth} deep (BACKEND_MAX_AGENT_DEPTH)"
            )
        graph = s.callee(graph_id, self.ne)
        try:
            result = await run_local(
                graph, inputs, s.limits, s.pool, s.credentials, s, parent=self.parent
            )
        except InvalidInput as exc:
            raise ServiceRefused(f"the sub-agent cannot run: {exc.message}") from None
        return SubAgentResult(
            result.run.id, result.run.status.value, result.run.outputs, result.run.error
        )


class _LocalKeyValue:
    def __init__(self, services: LocalServices) -> None:
        self.services = services

    async def get(self, scope: str, key: str) -> tuple[bool, Any]:
        found = (scope, key) in self.services.store
        return found, self.services.store.get((scope, key))

    async def put(self, scope: str, key: str, value: Any) -> None:
        self.services.store[(scope, key)] = value
