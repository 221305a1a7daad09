"""Validating a document against a model, with errors a client can act on: one JSON Pointer and one
sentence per problem, at most MAX_ERRORS of them."""

from __future__ import annotations

import json
from functools import cache
from typing import Any, TypeVar

from pydantic import BaseModel, TypeAdapter, ValidationError

from framework_advisor.models import FieldError

MAX_ERRORS = 20
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


def _integral(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: _integral(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_integral(item) for item in value]
    return value


def _json_text(document: Any) -> str:
    # JSON Schema counts 44.0 as an integer; pydantic's strict mode would not.
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
