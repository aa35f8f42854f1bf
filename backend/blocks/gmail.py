"""AutoGPT's Gmail blocks (same ids, pins and outputs): read, send, add a label, reply and
forward, run with the access token of the node's Google OAuth2 credential."""

from __future__ import annotations

import base64
import binascii
import json
import urllib.parse
from email.utils import getaddresses, parseaddr
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field

from backend.errors import ProviderError
from backend.providers.downloads import download
from backend.providers.gmail import Gmail, build_message, looks_html
from backend.providers.oauth import GOOGLE
from backend.providers.services import access_token

from .base import BlockContext, BlockOutput, BlockSchema, TestVector
from .files import content_type_of
from .service_base import CREDENTIALS_FIELD, CredentialsRef, ServiceBlock

# Gmail's own limit on a whole message.
MAX_ATTACHMENT_BYTES = 25 * 1024 * 1024
NO_ACCOUNT = (
    "this block needs a connected google account (an OAuth2 credential): connect one at "
    "/ui/credentials and set the node's credentials input to it"
)


def google_credentials_field(scope: str) -> Any:
    return Field(
        None,
        description=f"A connected Google account (an OAuth2 credential) granting {scope}.",
    )


# Pins Send, Reply and Forward share, declared once.
ContentType = Literal["auto", "plain", "html"] | None


def _as_list(value: Any) -> Any:
    """One address linked to a list pin becomes a list of one, as AutoGPT's executor
    converts a text to a list (a JSON list in the text is read as that list)."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("[") and text.endswith("]"):
            try:
                return json.loads(text)
            except ValueError:
                pass
        return [value]
    return value


Addresses = Annotated[list[str], BeforeValidator(_as_list)]


def list_field(description: str) -> Any:
    return Field(default_factory=list, description=description)


def content_type_field() -> Any:
    return Field(
        None, description="Content type: 'auto' (default - detects HTML), 'plain', or 'html'"
    )


class GoogleBlock(ServiceBlock):
    """A block calling a Google API with the node's Google OAuth2 credential."""

    provider = GOOGLE

    def gmail(self, ctx: BlockContext) -> Gmail:
        token = access_token(self.provider, ctx.credentials.get(CREDENTIALS_FIELD))
        return Gmail(self.clients(ctx), token, ctx.deadline)

    @staticmethod
    def scopes(ctx: BlockContext) -> tuple[str, ...]:
        found = ctx.credentials.get(CREDENTIALS_FIELD)
        return found.scopes if found else ()


class GmailReadBlock(GoogleBlock):
    """Reads the messages matching a Gmail search: each on ``email``, then all on
    ``emails`` (subject, sender, recipients, date, body as text, attachments' names)."""

    id = "25310c70-b89b-43ba-b25c-4dfa7e2a481c"
    categories = ("COMMUNICATION",)
    description = (
        "Retrieves and reads emails from a Gmail account matching a search, with subject, "
        "sender, body and attachments."
    )

    class Input(BlockSchema):
        credentials: CredentialsRef = google_credentials_field("gmail.readonly")
        query: str = Field("is:unread", description="Search query for reading emails")
        max_results: int = Field(
            10, ge=1, le=500, description="Maximum number of emails to retrieve"
        )

    class Output(BlockSchema):
        email: dict[str, Any] = Field(description="Email data")
        emails: list[dict[str, Any]] = Field(description="List of email data")

    test_vectors = (TestVector({"query": "is:unread"}, [("error", NO_ACCOUNT)]),)

    async def outputs(self, pins: Input, ctx: BlockContext) -> BlockOutput:
        emails = await self.gmail(ctx).read(pins.query, pins.max_results, self.scopes(ctx))
        for email in emails:
            yield "email", email
        yield "emails", emails


class GmailSendBlock(GoogleBlock):
    """Sends an email: HTML when the body looks like HTML (or ``content_type`` says so),
    plain text without hard line wrapping otherwise, with any attachments."""

    id = "6c27abc2-e51d-499e-a85f-5a0041ba94f0"
    categories = ("COMMUNICATION",)
    description = (
        "Sends emails via Gmail, detecting HTML bodies; plain text is sent without "
        "78-character line wrapping."
    )

    class Input(BlockSchema):
        credentials: CredentialsRef = google_credentials_field("gmail.send")
        to: Addresses = Field(description="Recipient email addresses")
        subject: str = Field(description="Email subject")
        body: str = Field(description="Email body (plain text or HTML)")
        cc: Addresses = list_field("CC recipients")
        bcc: Addresses = list_field("BCC recipients")
        content_type: ContentType = content_type_field()
        attachments: list[str] = list_field("Files to attach (URLs or data: URIs)")

    class Output(BlockSchema):
        result: dict[str, Any] = Field(description="Send confirmation")

    test_vectors = (
        TestVector(
            {"to": ["someone@example.com"], "subject": "Hi", "body": "Hello"},
            [("error", NO_ACCOUNT)],
        ),
        TestVector(
            {"to": [""], "subject": "Hi", "body": "Hello"},
            [
                (
                    "error",
                    "At least one recipient, subject, and body are required for sending an email",
                )
            ],
        ),
    )

    async def outputs(self, pins: Input, ctx: BlockContext) -> BlockOutput:
        to = [address.strip() for address in pins.to if address.strip()]
        if not to or not pins.subject or not pins.body:
            raise ProviderError(
                "At least one recipient, subject, and body are required for sending an email"
            )
        gmail = self.gmail(ctx)
        files = [await _attachment(ctx, item, n) for n, item in enumerate(pins.attachments, 1)]
        if sum(len(data) for _, _, data in files) > MAX_ATTACHMENT_BYTES:
            raise ProviderError("the attachments are larger than Gmail's 25 MB limit")
        raw = build_message(
            to,
            pins.subject,
            pins.body,
            [a for a in pins.cc if a.strip()],
            [a for a in pins.bcc if a.strip()],
            pins.content_type,
            files,
        )
        yield "result", await gmail.send(raw)


class GmailAddLabelBlock(GoogleBlock):
    """Adds a label to a message, creating the label when the mailbox has none of that
    name."""

    id = "f884b2fb-04f4-4265-9658-14f433926ac9"
    description = (
        "Adds a label to a specific email message in Gmail, creating the label if it doesn't exist."
    )
    categories = ("COMMUNICATION",)

    class Input(BlockSchema):
        credentials: CredentialsRef = google_credentials_field("gmail.modify")
        message_id: str = Field(description="Message ID to add label to")
        label_name: str = Field(description="Label name to add")

    class Output(BlockSchema):
        result: dict[str, Any] = Field(description="Label addition result")

    test_vectors = (
        TestVector({"message_id": "m1", "label_name": "Important"}, [("error", NO_ACCOUNT)]),
    )

    async def outputs(self, pins: Input, ctx: BlockContext) -> BlockOutput:
        if not pins.message_id.strip() or not pins.label_name.strip():
            raise ProviderError("a message id and a label name are required to add a label")
        yield "result", await self.gmail(ctx).add_label(pins.message_id.strip(), pins.label_name)


def reply_headers(
    parent: dict[str, str], to: list[str], cc: list[str], bcc: list[str], reply_all: bool
) -> tuple[list[str], dict[str, str]]:
    """The recipients of a reply (the given ones, else the parent's sender, or with
    ``reply_all`` its sender and recipients) and its threading headers."""
    if not (to or cc or bcc):
        if reply_all:
            found = [parseaddr(parent.get("from", ""))[1]]
            found += [a for _, a in getaddresses([parent.get("to", ""), parent.get("cc", "")])]
            to = list(dict.fromkeys(a for a in found if a))
        else:
            sender = parseaddr(parent.get("reply-to") or parent.get("from", ""))[1]
            to = [sender] if sender else []
    headers = {}
    references = parent.get("references", "").split()
    if parent.get("message-id"):
        headers["In-Reply-To"] = parent["message-id"]
        references.append(parent["message-id"])
    if references:
        headers["References"] = " ".join(references)
    return to, headers


class GmailReplyBlock(GoogleBlock):
    """Replies in a thread: to the given recipients, else to the parent message's sender
    (its Reply-To first) or, with ``replyAll``, to everyone on it; threaded by
    In-Reply-To and References."""

    id = "12bf5a24-9b90-4f40-9090-4e86e6995e60"
    description = (
        "Replies to Gmail threads with automatic HTML detection; plain text replies keep "
        "their paragraphs without 78-character line wrapping."
    )
    categories = ("COMMUNICATION",)

    class Input(BlockSchema):
        credentials: CredentialsRef = google_credentials_field("gmail.send and gmail.readonly")
        threadId: str = Field(description="Thread ID to reply in")
        parentMessageId: str = Field(description="ID of the message being replied to")
        to: Addresses = list_field("To recipients")
        cc: Addresses = list_field("CC recipients")
        bcc: Addresses = list_field("BCC recipients")
        replyAll: bool = Field(False, description="Reply to all original recipients")
        subject: str = Field("", description="Email subject")
        body: str = Field(description="Email body (plain text or HTML)")
        content_type: ContentType = content_type_field()
        attachments: list[str] = list_field("Files to attach (URLs or data: URIs)")

    class Output(BlockSchema):
        messageId: str = Field(description="Sent message ID")
        threadId: str = Field(description="Thread ID")
        message: dict[str, Any] = Field(description="Raw Gmail message object")
        email: dict[str, Any] = Field(description="Parsed email object of the reply")

    test_vectors = (
        TestVector(
            {"threadId": "t1", "parentMessageId": "m1", "body": "Thanks"},
            [("error", NO_ACCOUNT)],
        ),
    )

    async def outputs(self, pins: Input, ctx: BlockContext) -> BlockOutput:
        gmail = self.gmail(ctx)
        parent = await gmail.headers_of(pins.parentMessageId)
        to, threading = reply_headers(
            parent,
            [a.strip() for a in pins.to if a.strip()],
            [a.strip() for a in pins.cc if a.strip()],
            [a.strip() for a in pins.bcc if a.strip()],
            pins.replyAll,
        )
        if not to and not pins.cc and not pins.bcc:
            raise ProviderError("the reply has no recipient: the parent message names no sender")
        parent_subject = parent.get("subject", "").strip()
        subject = pins.subject or (
            parent_subject
            if parent_subject.lower().startswith("re:")
            else (f"Re: {parent_subject}" if parent_subject else "Re:")
        )
        files = [await _attachment(ctx, item, n) for n, item in enumerate(pins.attachments, 1)]
        raw = build_message(
            to, subject, pins.body, pins.cc, pins.bcc, pins.content_type, files, threading
        )
        sent = await gmail.send_message(raw, pins.threadId or None)
        thread_id = str(sent.get("threadId") or pins.threadId)
        yield "messageId", str(sent["id"])
        yield "threadId", thread_id
        yield "message", sent
        yield (
            "email",
            {
                "threadId": thread_id,
                "labelIds": list(sent.get("labelIds") or []),
                "id": str(sent["id"]),
                "subject": pins.subject or "",
                "snippet": str(sent.get("snippet") or ""),
                "from_": "",
                "to": to,
                "cc": pins.cc,
                "bcc": pins.bcc,
                "date": "",
                "body": pins.body,
                "sizeEstimate": int(sent.get("sizeEstimate") or 0),
                "attachments": [],
            },
        )


class GmailForwardBlock(GoogleBlock):
    """Forwards a message: an optional note, the original's From, Date, Subject and To,
    its body, and (by default) its attachments."""

    id = "64d2301c-b3f5-4174-8ac0-111ca1e1a7c0"
    description = (
        "Forwards Gmail messages to other recipients with automatic HTML detection, "
        "keeping the original's attachments."
    )
    categories = ("COMMUNICATION",)

    class Input(BlockSchema):
        credentials: CredentialsRef = google_credentials_field("gmail.send and gmail.readonly")
        messageId: str = Field(description="ID of the message to forward")
        to: Addresses = Field(description="Recipients to forward the message to")
        cc: Addresses = list_field("CC recipients")
        bcc: Addresses = list_field("BCC recipients")
        subject: str = Field(
            "", description="Optional custom subject (defaults to 'Fwd: [original subject]')"
        )
        forwardMessage: str = Field(
            "", description="Optional message to include before the forwarded content"
        )
        includeAttachments: bool = Field(
            True, description="Include attachments from the original message"
        )
        content_type: ContentType = content_type_field()
        additionalAttachments: list[str] = Field(
            default_factory=list, description="Additional files to attach (URLs or data: URIs)"
        )

    class Output(BlockSchema):
        messageId: str = Field(description="Forwarded message ID")
        threadId: str = Field(description="Thread ID")
        status: str = Field(description="Forward status")

    test_vectors = (
        TestVector({"messageId": "m1", "to": ["a@example.com"]}, [("error", NO_ACCOUNT)]),
        TestVector(
            {"messageId": "m1", "to": []},
            [("error", "At least one recipient is required for forwarding")],
        ),
    )

    async def outputs(self, pins: Input, ctx: BlockContext) -> BlockOutput:
        to = [a.strip() for a in pins.to if a.strip()]
        if not to:
            raise ProviderError("At least one recipient is required for forwarding")
        gmail = self.gmail(ctx)
        headers, original = await gmail.original(pins.messageId)
        original_subject = headers.get("subject", "No Subject")
        subject = pins.subject or (
            original_subject
            if original_subject.lower().startswith("fwd:")
            else f"Fwd: {original_subject}"
        )
        header = (
            "---------- Forwarded message ---------\n"
            f"From: {headers.get('from', 'Unknown')}\n"
            f"Date: {headers.get('date', 'Unknown')}\n"
            f"Subject: {original_subject}\n"
            f"To: {headers.get('to', 'Unknown')}\n"
        )
        body = f"{header}\n\n{original['body']}"
        if pins.forwardMessage:
            body = f"{pins.forwardMessage}\n\n{body}"
        files = []
        if pins.includeAttachments:
            for item in original["attachments"]:
                data = await gmail.attachment(pins.messageId, item["attachment_id"])
                files.append((item["filename"], item["content_type"], data))
        for n, extra in enumerate(pins.additionalAttachments, 1):
            files.append(await _attachment(ctx, extra, n))
        if sum(len(data) for _, _, data in files) > MAX_ATTACHMENT_BYTES:
            raise ProviderError("the attachments are larger than Gmail's 25 MB limit")
        # The forward header names addresses in <...>: only the forwarded text decides
        # whether the whole is HTML.
        kind = pins.content_type
        if kind not in ("plain", "html"):
            kind = "html" if looks_html(pins.forwardMessage + original["body"]) else "plain"
        raw = build_message(to, subject, body, pins.cc, pins.bcc, kind, files)
        sent = await gmail.send_message(raw)
        yield "messageId", str(sent["id"])
        yield "threadId", str(sent.get("threadId") or "")
        yield "status", "forwarded"


async def _attachment(ctx: BlockContext, item: str, number: int) -> tuple[str, str, bytes]:
    """(file name, content type, bytes) of an attachment given as a data: URI or a URL
    (fetched under the network policy)."""
    if item.startswith("data:"):
        header, _, encoded = item.partition(",")
        mime = header.removeprefix("data:").split(";")[0] or "application/octet-stream"
        try:
            data = (
                base64.b64decode(encoded, validate=True)
                if header.endswith(";base64")
                else urllib.parse.unquote_to_bytes(encoded)
            )
        except (binascii.Error, ValueError):
            raise ProviderError(f"attachment {number} is not a valid data: URI") from None
        extension = mime.rpartition("/")[2] or "bin"
        return f"attachment-{number}.{extension}", mime, data
    got = await download(
        item,
        allow_private=ctx.allow_private_network,
        egress=ctx.egress,
        max_bytes=MAX_ATTACHMENT_BYTES,
        deadline=ctx.deadline,
        what=f"attachment {number}",
    )
    return got.name, content_type_of(got.name, got.content_type), got.data
