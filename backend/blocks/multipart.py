"""Files for SendWebRequestBlock's multipart uploads: loading them and encoding the body.

A file is named the way AutoGPT's ``MediaFileType`` names one: a data URI
(``data:<type>;base64,<data>``) or an http(s) URL. URLs are fetched with the caller's
opener, so the same network guard applies to them as to the request itself.
"""

from __future__ import annotations

import base64
import binascii
import mimetypes
import posixpath
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass
from typing import Any

MAX_UPLOAD_BYTES = 50 * 1024 * 1024  # all files of one request together
FETCH_TIMEOUT_SECONDS = 30.0


class FileError(ValueError):
    """A file reference that cannot be uploaded; the message says why."""


@dataclass(frozen=True)
class UploadFile:
    filename: str
    content: bytes
    mime_type: str


def load_file(
    reference: str, opener: urllib.request.OpenerDirector, budget: int, index: int
) -> UploadFile:
    """The file ``reference`` names, at most ``budget`` bytes; ``index`` numbers unnamed ones."""
    if reference.startswith("data:"):
        return _from_data_uri(reference, budget, index)
    scheme = urllib.parse.urlsplit(reference).scheme
    if scheme in ("http", "https"):
        return _from_url(reference, opener, budget, index)
    raise FileError(
        f"file {index + 1} is neither a data URI nor an http(s) URL "
        "(this server keeps no files of its own to refer to)"
    )


def _from_data_uri(reference: str, budget: int, index: int) -> UploadFile:
    header, sep, payload = reference[len("data:") :].partition(",")
    if not sep:
        raise FileError(f"file {index + 1} is not a valid data URI (no ',')")
    params = header.split(";")
    mime = params[0] or "text/plain"
    try:
        if "base64" in params[1:]:
            content = base64.b64decode(payload, validate=True)
        else:
            content = urllib.parse.unquote_to_bytes(payload)
    except (binascii.Error, ValueError):
        raise FileError(f"file {index + 1} has invalid base64 data") from None
    if len(content) > budget:
        raise FileError(f"files are larger than {MAX_UPLOAD_BYTES} bytes in all")
    return UploadFile(f"file{index + 1}{_extension(mime)}", content, mime)


def _from_url(
    url: str, opener: urllib.request.OpenerDirector, budget: int, index: int
) -> UploadFile:
    with opener.open(urllib.request.Request(url), timeout=FETCH_TIMEOUT_SECONDS) as response:
        content: bytes = response.read(budget + 1)
        mime = response.headers.get_content_type()
    if len(content) > budget:
        raise FileError(f"files are larger than {MAX_UPLOAD_BYTES} bytes in all")
    name = posixpath.basename(urllib.parse.urlsplit(url).path)
    return UploadFile(name or f"file{index + 1}{_extension(mime)}", content, mime)


def _extension(mime: str) -> str:
    return mimetypes.guess_extension(mime) or ""


def _field_values(value: Any) -> list[str]:
    """A form field's values: lists repeat the field, None sends nothing (as requests does)."""
    items = value if isinstance(value, list | tuple) else [value]
    return [item if isinstance(item, str) else str(item) for item in items if item is not None]


def _quote(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\r", "").replace("\n", "")


def encode_multipart(
    fields: dict[str, Any], field_name: str, files: list[UploadFile]
) -> tuple[bytes, str]:
    """A multipart/form-data body: ``fields`` first, then every file under ``field_name``.
    Returns the body and its Content-Type."""
    boundary = uuid.uuid4().hex
    parts: list[bytes] = []
    for name, value in fields.items():
        for text in _field_values(value):
            parts.append(
                f'--{boundary}\r\nContent-Disposition: form-data; name="{_quote(str(name))}"'
                f"\r\n\r\n{text}\r\n".encode()
            )
    for upload in files:
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{_quote(field_name)}"; '
            f'filename="{_quote(upload.filename)}"\r\nContent-Type: {upload.mime_type}\r\n\r\n'
        )
        parts.append(head.encode() + upload.content + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"
