"""The HTTP contract: openapi.yaml, loaded once, and JSON Schema validators compiled from it.

openapi.yaml is the source of truth. Its component schemas are JSON Schema 2020-12 (OpenAPI 3.1),
so the API, the CLI (``--hardware FILE``) and the form all validate against the same schemas.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

OPENAPI_PATH = Path(__file__).resolve().parent.parent / "openapi.yaml"


@dataclass(frozen=True)
class FieldError:
    pointer: str  # JSON Pointer into the validated document ("" is the whole document)
    message: str


class ContractViolation(Exception):
    """A document that does not match its schema; carries one FieldError per problem."""

    def __init__(self, errors: list[FieldError]):
        self.errors = errors
        super().__init__("; ".join(f"{e.pointer or '/'}: {e.message}" for e in errors))


@cache
def openapi_text() -> str:
    return OPENAPI_PATH.read_text(encoding="utf-8")


@cache
def openapi_document() -> dict[str, Any]:
    return yaml.safe_load(openapi_text())


_COMPONENT_REF = "#/components/schemas/"


def _inline_refs(node: Any, schemas: dict[str, Any], seen: tuple[str, ...] = ()) -> Any:
    """The schema with every component $ref replaced by its target (the contract has no recursive schema;
    one would fail here, at start-up, where create_app compiles the validators)."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(_COMPONENT_REF):
            name = ref.removeprefix(_COMPONENT_REF)
            if name in seen:
                raise ValueError(f"openapi.yaml: schema {name} refers to itself; the validators inline every $ref")
            target = _inline_refs(schemas[name], schemas, (*seen, name))
            rest = {key: _inline_refs(value, schemas, seen) for key, value in node.items() if key != "$ref"}
            return {"allOf": [target], **rest} if rest else target
        return {key: _inline_refs(value, schemas, seen) for key, value in node.items()}
    if isinstance(node, list):
        return [_inline_refs(item, schemas, seen) for item in node]
    return node


@cache
def validator(schema_name: str) -> Draft202012Validator:
    document = openapi_document()
    if schema_name not in document["components"]["schemas"]:
        raise KeyError(f"openapi.yaml has no schema {schema_name!r}")
    # Inlined once at start-up: validating then resolves no $ref per request (half the cost).
    schemas = document["components"]["schemas"]
    return Draft202012Validator(_inline_refs(schemas[schema_name], schemas, (schema_name,)))


def enum_of(schema_name: str) -> list[str]:
    return list(openapi_document()["components"]["schemas"][schema_name]["enum"])


def _pointer(error: ValidationError) -> str:
    return "".join(f"/{str(step).replace('~', '~0').replace('/', '~1')}" for step in error.absolute_path)


def _message(error: ValidationError) -> str:
    if error.validator == "enum":
        allowed = ", ".join(str(value) for value in error.validator_value)
        return f"{error.instance!r} is not allowed here; expected one of: {allowed}"
    if error.validator == "additionalProperties":
        return f"{error.message.replace('Additional properties are not allowed', 'unknown field')}"
    if error.validator == "type":
        return f"expected {error.validator_value}, got {type(error.instance).__name__} {error.instance!r}"[:300]
    return error.message[:300]


def _deepest(error: ValidationError) -> ValidationError:
    # A $ref wraps the real error in context; report the most specific one.
    while error.context:
        error = max(error.context, key=lambda e: len(e.absolute_path))
    return error


def validate(schema_name: str, instance: Any) -> None:
    """Raise ContractViolation listing every problem, sorted by position in the document."""
    errors = sorted(validator(schema_name).iter_errors(instance), key=lambda e: list(map(str, e.absolute_path)))
    if errors:
        raise ContractViolation([FieldError(_pointer(_deepest(e)), _message(_deepest(e))) for e in errors[:20]])
