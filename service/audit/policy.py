"""Audit requirements: one model, read from a YAML policy file or from `--require` flags.

A policy file is loaded with the same strict YAML loader as rule files (no aliases, tags or
duplicate keys) and every error names `file:line:column`. Its JSON Schema comes from these models
(`framework-advisor audit --policy-schema`), so editors and CI linters can check policies too.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from framework_advisor.audit import REQUIRE_GRAMMAR
from framework_advisor.probes.vocabulary import AcceleratorKind, BenchmarkName, Device, FrameworkId
from framework_advisor.rules.safe_yaml import RuleFileError, load_rule_yaml, validate_located

POLICY_VERSION = 1


class PolicyError(Exception):
    """A policy or `--require` that cannot be used; the message is one line (file:line:column first)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AcceleratorRequirement(_Strict):
    """At least `min_count` accelerators of `kind`, each with at least `min_memory_gb` of memory."""

    kind: AcceleratorKind
    min_count: Annotated[int, Field(ge=1)] = 1
    min_memory_gb: Annotated[float, Field(gt=0)] | None = None


class FrameworkRequirement(_Strict):
    """The framework is installed, ran without failing, optionally sees `device`, and its version matches."""

    name: FrameworkId
    device: Device | None = None
    version: str | None = Field(None, description="a PEP 440 version specifier, e.g. '>=2.4,<3'")

    @field_validator("version")
    @classmethod
    def _specifier(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                SpecifierSet(value)
            except InvalidSpecifier:
                raise ValueError(f"{value!r} is not a version specifier such as '>=2.4,<3'") from None
        return value


class BenchmarkRequirement(_Strict):
    """A measured figure meets a floor (or, for latencies, a ceiling), absolute or as percent of peak."""

    framework: FrameworkId
    name: BenchmarkName
    device: Device = "cpu"
    min: float | None = Field(None, description="the figure in its own unit (GFLOP/s, GB/s, steps/s) is at least this")
    max: float | None = Field(None, description="the figure is at most this (latencies in us)")
    min_percent_of_peak: Annotated[float, Field(gt=0, le=100)] | None = None

    @model_validator(mode="after")
    def _one_bound(self) -> BenchmarkRequirement:
        bounds = [b for b in (self.min, self.max, self.min_percent_of_peak) if b is not None]
        if len(bounds) != 1:
            raise ValueError("give exactly one of min, max, min_percent_of_peak")
        return self


class Requirement(_Strict):
    """One requirement: exactly one of accelerator, framework, benchmark, no_failures."""

    id: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.:@<>=,%-]{1,80}$")] | None = Field(
        None, description="a short name shown in reports (default: the requirement written as a --require flag)")
    accelerator: AcceleratorRequirement | None = None
    framework: FrameworkRequirement | None = None
    benchmark: BenchmarkRequirement | None = None
    no_failures: Literal[True] | None = Field(None, description="nothing in the probe failed")

    @model_validator(mode="after")
    def _exactly_one(self) -> Requirement:
        given = [name for name in ("accelerator", "framework", "benchmark", "no_failures")
                 if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError("each requirement has exactly one of accelerator, framework, benchmark, no_failures"
                             + (f" (got {', '.join(given)})" if given else ""))
        return self

    @property
    def kind(self) -> str:
        return next(name for name in ("accelerator", "framework", "benchmark", "no_failures")
                    if getattr(self, name) is not None)

    @property
    def label(self) -> str:
        return self.id or as_flag(self)

    def frameworks(self) -> set[str]:
        """The frameworks the probe must run to check this requirement."""
        if self.framework:
            return {self.framework.name}
        if self.benchmark:
            return {self.benchmark.framework}
        return set()


class Policy(_Strict):
    version: Literal[1] = Field(description="the policy format version")
    requirements: Annotated[list[Requirement], Field(min_length=1, max_length=500)]


def policy_json_schema() -> dict[str, Any]:
    schema = Policy.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "framework-advisor audit policy"
    return schema


def load_policy(path: Path) -> Policy:
    """Read a policy file; raise PolicyError with file:line:column on any problem."""
    try:
        data = load_rule_yaml(path)
    except RuleFileError as exc:
        raise PolicyError(str(exc)) from None
    if not isinstance(data, dict):
        raise PolicyError(f"{path}:1:1: a policy is a mapping with 'version' and 'requirements'")
    try:
        return validate_located(Policy, data, path)
    except RuleFileError as exc:
        raise PolicyError(str(exc)) from None


# --- the --require grammar -----------------------------------------------------------------------------

_NUMBER = r"\d+(?:\.\d+)?"
_ACCELERATOR = re.compile(rf"accelerator:(?P<kind>[a-z-]+?)(?:>=(?P<count>\d+))?(?:,memory>=(?P<memory>{_NUMBER}))?")
_FRAMEWORK = re.compile(r"framework:(?P<name>[a-z]+)(?:@(?P<device>[a-z-]+?))?(?P<version>[<>=!~][^@]*)?")
_BENCHMARK = re.compile(rf"benchmark:(?P<framework>[a-z]+)\.(?P<name>[a-z0-9_]+)(?:@(?P<device>[a-z-]+?))?"
                        rf"(?P<op>>=|<=)(?P<value>{_NUMBER})(?P<percent>%)?")


def _checked(text: str, data: dict[str, Any]) -> Requirement:
    try:
        return Requirement.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "literal_error":
            message = f"{error['input']!r} is not one of {error['ctx']['expected']}"
        raise PolicyError(f"--require {text!r}: {message}") from None


def parse_require(text: str) -> Requirement:
    """One `--require` flag as a Requirement; PolicyError (naming the grammar) when it does not parse."""
    text = text.strip()
    if text == "no-failures":
        return Requirement(no_failures=True)
    if match := _ACCELERATOR.fullmatch(text):
        spec: dict[str, Any] = {"kind": match["kind"], "min_count": int(match["count"] or 1)}
        if match["memory"]:
            spec["min_memory_gb"] = float(match["memory"])
        return _checked(text, {"accelerator": spec})
    if match := _FRAMEWORK.fullmatch(text):
        spec = {"name": match["name"], "device": match["device"], "version": match["version"]}
        return _checked(text, {"framework": {k: v for k, v in spec.items() if v is not None}})
    if match := _BENCHMARK.fullmatch(text):
        spec = {"framework": match["framework"], "name": match["name"], "device": match["device"] or "cpu"}
        value = float(match["value"])
        if match["percent"]:
            if match["op"] != ">=":
                raise PolicyError(f"--require {text!r}: percent of peak is a floor: use >=")
            spec["min_percent_of_peak"] = value
        else:
            spec["min" if match["op"] == ">=" else "max"] = value
        return _checked(text, {"benchmark": spec})
    raise PolicyError(f"--require {text!r} does not parse; the forms are: "
                      + "; ".join(line.split()[0] for line in REQUIRE_GRAMMAR.splitlines()))


def as_flag(requirement: Requirement) -> str:
    """The requirement written in the --require grammar (its default label)."""
    if requirement.accelerator:
        a = requirement.accelerator
        return f"accelerator:{a.kind}>={a.min_count}" + (f",memory>={a.min_memory_gb:g}" if a.min_memory_gb else "")
    if requirement.framework:
        f = requirement.framework
        return f"framework:{f.name}" + (f"@{f.device}" if f.device else "") + (f.version or "")
    if requirement.benchmark:
        b = requirement.benchmark
        head = f"benchmark:{b.framework}.{b.name}@{b.device}"
        if b.min_percent_of_peak is not None:
            return f"{head}>={b.min_percent_of_peak:g}%"
        return f"{head}>={b.min:g}" if b.min is not None else f"{head}<={b.max:g}"
    return "no-failures"
