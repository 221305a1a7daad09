"""Documents checked against the committed openapi.yaml with jsonschema: a second implementation of the
contract, independent of the pydantic models the service validates with (and generates the file from)."""

from __future__ import annotations

import functools
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from tests.conftest import REPO_ROOT

_URI = "urn:framework-advisor:openapi"


@functools.cache
def _registry() -> Registry:
    document = yaml.safe_load((REPO_ROOT / "openapi.yaml").read_text(encoding="utf-8"))
    return Registry().with_resource(_URI, Resource(contents=document, specification=DRAFT202012))


@functools.cache
def validator(schema_name: str) -> Draft202012Validator:
    return Draft202012Validator({"$ref": f"{_URI}#/components/schemas/{schema_name}"}, registry=_registry())


def errors(schema_name: str, document: Any) -> list[str]:
    return [f"/{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator(schema_name).iter_errors(document)]


def validate(schema_name: str, document: Any) -> None:
    """Fail (AssertionError) unless ``document`` meets openapi.yaml's schema ``schema_name``."""
    problems = errors(schema_name, document)
    assert not problems, problems[:10]
