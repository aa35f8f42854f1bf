"""The block side of files: safe names, content types, the folder sink of local runs."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

import pytest

from backend.blocks.files import DirectoryFileSink, FileTooLarge, content_type_of, safe_name


@pytest.mark.parametrize(
    ("name", "content_type", "expected"),
    [
        ("image.png", "image/png", "image.png"),
        ("../../etc/passwd", "text/plain", "passwd.txt"),
        ('a "quoted"\r\nname.webp', "image/webp", "a_quoted_name.webp"),
        ("", "video/mp4", "file.mp4"),
        ("noext", "application/octet-stream", "noext.bin"),
        ("x" * 500 + ".jpg", "image/jpeg", "x" * 189 + ".jpg"),
    ],
)
def test_names_are_safe_in_paths_and_headers(name: str, content_type: str, expected: str) -> None:
    assert safe_name(name, content_type) == expected


def test_content_types_come_from_the_server_else_the_name() -> None:
    assert content_type_of("a.png", "image/png; charset=binary") == "image/png"
    assert content_type_of("a.png", None) == "image/png"
    assert content_type_of("a.mp4", "application/octet-stream") == "video/mp4"
    assert content_type_of("a", "") == "application/octet-stream"


def test_the_folder_sink_writes_each_file_once(tmp_path: Path) -> None:
    sink = DirectoryFileSink(tmp_path / "out", max_bytes=10)
    ref = asyncio.run(sink.save("pic.png", "image/png", b"12345"))
    path = Path(ref.url.removeprefix("file://"))
    assert path.read_bytes() == b"12345" and path.parent == (tmp_path / "out").resolve()
    assert (ref.name, ref.size, ref.sha256) == ("pic.png", 5, hashlib.sha256(b"12345").hexdigest())
    with pytest.raises(FileTooLarge):
        asyncio.run(sink.save("big.png", "image/png", b"x" * 11))
