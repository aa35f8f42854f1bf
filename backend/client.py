"""A small client for the REST API (used by the CLI; usable by any Python program).

``ApiClient`` wraps the routes with httpx and turns every error answer into one
``ApiError`` carrying the API's code, message and details. ``follow_events`` reads a
run's Server-Sent Events and reconnects with Last-Event-ID when the stream breaks, so
the caller sees every event once, in order, across API restarts.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

if TYPE_CHECKING:
    import httpx

DEFAULT_TIMEOUT = 30.0
# How often, and how patiently, a broken event stream is resumed.
RECONNECT_ATTEMPTS = 10
RECONNECT_DELAY_SECONDS = 0.5


class ApiError(Exception):
    """An error answer (status >= 400) or an unreachable server (status 0)."""

    def __init__(self, status: int, code: str, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details


FINAL_STATUSES = frozenset({"COMPLETED", "FAILED", "TERMINATED"})


@dataclass(frozen=True)
class SseEvent:
    id: int
    type: str
    data: dict[str, Any]

    @property
    def is_final(self) -> bool:
        return self.type == "run_status" and self.data.get("status") in FINAL_STATUSES


def _error_from(response: httpx.Response) -> ApiError:
    try:
        error = response.json()["error"]
        return ApiError(response.status_code, error["code"], error["message"], error["details"])
    except (ValueError, KeyError, TypeError):
        text = response.text.strip()[:200] or response.reason_phrase
        return ApiError(response.status_code, "http_error", f"HTTP {response.status_code}: {text}")


class ApiClient:
    def __init__(
        self,
        base_url: str,
        api_key: str,
        timeout: float = DEFAULT_TIMEOUT,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        # Imported here so that merely importing this module (the CLI does) stays cheap.
        import httpx

        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(
            base_url=self.base_url,
            headers={"Authorization": f"Bearer {api_key}"},
            timeout=timeout,
            transport=transport,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        import httpx

        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise ApiError(
                0, "unreachable", f"cannot reach the API at {self.base_url}: {exc}"
            ) from None
        if response.status_code >= 400:
            raise _error_from(response)
        if response.status_code == 204 or not response.content:
            return None
        return response.json()

    # -- routes ------------------------------------------------------------------------

    def blocks(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.request("GET", "/api/v1/blocks")
        return result

    def create_graph(self, graph: dict[str, Any], reuse: bool = False) -> dict[str, Any]:
        """Store ``graph``; with ``reuse``, your live graph of the same content if any."""
        params = {"reuse": "true"} if reuse else None
        result: dict[str, Any] = self.request("POST", "/api/v1/graphs", json=graph, params=params)
        return result

    def get_graph(self, graph_id: str, version: int | None = None) -> dict[str, Any]:
        params = {"version": version} if version is not None else None
        result: dict[str, Any] = self.request(
            "GET", f"/api/v1/graphs/{_q(graph_id)}", params=params
        )
        return result

    def delete_graph(self, graph_id: str) -> None:
        self.request("DELETE", f"/api/v1/graphs/{_q(graph_id)}")

    def export_graph(self, graph_id: str) -> dict[str, Any]:
        """The graph as an AutoGPT export, with the sub-graphs it runs."""
        result: dict[str, Any] = self.request(
            "GET", f"/api/v1/graphs/{graph_id}", params={"include_sub_graphs": "true"}
        )
        return result

    def list_graphs(self, limit: int = 50, cursor: str | None = None) -> dict[str, Any]:
        params: dict[str, Any] = {"limit": limit}
        if cursor:
            params["cursor"] = cursor
        result: dict[str, Any] = self.request("GET", "/api/v1/graphs", params=params)
        return result

    def execute(
        self, graph_id: str, inputs: dict[str, Any], version: int | None = None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"inputs": inputs}
        if version is not None:
            body["version"] = version
        result: dict[str, Any] = self.request(
            "POST", f"/api/v1/graphs/{graph_id}/execute", json=body
        )
        return result

    def run(self, run_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self.request("GET", f"/api/v1/executions/{run_id}")
        return result

    def node_executions(self, run_id: str) -> list[dict[str, Any]]:
        result: dict[str, Any] = self.request("GET", f"/api/v1/executions/{_q(run_id)}/nodes")
        items: list[dict[str, Any]] = result["items"]
        return items

    def list_runs(self, **filters: Any) -> dict[str, Any]:
        params = {k: v for k, v in filters.items() if v is not None}
        result: dict[str, Any] = self.request("GET", "/api/v1/executions", params=params)
        return result

    def cancel(self, run_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self.request("POST", f"/api/v1/executions/{run_id}/cancel")
        return result

    def rerun(self, run_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self.request("POST", f"/api/v1/executions/{_q(run_id)}/rerun")
        return result

    def resume(self, run_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self.request("POST", f"/api/v1/executions/{_q(run_id)}/resume")
        return result

    def create_schedule(self, body: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = self.request("POST", "/api/v1/schedules", json=body)
        return result

    def list_schedules(self, graph_id: str | None = None) -> list[dict[str, Any]]:
        params = {"graph_id": graph_id} if graph_id else {}
        result: dict[str, Any] = self.request("GET", "/api/v1/schedules", params=params)
        items: list[dict[str, Any]] = result["items"]
        return items

    def set_schedule_enabled(self, schedule_id: str, enabled: bool) -> dict[str, Any]:
        action = "resume" if enabled else "pause"
        path = f"/api/v1/schedules/{_q(schedule_id)}/{action}"
        result: dict[str, Any] = self.request("POST", path)
        return result

    def delete_schedule(self, schedule_id: str) -> None:
        self.request("DELETE", f"/api/v1/schedules/{_q(schedule_id)}")

    def create_credentials(self, body: dict[str, Any]) -> dict[str, Any]:
        """Add a credential; the answer holds its record and a masked hint, no secret."""
        result: dict[str, Any] = self.request("POST", "/api/v1/credentials", json=body)
        return result

    def list_credentials(self, provider: str | None = None) -> list[dict[str, Any]]:
        params = {"provider": provider} if provider else {}
        result: dict[str, Any] = self.request("GET", "/api/v1/credentials", params=params)
        items: list[dict[str, Any]] = result["items"]
        return items

    def delete_credentials(self, credentials_id: str) -> None:
        self.request("DELETE", f"/api/v1/credentials/{quote(credentials_id, safe='')}")

    def follow_events(self, run_id: str, after: int = 0) -> Iterator[SseEvent]:
        """Every event after ``after`` until the run's final status event.

        A stream that breaks, or that the server ends early (it is stopping), is resumed
        from the last event seen, so nothing is missed and nothing repeats.
        """
        import httpx

        position = after
        failures = 0
        run_ended = False
        while True:
            try:
                for event in self._stream(run_id, position):
                    position = event.id
                    failures = 0
                    yield event
                    if event.is_final:
                        return
                if run_ended:
                    # Resumed after the final event had already been seen.
                    return
                run_ended = self.run(run_id)["status"] in FINAL_STATUSES
                if run_ended:
                    continue
            except httpx.TransportError as exc:
                error = ApiError(0, "unreachable", f"event stream of run {run_id} lost: {exc}")
            except ApiError as exc:
                if exc.status != 0:
                    raise
                error = exc
            else:
                error = ApiError(0, "unreachable", f"event stream of run {run_id} ended early")
            failures += 1
            if failures > RECONNECT_ATTEMPTS:
                raise error
            time.sleep(RECONNECT_DELAY_SECONDS)

    def _stream(self, run_id: str, after: int) -> Iterator[SseEvent]:
        headers = {"Last-Event-ID": str(after), "Accept": "text/event-stream"}
        import httpx

        path = f"/api/v1/executions/{run_id}/events"
        # No read timeout: a run may be quiet for longer than any fixed limit.
        timeout = httpx.Timeout(DEFAULT_TIMEOUT, read=None)
        with self._http.stream("GET", path, headers=headers, timeout=timeout) as response:
            if response.status_code >= 400:
                response.read()
                raise _error_from(response)
            yield from parse_sse(response.iter_lines())


def _q(part: str) -> str:
    """``part`` safe to put in a path (an id the user typed)."""
    return quote(part, safe="")


def parse_sse(lines: Iterator[str]) -> Iterator[SseEvent]:
    """Server-Sent Events from text lines; comments and events without an id are skipped."""
    fields: dict[str, str] = {}
    data: list[str] = []
    for line in lines:
        if line == "":
            if data and "id" in fields:
                yield SseEvent(
                    int(fields["id"]), fields.get("event", "message"), json.loads("\n".join(data))
                )
            fields, data = {}, []
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            data.append(value)
        else:
            fields[name] = value
