"""Generated requests from /openapi.json: whatever they hold, the server never answers 5xx,
answers only statuses the document lists for the operation, and every error is the
documented envelope.

Schemathesis builds the requests (valid ones, and invalid ones for the 4xx paths) from the
app's own OpenAPI document; each operation gets a bounded number of examples, derandomized
so a failure reproduces.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

EXAMPLES_PER_OPERATION = 20


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_server_errors(app: FastAPI, alice: dict[str, str], mode: GenerationMode) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    documented = app.openapi()["paths"]
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 14

    for operation in operations:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def check(case: Any) -> None:
            response = case.call(headers={**(case.headers or {}), **alice})
            label = f"{case.method} {case.formatted_path}"
            assert response.status_code < 500, (label, response.text)
            statuses = documented[case.path][case.method.lower()]["responses"]
            assert str(response.status_code) in statuses, (label, response.status_code)
            if case.path.startswith("/api/") and response.status_code >= 400:
                assert set(response.json()["error"]) == {"code", "message", "details"}, label

        try:
            check()
        except Unsatisfiable:
            # Nothing in this operation can be made invalid (e.g. GET /health).
            assert mode == GenerationMode.NEGATIVE, operation.label
