"""What a webhook delivery must prove, and how its body becomes a run input.

* Proof, per hook: an HMAC-SHA256 of the exact body bytes under the hook's secret in
  ``X-Hub-Signature-256: sha256=HEX`` (GitHub's header; Stripe-style senders can be set
  up the same way), or the secret itself as ``Authorization: Bearer SECRET``. Compared in
  constant time. An API key proves nothing here, and a hook secret opens no other route.
* Body: JSON (``application/json``, ``*+json``) as sent; a form
  (``application/x-www-form-urlencoded``) as an object, a repeated field as a list; any
  ``text/*`` as a string; an empty body as ``{}``. Other types answer 415.
* Replays: a delivery id (``X-Delivery-Id`` or ``X-GitHub-Delivery``) seen before, within
  the replay window, returns the run of its first delivery.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

from backend.data.hooks import HookAuth
from backend.data.run_keys import MAX_CLIENT_KEY_CHARS
from backend.errors import InvalidInput
from backend.server.errors import Unauthorized, UnsupportedMediaType
from backend.server.json_body import invalid_at, parse_json, shown, text_problem

SIGNATURE_HEADER = "x-hub-signature-256"
SIGNATURE_PREFIX = "sha256="
DELIVERY_HEADERS = ("x-delivery-id", "x-github-delivery")
MAX_FORM_FIELDS = 1000


def signature(secret: str, body: bytes) -> str:
    """The header value a sender puts in X-Hub-Signature-256 for ``body``."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return SIGNATURE_PREFIX + digest


def verify(auth: HookAuth, secret: str, body: bytes, headers: Mapping[str, str]) -> None:
    """Unauthorized unless the delivery proves it knows the hook's secret."""
    if auth == HookAuth.HMAC:
        given = headers.get(SIGNATURE_HEADER)
        if not given:
            raise Unauthorized(f"missing {SIGNATURE_HEADER}: sign the body with the secret")
        if not hmac.compare_digest(given.strip().encode(), signature(secret, body).encode()):
            raise Unauthorized(f"{SIGNATURE_HEADER} does not match the body")
        return
    scheme, _, token = headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("missing Authorization: Bearer <hook secret>")
    if not hmac.compare_digest(token.strip().encode(), secret.encode()):
        raise Unauthorized("the bearer token is not this hook's secret")


def delivery_id(headers: Mapping[str, str]) -> str | None:
    for name in DELIVERY_HEADERS:
        value = headers.get(name, "").strip()
        if value:
            if len(value) > MAX_CLIENT_KEY_CHARS:
                raise invalid_at(["header", name], f"longer than {MAX_CLIENT_KEY_CHARS} characters")
            return value
    return None


def decode_body(content_type: str | None, body: bytes) -> Any:
    """The run input value of a delivered body (see the module docstring)."""
    if not body:
        return {}
    media = (content_type or "").split(";", 1)[0].strip().lower()
    main, _, sub = media.partition("/")
    if main == "application" and (sub == "json" or sub.endswith("+json")):
        return parse_json(body)
    if media == "application/x-www-form-urlencoded":
        return _form(_text(body))
    if main == "text":
        text = _text(body)
        if problem := text_problem(text):
            raise invalid_at(["body"], problem)
        return text
    got = f"got {shown(content_type)!r}" if content_type else "no Content-Type was sent"
    raise UnsupportedMediaType(
        f"webhook bodies must be JSON, a form (application/x-www-form-urlencoded) or text/* ({got})"
    )


def _text(body: bytes) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise invalid_at(["body"], f"byte {exc.start} is not UTF-8") from None


def _form(text: str) -> dict[str, Any]:
    try:
        pairs = parse_qsl(
            text, keep_blank_values=True, strict_parsing=True, max_num_fields=MAX_FORM_FIELDS
        )
    except ValueError as exc:
        raise InvalidInput(f"the form body cannot be read: {exc}") from None
    form: dict[str, Any] = {}
    for name, value in pairs:
        for part in (name, value):
            if problem := text_problem(part):
                raise invalid_at(["body", shown(name)], problem)
        if name not in form:
            form[name] = value
        elif isinstance(form[name], list):
            form[name].append(value)
        else:
            form[name] = [form[name], value]
    return form
