"""A fake Gmail REST API v1: listing messages by search, getting one (``format=full`` or
``metadata``), its attachments, and sending a raw message, in the shapes of Google's
public API reference."""

from __future__ import annotations

import base64
import re
from typing import Any

from tests.service_server import Json, Recorded, ServiceServer

TOKEN = "ya29.test-gmail-access"
DENIED = {
    "error": {
        "code": 401,
        "message": "Request had invalid authentication credentials.",
        "status": "UNAUTHENTICATED",
    }
}


def b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).rstrip(b"=").decode()


def message(
    message_id: str,
    subject: str,
    parts: list[dict[str, Any]],
    sender: str = "Bob <bob@example.com>",
) -> dict[str, Any]:
    return {
        "id": message_id,
        "threadId": f"t-{message_id}",
        "labelIds": ["INBOX", "UNREAD"],
        "snippet": f"snippet of {subject}",
        "sizeEstimate": 1234,
        "payload": {
            "mimeType": "multipart/mixed",
            "headers": [
                {"name": "Subject", "value": subject},
                {"name": "From", "value": sender},
                {"name": "To", "value": "Alice <alice@example.com>, carol@example.com"},
                {"name": "Cc", "value": "dave@example.com"},
                {"name": "Date", "value": "Tue, 1 Dec 2026 09:00:00 +0000"},
            ],
            "body": {"size": 0},
            "parts": parts,
        },
    }


class GmailServer(ServiceServer):
    def __init__(self, token: str = TOKEN) -> None:
        self.token = token
        self.messages: dict[str, dict[str, Any]] = {}
        self.attachments: dict[str, str] = {}
        self.sent: list[dict[str, Any]] = []
        self.labels: list[dict[str, str]] = [{"id": "INBOX", "name": "INBOX", "type": "system"}]
        prefix = r"/gmail/v1/users/me"
        super().__init__(
            {
                ("GET", prefix + r"/messages"): self._list,
                ("GET", prefix + r"/messages/(?P<id>[^/]+)"): self._get,
                ("GET", prefix + r"/messages/(?P<id>[^/]+)/attachments/(?P<att>[^/]+)"): (
                    self._attachment
                ),
                ("POST", prefix + r"/messages/send"): self._send,
                ("GET", prefix + r"/labels"): self._labels,
                ("POST", prefix + r"/labels"): self._create_label,
                ("POST", prefix + r"/messages/(?P<id>[^/]+)/modify"): self._modify,
            }
        )

    def _denied(self, recorded: Recorded) -> bool:
        return recorded.headers.get("authorization") != f"Bearer {self.token}"

    def _list(self, recorded: Recorded, match: re.Match[str]) -> Json:
        if self._denied(recorded):
            return Json(DENIED, 401)
        limit = int(recorded.query.get("maxResults", "100"))
        ids = list(self.messages)[:limit]
        found = [{"id": i, "threadId": self.messages[i]["threadId"]} for i in ids]
        return Json({"messages": found, "resultSizeEstimate": len(found)} if found else {})

    def _get(self, recorded: Recorded, match: re.Match[str]) -> Json:
        if self._denied(recorded):
            return Json(DENIED, 401)
        found = self.messages.get(match["id"])
        if found is None:
            return Json({"error": {"code": 404, "message": "Requested entity was not found."}}, 404)
        return Json(found)

    def _attachment(self, recorded: Recorded, match: re.Match[str]) -> Json:
        if self._denied(recorded):
            return Json(DENIED, 401)
        data = self.attachments[match["att"]]
        return Json({"size": len(data), "data": data})

    def _send(self, recorded: Recorded, match: re.Match[str]) -> Json:
        if self._denied(recorded):
            return Json(DENIED, 401)
        self.sent.append(recorded.json)
        return Json({"id": f"sent-{len(self.sent)}", "threadId": "t-new", "labelIds": ["SENT"]})

    def _labels(self, recorded: Recorded, match: re.Match[str]) -> Json:
        if self._denied(recorded):
            return Json(DENIED, 401)
        return Json({"labels": self.labels})

    def _create_label(self, recorded: Recorded, match: re.Match[str]) -> Json:
        if self._denied(recorded):
            return Json(DENIED, 401)
        label = {"id": f"Label_{len(self.labels)}", "name": recorded.json["name"], "type": "user"}
        self.labels.append(label)
        return Json(label)

    def _modify(self, recorded: Recorded, match: re.Match[str]) -> Json:
        if self._denied(recorded):
            return Json(DENIED, 401)
        found = self.messages.get(match["id"])
        if found is None:
            return Json({"error": {"code": 404, "message": "Requested entity was not found."}}, 404)
        labels = found.setdefault("labelIds", [])
        labels.extend(i for i in recorded.json.get("addLabelIds", []) if i not in labels)
        return Json({"id": found["id"], "threadId": found["threadId"], "labelIds": labels})
