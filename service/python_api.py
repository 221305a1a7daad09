"""The Python API, for notebooks and scripts: ``from framework_advisor import recommend, probe, hardware``.

The same code as the CLI (``framework-advisor hardware | probe | recommend | starter``), returning the typed
models instead of printing them: HardwareProfile, ProbeReport, Recommendation, Starter. A Recommendation shows
itself as HTML in a notebook and has ``to_markdown()``; ``model_dump(mode="json")`` gives the API's JSON.

Nothing heavy is imported until a function is called, and no deep-learning framework ever is: a probe measures
them in worker subprocesses. Bad input raises ``InputError`` (a ValueError) whose message says what is wrong,
naming the field (``/goals/0: 'gardening' is not allowed here; expected one of: ...``).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional, Union

if TYPE_CHECKING:
    from framework_advisor.probes.hardware import HardwareProfile
    from framework_advisor.probes.report import ProbeReport
    from framework_advisor.rules.recommendation import Recommendation, Starter

__all__ = ["InputError", "hardware", "probe", "recommend", "starter"]

PathLike = Union[str, "os.PathLike[str]"]


class InputError(ValueError):
    """An argument the advisor cannot use. ``errors`` holds one (pointer, message) pair per problem found (the
    pointer is a JSON Pointer into the request, "" when the problem is not in one field)."""

    def __init__(self, message: str, errors: Iterable[tuple[str, str]] = ()):
        super().__init__(message)
        self.errors = list(errors) or [("", message)]


def _contract_error(violation: Any) -> InputError:
    return InputError(str(violation), [(error.pointer, error.message) for error in violation.errors])


def hardware() -> HardwareProfile:
    """This machine's HardwareProfile (``framework-advisor hardware``): OS, architecture, CPU, memory and
    accelerators, from the operating system and NVML. Imports no deep-learning framework; takes well under a
    second."""
    from framework_advisor.probes.inventory import take_inventory

    return take_inventory()


def _id_list(given: Union[str, Iterable[str]], name: str) -> list[Any]:
    """Ids given as one string (commas separate several) or an iterable, each once, in order."""
    if isinstance(given, str):
        return [item.strip() for item in given.split(",") if item.strip()] or [given]
    if not isinstance(given, Iterable):
        raise InputError(f"{name} must be an id or a list of ids, not {type(given).__name__}",
                         [(f"/{name}", "not a list")])
    listed = list(given)
    try:
        return list(dict.fromkeys(listed))  # given twice counts once, as on the command line
    except TypeError:  # an unhashable item: the contract check below names it
        return listed


def _hardware_document(given: Union[HardwareProfile, Mapping[str, Any], PathLike]) -> Any:
    """The hardware argument as the JSON document a request would carry."""
    from framework_advisor.probes.hardware import HardwareProfile

    if isinstance(given, HardwareProfile):
        return given.model_dump(mode="json", exclude_none=True)
    if isinstance(given, Mapping):
        return dict(given)
    if isinstance(given, (str, os.PathLike)):
        from framework_advisor.cli_input import HardwareFileError, load_hardware_file

        try:  # the loader of `recommend --hardware FILE`: JSON (.json) or strict YAML, every mistake found
            profile = load_hardware_file(Path(given))
        except HardwareFileError as exc:
            raise InputError("; ".join(exc.problems), [("/hardware", problem) for problem in exc.problems]) from None
        return profile.model_dump(mode="json", exclude_none=True)
    raise InputError(f"hardware must be a HardwareProfile, a dict or a file path, not {type(given).__name__}",
                     [("/hardware", "not a HardwareProfile")])


def recommend(goals: Union[str, Iterable[str]], experience: str,
              hardware: Union[HardwareProfile, Mapping[str, Any], PathLike, None] = None, *,
              probe_id: Optional[str] = None, data_dir: Optional[PathLike] = None,
              rules: Iterable[PathLike] = ()) -> Recommendation:
    """Rank the five frameworks for ``goals`` and ``experience`` (``framework-advisor recommend``).

    goals: a goal id (``"research"``; commas separate several) or a list of them: learning, research,
        production, mobile-edge, apple-on-device, scientific-computing, large-scale-training, pretrained-models.
    experience: beginner, intermediate or expert.
    hardware: the machine to advise for, as a HardwareProfile, a dict of its JSON, or the path of a JSON
        (``.json``) or YAML file. Without it (and without ``probe_id``), this machine, with the measurements of
        its recent probes in ``data_dir``'s store (see ``probe``).
    probe_id: advise for that stored probe's machine and measurements instead.
    data_dir: the data directory whose store holds the probes (default: FRAMEWORK_ADVISOR_DATA_DIR, else
        ``serve``'s default); it is only read, never created.
    rules: extra rule directories merged over the base (``--rules``).

    Returns the Recommendation: ``ranking`` (all five, rank 1 first, each with its reasons, install command and
    starter), ``confidence``, the ``hardware`` used. In a notebook it shows as HTML; ``to_markdown()`` gives
    Markdown. Raises InputError for an unknown goal or experience, bad hardware or an unknown probe id.
    """
    from framework_advisor.advice import UnknownProbe, UnusableProbe
    from framework_advisor.cli import recommendation_for
    from framework_advisor.contract import ContractViolation, validate
    from framework_advisor.rules.recommendation import RecommendationRequest

    document: dict[str, Any] = {"goals": _id_list(goals, "goals"), "experience": experience}
    if hardware is not None:
        document["hardware"] = _hardware_document(hardware)
    if probe_id is not None:
        document["probe_id"] = probe_id
    try:  # the HTTP API's validation: the same messages, each naming its field
        question = validate(RecommendationRequest, document)
    except ContractViolation as violation:
        raise _contract_error(violation) from None
    try:
        return recommendation_for(question, Path(data_dir) if data_dir is not None else None,
                                  [Path(directory) for directory in rules])
    except UnknownProbe:
        raise InputError(f"no probe with id {probe_id!r} in the store (GET /v1/probes lists them)",
                         [("/probe_id", "unknown probe")]) from None
    except UnusableProbe as exc:
        raise InputError(str(exc), [("/probe_id", "no report")]) from None


def probe(quick: bool = False, frameworks: Union[str, Iterable[str], None] = None, *, python: Optional[PathLike] = None,
          thorough: bool = False, threads: Optional[int] = None, fresh: bool = False, store: bool = True,
          data_dir: Optional[PathLike] = None, lock_timeout: Optional[float] = None) -> ProbeReport:
    """Measure the installed frameworks (``framework-advisor probe``), each in its own worker subprocess with a
    hard timeout: versions, the devices each sees, and its benchmarks. A full probe takes about 30 s, a quick
    one about 10 s.

    frameworks: a subset to measure (ids, a list or comma-separated), default every installed one.
    python: measure the frameworks of another interpreter (a training job's environment; it needs nothing of
        the advisor), default this one (or FRAMEWORK_ADVISOR_PYTHON, as on the command line).
    thorough, threads, fresh: as ``probe --thorough``, ``--threads N``, ``--fresh`` (by default a recent probe
        of this machine with nothing changed is reused, and the report says so).
    store: keep the report in ``data_dir``'s store, as the CLI does, so that ``recommend()`` for this machine
        uses these measurements; False measures only. ``report.model_dump_json()`` gives ``probe --json``.
    lock_timeout: wait at most this many seconds for another probe of this machine (default: wait).

    Raises InputError for bad arguments (an unknown framework, an interpreter that is not Python),
    probe_jobs.ProbeLockTimeout when the wait ran out (nothing measured), storage.StoreError when the store
    cannot be opened or the probe lock cannot be used safely (probe_jobs.ProbeLockError: a symbolic link, or
    another user's file), config.SettingsError for a bad FRAMEWORK_ADVISOR_* variable.
    """
    from framework_advisor.cli import probe_and_store
    from framework_advisor.config import Settings
    from framework_advisor.contract import ContractViolation, validate
    from framework_advisor.probes.report import ProbeOptions
    from framework_advisor.probes.target import PYTHON_ENV, TargetPythonError, resolve_python
    from framework_advisor.storage import Store

    given: dict[str, Any] = {"quick": quick, "thorough": thorough, "fresh": fresh}
    if frameworks is not None:
        given["frameworks"] = _id_list(frameworks, "frameworks")
    if threads is not None:
        given["threads"] = threads
    try:
        options = validate(ProbeOptions, given)
    except ContractViolation as violation:
        raise _contract_error(violation) from None
    try:
        target = resolve_python(os.fspath(python) if python is not None else os.environ.get(PYTHON_ENV))
    except TargetPythonError as exc:
        raise InputError(str(exc).replace("--python ", "python=", 1), [("/python", "not usable")]) from None
    kept = Store.for_settings(Settings.from_env(data_dir=Path(data_dir) if data_dir is not None else None)) \
        if store else None  # with the store's size cap and retention, as the CLI
    report, _ = probe_and_store(options, kept, lock_timeout, target)
    return report


def starter(framework: str, device: str = "cpu", goal: Optional[str] = None, *,
            rules: Iterable[PathLike] = ()) -> Starter:
    """A framework's starter program (``framework-advisor starter``, GET /v1/starters/{framework}): a small
    training program set up for ``device`` (cpu, cuda, rocm, apple-gpu, ...), the one for ``goal``'s family
    (default: the basics). Returns the Starter (``filename``, ``code``, ``run``); write it with
    ``Path(s.filename).write_text(s.code)``. Raises InputError for an unknown framework, goal or device, or a
    device the framework has no starter for."""
    from framework_advisor.rules.catalog import StarterError, find_starter
    from framework_advisor.rules.rulebase import load_rulebase

    try:
        return find_starter(load_rulebase([Path(directory) for directory in rules]), framework, device, goal)
    except StarterError as exc:
        raise InputError(str(exc), [(f"/{exc.field}" if exc.field else "/framework", exc.field_message)]) from None
