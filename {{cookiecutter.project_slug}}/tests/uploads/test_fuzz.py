"""Any bytes, any name: the inspectors and the name cleaner never fail with an exception of their own.

Hypothesis generates the inputs, seeded and bounded in a normal run (the "default"
profile, tests/conftest.py); `make fuzz` runs far more of them with fresh seeds.
"""

from __future__ import annotations

import codecs
import io
import json
import time
import tracemalloc
import unicodedata

from hypothesis import example, given
from hypothesis import strategies as st

from {{ cookiecutter.project_slug }}.uploads.inspection import Facts, UnprocessableFileError, inspect_file, sniff_content_type
from {{ cookiecutter.project_slug }}.uploads.receive import MAX_NAME_LENGTH, clean_filename

from tests.support.files import png_bytes, png_without_pixels

BUDGET = 5.0  # seconds an inspection may take; far more than any generated file needs
MAX_PEAK = 32 * 1024 * 1024  # bytes of Python allocations an inspection of a small file may reach

# What files look like to the sniffer: a known format's magic number with anything after
# it, text in any encoding (with or without a byte order mark), deeply nested JSON, CSV.
magic = st.sampled_from([b"\x89PNG\r\n\x1a\n", b"GIF89a", b"\xff\xd8\xff", b"%PDF-1.7\n", b"RIFF\x00\x00\x00\x00WEBP"])
text = st.text(max_size=400)
encodings = st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "latin-1"])
nested_json = st.integers(min_value=1, max_value=50_000).map(lambda depth: b"[" * depth + b"]" * depth)
csv_like = st.lists(st.lists(st.text(alphabet='abc,;\t|"\n1', max_size=8), max_size=6), max_size=30).map(
    lambda rows: "\n".join(",".join(row) for row in rows).encode()
)
files = st.one_of(
    st.binary(max_size=4096),
    st.tuples(magic, st.binary(max_size=2048)).map(b"".join),
    st.tuples(text, encodings).map(lambda pair: pair[0].encode(pair[1], errors="replace")),
    st.tuples(st.sampled_from([codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE, b""]), text).map(
        lambda pair: pair[0] + pair[1].encode("utf-8", errors="replace")
    ),
    nested_json,
    csv_like,
    st.binary(min_size=1, max_size=200).map(lambda tail: png_bytes()[:60] + tail),  # a truncated PNG
)


def inspected(content: bytes) -> Facts | UnprocessableFileError:
    try:
        return inspect_file(io.BytesIO(content), BUDGET)
    except UnprocessableFileError as refused:
        return refused


@given(files)
@example(png_without_pixels())
@example(b"[" * 100_000 + b"]" * 100_000)
@example(codecs.BOM_UTF8 + b"<html><script>alert(1)</script>")
def test_any_file_is_inspected_or_refused_with_a_sentence(content: bytes) -> None:
    started = time.monotonic()
    outcome = inspected(content)
    assert time.monotonic() - started < BUDGET
    if isinstance(outcome, UnprocessableFileError):
        reason = str(outcome)
        assert reason
        assert "<" not in reason  # no object's repr, no markup: a sentence for the file's owner
    else:
        assert outcome.size == len(content)
        json.dumps(outcome.details)  # the result is stored as JSON


@given(files)
def test_inspection_memory_stays_bounded(content: bytes) -> None:
    tracemalloc.start()
    try:
        inspected(content)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < MAX_PEAK


@given(files)
def test_the_sniffer_names_a_type_for_any_head(content: bytes) -> None:
    kind = sniff_content_type(content[:8192])
    assert "/" in kind


@given(st.text(max_size=400))
@example("../../etc/passwd")
@example("evil\u202etxt.exe")
@example("\x00")
@example(" . ")
@example("a" * 1000 + ".tar.gz")
def test_any_client_file_name_is_cleaned(name: str) -> None:
    cleaned = clean_filename(name)
    assert cleaned
    assert len(cleaned) <= MAX_NAME_LENGTH
    assert "/" not in cleaned
    assert "\\" not in cleaned
    assert cleaned == cleaned.strip(". ")
    assert not any(unicodedata.category(ch) in {"Cc", "Cf"} for ch in cleaned)
    assert clean_filename(cleaned) == cleaned  # cleaning twice changes nothing
