"""Reading a JSON request body strictly: media type, size (chunked bodies too), UTF-8, syntax."""

from __future__ import annotations

import json
from typing import Any

from flask import request

from framework_advisor.problems import Problem


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
        return json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise Problem(400, f"malformed JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}") from None
    except RecursionError:
        raise Problem(400, "malformed JSON: nested too deeply") from None
    except ValueError as exc:  # an integer of thousands of digits, or NaN / Infinity
        raise Problem(400, f"not JSON: {str(exc)[:200]}") from None


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")
