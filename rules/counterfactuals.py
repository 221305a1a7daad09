"""What would change an answer, and what the answer did not know.

``what_would_change`` lists single changes to the question that put another framework first: the user's
own choices (experience, goals), then other hardware. ``unknown_facts`` lists the facts some rule tests
that this question did not supply, and how to supply them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from framework_advisor.probes.hardware import Accelerator, HardwareProfile
from framework_advisor.probes.vocabulary import FRAMEWORK_NAMES
from framework_advisor.rules.recommendation import Change, UnknownFact
from framework_advisor.rules.rulebase import RuleBase, iter_leaves

# first_place(rulebase, hardware, goals, experience, measurements) -> framework id (rules.engine's)
FirstPlace = Callable[..., str]


def _with(hardware: HardwareProfile, *accelerators: Accelerator, **changes: Any) -> HardwareProfile:
    return hardware.model_copy(update={"accelerators": list(accelerators), **changes})


# Hardware alternatives, each a machine that can exist (Apple GPUs only on arm64 macOS, TPUs only on
# Linux x86_64 hosts): (label, applies to this hardware, the altered hardware).
_HARDWARE_ALTERNATIVES: tuple[tuple[str, Callable[[HardwareProfile], bool],
                                    Callable[[HardwareProfile], HardwareProfile]], ...] = (
    ("an NVIDIA GPU", lambda hw: hw.os in ("linux", "windows") and "cuda" not in hw.accelerator_kinds(),
     lambda hw: _with(hw, Accelerator(kind="cuda", name="NVIDIA GPU"))),
    ("an AMD Instinct GPU (ROCm)", lambda hw: hw.os == "linux" and "rocm" not in hw.accelerator_kinds(),
     lambda hw: _with(hw, Accelerator(kind="rocm", name="AMD GPU"), arch="x86_64")),
    ("Google TPUs", lambda hw: "tpu" not in hw.accelerator_kinds(),
     lambda hw: _with(hw, Accelerator(kind="tpu", name="TPU", count=4), os="linux", arch="x86_64")),
    ("Apple silicon", lambda hw: not (hw.os == "darwin" and hw.arch == "arm64"),
     lambda hw: _with(hw, Accelerator(kind="apple-gpu", name="Apple GPU"), os="darwin", arch="arm64")),
    ("no accelerator (CPU only)", lambda hw: bool(hw.accelerators), lambda hw: _with(hw)),
)


def what_would_change(rulebase: RuleBase, goals: Sequence[str], experience: str, hardware: HardwareProfile,
                      measurements: Mapping[str, Any] | None, first: str, first_place: FirstPlace
                      ) -> tuple[Change, ...]:
    """Single changes that put another framework first: the user's own choices, then the hardware."""
    changes: list[Change] = []

    def consider(kind: str, change: str, winner: str, message: str) -> None:
        if winner != first:
            changes.append(Change(kind=kind, change=change, first=winner, message=message))

    for level in (e for e in rulebase.facts["experience"].values or [] if e != experience):
        winner = first_place(rulebase, hardware, goals, level, measurements)
        consider("user", f"experience: {level}", winner, f"As {level}, {FRAMEWORK_NAMES[winner]} would rank first.")
    for goal in rulebase.facts["goals"].values or []:
        if goal in goals:
            if len(goals) == 1:
                continue
            winner = first_place(rulebase, hardware, [g for g in goals if g != goal], experience, measurements)
            consider("user", f"without goal: {goal}", winner,
                     f"Without {goal}, {FRAMEWORK_NAMES[winner]} would rank first.")
        else:
            winner = first_place(rulebase, hardware, [*goals, goal], experience, measurements)
            consider("user", f"add goal: {goal}", winner, f"Adding {goal}, {FRAMEWORK_NAMES[winner]} would rank first.")
    for label, applies, alter in _HARDWARE_ALTERNATIVES:
        if applies(hardware):
            # Measurements belong to this machine; another machine starts unmeasured.
            winner = first_place(rulebase, alter(hardware), goals, experience, None)
            consider("hardware", f"on a machine with {label}", winner,
                     f"On a machine with {label}, {FRAMEWORK_NAMES[winner]} would rank first.")
    return tuple(changes)


def unknown_facts(rulebase: RuleBase, facts: Mapping[str, Any]) -> tuple[UnknownFact, ...]:
    """Facts some rule tests that this question did not supply, and how to supply them."""
    unknown = []
    if not facts.get("probed"):
        unknown.append(UnknownFact(fact="measurements", message=(
            "No probe of this machine: run `framework-advisor probe` (or POST /v1/probes) to measure each "
            "framework here; measured speed and accelerator use then enter the answer.")))
    tested = {leaf.fact for rule in rulebase.rules for leaf in iter_leaves(rule.when)}
    for fact in sorted(tested):
        spec = rulebase.fact_spec(fact)
        if spec is not None and spec.source == "probe" and not spec.per_framework and fact not in facts:
            unknown.append(UnknownFact(fact=fact, message=f"{spec.description} is not known for this hardware; "
                                                         f"rules that test it did not fire."))
    return tuple(unknown)
