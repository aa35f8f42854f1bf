"""Generated requests from /openapi.json, checked with every one of schemathesis's checks:
the server never answers 5xx, answers only statuses the document lists for the operation,
with the documented content type, headers and body schema (the error envelope for every
error), accepts what the schema calls valid and refuses what it calls invalid.

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
from schemathesis.config import SchemathesisConfig

EXAMPLES_PER_OPERATION = 5
# A request can match the schema and still be refused for what it means: a cursor this
# server never gave out, a graph whose nodes are unknown blocks, a cron expression that
# does not parse. Such answers are 422 with the envelope (checked as any other answer).
ACCEPTED = ["2xx", "401", "404", "409", "422", "429"]
# Invalid data may be refused before it is parsed: a body over BACKEND_MAX_BODY_BYTES
# (a string far over its maxLength, say) is 413, as the document lists.
REJECTED = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429"]


def checked_schema(app: FastAPI) -> Any:
    config = SchemathesisConfig.from_dict(
        {
            "checks": {
                "positive_data_acceptance": {"expected-statuses": ACCEPTED},
                "negative_data_rejection": {"expected-statuses": REJECTED},
            }
        }
    )
    return schemathesis.openapi.from_asgi("/openapi.json", app, config=config)


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_every_check_passes(app: FastAPI, alice: dict[str, str], mode: GenerationMode) -> None:
    schema = checked_schema(app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 30
    failures: list[str] = []
    answered: set[int] = set()

    for operation in operations:
        # The key is fixed, so no generated request goes without it by accident.
        @given(case=operation.as_strategy(generation_mode=mode, headers=alice))
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def check(case: Any) -> None:
            # Every built-in check: not_a_server_error, status_code_conformance,
            # content_type_conformance, response_headers_conformance,
            # response_schema_conformance, negative_data_rejection,
            # positive_data_acceptance, missing_required_header, unsupported_method, ...
            answered.add(case.call_and_validate().status_code)

        try:
            check()
        except Unsatisfiable:
            # Nothing in this operation can be made invalid (e.g. GET /health).
            assert mode == GenerationMode.NEGATIVE, operation.label
        except Exception as exc:  # one operation's failure must not hide the others'
            failures.append(f"{operation.label}: {exc}")
    assert not failures, "\n\n".join(failures)
    # The key was accepted: requests reached the routes, not only the 401 of the guard.
    assert {200, 404} <= answered if mode == GenerationMode.POSITIVE else 422 in answered
