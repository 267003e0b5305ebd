"""What the worker finds in a file: pure functions, no database."""

from __future__ import annotations

import hashlib
import io
import json

import pytest
from PIL import Image

from {{ cookiecutter.project_slug }}.uploads import inspection
from {{ cookiecutter.project_slug }}.uploads.inspection import UnprocessableFileError, inspect_file, sniff_content_type

from tests.support.files import CSV, HTML_AS_PNG, TEXT, png_bytes


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (png_bytes(), "image/png"),
        (b"%PDF-1.7\n", "application/pdf"),
        (HTML_AS_PNG, "text/html"),
        (b"  \n<html><body>hi</body></html>", "text/html"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'><script/></svg>", "image/svg+xml"),
        (b'<?xml version="1.0"?><note/>', "application/xml"),
        (b'{"a": 1}', "application/json"),
        (CSV, "text/csv"),
        (TEXT, "text/plain"),
        ("Grüße aus Köln\n".encode("latin-1"), "text/plain"),
        (b"\x00\x01\x02binary", "application/octet-stream"),
    ],
)
def test_type_comes_from_the_bytes(head: bytes, expected: str) -> None:
    assert sniff_content_type(head) == expected


def test_size_and_sha256_are_streamed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Read in chunks, never whole: a tiny chunk size still gives the right digest."""
    monkeypatch.setattr(inspection, "CHUNK_SIZE", 7)
    data = TEXT * 100
    size, sha256, head = inspection.digest(io.BytesIO(data))
    assert size == len(data)
    assert sha256 == hashlib.sha256(data).hexdigest()
    assert head == data[: inspection.SNIFF_BYTES]


def test_text_counts_lines_and_words_across_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(inspection, "CHUNK_SIZE", 5)  # splits words between chunks
    facts = inspect_file(io.BytesIO(b"alpha beta gamma\ndelta  epsilon\nzeta"))
    assert facts.content_type == "text/plain"
    assert facts.details == {"kind": "text", "encoding": "utf-8", "lines": 3, "words": 6}


def test_csv_rows_and_columns() -> None:
    facts = inspect_file(io.BytesIO(CSV))
    assert facts.content_type == "text/csv"
    assert facts.details["rows"] == 3
    assert facts.details["columns"] == 3
    assert facts.details["lines"] == 3


def test_valid_json() -> None:
    facts = inspect_file(io.BytesIO(json.dumps({"items": [1, 2, 3]}).encode()))
    assert facts.details["valid"] is True
    assert facts.details["top_level"] == "dict"


def test_invalid_json_says_where() -> None:
    facts = inspect_file(io.BytesIO(b'{"items": [1, 2,,]}'))
    assert facts.details["valid"] is False
    assert str(facts.details["error"]).startswith("line 1, column 17:")


def test_image_format_and_size() -> None:
    facts = inspect_file(io.BytesIO(png_bytes(width=40, height=30)))
    assert facts.content_type == "image/png"
    assert facts.details == {"kind": "image", "format": "PNG", "width": 40, "height": 30, "mode": "RGB"}


def test_decompression_bomb_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)
    with pytest.raises(UnprocessableFileError, match="too large to open safely"):
        inspect_file(io.BytesIO(png_bytes(width=20, height=20)))


def test_truncated_image_is_refused() -> None:
    with pytest.raises(UnprocessableFileError, match="not a readable image"):
        inspect_file(io.BytesIO(png_bytes(width=64, height=64)[:60]))


def test_other_files_get_the_common_facts() -> None:
    facts = inspect_file(io.BytesIO(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"))
    assert facts.content_type == "application/pdf"
    assert facts.details == {"kind": "binary"}
