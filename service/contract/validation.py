"""Validating a document against a model, with errors a client can act on: one JSON Pointer and one
sentence per problem, at most MAX_ERRORS of them."""

from __future__ import annotations

import json
from functools import cache
from typing import Any, TypeVar

from pydantic import BaseModel, TypeAdapter, ValidationError

from framework_advisor.models import FieldError
from framework_advisor.probes.report import ProbeReport, upgrade_report

MAX_ERRORS = 20
MAX_DEPTH = 32  # deeper than any model nests (a ProbeReport's benchmark params go about 10 deep)
_SHOWN_INPUT_CHARS = 60
# Tags of the tagged unions in the models; they appear in pydantic's error locations, not in documents.
_UNION_TAGS = frozenset({"FrameworkRun", "FailedFramework"})
_TYPE_WORDS = {"string_type": "a string", "int_type": "an integer", "int_parsing": "an integer",
               "float_type": "a number", "float_parsing": "a number", "bool_type": "true or false",
               "bool_parsing": "true or false", "list_type": "an array", "tuple_type": "an array",
               "dict_type": "an object", "model_type": "an object", "model_attributes_type": "an object",
               "dataclass_type": "an object", "dataclass_exact_type": "an object"}

Model = TypeVar("Model")


class ContractViolation(Exception):
    """A document that does not match its model; carries one FieldError per problem (at most MAX_ERRORS)
    and how many the validator found in all."""

    def __init__(self, errors: list[FieldError], total: int | None = None):
        self.errors = errors
        self.total = len(errors) if total is None else total
        super().__init__("; ".join(f"{error.pointer or '/'}: {error.message}" for error in errors))


def _pointer(location: tuple[Any, ...]) -> str:
    steps = [str(step) for step in location if step not in _UNION_TAGS]
    return "".join("/" + step.replace("~", "~0").replace("/", "~1") for step in steps)


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= _SHOWN_INPUT_CHARS else text[:_SHOWN_INPUT_CHARS] + "..."


def _message(error: dict[str, Any]) -> str:
    kind, context = error["type"], error.get("ctx") or {}
    if kind == "literal_error":
        return f"{_shown(error['input'])} is not allowed here; expected one of: {context.get('expected', '')}"
    if kind == "extra_forbidden":
        return "unknown field"
    if kind == "missing":
        return "required field"
    if kind in _TYPE_WORDS:
        value = error["input"]
        return f"expected {_TYPE_WORDS[kind]}, got {type(value).__name__} {_shown(value)}"
    return str(error["msg"]).removeprefix("Value error, ")[:300]


def field_errors(exc: ValidationError) -> list[FieldError]:
    """The first MAX_ERRORS problems, in the validator's order (the document's order)."""
    errors = exc.errors(include_url=False)[:MAX_ERRORS]
    return [FieldError(pointer=_pointer(tuple(error["loc"])), message=_message(error)) for error in errors]


@cache
def _adapter(model: Any) -> TypeAdapter:
    return TypeAdapter(model)


def _integral(document: Any) -> Any:
    """A copy with integral floats as ints (JSON Schema counts 44.0 as an integer; pydantic's strict mode
    would not). Iterative, and refusing documents nested deeper than any model (MAX_DEPTH)."""
    def convert(value: Any) -> Any:
        if isinstance(value, float) and value.is_integer():
            return int(value)
        return value

    root: list[Any] = [document]
    stack: list[tuple[Any, Any, int]] = [(root, 0, 0)]  # (container, key, depth) of each slot to convert
    while stack:
        container, key, depth = stack.pop()
        value = container[key]
        if isinstance(value, dict):
            if depth >= MAX_DEPTH:
                raise ContractViolation([FieldError(pointer="", message=f"nested deeper than {MAX_DEPTH} levels")])
            value = container[key] = dict(value)
            stack.extend((value, item, depth + 1) for item in value)
        elif isinstance(value, list):
            if depth >= MAX_DEPTH:
                raise ContractViolation([FieldError(pointer="", message=f"nested deeper than {MAX_DEPTH} levels")])
            value = container[key] = list(value)
            stack.extend((value, index, depth + 1) for index in range(len(value)))
        else:
            container[key] = convert(value)
    return root[0]


def _json_text(document: Any) -> str:
    return json.dumps(_integral(document))


def validate(model: type[Model], document: Any) -> Model:
    """``document`` (data parsed from JSON or YAML) as an instance of ``model``; raises
    ContractViolation. Strict, as JSON Schema is: "8" is not an integer and 1 is not true (8.0 is 8)."""
    text = _json_text(document)
    try:
        if isinstance(model, type) and issubclass(model, BaseModel):
            return model.model_validate_json(text, strict=True)
        return _adapter(model).validate_json(text, strict=True)
    except ValidationError as exc:
        raise ContractViolation(field_errors(exc), exc.error_count()) from None


def read_report(document: Any) -> ProbeReport:
    """A ProbeReport from a document of any supported schema version (an upload, a stored row, a file);
    raises ContractViolation naming what is wrong."""
    return validate(ProbeReport, upgrade_report(document))
