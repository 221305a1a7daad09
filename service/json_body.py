"""Reading a JSON request body strictly: media type, size (chunked bodies too), UTF-8, syntax."""

from __future__ import annotations

import json
import math
import re
from typing import Any

from flask import request
from flask.json.provider import DefaultJSONProvider

from framework_advisor.problems import Problem

# A lone surrogate can only arrive escaped (raw surrogate bytes are not UTF-8): look for the escapes first.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def _is_json_media_type(mimetype: str) -> bool:
    return mimetype == "application/json" or (mimetype.startswith("application/") and mimetype.endswith("+json"))


def read_json_body(limit: int) -> Any:
    return parse_json_body(read_raw_json_body(limit))


def read_raw_json_body(limit: int) -> bytes:
    """The body's bytes, after the media type, size and emptiness checks (parse with parse_json_body)."""
    if not _is_json_media_type(request.mimetype):
        shown = request.mimetype or "none"
        raise Problem(415, f"the request body must be application/json (got {shown})")
    if request.content_length is not None and request.content_length > limit:
        raise Problem(413, f"the request body is {request.content_length} bytes; the limit is {limit}")
    # Read one byte past the limit ourselves: a chunked body has no Content-Length to check first.
    raw = request.stream.read(limit + 1)
    if len(raw) > limit:
        raise Problem(413, f"the request body exceeds the limit of {limit} bytes")
    if not raw.strip():
        raise Problem(400, "the request body is empty; send a JSON object")
    return raw


def parse_json_body(raw: bytes) -> Any:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Problem(400, f"the request body is not UTF-8 (invalid byte at offset {exc.start})") from None
    try:
        document = json.loads(text, parse_constant=_no_constant, parse_float=_finite_float)
    except json.JSONDecodeError as exc:
        raise Problem(400, f"malformed JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}") from None
    except RecursionError:
        raise Problem(400, "malformed JSON: nested too deeply") from None
    except ValueError as exc:  # an integer of thousands of digits, NaN / Infinity, a number beyond a double
        raise Problem(400, f"not JSON: {str(exc)[:200]}") from None
    if _SURROGATE_ESCAPE.search(text):
        _refuse_lone_surrogates(document)
    return document


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e400: JSON allows the digits, but no double holds them (it would be inf)
        raise ValueError(f"the number {text[:40]} is out of range (beyond a 64-bit float)")
    return value


def _refuse_lone_surrogates(document: Any) -> None:
    """400 naming the first string (or key) holding half of a UTF-16 surrogate pair: it is no Unicode text,
    cannot be stored or written as UTF-8. A pair (an escaped astral character) was joined by the parser."""
    stack: list[tuple[Any, str]] = [(document, "")]
    while stack:
        value, pointer = stack.pop()
        if isinstance(value, str):
            _check_text(value, pointer or "/")
        elif isinstance(value, dict):
            for key, item in value.items():
                step = pointer + "/" + key.replace("~", "~0").replace("/", "~1")
                _check_text(key, step + " (the key)")
                stack.append((item, step))
        elif isinstance(value, list):
            stack.extend((item, f"{pointer}/{index}") for index, item in enumerate(value))


def _check_text(text: str, where: str) -> None:
    if text.isascii():
        return
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        shown = where.encode("ascii", "backslashreplace").decode()
        raise Problem(400, f"not JSON text: a lone surrogate (\\u{ord(text[exc.start]):04x}) at {shown}; "
                           "escape characters beyond U+FFFF as a pair") from None


class StrictJSONProvider(DefaultJSONProvider):
    """Flask's JSON, never writing NaN or Infinity (no JSON parser has to accept them)."""

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        kwargs.setdefault("allow_nan", False)
        return super().dumps(obj, **kwargs)
