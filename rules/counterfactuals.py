"""What would change an answer, and what the answer did not know.

``what_would_change`` lists at most three single changes to the question that put another framework first: the
user's own choices (experience, goals), then, only for hardware the user described, other kinds of machine.
``unknown_facts`` lists the facts some rule tests that this question did not supply, and how to supply them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from framework_advisor.probes.hardware import Accelerator, HardwareProfile
from framework_advisor.probes.vocabulary import FRAMEWORK_NAMES
from framework_advisor.rules.alternatives import BaseState, RuleIndex, index_for
from framework_advisor.rules.recommendation import Change, UnknownFact
from framework_advisor.rules.rulebase import RuleBase


def _with(hardware: HardwareProfile, *accelerators: Accelerator, **changes: Any) -> HardwareProfile:
    """A machine of another kind: its OS and architecture (this machine's unless the alternative sets them) and its
    accelerators, nothing else stated (memory, CPU). It is judged as that kind of machine, not as this one with
    another card, so its first place depends on the alternative, the OS, the architecture and the question only,
    and is shared by every question that has those."""
    return HardwareProfile.model_construct(os=changes.get("os", hardware.os), arch=changes.get("arch", hardware.arch),
                                           accelerators=list(accelerators))


# Hardware alternatives, each a machine that can exist (Apple GPUs only on arm64 macOS, TPUs only on
# Linux x86_64 hosts): (label, applies to this hardware, the other machine).
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


# At most this many changes are listed: the user's own choices first, then other hardware.
MAX_CHANGES = 3


def what_would_change(rulebase: RuleBase, goals: Sequence[str], experience: str, hardware: HardwareProfile,
                      facts: Mapping[str, Any], evaluation: Any, first: str, *, hardware_described: bool,
                      machine_facts: Callable[[HardwareProfile], Mapping[str, Any]]) -> tuple[Change, ...]:
    """At most three single changes that put another framework first: the user's own choices (experience, a
    goal more or less), then, only when the user described the hardware (not this machine or a probe's),
    other kinds of machine. ``evaluation`` is the engine's Evaluation of ``facts``; ``machine_facts(hardware)``
    gives another machine's (unmeasured) facts, to which the question's goals and experience are added.

    Each of the user's alternatives re-evaluates only the rules it can reach (rules.alternatives), and they are
    shared by every question with the same goals, experience and signature of facts; another kind of machine's
    first place is shared by every question with the same goals, experience, OS and architecture."""
    index = index_for(rulebase)
    state = BaseState(index, facts, evaluation.certainty, evaluation.scores, evaluation.knocked_out, first)
    key = (index.signature(facts, evaluation.certainty), frozenset(goals), experience)
    user = index.user_changes.get(key)
    if user is None:
        user = _user_changes(rulebase, index, state, goals, experience, MAX_CHANGES)
        index.user_changes.put(key, user)
    changes = list(user[:MAX_CHANGES])
    if not hardware_described:
        return tuple(changes)
    for label, applies, alter in _HARDWARE_ALTERNATIVES:
        if len(changes) >= MAX_CHANGES:
            break
        if not applies(hardware):
            continue
        other_key = (label, hardware.os, hardware.arch, key[1], experience)  # all that the other machine's answer reads
        winner = index.other_machines.get(other_key)
        if winner is None:
            machine_key = ("machine", label, hardware.os, hardware.arch)
            other = index.memo.get(machine_key)
            if other is None:  # measurements belong to this machine; another machine starts unmeasured
                other = index.memo[machine_key] = dict(machine_facts(alter(hardware)))
            winner = index.first_place({**other, "goals": key[1], "experience": experience})
            index.other_machines.put(other_key, winner)
        if winner != first:
            changes.append(Change(kind="hardware", change=f"on a machine with {label}", first=winner,
                                  message=f"On a machine with {label}, {FRAMEWORK_NAMES[winner]} would rank first."))
    return tuple(changes)


def _user_changes(rulebase: RuleBase, index: RuleIndex, state: BaseState, goals: Sequence[str], experience: str,
                  limit: int) -> tuple[Change, ...]:
    """The first ``limit`` single changes of the user's own answers that put another framework first, in the
    order shown: experience, then each goal (dropped when the question has it and another, else added)."""
    changes: list[Change] = []
    facts, first, chosen = state.facts, state.first, frozenset(goals)
    for level in (e for e in rulebase.facts["experience"].values or [] if e != experience):
        affected = {*index.by_level.get(experience, ()), *index.by_level.get(level, ())}
        winner = state.first_after({**facts, "experience": level}, affected, same_builds=True)
        if winner != first:
            changes.append(Change(kind="user", change=f"experience: {level}", first=winner,
                                  message=f"As {level}, {FRAMEWORK_NAMES[winner]} would rank first."))
    for goal in rulebase.facts["goals"].values or []:
        if len(changes) >= limit:
            break
        if goal in chosen and len(chosen) == 1:
            continue
        other = chosen - {goal} if goal in chosen else chosen | {goal}
        winner = state.first_after({**facts, "goals": other}, index.by_goal.get(goal, ()), same_builds=True)
        if winner == first:
            continue
        if goal in chosen:
            changes.append(Change(kind="user", change=f"without goal: {goal}", first=winner,
                                  message=f"Without {goal}, {FRAMEWORK_NAMES[winner]} would rank first."))
        else:
            changes.append(Change(kind="user", change=f"add goal: {goal}", first=winner,
                                  message=f"Adding {goal}, {FRAMEWORK_NAMES[winner]} would rank first."))
    return tuple(changes[:limit])


def unknown_facts(rulebase: RuleBase, facts: Mapping[str, Any]) -> tuple[UnknownFact, ...]:
    """Facts some rule tests that this question did not supply, and how to supply them."""
    unknown = []
    if not facts.get("probed"):
        unknown.append(UnknownFact(fact="measurements", message=(
            "No probe of this machine: run `framework-advisor probe` (or POST /v1/probes) to measure each "
            "framework here; measured speed and accelerator use then enter the answer.")))
    for fact, description in index_for(rulebase).probe_facts:
        if fact not in facts:
            unknown.append(UnknownFact(fact=fact, message=f"{description} is not known for this hardware; "
                                                         f"rules that test it did not fire."))
    return tuple(unknown)
