"""Gmail's REST API v1 over plain HTTP, with the bearer access token of an OAuth2 credential.

Reading is ``GET /gmail/v1/users/me/messages`` (ids matching a search) and then
``GET .../messages/{id}`` for each (``format=full``: headers, parts with base64url bodies);
a body Gmail keeps as an attachment is fetched from ``.../attachments/{id}``. Sending is
``POST .../messages/send`` with the whole RFC 5322 message base64url-encoded in ``raw``.
Labelling finds the label by name in ``GET .../labels`` (creating it with ``POST
.../labels`` when missing) and adds it with ``POST .../messages/{id}/modify``.
The base URL is a setting (BACKEND_GMAIL_BASE_URL), so proxies and test servers work.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import getaddresses, parseaddr
from html.parser import HTMLParser
from typing import Any
from urllib.parse import quote

from .http import time_budget
from .services import ServiceCall, ServiceClients, dig

PROVIDER = "google"
API = "/gmail/v1/users/me"
METADATA_SCOPE = "https://www.googleapis.com/auth/gmail.metadata"
NO_BODY = "This email does not contain a readable body."
# How deep a message's MIME tree is searched for its body.
MAX_PART_DEPTH = 10


def decode_part(data: str) -> bytes | None:
    """Gmail's base64url body data (padding left out) as bytes; None when it is not."""
    try:
        return base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))
    except (binascii.Error, ValueError):
        return None


class _TextOfHtml(HTMLParser):
    """The readable text of an HTML body: text kept, scripts and styles dropped, block
    elements on lines of their own, links followed by their address."""

    _BLOCKS = frozenset({"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "table"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0
        self._href: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "head"):
            self._skip += 1
        elif tag in self._BLOCKS:
            self.parts.append("\n")
        elif tag == "a":
            self._href = dict(attrs).get("href")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "head"):
            self._skip = max(0, self._skip - 1)
        elif tag == "a" and self._href:
            self.parts.append(f" ({self._href})")
            self._href = None

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)

    def text(self) -> str:
        lines = (" ".join(line.split()) for line in "".join(self.parts).splitlines())
        return "\n".join(line for line in lines if line).strip()


def html_text(html: str) -> str:
    parser = _TextOfHtml()
    parser.feed(html)
    parser.close()
    return parser.text()


def looks_html(text: str) -> bool:
    """AutoGPT's test for an HTML body: a ``<`` and a ``>`` in the first 500 characters."""
    head = text[:500]
    return "<" in head and ">" in head


def build_message(
    to: list[str],
    subject: str,
    body: str,
    cc: list[str],
    bcc: list[str],
    content_type: str | None,
    attachments: list[tuple[str, str, bytes]],
    extra_headers: Mapping[str, str] | None = None,
) -> str:
    """The message as Gmail's ``raw`` wants it (base64url). ``content_type`` "plain",
    "html", or "auto"/None: HTML when the start of the body has tags."""
    message = EmailMessage(policy=SMTP)
    message["To"] = ", ".join(to)
    if cc:
        message["Cc"] = ", ".join(cc)
    if bcc:
        message["Bcc"] = ", ".join(bcc)
    message["Subject"] = subject
    for name, value in (extra_headers or {}).items():
        message[name] = value
    kind = content_type if content_type in ("plain", "html") else None
    if kind is None:
        kind = "html" if looks_html(body) else "plain"
    # Quoted-printable: long lines get soft breaks that readers join again, so plain
    # text arrives without hard 78-character columns.
    message.set_content(body, subtype=kind, charset="utf-8", cte="quoted-printable")
    for name, mime, data in attachments:
        main, _, sub = mime.partition("/")
        message.add_attachment(
            data, maintype=main or "application", subtype=sub or "octet-stream", filename=name
        )
    return base64.urlsafe_b64encode(message.as_bytes()).decode("ascii")


class Gmail:
    def __init__(self, clients: ServiceClients, token: str, deadline: float | None) -> None:
        self.deadline = deadline
        self.call = ServiceCall(
            PROVIDER,
            clients.settings.gmail_base_url,
            clients.pool.client(),
            token,
            {"Authorization": f"Bearer {token}"},
        )

    async def read(self, query: str, max_results: int, scopes: tuple[str, ...]) -> list[Any]:
        """The messages matching ``query``, newest first, as AutoGPT's ``Email`` dicts."""
        metadata_only = METADATA_SCOPE in {s.lower() for s in scopes}
        params = {"maxResults": str(max_results)}
        if query and not metadata_only:  # Gmail refuses q with the metadata scope
            params["q"] = query
        with time_budget(self.deadline):
            listed = await self.call.request("GET", f"{API}/messages", params=params)
            if not isinstance(listed, Mapping):
                raise self.call.malformed("the message list is not an object")
            emails = []
            for item in listed.get("messages") or []:
                message_id = quote(str(dig(item, self.call, "id")), safe="")
                message = await self.call.request(
                    "GET",
                    f"{API}/messages/{message_id}",
                    params={"format": "metadata" if metadata_only else "full"},
                )
                emails.append(await self._email(message))
            return emails

    async def send(self, raw: str) -> dict[str, str]:
        sent = await self.send_message(raw)
        return {"id": str(dig(sent, self.call, "id")), "status": "sent"}

    async def send_message(self, raw: str, thread_id: str | None = None) -> dict[str, Any]:
        """Gmail's answer (the sent message: id, threadId, labelIds) to sending ``raw``,
        in ``thread_id`` when given."""
        body = {"raw": raw, **({"threadId": thread_id} if thread_id else {})}
        with time_budget(self.deadline):
            sent = await self.call.request("POST", f"{API}/messages/send", json=body)
        if not isinstance(sent, dict) or "id" not in sent:
            raise self.call.malformed("no id in the sent message")
        return sent

    async def headers_of(self, message_id: str) -> dict[str, str]:
        """A message's headers by lower-case name (the first of repeated ones)."""
        with time_budget(self.deadline):
            message = await self.call.request(
                "GET",
                f"{API}/messages/{quote(message_id, safe='')}",
                params={"format": "metadata"},
            )
        headers: dict[str, str] = {}
        for header in dig(message, self.call, "payload").get("headers") or []:
            if isinstance(header, Mapping):
                headers.setdefault(str(header.get("name", "")).lower(), str(header.get("value")))
        return headers

    async def add_label(self, message_id: str, label_name: str) -> dict[str, str]:
        """Put the label named ``label_name`` on the message, creating the label first
        when the mailbox has none of that name (as AutoGPT does)."""
        with time_budget(self.deadline):
            listed = await self.call.request("GET", f"{API}/labels")
            labels = listed.get("labels") if isinstance(listed, Mapping) else None
            label_id = next(
                (
                    str(label["id"])
                    for label in labels or []
                    if isinstance(label, Mapping) and label.get("name") == label_name
                ),
                None,
            )
            if label_id is None:
                created = await self.call.request(
                    "POST", f"{API}/labels", json={"name": label_name}
                )
                label_id = str(dig(created, self.call, "id"))
            modified = await self.call.request(
                "POST",
                f"{API}/messages/{quote(message_id, safe='')}/modify",
                json={"addLabelIds": [label_id]},
            )
        applied = isinstance(modified, Mapping) and bool(modified.get("labelIds"))
        status = "Label added successfully" if applied else "Label already applied or not found"
        return {"status": status, "label_id": label_id}

    async def original(self, message_id: str) -> tuple[dict[str, str], dict[str, Any]]:
        """A message's headers by lower-case name and the message as an ``Email`` dict."""
        with time_budget(self.deadline):
            message = await self.call.request(
                "GET", f"{API}/messages/{quote(message_id, safe='')}", params={"format": "full"}
            )
            email = await self._email(message)
        headers: dict[str, str] = {}
        for header in message["payload"].get("headers") or []:
            if isinstance(header, Mapping):
                headers.setdefault(str(header.get("name", "")).lower(), str(header.get("value")))
        return headers, email

    async def attachment(self, message_id: str, attachment_id: str) -> bytes:
        """The bytes of one attachment of a message."""
        with time_budget(self.deadline):
            data = await self._attachment_data(message_id, attachment_id)
        decoded = decode_part(data) if data else None
        if decoded is None:
            raise self.call.malformed(f"attachment {attachment_id[:40]} has no data")
        return decoded

    async def _email(self, message: Any) -> dict[str, Any]:
        payload = dig(message, self.call, "payload")
        headers = {
            str(h.get("name", "")).lower(): str(h.get("value", ""))
            for h in payload.get("headers") or []
            if isinstance(h, Mapping)
        }

        def addresses(name: str) -> list[str]:
            found = getaddresses([headers[name]]) if headers.get(name) else []
            return [address.strip() for _, address in found if address.strip()]

        return {
            "threadId": str(message.get("threadId") or ""),
            "labelIds": list(message.get("labelIds") or []),
            "id": str(dig(message, self.call, "id")),
            "subject": headers.get("subject", "No Subject"),
            "snippet": str(message.get("snippet") or ""),
            "from_": parseaddr(headers.get("from", ""))[1],
            "to": addresses("to"),
            "cc": addresses("cc"),
            "bcc": addresses("bcc"),
            "date": headers.get("date", ""),
            "body": await self._body(payload, str(message["id"])) or NO_BODY,
            "sizeEstimate": int(message.get("sizeEstimate") or 0),
            "attachments": _attachments(payload),
        }

    async def _body(self, part: Any, message_id: str, depth: int = 0) -> str | None:
        """The first readable body in the MIME tree: plain text, else HTML as text."""
        if depth > MAX_PART_DEPTH or not isinstance(part, Mapping):
            return None
        mime = str(part.get("mimeType", ""))
        body = part.get("body") or {}
        if mime in ("text/plain", "text/html") and not part.get("filename"):
            data = body.get("data")
            if not data and body.get("attachmentId"):
                data = await self._attachment_data(message_id, str(body["attachmentId"]))
            raw = decode_part(str(data)) if data else None
            if raw is not None:
                text = raw.decode("utf-8", errors="replace")
                return html_text(text) if mime == "text/html" else text
        for sub in part.get("parts") or []:
            found = await self._body(sub, message_id, depth + 1)
            if found:
                return found
        return None

    async def _attachment_data(self, message_id: str, attachment_id: str) -> str | None:
        answer = await self.call.request(
            "GET",
            f"{API}/messages/{quote(message_id, safe='')}/attachments/"
            f"{quote(attachment_id, safe='')}",
        )
        data = answer.get("data") if isinstance(answer, Mapping) else None
        return data if isinstance(data, str) else None


def _attachments(payload: Mapping[str, Any]) -> list[dict[str, Any]]:
    found = []
    for part in payload.get("parts") or []:
        if isinstance(part, Mapping) and part.get("filename"):
            body = part.get("body") or {}
            found.append(
                {
                    "filename": str(part["filename"]),
                    "content_type": str(part.get("mimeType", "")),
                    "size": int(body.get("size") or 0),
                    "attachment_id": str(body.get("attachmentId") or ""),
                }
            )
    return found
