"""The Gmail blocks against a fake Gmail REST API over real HTTP, with an OAuth2
credential's bearer token."""

from __future__ import annotations

import base64
import email
import email.policy
import time
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import SecretStr

from backend.blocks.base import BlockContext
from backend.blocks.gmail import (
    GmailAddLabelBlock,
    GmailForwardBlock,
    GmailReadBlock,
    GmailReplyBlock,
    GmailSendBlock,
)
from backend.providers.credentials import Credentials, CredentialsType
from tests.gmail_server import TOKEN, GmailServer, b64, message
from tests.service_server import Hold, Json, Raw
from tests.services.conftest import Waits, run_block, service_clients

READ = GmailReadBlock()
SEND = GmailSendBlock()
LABEL = GmailAddLabelBlock()
REPLY = GmailReplyBlock()
FORWARD = GmailForwardBlock()
READONLY = "https://www.googleapis.com/auth/gmail.readonly"


@pytest.fixture
def gmail() -> Iterator[GmailServer]:
    with GmailServer() as server:
        yield server


def run(
    block: Any,
    server: GmailServer,
    waits: Waits,
    data: dict[str, Any],
    token: str = TOKEN,
    scopes: tuple[str, ...] = (READONLY,),
    seconds: float = 30.0,
) -> list[tuple[str, Any]]:
    clients = service_clients(waits, gmail_base_url=server.url)
    credential = Credentials(
        "google",
        CredentialsType.OAUTH2,
        id="cred-g",
        title="Google account",
        access_token=SecretStr(token),
        scopes=scopes,
    )
    ctx = BlockContext(
        credentials={"credentials": credential},
        services=clients,
        deadline=time.monotonic() + seconds,
        allow_private_network=True,
    )
    return run_block(block, data, ctx)


def test_read_outputs_each_email_then_all(gmail: GmailServer, waits: Waits) -> None:
    gmail.messages["m1"] = message(
        "m1",
        "Plain one",
        [
            {"mimeType": "text/plain", "filename": "", "body": {"data": b64("Hello Alice")}},
            {
                "mimeType": "application/pdf",
                "filename": "report.pdf",
                "body": {"size": 2048, "attachmentId": "att-1"},
            },
        ],
    )
    gmail.messages["m2"] = message(
        "m2",
        "Html one",
        [
            {
                "mimeType": "multipart/alternative",
                "filename": "",
                "body": {"size": 0},
                "parts": [
                    {
                        "mimeType": "text/html",
                        "filename": "",
                        "body": {"attachmentId": "body-2"},
                    }
                ],
            }
        ],
    )
    gmail.attachments["body-2"] = b64(
        "<html><head><style>p{}</style></head><body><p>Hi <b>there</b></p>"
        '<p><a href="https://example.com">link</a></p></body></html>'
    )

    outputs = run(READ, gmail, waits, {"query": "is:unread newer_than:1d", "max_results": 5})

    first, second = outputs[0][1], outputs[1][1]
    assert [pin for pin, _ in outputs] == ["email", "email", "emails"]
    assert outputs[2][1] == [first, second]
    assert first == {
        "threadId": "t-m1",
        "labelIds": ["INBOX", "UNREAD"],
        "id": "m1",
        "subject": "Plain one",
        "snippet": "snippet of Plain one",
        "from_": "bob@example.com",
        "to": ["alice@example.com", "carol@example.com"],
        "cc": ["dave@example.com"],
        "bcc": [],
        "date": "Tue, 1 Dec 2026 09:00:00 +0000",
        "body": "Hello Alice",
        "sizeEstimate": 1234,
        "attachments": [
            {
                "filename": "report.pdf",
                "content_type": "application/pdf",
                "size": 2048,
                "attachment_id": "att-1",
            }
        ],
    }
    assert second["body"] == "Hi there\nlink (https://example.com)"
    listed = gmail.requests[0]
    assert listed.query == {"q": "is:unread newer_than:1d", "maxResults": "5"}
    assert listed.headers["authorization"] == f"Bearer {TOKEN}"
    assert gmail.requests[1].query == {"format": "full"}


def test_read_with_no_match_outputs_an_empty_list(gmail: GmailServer, waits: Waits) -> None:
    assert run(READ, gmail, waits, {}) == [("emails", [])]
    assert gmail.requests[0].query == {"q": "is:unread", "maxResults": "10"}


def test_with_the_metadata_scope_no_query_is_sent(gmail: GmailServer, waits: Waits) -> None:
    run(READ, gmail, waits, {}, scopes=("https://www.googleapis.com/auth/gmail.metadata",))
    assert gmail.requests[0].query == {"maxResults": "10"}


def test_a_refused_token_is_an_error_without_the_token(gmail: GmailServer, waits: Waits) -> None:
    [(pin, error)] = run(READ, gmail, waits, {}, token="ya29.wrong-token")
    assert pin == "error"
    assert "401" in error and "invalid authentication" in error
    assert "ya29.wrong-token" not in error


def test_rate_limits_are_retried_and_said(gmail: GmailServer, waits: Waits) -> None:
    limited = Json({"error": {"code": 429, "message": "Quota exceeded"}}, 429, {"Retry-After": "3"})
    gmail.script(r"/gmail/v1/users/me/messages", limited, limited, limited)
    [(pin, error)] = run(READ, gmail, waits, {})
    assert pin == "error" and "429" in error
    assert waits == [3.0, 3.0]


def test_a_malformed_answer_is_said(gmail: GmailServer, waits: Waits) -> None:
    gmail.script(r"/gmail/v1/users/me/messages", Raw(b"<html>oops</html>", 200, "text/html"))
    [(pin, error)] = run(READ, gmail, waits, {})
    assert pin == "error" and "malformed" in error


def test_a_slow_gmail_ends_within_the_node_time(gmail: GmailServer, waits: Waits) -> None:
    gmail.script(r"/gmail/v1/users/me/messages", Hold())
    started = time.monotonic()
    [(pin, error)] = run(READ, gmail, waits, {}, seconds=1.0)
    assert pin == "error" and "did not answer in time" in error
    assert time.monotonic() - started < 10


def sent_message(gmail: GmailServer) -> email.message.EmailMessage:
    raw = base64.urlsafe_b64decode(gmail.sent[-1]["raw"])
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(parsed, email.message.EmailMessage)
    return parsed


def test_send_plain_text_is_not_wrapped(gmail: GmailServer, waits: Waits) -> None:
    long_line = "word " * 40
    data = {
        "to": ["alice@example.com", ""],
        "cc": ["carol@example.com"],
        "subject": "Résumé ✓",
        "body": long_line,
    }
    assert run(SEND, gmail, waits, data) == [("result", {"id": "sent-1", "status": "sent"})]
    sent = sent_message(gmail)
    assert sent["To"] == "alice@example.com" and sent["Cc"] == "carol@example.com"
    assert sent["Subject"] == "Résumé ✓"
    assert sent.get_content_type() == "text/plain"
    assert sent.get_content().strip() == long_line.strip()


@pytest.mark.parametrize(
    ("to", "cc"), [("alice@example.com", '["carol@example.com"]'), (["alice@example.com"], [])]
)
def test_one_linked_address_is_a_list_of_one(
    gmail: GmailServer, waits: Waits, to: Any, cc: Any
) -> None:
    # AutoGPT's agents link a text pin (an "Escalation Email" input) to these list pins.
    data = {"to": to, "cc": cc, "subject": "Hi", "body": "Hello"}
    assert run(SEND, gmail, waits, data) == [("result", {"id": "sent-1", "status": "sent"})]
    sent = sent_message(gmail)
    assert sent["To"] == "alice@example.com"
    assert sent.get("Cc") == ("carol@example.com" if cc else None)


def test_send_detects_html_and_attaches_files(gmail: GmailServer, waits: Waits) -> None:
    data = {
        "to": ["alice@example.com"],
        "subject": "Report",
        "body": "<p>See <b>attached</b></p>",
        "attachments": ["data:text/csv;base64," + base64.b64encode(b"a,b\n1,2\n").decode()],
    }
    run(SEND, gmail, waits, data)
    sent = sent_message(gmail)
    body = sent.get_body(("html", "plain"))
    assert body is not None and body.get_content_type() == "text/html"
    [attached] = list(sent.iter_attachments())
    assert attached.get_content_type() == "text/csv"
    assert attached.get_payload(decode=True) == b"a,b\n1,2\n"


def test_send_needs_a_recipient_subject_and_body(gmail: GmailServer, waits: Waits) -> None:
    [(pin, error)] = run(SEND, gmail, waits, {"to": [""], "subject": "x", "body": "y"})
    assert pin == "error" and "At least one recipient" in error
    assert gmail.requests == []


def test_add_label_creates_a_missing_label_then_reuses_it(gmail: GmailServer, waits: Waits) -> None:
    gmail.messages["m1"] = message("m1", "Hi", [])
    data = {"message_id": "m1", "label_name": "agent-processed"}
    added = {"status": "Label added successfully", "label_id": "Label_1"}
    assert run(LABEL, gmail, waits, data) == [("result", added)]
    assert gmail.paths() == [
        "/gmail/v1/users/me/labels",
        "/gmail/v1/users/me/labels",
        "/gmail/v1/users/me/messages/m1/modify",
    ]
    assert gmail.requests[1].json == {"name": "agent-processed"}
    assert gmail.requests[2].json == {"addLabelIds": ["Label_1"]}
    assert run(LABEL, gmail, waits, data) == [("result", added)]
    assert [label["name"] for label in gmail.labels].count("agent-processed") == 1


def test_add_label_to_an_unknown_message_is_an_error(gmail: GmailServer, waits: Waits) -> None:
    [(pin, error)] = run(LABEL, gmail, waits, {"message_id": "nope", "label_name": "x"})
    assert pin == "error" and "404" in error


def parent_with(gmail: GmailServer, **headers: str) -> None:
    gmail.messages["m1"] = found = message("m1", "Question", [])
    found["payload"]["headers"] += [
        {"name": k.replace("_", "-"), "value": v} for k, v in headers.items()
    ]


def test_reply_goes_to_the_sender_in_the_thread(gmail: GmailServer, waits: Waits) -> None:
    parent_with(gmail, Message_ID="<abc@mail.example.com>", References="<root@mail.example.com>")
    data = {"threadId": "t-m1", "parentMessageId": "m1", "body": "Thanks!"}

    outputs = run(REPLY, gmail, waits, data)

    sent_answer = {"id": "sent-1", "threadId": "t-new", "labelIds": ["SENT"]}
    assert outputs[:3] == [("messageId", "sent-1"), ("threadId", "t-new"), ("message", sent_answer)]
    assert outputs[3][0] == "email" and outputs[3][1]["to"] == ["bob@example.com"]
    assert gmail.requests[0].query == {"format": "metadata"}
    assert gmail.sent[-1]["threadId"] == "t-m1"
    sent = sent_message(gmail)
    assert sent["To"] == "bob@example.com" and sent["Subject"] == "Re: Question"
    assert sent["In-Reply-To"] == "<abc@mail.example.com>"
    assert sent["References"] == "<root@mail.example.com> <abc@mail.example.com>"


def test_reply_all_and_reply_to(gmail: GmailServer, waits: Waits) -> None:
    parent_with(gmail, Reply_To="Help <help@example.com>")
    data = {"threadId": "t-m1", "parentMessageId": "m1", "body": "Hi"}
    run(REPLY, gmail, waits, data)
    assert sent_message(gmail)["To"] == "help@example.com"
    run(REPLY, gmail, waits, {**data, "replyAll": True, "subject": "Re: Question"})
    everyone = "bob@example.com, alice@example.com, carol@example.com, dave@example.com"
    assert sent_message(gmail)["To"] == everyone
    run(REPLY, gmail, waits, {**data, "to": ["zed@example.com"]})
    assert sent_message(gmail)["To"] == "zed@example.com"


def test_forward_carries_the_original_and_its_attachments(gmail: GmailServer, waits: Waits) -> None:
    gmail.messages["m1"] = message(
        "m1",
        "Invoice",
        [
            {"mimeType": "text/plain", "filename": "", "body": {"data": b64("Please pay")}},
            {
                "mimeType": "application/pdf",
                "filename": "invoice.pdf",
                "body": {"size": 3, "attachmentId": "att-9"},
            },
        ],
    )
    gmail.attachments["att-9"] = b64("PDF")
    data = {"messageId": "m1", "to": ["acct@example.com"], "forwardMessage": "FYI"}

    outputs = run(FORWARD, gmail, waits, data)

    assert outputs == [("messageId", "sent-1"), ("threadId", "t-new"), ("status", "forwarded")]
    sent = sent_message(gmail)
    assert sent["To"] == "acct@example.com" and sent["Subject"] == "Fwd: Invoice"
    body = sent.get_body(("plain",))
    assert body is not None
    text = body.get_content().replace("\r\n", "\n")
    assert text.startswith("FYI\n\n---------- Forwarded message ---------\nFrom: Bob <bob@")
    assert "Subject: Invoice\n" in text and text.rstrip().endswith("Please pay")
    [attached] = list(sent.iter_attachments())
    assert attached.get_filename() == "invoice.pdf"
    assert attached.get_payload(decode=True) == b"PDF"
    no_files = run(FORWARD, gmail, waits, {**data, "includeAttachments": False})
    assert no_files[-1] == ("status", "forwarded")
    assert list(sent_message(gmail).iter_attachments()) == []
