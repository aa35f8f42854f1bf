"""The local servers every AutoGPT agent calls, started once, and the settings pointing a
server at them; LLM answers made by rules on what each prompt asks for."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from backend.settings import Settings
from tests import (
    airtable_server,
    calendar_server,
    dataforseo_server,
    e2b_server,
    firecrawl_server,
    gmail_server,
    google_maps_server,
    ideogram_server,
    jina_server,
    llm_server,
    replicate_server,
    revid_server,
    wordpress_server,
    youtube_server,
)
from tests.api.conftest import make_settings

LLM_KEYS = {
    "openai_api_key": "sk-openai-test-000",
    "anthropic_api_key": "sk-ant-test-000",
    "open_router_api_key": "sk-or-test-000",
}
# The operator's keys: none may show in a run's answer.
SECRETS = (
    *LLM_KEYS.values(),
    ideogram_server.KEY,
    replicate_server.KEY,
    revid_server.KEY,
    e2b_server.KEY,
    jina_server.KEY,
    google_maps_server.KEY,
    youtube_server.PASSWORD,
    firecrawl_server.KEY,
    dataforseo_server.PASSWORD,
    airtable_server.KEY,
)


@dataclass
class Fakes:
    llm: llm_server.LLMServer
    servers: dict[str, Any] = field(default_factory=dict)

    def fresh(self, *names: str) -> None:
        """Forget what these servers were asked before (they serve the whole module)."""
        for name in names:
            self.servers[name].requests.clear()

    def settings(self, tmp_path: Path, **extra: Any) -> Settings:
        s = self.servers
        return make_settings(
            tmp_path,
            database_url=f"sqlite:///{tmp_path / 'backend.db'}",
            max_body_bytes=4 * 1024 * 1024,  # AutoGPT's exports are big
            allow_private_network=True,
            openai_base_url=f"{self.llm.url}/v1",
            anthropic_base_url=self.llm.url,
            open_router_base_url=f"{self.llm.url}/v1",
            **LLM_KEYS,
            ideogram_base_url=s["ideogram"].url,
            ideogram_api_key=ideogram_server.KEY,
            replicate_base_url=s["replicate"].url,
            replicate_api_key=replicate_server.KEY,
            replicate_poll_seconds=0.01,
            revid_base_url=s["revid"].url,
            revid_api_key=revid_server.KEY,
            revid_poll_seconds=0.01,
            e2b_api_url=s["e2b"].url,
            e2b_sandbox_url=s["e2b"].url,
            e2b_api_key=e2b_server.KEY,
            jina_search_base_url=f"{s['jina'].url}/search",
            jina_reader_base_url=f"{s['jina'].url}/reader",
            jina_api_key=jina_server.KEY,
            google_maps_base_url=s["maps"].url,
            google_maps_api_key=google_maps_server.KEY,
            youtube_base_url="http://www.youtube.test",
            webshare_proxy_url=s["youtube"].url,
            webshare_proxy_username=youtube_server.USERNAME,
            webshare_proxy_password=youtube_server.PASSWORD,
            firecrawl_base_url=s["firecrawl"].url,
            firecrawl_poll_seconds=0.01,
            firecrawl_api_key=firecrawl_server.KEY,
            dataforseo_base_url=s["dataforseo"].url,
            dataforseo_username=dataforseo_server.USERNAME,
            dataforseo_password=dataforseo_server.PASSWORD,
            airtable_base_url=s["airtable"].url,
            airtable_api_key=airtable_server.KEY,
            gmail_base_url=s["gmail"].url,
            google_calendar_base_url=s["calendar"].url,
            wordpress_base_url=s["wordpress"].url,
            **extra,
        )


@pytest.fixture(scope="module")
def fakes() -> Iterator[Fakes]:
    with ExitStack() as stack:
        llm = stack.enter_context(llm_server.LLMServer())
        servers = {
            "ideogram": ideogram_server.ideogram_server(),
            "replicate": replicate_server.ReplicateServer(),
            "revid": revid_server.RevidServer(),
            "e2b": e2b_server.E2BServer(),
            "jina": jina_server.jina_server(),
            "maps": google_maps_server.GoogleMapsServer(total=3),
            "youtube": youtube_server.YouTubeServer(),
            "firecrawl": firecrawl_server.FirecrawlServer(),
            "dataforseo": dataforseo_server.DataForSeoServer(),
            "airtable": airtable_server.AirtableServer(),
            "gmail": gmail_server.GmailServer(),
            "calendar": calendar_server.CalendarServer(gmail_server.TOKEN),
            "wordpress": wordpress_server.WordPressServer(),
        }
        for server in servers.values():
            stack.enter_context(server)
        yield Fakes(llm, servers)


TAG = re.compile(r'<json_output id="([0-9a-f]{16})">')
Rule = tuple[str, Any]  # (text the prompt holds, the answer: text, a JSON payload or a tool call)


def respond(rules: list[Rule]) -> llm_server.Respond:
    """Answer each request by the first rule whose text its prompt holds: a string as it
    is, a dict or list in the JSON block the request asks for, a ``Call`` as a tool call."""

    def answer(request: llm_server.Recorded) -> llm_server.Answer:
        text = request.text
        for needle, reply in rules:
            if needle in text:
                if isinstance(reply, Call):
                    if reply.once in text:  # the tool answered already: finish instead
                        continue
                    return llm_server.Answer(tool_calls=((reply.name, reply.arguments),))
                if isinstance(reply, str):
                    return llm_server.Answer(reply)
                match = TAG.search(text)
                assert match, f"the request for {needle!r} asks for no JSON block"
                return llm_server.Answer(
                    f'<json_output id="{match[1]}">{json.dumps(reply)}</json_output>'
                )
        return llm_server.Answer("A plain answer.")

    return llm_server.Respond(answer)


@dataclass(frozen=True)
class Call:
    """A tool call, made until ``once`` (what the tool's answer holds) is in the prompt."""

    name: str
    arguments: dict[str, Any]
    once: str
