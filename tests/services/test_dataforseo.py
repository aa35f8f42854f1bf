"""The DataForSEO keyword blocks against a fake DataForSEO over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import SecretStr

from backend.blocks.dataforseo import (
    DataForSeoKeywordSuggestionsBlock,
    DataForSeoRelatedKeywordsBlock,
)
from backend.data.credentials_manager import SystemCredentials
from backend.providers.credentials import Credentials, CredentialsType
from backend.settings import Settings
from tests.dataforseo_server import (
    PASSWORD,
    RELATED,
    SUGGESTIONS,
    USERNAME,
    DataForSeoServer,
    envelope,
    task,
)
from tests.service_server import Json, Raw
from tests.services.conftest import Waits, context, run_block, service_clients

SUGGEST = DataForSeoKeywordSuggestionsBlock()
RELATE = DataForSeoRelatedKeywordsBlock()
AUTH = "Basic c2VvQGV4YW1wbGUuY29tOmRmcy1wYXNzLTdjMmU5MWIwNGQ="  # USERNAME:PASSWORD


@pytest.fixture
def dataforseo() -> Iterator[DataForSeoServer]:
    with DataForSeoServer() as server:
        yield server


def seo_login(password: str = PASSWORD) -> Credentials:
    return Credentials(
        "dataforseo",
        CredentialsType.USER_PASSWORD,
        id="cred-1",
        username=USERNAME,
        password=SecretStr(password),
    )


def run(block: Any, server: DataForSeoServer, waits: Waits, data: dict[str, Any], **kw: Any):
    clients = service_clients(waits, dataforseo_base_url=server.url)
    ctx = context(clients, "dataforseo", "unused", None)
    ctx.credentials = {"credentials": seo_login(kw.pop("password", PASSWORD))}
    return run_block(block, data, ctx)


def metrics(name: str, volume: int, **extra: Any) -> dict[str, Any]:
    found = {
        "keyword": name,
        "search_volume": volume,
        "competition": 0.5,
        "cpc": 2.0,
        "keyword_difficulty": 40,
        "serp_info": None,
        "clickstream_data": None,
    }
    return found | extra


def test_suggestions_send_autogpts_task_with_basic_auth(
    dataforseo: DataForSeoServer, waits: Waits
) -> None:
    outputs = run(SUGGEST, dataforseo, waits, {"keyword": "coffee", "limit": 2})

    ideas = [metrics("coffee idea 0", 100), metrics("coffee idea 1", 99)]
    assert outputs == [
        ("suggestion", ideas[0]),
        ("suggestion", ideas[1]),
        ("suggestions", ideas),
        ("total_count", 2),
        ("seed_keyword", "coffee"),
    ]
    [sent] = dataforseo.requests
    assert (sent.method, sent.path) == ("POST", SUGGESTIONS)
    assert sent.headers["authorization"] == AUTH
    assert sent.json == [
        {
            "keyword": "coffee",
            "location_code": 2840,
            "language_code": "en",
            "include_seed_keyword": True,
            "include_serp_info": False,
            "include_clickstream_data": False,
            "limit": 2,
        }
    ]


def test_related_keywords_send_the_depth_and_read_keyword_data(
    dataforseo: DataForSeoServer, waits: Waits
) -> None:
    data = {"keyword": "tea", "depth": 3, "include_serp_info": True, "location_code": None}
    outputs = run(RELATE, dataforseo, waits, data)

    serp = {"se_results_count": 1000}
    related = [
        metrics("tea related 0", 50, serp_info=serp),
        metrics("tea related 1", 51, serp_info=serp),
    ]
    assert outputs == [
        ("related_keyword", related[0]),
        ("related_keyword", related[1]),
        ("related_keywords", related),
        ("total_count", 2),
        ("seed_keyword", "tea"),
    ]
    [sent] = dataforseo.requests
    assert sent.path == RELATED
    assert sent.headers["authorization"] == AUTH
    assert sent.json == [
        {
            "keyword": "tea",
            "language_code": "en",
            "include_seed_keyword": True,
            "include_serp_info": True,
            "include_clickstream_data": False,
            "limit": 100,
            "depth": 3,
        }
    ]


def test_no_items_is_an_empty_list(dataforseo: DataForSeoServer, waits: Waits) -> None:
    dataforseo.script(SUGGESTIONS, Json(envelope([task([])])))
    outputs = run(SUGGEST, dataforseo, waits, {"keyword": "zzz"})
    assert outputs == [("suggestions", []), ("total_count", 0), ("seed_keyword", "zzz")]


def test_a_wrong_password_is_a_clear_error_without_it(
    dataforseo: DataForSeoServer, waits: Waits
) -> None:
    wrong = "dfs-wrong-pass-000000"
    outputs = run(SUGGEST, dataforseo, waits, {"keyword": "x"}, password=wrong)
    assert outputs == [
        (
            "error",
            "dataforseo answered HTTP 401 (unauthorized: check the API key): "
            "You are not authorized to access this resource.",
        )
    ]
    assert wrong not in str(outputs)


def test_a_task_error_inside_a_200_answer_is_an_error(
    dataforseo: DataForSeoServer, waits: Waits
) -> None:
    failed = task([], status=40501, message="Invalid Field: 'language_code'.")
    dataforseo.script(RELATED, Json(envelope([failed])))
    outputs = run(RELATE, dataforseo, waits, {"keyword": "x", "language_code": "xx"})
    assert outputs == [
        ("error", "dataforseo refused the task (status 40501): Invalid Field: 'language_code'.")
    ]


def test_an_account_error_inside_a_200_answer_is_an_error(
    dataforseo: DataForSeoServer, waits: Waits
) -> None:
    broke = {"status_code": 40200, "status_message": "Payment Required.", "tasks": []}
    dataforseo.script(SUGGESTIONS, Json(broke))
    outputs = run(SUGGEST, dataforseo, waits, {"keyword": "x"})
    assert outputs == [
        ("error", "dataforseo refused the request (status 40200): Payment Required.")
    ]


def test_a_rate_limit_is_waited_out(dataforseo: DataForSeoServer, waits: Waits) -> None:
    dataforseo.script(SUGGESTIONS, Json({"status_message": "slow"}, 429, {"Retry-After": "2"}))
    outputs = run(SUGGEST, dataforseo, waits, {"keyword": "x", "limit": 1})
    assert [pin for pin, _ in outputs] == [
        "suggestion",
        "suggestions",
        "total_count",
        "seed_keyword",
    ]
    assert waits == [2.0]
    assert len(dataforseo.requests) == 2


def test_a_long_rate_limit_fails_at_once(dataforseo: DataForSeoServer, waits: Waits) -> None:
    limited = Json(
        {"status_code": 40202, "status_message": "Rate limit."}, 429, {"Retry-After": "900"}
    )
    dataforseo.script(RELATED, limited)
    outputs = run(RELATE, dataforseo, waits, {"keyword": "x"})
    assert outputs == [
        (
            "error",
            "dataforseo answered HTTP 429 (rate limited; the server asks to wait 900 s): "
            "Rate limit.",
        )
    ]


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        (Raw(b"<html>oops</html>", content_type="text/html"), "not JSON"),
        (Json({"status_code": 20000, "tasks": "none"}), "tasks is not a list"),
        (Json({"tasks": []}), "no status_code for the request"),
        (
            Json(envelope([{"status_code": 20000, "result": [{"items": [1]}]}])),
            "items is not a list of objects",
        ),
        (
            Json(envelope([task([{"keyword": "k", "keyword_info": {"search_volume": "many"}}])])),
            "search_volume is not a number",
        ),
    ],
)
def test_a_malformed_answer_is_named(
    dataforseo: DataForSeoServer, waits: Waits, reply: Any, reason: str
) -> None:
    dataforseo.script(SUGGESTIONS, reply)
    outputs = run(SUGGEST, dataforseo, waits, {"keyword": "x"})
    assert outputs == [("error", f"dataforseo sent a malformed answer: {reason}")]


def test_a_password_echoed_by_a_failing_server_is_masked(
    dataforseo: DataForSeoServer, waits: Waits
) -> None:
    down = Raw(f"backend failed for {PASSWORD}".encode(), 503, "text/plain")
    dataforseo.script(SUGGESTIONS, down, down, down)
    outputs = run(SUGGEST, dataforseo, waits, {"keyword": "x"})
    assert outputs == [
        (
            "error",
            "dataforseo answered HTTP 503 (server error; gave up after 3 attempts): "
            "backend failed for ***",
        )
    ]
    assert PASSWORD not in str(outputs)


def test_without_a_credential_the_node_says_what_to_do(waits: Waits) -> None:
    ctx = context(service_clients(waits), "dataforseo", "unused", None)
    ctx.credentials = {}
    assert run_block(SUGGEST, {"keyword": "x"}, ctx) == list(SUGGEST.test_vectors[0].output)
    assert RELATE.required_credentials({}) == {"credentials": "dataforseo"}


def test_an_api_key_credential_is_not_a_login(waits: Waits) -> None:
    ctx = context(service_clients(waits), "dataforseo", "a-key", None)
    [(pin, message)] = run_block(RELATE, {"keyword": "x"}, ctx)
    assert (pin, message) == ("error", RELATE.test_vectors[0].output[0][1])


def test_the_operators_default_login_needs_both_settings() -> None:
    assert SystemCredentials(Settings(dataforseo_username=USERNAME)).default("dataforseo") is None
    both = Settings(dataforseo_username=USERNAME, dataforseo_password=PASSWORD)
    found = SystemCredentials(both).default("dataforseo")
    assert found is not None and found.password is not None
    assert (found.type, found.username) == (CredentialsType.USER_PASSWORD, USERNAME)
    assert found.password.get_secret_value() == PASSWORD
