"""How uploads read to people: file types by the names they know, and the worker's findings per kind of file."""

from __future__ import annotations

from dataclasses import dataclass

# Sniffed content type -> (name, file extensions the picker offers).
KNOWN_TYPES: dict[str, tuple[str, tuple[str, ...]]] = {
    "image/png": ("PNG image", (".png",)),
    "image/jpeg": ("JPEG image", (".jpg", ".jpeg")),
    "image/gif": ("GIF image", (".gif",)),
    "image/webp": ("WebP image", (".webp",)),
    "image/svg+xml": ("SVG image", (".svg",)),
    "text/plain": ("Plain text", (".txt",)),
    "text/csv": ("CSV table", (".csv",)),
    "text/html": ("HTML page", (".html", ".htm")),
    "application/json": ("JSON document", (".json",)),
    "application/xml": ("XML document", (".xml",)),
    "application/pdf": ("PDF document", (".pdf",)),
    "application/zip": ("ZIP archive", (".zip",)),
    "application/octet-stream": ("Unrecognised binary data", ()),
}
# Images a browser may show from this site: raster formats, never SVG (it can carry scripts).
PREVIEWABLE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "vertical bar"}


def type_name(content_type: str) -> str:
    """ "PNG image" for image/png; the type itself when it has no better-known name."""
    known = KNOWN_TYPES.get(content_type)
    return known[0] if known else content_type


def accept_attribute(content_types: tuple[str, ...]) -> str:
    """The file input's ``accept``: the types, and their extensions (some systems know a file by its extension only)."""
    values: list[str] = []
    for content_type in content_types:
        values.append(content_type)
        values.extend(KNOWN_TYPES.get(content_type, ("", ()))[1])
    return ",".join(values)


@dataclass(frozen=True)
class Figure:
    label: str
    value: str


def figures(result: dict[str, object]) -> list[Figure]:
    """The worker's findings for a text, CSV or JSON file, as labelled figures for a table."""
    shown: list[Figure] = []

    def add(label: str, key: str, fmt: str = "{:,}") -> None:
        if isinstance(value := result.get(key), int) and not isinstance(value, bool):
            shown.append(Figure(label, fmt.format(value)))

    add("Lines", "lines")
    add("Words", "words")
    add("Rows", "rows")
    add("Columns", "columns")
    if isinstance(delimiter := result.get("delimiter"), str):
        shown.append(Figure("Separator", DELIMITER_NAMES.get(delimiter, repr(delimiter))))
    if isinstance(encoding := result.get("encoding"), str):
        shown.append(Figure("Encoding", encoding.upper()))
    return shown


JSON_TOP_LEVELS = {
    "dict": "an object",
    "list": "an array",
    "str": "a string",
    "int": "a number",
    "float": "a number",
    "bool": "true or false",
    "NoneType": "null",
}


def json_summary(result: dict[str, object]) -> str:
    """One sentence on a JSON file: valid, where it breaks, or why it was not checked."""
    if result.get("valid") is True:
        top = JSON_TOP_LEVELS.get(str(result.get("top_level")), "a value")
        return f"Valid JSON; the top level is {top}."
    if result.get("valid") is False:
        return f"Not valid JSON: {result.get('error')}."
    return f"Not validated: {result.get('note')}."
