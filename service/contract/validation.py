"""Validating a document against a model, with errors a client can act on: one JSON Pointer and one
sentence per problem, at most MAX_ERRORS of them."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
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
    if kind in ("extra_forbidden", "unexpected_keyword_argument"):  # the second: in a dataclass
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


@dataclass(frozen=True)
class Shape:
    """The most members any object, and the most items any array, of a model's documents may have (None: not
    bounded): the cheap pre-check, over the whole document before the validator sees it."""

    members: int | None
    items: int | None


_NOT_SHAPES = frozenset({"if", "then", "else", "not"})  # conditions on a document, not its shape


@cache
def shape_of(model: Any) -> Shape:
    """From the model's JSON Schema: the largest maxProperties (or property count of a closed object), and the
    largest maxItems (or prefixItems count); None where some object or array has no bound."""
    members: list[int | None] = []
    items: list[int | None] = []

    def walk(node: Any) -> None:
        if isinstance(node, list):
            for item in node:
                walk(item)
            return
        if not isinstance(node, dict):
            return
        if node.get("type") == "object":
            if "maxProperties" in node:
                members.append(node["maxProperties"])
            elif "properties" in node and node.get("additionalProperties") is False:
                members.append(len(node["properties"]))
            else:
                members.append(None)
        if node.get("type") == "array":
            bound = node.get("maxItems", len(node["prefixItems"]) if "prefixItems" in node else None)
            items.append(bound)
        for key, value in node.items():
            if key not in _NOT_SHAPES:
                walk(value)

    walk(_adapter(model).json_schema())
    return Shape(members=None if None in members else max(members, default=0),
                 items=None if None in items else max(items, default=0))


def _step(key: Any) -> str:
    return "/" + str(key).replace("~", "~0").replace("/", "~1")


def _refused(pointer: str, message: str) -> ContractViolation:
    return ContractViolation([FieldError(pointer=pointer, message=message)])


def _integral(document: Any, shape: Shape | None = None) -> Any:
    """A copy with integral floats as ints (JSON Schema counts 44.0 as an integer; pydantic's strict mode
    would not). Iterative, and refusing at once, before any validation, a document nested deeper than any model
    (MAX_DEPTH), an object or array larger than any the model has (``shape``), and NaN or an infinity."""
    root: list[Any] = [document]
    # (container, key, depth, the container's pointer) of each slot to convert; the root's container is None
    stack: list[tuple[Any, Any, int, str | None]] = [(root, 0, 0, None)]
    while stack:
        container, key, depth, parent = stack.pop()
        value = container[key]
        if isinstance(value, (dict, list)):
            here = "" if parent is None else parent + _step(key)
            if depth >= MAX_DEPTH:
                raise _refused(here, f"nested deeper than {MAX_DEPTH} levels")
            if isinstance(value, dict):
                if shape is not None and shape.members is not None and len(value) > shape.members:
                    raise _refused(here, f"an object of {len(value)} members; none here has more than {shape.members}")
                value = container[key] = dict(value)
                stack.extend((value, item, depth + 1, here) for item in value)
            else:
                if shape is not None and shape.items is not None and len(value) > shape.items:
                    raise _refused(here, f"an array of {len(value)} items; none here has more than {shape.items}")
                value = container[key] = list(value)
                stack.extend((value, index, depth + 1, here) for index in range(len(value)))
        elif isinstance(value, float):
            if not math.isfinite(value):
                raise _refused("" if parent is None else parent + _step(key), "NaN and Infinity are not JSON numbers")
            if value.is_integer():
                container[key] = int(value)
    return root[0]


def _json_text(document: Any, shape: Shape | None = None) -> str:
    try:
        return json.dumps(_integral(document, shape), allow_nan=False)
    except ValueError:  # a float subclass _integral did not see: JSON has no NaN or Infinity either way
        raise _refused("", "NaN and Infinity are not JSON numbers") from None


def validate(model: type[Model], document: Any) -> Model:
    """``document`` (data parsed from JSON or YAML) as an instance of ``model``; raises
    ContractViolation. Strict, as JSON Schema is: "8" is not an integer and 1 is not true (8.0 is 8)."""
    text = _json_text(document, shape_of(model))
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
