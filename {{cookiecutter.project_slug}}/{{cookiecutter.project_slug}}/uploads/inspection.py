"""Pure functions that inspect a file's bytes: what it really is, and the facts worth showing.

Files are read in chunks, never whole (except JSON, up to JSON_VALIDATE_MAX_BYTES), within
a time budget. ``inspect_file()`` is the one boundary: whatever a file's contents make a
parser raise becomes an UnprocessableFileError whose message is a sentence for the file's
owner; only errors reading the stored file itself (OSError, or the storage's) pass through,
to be retried.
Nothing here touches the database or the request.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import json
import re
import time
import warnings
from dataclasses import dataclass, field
from typing import BinaryIO

import filetype
from PIL import Image, UnidentifiedImageError

CHUNK_SIZE = 1024 * 1024  # bytes read at a time
SNIFF_BYTES = 8192  # bytes looked at to decide the type
JSON_VALIDATE_MAX_BYTES = 10 * 1024 * 1024  # larger JSON is not parsed (json needs it whole in memory)
CSV_DELIMITERS = ",;\t|"
# The WHATWG MIME sniffing standard's "HTML" patterns: a browser that ignores the
# declared type would render such a file as a page. Matched on decoded text, so a byte
# order mark or UTF-16 cannot hide the markup.
HTML_START = re.compile(
    r"^\s*<(!doctype html|html|head|script|iframe|h1|div|font|table|a|style|title|b|body|br|p|!--)[\s>]",
    re.IGNORECASE,
)
XML_START = re.compile(r"^\s*<(\?xml|svg)[\s>]", re.IGNORECASE)
SVG_TAG = re.compile(r"<svg[\s>]", re.IGNORECASE)
OCTET_STREAM = "application/octet-stream"
# Types inspected as text (besides text/*).
TEXT_LIKE = frozenset({"application/json", "application/xml", "image/svg+xml"})


class UnprocessableFileError(Exception):
    """The file cannot be inspected, and retrying will not help; the message says why, in a sentence."""


class Deadline:
    """A time budget, checked between chunks: a file that takes longer fails instead of holding the worker."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.at = time.monotonic() + seconds

    def check(self) -> None:
        if time.monotonic() > self.at:
            raise UnprocessableFileError(f"it took longer than {self.seconds:g} seconds to inspect")


@dataclass
class Facts:
    size: int  # bytes
    sha256: str
    content_type: str
    details: dict[str, object] = field(default_factory=dict)


def text_encoding(head: bytes) -> str | None:
    """The encoding of text that starts with ``head``, or None if it looks binary."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if b"\x00" in head:
        return None
    try:
        # final=False: the head may end in the middle of a multi-byte character.
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        control = sum(1 for byte in head if byte < 0x20 and byte not in b"\t\n\r\f")
        return "latin-1" if control == 0 else None
    return "utf-8"


def looks_like_csv(text: str) -> bool:
    """At least two complete lines with the same non-zero count of one delimiter."""
    lines = [line for line in text.splitlines()[:-1] if line.strip()][:20]
    if len(lines) < 2:
        return False
    return any(
        len({line.count(delimiter) for line in lines}) == 1 and lines[0].count(delimiter) > 0
        for delimiter in CSV_DELIMITERS
    )


def sniff_content_type(head: bytes) -> str:
    """The content type the bytes show, whatever the name or the client says."""
    kind = filetype.guess(head)
    if kind is not None:
        return str(kind.mime)
    encoding = text_encoding(head)
    if encoding is None:
        return OCTET_STREAM
    # The head may end in the middle of a character: decode what is whole.
    text = codecs.getincrementaldecoder(encoding)(errors="ignore").decode(head)
    if HTML_START.match(text):
        return "text/html"
    if XML_START.match(text):
        # SVG is XML that browsers run scripts in; name it so an allow-list can refuse it.
        return "image/svg+xml" if SVG_TAG.search(text) else "application/xml"
    text = text.lstrip()
    if text.startswith(("{", "[")):
        return "application/json"
    if looks_like_csv(text):
        return "text/csv"
    return "text/plain"


def digest(file: BinaryIO, deadline: Deadline) -> tuple[int, str, bytes]:
    """Size, SHA-256 and the first SNIFF_BYTES of a file, reading it in chunks."""
    file.seek(0)
    sha256 = hashlib.sha256()
    size = 0
    head = b""
    while chunk := file.read(CHUNK_SIZE):
        deadline.check()
        if len(head) < SNIFF_BYTES:
            head += chunk[: SNIFF_BYTES - len(head)]
        sha256.update(chunk)
        size += len(chunk)
    return size, sha256.hexdigest(), head


def image_details(file: BinaryIO) -> dict[str, object]:
    """Format and dimensions, with Pillow's decompression-bomb guard turned into an error."""
    file.seek(0)
    try:
        with warnings.catch_warnings():
            # Pillow warns above MAX_IMAGE_PIXELS and raises above twice that; refuse both.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(file) as image:
                details: dict[str, object] = {
                    "kind": "image",
                    "format": image.format,
                    "width": image.width,
                    "height": image.height,
                    "mode": image.mode,
                }
                image.verify()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        limit = Image.MAX_IMAGE_PIXELS or 0
        raise UnprocessableFileError(f"the image is too large to open safely (over {limit:,} pixels)") from exc
    except UnidentifiedImageError as exc:
        raise UnprocessableFileError("not a readable image: no image could be read from its bytes") from exc
    except (OSError, SyntaxError, ValueError, IndexError, EOFError) as exc:
        # Pillow's messages can name the file object: say what is wrong, not what Pillow saw.
        raise UnprocessableFileError("not a readable image: its data is incomplete or damaged") from exc
    return details


def text_details(file: BinaryIO, encoding: str, deadline: Deadline) -> dict[str, object]:
    """Encoding, lines and words, decoding in chunks."""
    file.seek(0)
    decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
    lines = words = 0
    in_word = False
    last = ""
    while chunk := file.read(CHUNK_SIZE):
        deadline.check()
        text = decoder.decode(chunk)
        if not text:
            continue
        lines += text.count("\n")
        words += len(re.findall(r"\S+", text))
        if in_word and not text[0].isspace():
            words -= 1  # a word split across two chunks
        in_word = not text[-1].isspace()
        last = text[-1]
    if last and last != "\n":
        lines += 1  # a last line without a newline still counts
    return {"kind": "text", "encoding": encoding.removesuffix("-sig"), "lines": lines, "words": words}


def csv_details(file: BinaryIO, encoding: str, deadline: Deadline) -> dict[str, object]:
    """Rows and the widest row's column count, streaming through the csv module."""
    file.seek(0)
    text = io.TextIOWrapper(file, encoding=encoding, errors="replace", newline="")
    try:
        head = text.read(SNIFF_BYTES)
        try:
            dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(head, delimiters=CSV_DELIMITERS)
        except csv.Error:
            dialect = csv.excel
        text.seek(0)
        rows = columns = 0
        for row in csv.reader(text, dialect):
            rows += 1
            columns = max(columns, len(row))
            if rows % 10_000 == 0:
                deadline.check()
    except csv.Error as exc:
        return {"rows": None, "columns": None, "csv_error": str(exc)}
    finally:
        text.detach()  # leave the underlying file open for the caller
    return {"rows": rows, "columns": columns, "delimiter": dialect.delimiter}


def json_details(file: BinaryIO, encoding: str, size: int) -> dict[str, object]:
    """Whether the JSON parses; where it breaks if not. JSON is UTF-8 (RFC 8259), nothing else."""
    if size > JSON_VALIDATE_MAX_BYTES:
        return {"valid": None, "note": f"larger than {JSON_VALIDATE_MAX_BYTES // 1024 // 1024} MiB: not validated"}
    if encoding not in {"utf-8", "utf-8-sig"}:
        return {"valid": False, "error": "not UTF-8 text: JSON must be encoded in UTF-8"}
    file.seek(0)
    try:
        value = json.loads(file.read().decode(encoding))
    except UnicodeDecodeError as exc:
        return {"valid": False, "error": f"not UTF-8 text: {exc.reason} at byte {exc.start}"}
    except json.JSONDecodeError as exc:
        return {"valid": False, "error": f"line {exc.lineno}, column {exc.colno}: {exc.msg}"}
    except RecursionError:
        return {"valid": None, "note": "nested too deeply to validate"}
    return {"valid": True, "top_level": type(value).__name__}


def inspect_file(file: BinaryIO, budget: float, read_errors: tuple[type[Exception], ...] = (OSError,)) -> Facts:
    """Everything the worker records about a file, within ``budget`` seconds.

    Raises UnprocessableFileError, with a sentence for the file's owner, for anything the
    file's contents cause; one of ``read_errors`` (the disk's, the object storage's) only
    when the stored file cannot be read.
    """
    deadline = Deadline(budget)
    try:
        return _inspect(file, deadline)
    except UnprocessableFileError:
        raise
    except read_errors:
        raise
    except RecursionError as exc:
        raise UnprocessableFileError("it is nested too deeply to inspect") from exc
    except Exception as exc:
        raise UnprocessableFileError(f"its contents could not be inspected ({type(exc).__name__})") from exc


def _inspect(file: BinaryIO, deadline: Deadline) -> Facts:
    size, sha256, head = digest(file, deadline)
    content_type = sniff_content_type(head)
    facts = Facts(size=size, sha256=sha256, content_type=content_type)
    encoding = text_encoding(head)
    if encoding is not None and (content_type.startswith("text/") or content_type in TEXT_LIKE):
        facts.details = text_details(file, encoding, deadline)
        if content_type == "text/csv":
            facts.details |= csv_details(file, encoding, deadline)
        elif content_type == "application/json":
            facts.details |= json_details(file, encoding, size)
    elif content_type.startswith("image/"):
        facts.details = image_details(file)
    else:
        facts.details = {"kind": "binary"}
    return facts
