"""What the worker finds in a file: pure functions, no database."""

from __future__ import annotations

import codecs
import hashlib
import io
import json
import time

import pytest
from PIL import Image

from {{ cookiecutter.project_slug }}.uploads import inspection
from {{ cookiecutter.project_slug }}.uploads.inspection import UnprocessableFileError, inspect_file, sniff_content_type

from tests.support.files import CSV, HTML_AS_PNG, TEXT, png_bytes, png_without_pixels

BUDGET = 60.0  # seconds for an inspection


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
        # Markup is markup whatever its encoding: a byte order mark or UTF-16 does not hide it.
        (codecs.BOM_UTF8 + b"<html><script>alert(1)</script>", "text/html"),
        ("<html><script>alert(1)</script>".encode("utf-16"), "text/html"),
        ("<svg onload=alert(1)>".encode("utf-16"), "image/svg+xml"),
        (b"\x00\x01\x02binary", "application/octet-stream"),
    ],
)
def test_type_comes_from_the_bytes(head: bytes, expected: str) -> None:
    assert sniff_content_type(head) == expected


def test_size_and_sha256_are_streamed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Read in chunks, never whole: a tiny chunk size still gives the right digest."""
    monkeypatch.setattr(inspection, "CHUNK_SIZE", 7)
    data = TEXT * 100
    size, sha256, head = inspection.digest(io.BytesIO(data), inspection.Deadline(BUDGET))
    assert size == len(data)
    assert sha256 == hashlib.sha256(data).hexdigest()
    assert head == data[: inspection.SNIFF_BYTES]


def test_text_counts_lines_and_words_across_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(inspection, "CHUNK_SIZE", 5)  # splits words between chunks
    facts = inspect_file(io.BytesIO(b"alpha beta gamma\ndelta  epsilon\nzeta"), BUDGET)
    assert facts.content_type == "text/plain"
    assert facts.details == {"kind": "text", "encoding": "utf-8", "lines": 3, "words": 6}


def test_csv_rows_and_columns() -> None:
    facts = inspect_file(io.BytesIO(CSV), BUDGET)
    assert facts.content_type == "text/csv"
    assert facts.details["rows"] == 3
    assert facts.details["columns"] == 3
    assert facts.details["lines"] == 3


def test_valid_json() -> None:
    facts = inspect_file(io.BytesIO(json.dumps({"items": [1, 2, 3]}).encode()), BUDGET)
    assert facts.details["valid"] is True
    assert facts.details["top_level"] == "dict"


def test_invalid_json_says_where() -> None:
    facts = inspect_file(io.BytesIO(b'{"items": [1, 2,,]}'), BUDGET)
    assert facts.details["valid"] is False
    assert str(facts.details["error"]).startswith("line 1, column 17:")


def test_image_format_and_size() -> None:
    facts = inspect_file(io.BytesIO(png_bytes(width=40, height=30)), BUDGET)
    assert facts.content_type == "image/png"
    assert facts.details == {"kind": "image", "format": "PNG", "width": 40, "height": 30, "mode": "RGB"}


def test_decompression_bomb_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)
    with pytest.raises(UnprocessableFileError, match="too large to open safely"):
        inspect_file(io.BytesIO(png_bytes(width=20, height=20)), BUDGET)


def test_truncated_image_is_refused() -> None:
    with pytest.raises(UnprocessableFileError, match="not a readable image"):
        inspect_file(io.BytesIO(png_bytes(width=64, height=64)[:60]), BUDGET)


def test_other_files_get_the_common_facts() -> None:
    facts = inspect_file(io.BytesIO(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"), BUDGET)
    assert facts.content_type == "application/pdf"
    assert facts.details == {"kind": "binary"}


# Files whose bytes make a parser raise something of its own fail at once, with a sentence.


def test_json_nested_too_deeply_is_reported_not_a_crash() -> None:
    """json raises RecursionError on it: the facts say it was not validated, and why."""
    facts = inspect_file(io.BytesIO(b"[" * 100_000 + b"]" * 100_000), BUDGET)
    assert facts.details["valid"] is None
    assert facts.details["note"] == "nested too deeply to validate"


def test_png_without_pixel_data_is_refused_with_a_sentence() -> None:
    """Pillow raises IndexError on it; the owner reads what is wrong, not Pillow's internals."""
    with pytest.raises(UnprocessableFileError) as refused:
        inspect_file(io.BytesIO(png_without_pixels()), BUDGET)
    assert str(refused.value) == "not a readable image: its data is incomplete or damaged"


def test_an_unreadable_image_never_names_a_path_or_object() -> None:
    """Pillow's own message names the file object ('<FieldFile: uploads/...>'); ours does not."""
    with pytest.raises(UnprocessableFileError) as refused:
        inspect_file(io.BytesIO(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64), BUDGET)
    assert "<" not in str(refused.value)
    assert "uploads/" not in str(refused.value)


def test_any_other_error_a_file_causes_becomes_a_failure_with_its_kind(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken_parser(*args: object) -> dict[str, object]:
        raise KeyError("something internal")

    monkeypatch.setattr(inspection, "csv_details", broken_parser)
    with pytest.raises(UnprocessableFileError, match=r"^its contents could not be inspected \(KeyError\)$"):
        inspect_file(io.BytesIO(CSV), BUDGET)


def test_reading_errors_of_the_stored_file_pass_through_to_be_retried() -> None:
    class Unreadable(io.BytesIO):
        def read(self, size: int | None = -1) -> bytes:
            raise OSError("the disk went away")

    with pytest.raises(OSError, match="the disk went away"):
        inspect_file(Unreadable(), BUDGET)


def test_a_file_that_takes_longer_than_the_budget_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(inspection, "CHUNK_SIZE", 1024)

    class Slow(io.BytesIO):
        def read(self, size: int | None = -1) -> bytes:
            time.sleep(0.01)
            return super().read(size)

    started = time.monotonic()
    with pytest.raises(UnprocessableFileError, match=r"^it took longer than 0\.1 seconds to inspect$"):
        inspect_file(Slow(TEXT * 10_000), 0.1)
    assert time.monotonic() - started < 1


def test_json_that_is_not_utf8_is_not_reported_valid() -> None:
    facts = inspect_file(io.BytesIO('{"city": "Zürich"}'.encode("latin-1")), BUDGET)
    assert facts.content_type == "application/json"
    assert facts.details["valid"] is False
    assert facts.details["error"] == "not UTF-8 text: JSON must be encoded in UTF-8"
