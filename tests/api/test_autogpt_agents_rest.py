"""AutoGPT's 20 shipped agents, imported unchanged through the REST API and run by a real
executor against the local servers (the LLM server and every service the agents call):
each agent's outputs arrive where it routes them. The LLM answers follow what each
prompt asks for (its XML tags, its JSON block, a tool call). Skipped without
../shared/autogpt.

The SEO Blog Writer's "Get Post Titles" sub-agent fetches https://public-api.wordpress.com
itself with a web request, a URL fixed in the agent. It runs the way an operator behind a
TLS-inspecting egress proxy runs it: the server is started with BACKEND_HTTP_PROXY set to
a local intercepting proxy and BACKEND_CA_BUNDLE to that proxy's CA, and the proxy answers
from the local WordPress.com fake. Without the CA bundle the same run fails on the
certificate, saying so.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from backend.data.credentials_manager import CredentialsManager
from backend.data.open import open_store
from backend.data.store import Store
from backend.data.vault import open_vault
from backend.providers.oauth import TokenSet
from backend.server.app import create_app
from backend.settings import Settings
from tests import e2b_server, gmail_server, wordpress_server, youtube_server
from tests.api.conftest import create_key, drain
from tests.autogpt_data import AGENTS_DIR, needs_autogpt_data
from tests.autogpt_fakes import SECRETS, Call, Fakes, Rule, fakes, respond
from tests.intercepting_proxy import InterceptingProxy, MintedCA

pytestmark = needs_autogpt_data
API = "/api/v1"
__all__ = ["fakes"]  # the module-wide fixture


@dataclass(frozen=True)
class Case:
    inputs: dict[str, Any]
    outputs: dict[str, Callable[[list[Any]], bool]]  # output name -> check of its values
    rules: list[Rule] = field(default_factory=list)
    setup: Callable[[Fakes], object] = lambda fakes: None
    after: Callable[[Fakes], object] = lambda fakes: None
    # Run behind the intercepting egress proxy (see the module docstring).
    proxied: bool = False


def equal(*values: Any) -> Callable[[list[Any]], bool]:
    return lambda got: got == list(values)


def same(*values: Any) -> Callable[[list[Any]], bool]:
    """The values in any order (parallel branches finish in any order)."""
    return lambda got: sorted(got) == sorted(values)


def holds(text: str) -> Callable[[list[Any]], bool]:
    return lambda got: bool(got) and all(text in str(v) for v in got)


def files(count: int) -> Callable[[list[Any]], bool]:
    return lambda got: len(got) == count and all(v.startswith("/api/v1/files/") for v in got)


# What the Domain Name Finder's own availability script prints: four sibling tags.
DOMAIN_CHECK = (
    "<results_summary>\n I checked 2 domains for you.\n</results_summary>\n"
    "<available>\nquill.com\ninkwell.com\n</available>\n<unavailable>\n</unavailable>\n"
    "<error>\n</error>\n"
)
MEETING = {
    "id": "e1",
    "summary": "Partnership call",
    "start": {"dateTime": "2026-12-03T15:00:00Z"},
    "end": {"dateTime": "2026-12-03T16:00:00Z"},
    "organizer": {"email": "alice@example.com"},
    "attendees": [{"email": "alice@example.com"}, {"email": "bob@partner.example"}],
}
SUPPORT_EMAIL = gmail_server.message(
    "m1",
    "How do I reset my password?",
    [{"mimeType": "text/plain", "body": {"data": gmail_server.b64("How do I reset it?")}}],
)
VIDEOS = [f"https://www.youtube.com/watch?v=video{i}abcd" for i in range(3)]
SEO_BLOG_WRITER = "agent_55d40473-0f31-4ada-9e40-d3a7139fcbd4.json"
BLOG_REPORT = "I published a post to your blog titled Choosing an espresso grinder."
TRANSCRIPT = "Never gonna give you up\nNever gonna let you down & more"
CASES: dict[str, Case] = {
    "calculator-agent.json": Case({"Input": 7}, {"Output": equal(41)}),
    "agent_31d7abc3-e191-5cac-b3be-3e603fc49314.json": Case(
        {
            "Contact or Segment": "Dana, ops lead at Acme",
            "What Happened": "stopped logging in after the March outage",
            "The Offer": "two free months",
            "Sender Name": "Riley",
        },
        {"Win-back Email": equal("Dear Dana, come back.")},
        [("Dana, ops lead at Acme", "Dear Dana, come back.")],
    ),
    "agent_516d813b-d1bc-470f-add7-c63a4b2c2bad.json": Case(
        {"Function Definition": "def primes(n: int) -> list[int]:", "Arguments": "5"},
        {"return": equal("[2, 3, 5, 7, 11]")},
        [("def primes(n: int)", "[2, 3, 5, 7, 11]")],
    ),
    "agent_a1af1733-b566-5e2f-ae20-068e2163c4cc.json": Case(
        {"Product": "Ledgerly", "Audience": "bakery owners", "Sequence Type": "onboarding"},
        {"Email Sequence": equal("Email 1: Welcome to Ledgerly.")},
        [("Ledgerly", "Email 1: Welcome to Ledgerly.")],
    ),
    "agent_31daf49d-31d3-476b-aa4c-099abc59b458.json": Case(
        {"Theme": "Cooking"},
        {"Generated Image": files(4)},
        [("Cooking", "A burnt pie, captioned: 'Aim low.'")],
    ),
    "agent_d85882b8-633f-44ce-a315-c20a8c123d19.json": Case(
        {"Image Subject": "an octopus"},
        {"Generated Image": files(1)},
        [("an octopus", "A purple octopus at a desk, studio light.")],
    ),
    "agent_a548e507-09a7-4b30-909c-f63fcda10fff.json": Case(
        {
            "What business type you want to look for?": "Coffee Roasters",
            "Where do you want to search?": "Edinburgh, UK",
            "Search Distance (metres)": 50000,
            "Number of Results": 3,
        },
        {
            "Name": same("Roaster 0", "Roaster 1", "Roaster 2"),
            "Address": same(*[f"{i} High St, Edinburgh, UK" for i in range(3)]),
            "Phone Number": same(*[f"0131 000 00{i:02d}" for i in range(3)]),
            "Website": same(*[f"https://roaster{i}.example" for i in range(3)]),
            "Rating": same("4.5", "4.5", "4.5"),
            "Number of Reviews": same("100", "101", "102"),
        },
        setup=lambda fakes: fakes.fresh("maps"),
        after=lambda fakes: only_request(
            fakes, "maps", json={"textQuery": "Coffee Roasters in Edinburgh, UK", "pageSize": 3}
        ),
    ),
    "agent_fc2c9976-0962-4625-a27b-d316573a9e7f.json": Case(
        {"Business Name": "Tim Cook", "Address": "USA"},
        {"Email": equal("tim@example.com")},
        [("Extract the Contact Email", "Found it: <email>tim@example.com</email>")],
        setup=lambda fakes: fakes.fresh("jina"),
        after=lambda fakes: only_request(
            fakes, "jina", path="/search/Email%20Address%20of%20Tim%20Cook%2C%20USA"
        ),
    ),
    "agent_f2cc74bb-f43f-4395-9c35-ecb30b5b4fc9.json": Case(
        {"Homepage URL": "https://agpt.co"},
        {
            "Original Page Analysis": equal("The page is vague."),
            "Improved Webpage Copy": equal("Automate your work."),
        },
        [
            ("Rewrite and improve", "Automate your work."),
            ("Analyze the following", "The page is vague."),
        ],
    ),
    "agent_e7bb29a1-23c7-4fee-aa3b-5426174b8c52.json": Case(
        {
            "Source YouTube Video": f"https://youtu.be/{youtube_server.VIDEO}",
            "Structure: How do you want to present your LinkedIn Post?": "Curated Content",
            "Content: What is the main idea or message you want to convey.": "Recommendation",
            "Tone: How do you want to express yourself in your post?": "Inspirational",
        },
        {"LinkedIn Post": equal("The LinkedIn post.")},
        [("<video_transcript>", "The LinkedIn post.")],
        setup=lambda fakes: fakes.fresh("youtube"),
        after=lambda fakes: transcribed_once(fakes),
    ),
    "agent_eafa21d3-bf14-4f63-a97f-a5ee41df83b3.json": Case(
        {"Topic": "Auto_GPT", "Number of Videos": "3"},
        {"Blog Post": equal("Agents are here.")},
        [
            ("json_output", {"list": VIDEOS}),
            ("LinkedIn post based on transcripts", "Agents are here."),
        ],
    ),
    "agent_a03b0d8c-4751-43d6-a54e-c3b7856ba4e3.json": Case(
        {"Video Topic / Headline": "Robot chefs"},
        {
            "Short-Form Video Title": equal("Robot Chefs"),
            "Optimised Hashtags": equal("#ai #robots"),
            "Video Script (+Visual Cues)": equal("Robots cook now. [cut to kitchen]"),
            "Video": files(1),
        },
        [
            ("search term generator", "robot chefs news"),
            (
                "Extract the News Story",
                "<analysis>Fun.</analysis><news_story>Robots cook.</news_story>",
            ),
            ("Write a shortform video script", "Robots cook now. [cut to kitchen]"),
            (
                "title and relevant hashtags",
                "<title>Robot Chefs</title><hashtags>#ai #robots</hashtags>",
            ),
            ("final_summary", {"final_summary": "Robots cook in a lab."}),
            ("json_output", {"summary": "Robots cook in a lab."}),
        ],
    ),
    "agent_6e16e65a-ad34-4108-b4fd-4a23fced5ea2.json": Case(
        {"Business Type": "coffee roasters", "Location": "Edinburgh"},
        {"Results": equal(*["Jane Roe, founder"] * 3)},
        [
            (
                "CEO/Leader identifier",
                Call("web_search", {"question": "Who leads it?"}, "Jane Roe runs it."),
            ),
            (
                "CEO/Leader identifier",
                "<identified_owner_ceo>Jane Roe, founder</identified_owner_ceo>",
            ),
            ("Who leads it?", "Jane Roe runs it."),
        ],
    ),
    "agent_b8ceb480-a7a2-4c90-8513-181a49f7071f.json": Case(
        {
            "Documentation URL": "https://docs.example.com",
            "Company Tone": "Friendly",
            "Confidence Threshold": 80,
            "Escalation Email": "support@example.com",
            "Email Signature": "The Team",
            "Airtable Workspace ID": "wspTest",
        },
        {"Success": holds("Replied")},
        [
            (
                "**Current Task:**",
                "<findings><confidence>95</confidence>Reset it under Settings.</findings>",
            ),
            (
                "CUSTOMER EMAIL",
                {
                    "reasoning": "The documentation covers it.",
                    "email_response": "Hi Bob, reset it under Settings.",
                    "confidence_score": 95,
                    "should_auto_reply": "true",  # the Condition compares with text
                },
            ),
            ("human readable markdown", "## Ticket\nReplied to Bob."),
        ],
        setup=lambda fakes: (
            fakes.servers["gmail"].messages.update({"m1": SUPPORT_EMAIL}),
            fakes.servers["gmail"].sent.clear(),
            fakes.fresh("airtable"),
        ),
        after=lambda fakes: ticket_answered(fakes),
    ),
    SEO_BLOG_WRITER: Case(
        {
            "brand_tone": "Friendly",
            "target_word_count": "1000",
            "blog_url": "myblog.wordpress.com",
            "Website Primary Topic": "home espresso",
            "Website Description": "Guides for people who make espresso at home.",
        },
        {"BLOG_PUBLISHED_SUCCESS": equal(BLOG_REPORT)},
        [
            (
                "seasoned SEO strategist",
                "<research_log>Checked the niche.</research_log>"
                "<selection_notes>Low difficulty.</selection_notes>"
                "<primary_keyword>espresso grinder</primary_keyword>"
                "<proposed_title>Choosing an espresso grinder</proposed_title>"
                "<kd>12</kd><sv>2400</sv><justification>Underserved.</justification>",
            ),
            ("Research the topic", "Grinders matter more than machines."),
            (
                "Write a comprehensive, SEO-optimized blog post",
                {
                    "title": "Choosing an espresso grinder",
                    "content": "<p>Pick a burr grinder.</p>",
                    "image_prompt": "A burr grinder on a wooden counter",
                },
            ),
            ("Turn this data informing the user", BLOG_REPORT),
        ],
        setup=lambda fakes: (
            fakes.servers["e2b"].executions.append(
                e2b_server.Execution(stdout=["<p>Pick a burr grinder, humanly.</p>"])
            ),
            fakes.fresh("wordpress"),
        ),
        after=lambda fakes: blog_published(fakes),
        proxied=True,
    ),
    "agent_00fdd42c-a14c-4d19-a567-65374ea0e87f.json": Case(
        {
            "Topics of Interest": "Space",
            "Your Email Address": "alice@example.com",
            "What time range would you like each newsletter edition to cover?": "this week",
        },
        {"Newsletter": holds("img.example/probe.png")},
        [
            ("return a question", "Which space missions launched this week?"),
            ("Only ever return results", "Launch week: two probes left Earth (2026-12-01)."),
            ("skilled newsletter writer", "<title>Space Weekly</title><body>Launch week.</body>"),
            (
                "individual stories",
                "<stories><story>Probe launch</story><story>Moon rover</story></stories>",
            ),
            (
                "most relevant image URL",
                "<images><image><url>https://img.example/probe.png</url>"
                "<image_description>A probe.</image_description></image></images>",
            ),
            ("reproduce the newsletter", "Launch week. ![probe](https://img.example/probe.png)"),
        ],
        after=lambda fakes: newsletter_sent(fakes.servers["gmail"]),
    ),
    "agent_e437cc95-e671-489d-b915-76561fba8c7f.json": Case(
        {"YouTube URL": f"https://youtu.be/{youtube_server.VIDEO}"},
        {"Title": equal("T"), "Blog Post": equal("B"), "Target Keywords": equal("k")},
        [
            ("expert content analyst", "The video is a song."),
            (
                "well-structured blog post",
                "<title>T</title><blog_post>B</blog_post><keywords>k</keywords>",
            ),
        ],
    ),
    "agent_b6f6f0d3-49f4-4e3b-8155-ffe9141b32c0.json": Case(
        {"Product Pitch": "A notebook app for poets."},
        # the ranking (inkwell.com dropped), not the first list, reaches the report
        {"Domain Suggestions": holds("(Ranked)\n\nquill.com\n\n")},
        [
            ("Generate a creative and relevant list", "<domains>quill.com, inkwell.com</domains>"),
            (
                "present your final ranking",
                "<domain_analysis>quill.com: short, one word, 9/10.</domain_analysis>\n"
                "<domains>\nquill.com\n</domains>",
            ),
        ],
        setup=lambda fakes: fakes.servers["e2b"].executions.append(
            e2b_server.Execution(stdout=[DOMAIN_CHECK])
        ),
    ),
    "agent_415b7352-0dc6-4214-9d87-0ad3751b711d.json": Case(
        {"Your email address": "alice@example.com"},
        {
            "Meeting Prep Report Text": equal("Bob leads partnerships."),
            "Email Status": equal("sent"),
        },
        [
            ("brilliant prompt-writer", "<prompt>Who is bob@partner.example?</prompt>"),
            (
                "executive preparation brief",
                "<executive_briefing>Bob leads partnerships.</executive_briefing>",
            ),
            (
                "Make this into a high-quality html email report",
                "<html><p>Bob leads partnerships.</p></html>",
            ),
        ],
        setup=lambda fakes: (
            fakes.servers["calendar"].events.update({"primary": [MEETING]}),
            fakes.servers["gmail"].sent.clear(),
        ),
        after=lambda fakes: report_sent(fakes.servers["gmail"]),
    ),
    "agent_c775f60d-b99f-418b-8fe0-53172258c3ce.json": Case(
        {"Search Query": "Auto_GPT", "Number of Videos": "3"},
        {"Transcripts": equal(["Youtube Transcripts", *[TRANSCRIPT] * 3])},
        [("json_output", {"list": VIDEOS})],
        setup=lambda fakes: fakes.fresh("jina", "youtube"),
        after=lambda fakes: (
            only_request(fakes, "jina", path="/reader/https://www.youtube.com/results"),
            watched(fakes, [f"video{i}abcd" for i in range(3)]),
        ),
    ),
}


def only_request(fakes: Fakes, server: str, **expected: Any) -> None:
    """The agent made one request to ``server``, with these attributes."""
    [sent] = fakes.servers[server].requests
    for name, value in expected.items():
        assert getattr(sent, name) == value, (name, getattr(sent, name))


def transcribed_once(fakes: Fakes) -> None:
    """The video's captions were read through the proxy and reached the writing prompt."""
    assert fakes.servers["youtube"].paths() == ["/watch", "/youtubei/v1/player", "/api/timedtext"]
    asked = [r.text for r in fakes.llm.requests if "<video_transcript>" in r.text]
    assert asked and TRANSCRIPT in asked[-1]


def watched(fakes: Fakes, videos: list[str]) -> None:
    youtube = fakes.servers["youtube"]
    assert sorted(r.query["v"] for r in youtube.requests if r.path == "/watch") == videos


def ticket_answered(fakes: Fakes) -> None:
    """The customer got the drafted answer in the thread, and the ticket was logged."""
    [sent] = [
        base64.urlsafe_b64decode(m["raw"] + "==").decode() for m in fakes.servers["gmail"].sent
    ]
    assert "Hi Bob, reset it under Settings." in sent and "bob@example.com" in sent, sent
    airtable = fakes.servers["airtable"]
    assert any(r.method == "POST" and "/v0/meta/" not in r.path for r in airtable.requests)


def blog_published(fakes: Fakes) -> None:
    """The titles read through the proxy reached the SEO expert; the humanized post went
    to the blog; its short URL reached the final report."""
    asked = [r.text for r in fakes.llm.requests if "seasoned SEO strategist" in r.text]
    assert asked and "Milk steaming for beginners" in asked[-1]
    [post] = fakes.servers["wordpress"].posts[-1:]
    assert post["title"] == "Choosing an espresso grinder"
    assert post["content"] == "<p>Pick a burr grinder, humanly.</p>"
    [report] = [r.text for r in fakes.llm.requests if "Turn this data informing" in r.text]
    assert post["URL"] in report


def newsletter_sent(gmail: gmail_server.GmailServer) -> None:
    """The edition went to the reader, with its images."""
    [sent] = [base64.urlsafe_b64decode(m["raw"] + "==").decode() for m in gmail.sent]
    assert "To: alice@example.com" in sent and "Space Weekly" in sent, sent


def report_sent(gmail: gmail_server.GmailServer) -> None:
    """The meeting brief went to the user, as the agent's last step."""
    [sent] = [base64.urlsafe_b64decode(m["raw"] + "==").decode() for m in gmail.sent]
    assert "To: alice@example.com" in sent and "Bob leads partnerships." in sent, sent


def all_agents() -> list[Path]:
    return sorted(AGENTS_DIR.glob("*.json")) if AGENTS_DIR.is_dir() else []


def connect_accounts(settings: Settings, store: Store) -> dict[str, dict[str, str]]:
    """Alice's Google and WordPress.com accounts, as a connect flow stores them, named
    for the run by provider (AutoGPT's exports carry no credential references)."""
    manager = CredentialsManager(settings, store, open_vault(settings, store))
    refs = {}
    for provider, token in (("google", gmail_server.TOKEN), ("wordpress", wordpress_server.TOKEN)):
        record = manager.add_oauth("alice", provider, TokenSet(access_token=SecretStr(token)))
        refs[f"{provider}_credentials"] = {
            "id": record.id,
            "provider": provider,
            "type": "oauth2",
            "title": record.title,
        }
    return refs


@pytest.mark.parametrize("path", all_agents(), ids=lambda p: p.stem[:14])
def test_agent_runs_through_the_api(path: Path, fakes: Fakes, tmp_path: Path) -> None:
    case = CASES[path.name]
    if not case.proxied:
        run = run_agent(path, case, fakes, fakes.settings(tmp_path))
    else:
        ca = MintedCA(tmp_path)
        with InterceptingProxy(ca, fakes.servers["wordpress"].url) as proxy:
            settings = fakes.settings(tmp_path, http_proxy=proxy.url, ca_bundle=str(ca.pem))
            run = run_agent(path, case, fakes, settings)
        assert proxy.connects == ["public-api.wordpress.com:443"]

    assert run["status"] == "COMPLETED", run["error"]
    assert set(run["outputs"]) == set(case.outputs), run["outputs"]
    for name, check in case.outputs.items():
        assert check(run["outputs"][name]), (name, run["outputs"][name])
    case.after(fakes)


def run_agent(path: Path, case: Case, fakes: Fakes, settings: Settings) -> dict[str, Any]:
    """The agent imported, run by one executor until done, and its run as the API shows it."""
    store = open_store(settings)
    store.prepare(auto_migrate=True)
    try:
        alice = {"Authorization": f"Bearer {create_key(store, 'alice')}"}
        refs = connect_accounts(settings, store)
        case.setup(fakes)
        fakes.llm.default = respond(case.rules)
        with TestClient(create_app(settings, store)) as client:
            made = client.post(f"{API}/graphs", json=json.loads(path.read_text()), headers=alice)
            assert made.status_code == 201, made.text
            body = {"inputs": case.inputs, "credentials": refs}
            started = client.post(
                f"{API}/graphs/{made.json()['id']}/execute", json=body, headers=alice
            )
            assert started.status_code == 202, started.text
            drain(settings)
            run = client.get(f"{API}/executions/{started.json()['id']}", headers=alice).json()
    finally:
        store.close()

    for secret in (gmail_server.TOKEN, wordpress_server.TOKEN, *SECRETS):
        assert secret not in json.dumps(run)
    result: dict[str, Any] = run
    return result


def test_without_the_ca_bundle_the_proxied_fetch_fails_on_the_certificate(
    fakes: Fakes, tmp_path: Path
) -> None:
    path = AGENTS_DIR / SEO_BLOG_WRITER
    if not path.is_file():
        pytest.skip(f"{SEO_BLOG_WRITER} is absent")
    with InterceptingProxy(MintedCA(tmp_path), fakes.servers["wordpress"].url) as proxy:
        run = run_agent(
            path, CASES[SEO_BLOG_WRITER], fakes, fakes.settings(tmp_path, http_proxy=proxy.url)
        )

    assert run["status"] == "FAILED", run
    assert (
        "request to public-api.wordpress.com failed: certificate not trusted "
        "(unable to get local issuer certificate); if an egress proxy inspects TLS, the "
        "operator adds its CA with BACKEND_CA_BUNDLE"
    ) in run["error"]
    assert proxy.connects == ["public-api.wordpress.com:443"] and proxy.requests == []


def test_every_agent_has_a_case() -> None:
    assert sorted(CASES) == [path.name for path in all_agents()]
