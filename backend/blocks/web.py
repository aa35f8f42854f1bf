"""SendWebRequestBlock: HTTP requests to a URL the graph author chose.

Every connection goes through the operator's network policy (backend.providers.network):
by default only public addresses can be reached.
"""

import contextlib
import json
import ssl
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from enum import StrEnum
from typing import Any

from pydantic import Field

from backend.providers.network import NetworkPolicyError, guarded_opener

from .base import Block, BlockContext, BlockSchema, TestVector
from .multipart import MAX_UPLOAD_BYTES, FileError, UploadFile, encode_multipart, load_file

REQUEST_TIMEOUT_SECONDS = 30.0
MAX_RESPONSE_BYTES = 10 * 1024 * 1024


class HttpMethod(StrEnum):
    GET = "GET"
    POST = "POST"
    PUT = "PUT"
    DELETE = "DELETE"
    PATCH = "PATCH"
    OPTIONS = "OPTIONS"
    HEAD = "HEAD"


def _encode_body(body: Any, json_format: bool) -> tuple[bytes | None, str | None]:
    """The request body and the content type it implies (None: caller's or none)."""
    if body is None:
        return None, None
    if json_format and isinstance(body, str):
        try:
            body = json.loads(body)
        except ValueError:
            json_format = False  # plain text, sent as it is
    if json_format:
        return json.dumps(body).encode(), "application/json"
    if isinstance(body, dict):
        return urllib.parse.urlencode(body, doseq=True).encode(), (
            "application/x-www-form-urlencoded"
        )
    return str(body).encode(), "text/plain; charset=utf-8"


def _reason(reason: object) -> str:
    if isinstance(reason, ssl.SSLCertVerificationError):
        # Behind a TLS-inspecting proxy this is the proxy's certificate: say what fixes it.
        return (
            f"certificate not trusted ({reason.verify_message}); if an egress proxy "
            "inspects TLS, the operator adds its CA with BACKEND_CA_BUNDLE"
        )
    return str(reason)


def _read_body(response: Any, json_format: bool) -> Any:
    raw: bytes = response.read(MAX_RESPONSE_BYTES + 1)
    if len(raw) > MAX_RESPONSE_BYTES:
        raise ValueError(f"response is larger than {MAX_RESPONSE_BYTES} bytes")
    charset = response.headers.get_content_charset() or "utf-8"
    try:
        text = raw.decode(charset, errors="replace")
    except LookupError:
        text = raw.decode("utf-8", errors="replace")
    # JSON when the server says so (AutoGPT's rule) or, with json_format, when it parses.
    if (json_format or response.headers.get_content_type() == "application/json") and (
        text.strip()
    ):
        try:
            return json.loads(text)
        except ValueError:
            pass  # not JSON after all: hand over the text
    return text


def _multipart_body(input_data: Any, opener: urllib.request.OpenerDirector) -> tuple[bytes, str]:
    """The multipart body for ``files`` plus the form fields in ``body`` (as AutoGPT,
    JSON bodies cannot carry files)."""
    if input_data.json_format:
        raise FileError(
            "json_format cannot be combined with file uploads: set json_format to false "
            "and put form fields in body"
        )
    fields = input_data.body
    if isinstance(fields, str):
        with contextlib.suppress(ValueError):
            fields = json.loads(fields)
    if fields is None:
        fields = {}
    if not isinstance(fields, dict):
        raise FileError("with files, body must be a dictionary of form fields")
    uploads: list[UploadFile] = []
    budget = MAX_UPLOAD_BYTES
    for index, reference in enumerate(input_data.files):
        upload = load_file(reference, opener, budget, index)
        budget -= len(upload.content)
        uploads.append(upload)
    return encode_multipart(fields, input_data.files_name, uploads)


class SendWebRequestBlock(Block):
    """An HTTP request with a JSON, text, form or multipart body.

    ``files`` are uploaded as multipart/form-data under ``files_name``, with ``body``'s
    entries as form fields, as AutoGPT does. Each file is a data URI or an http(s) URL;
    a URL is fetched through the same network guard as the request. Difference from
    AutoGPT: it has a per-run file store whose paths a graph may name; this server has
    none yet, so such paths are refused. A response is parsed as JSON when its
    Content-Type says so (AutoGPT's rule) or, with ``json_format``, whenever it parses.
    """

    id = "6595ae1f-b924-42cb-9a41-551a0611c4b4"
    description = "Sends an HTTP request (JSON, form or file upload); outputs by status class."
    categories = ("OUTPUT",)

    class Input(BlockSchema):
        url: str = Field(description="The http or https URL to call.")
        method: HttpMethod = Field(default=HttpMethod.POST, description="The HTTP method.")
        headers: dict[str, str] = Field(default_factory=dict, description="Request headers.")
        json_format: bool = Field(
            default=True, description="Send the body as JSON and parse a JSON response."
        )
        body: Any = Field(
            default=None, description="The request body; with files, a dict of form fields."
        )
        files_name: str = Field(default="file", description="The form field of the files.")
        files: list[str] = Field(
            default_factory=list,
            description="Files to upload as multipart/form-data: data URIs or http(s) URLs.",
        )

    class Output(BlockSchema):
        response: Any = Field(description="The response body of a 2xx answer.")
        client_error: Any = Field(description="The response body of a 4xx answer.")
        server_error: Any = Field(description="The response body of a 5xx answer.")

    test_vectors = (
        TestVector(
            {"url": "http://127.0.0.1:9/", "method": "GET"},
            [
                (
                    "error",
                    "refusing to connect to 127.0.0.1: 127.0.0.1 is a loopback address "
                    "(private network access is disabled)",
                )
            ],
        ),
        TestVector(
            {"url": "http://169.254.169.254/latest/meta-data"},
            [
                (
                    "error",
                    "refusing to connect to 169.254.169.254: 169.254.169.254 is a link-local "
                    "address (private network access is disabled)",
                )
            ],
        ),
        TestVector(
            {"url": "file:///etc/passwd"},
            [("error", "unsupported URL scheme 'file': use http or https")],
        ),
    )

    # A plain generator: base.execute runs it in a worker thread, off the event loop.
    def run(self, input_data: Input, ctx: BlockContext) -> Iterator[tuple[str, Any]]:
        parts = urllib.parse.urlsplit(input_data.url)
        if parts.scheme not in ("http", "https"):
            yield "error", f"unsupported URL scheme '{parts.scheme}': use http or https"
            return
        if not parts.hostname:
            yield "error", f"URL has no host: {input_data.url}"
            return

        headers = dict(input_data.headers)
        opener = guarded_opener(ctx.allow_private_network, ctx.egress)
        data: bytes | None
        content_type: str | None
        if input_data.files:
            try:
                data, content_type = _multipart_body(input_data, opener)
            except (FileError, NetworkPolicyError) as exc:
                yield "error", str(exc)
                return
            except Exception as exc:  # the download of a file by URL failed
                yield "error", f"loading a file to upload failed: {exc}"
                return
            # The boundary is ours: a Content-Type the author set cannot describe this body.
            headers = {k: v for k, v in headers.items() if k.lower() != "content-type"}
        else:
            data, content_type = _encode_body(input_data.body, input_data.json_format)
        if content_type and not any(k.lower() == "content-type" for k in headers):
            headers["Content-Type"] = content_type
        request = urllib.request.Request(
            input_data.url, data=data, headers=headers, method=input_data.method.value
        )
        try:
            with opener.open(request, timeout=REQUEST_TIMEOUT_SECONDS) as response:
                result = _read_body(response, input_data.json_format)
        except urllib.error.HTTPError as exc:
            status = exc.code
            try:
                result = _read_body(exc, input_data.json_format)
            except Exception:
                result = str(exc)
            finally:
                exc.close()
            if 400 <= status < 500:
                yield "client_error", result
            elif 500 <= status < 600:
                yield "server_error", result
            else:
                yield "error", f"unexpected HTTP status {status} {exc.reason}"
            return
        except NetworkPolicyError as exc:
            yield "error", str(exc)
            return
        except urllib.error.URLError as exc:
            yield "error", f"request to {parts.hostname} failed: {_reason(exc.reason)}"
            return
        except Exception as exc:  # timeouts, protocol errors, oversized bodies
            yield "error", f"request to {parts.hostname} failed: {exc}"
            return
        yield "response", result
