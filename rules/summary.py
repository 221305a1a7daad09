"""The headline of an answer: what to use, one line why, and why not the runner-up.

Built from the ranking alone (the reasons already say which rules counted and for how many points), so every
front end shows the same three lines the JSON holds.
"""

from __future__ import annotations

from collections.abc import Sequence

from framework_advisor.probes.hardware import HardwareProfile
from framework_advisor.probes.vocabulary import device_label
from framework_advisor.rules.recommendation import RankedFramework, Reason, Summary

# "Use PyTorch on the NVIDIA CUDA GPU": the device words, singular and plural (by the accelerators' count);
# messages quote a device fact ({framework.device}) with the singular.
DEVICE_WORDS: dict[str, tuple[str, str]] = {
    "cpu": ("the CPU", "the CPUs"),
    "cuda": ("the NVIDIA CUDA GPU", "the NVIDIA CUDA GPUs"),
    "rocm": ("the AMD ROCm GPU", "the AMD ROCm GPUs"),
    "tpu": ("the Google TPU", "the Google TPUs"),
    "apple-gpu": ("the Apple GPU", "the Apple GPUs"),
    "gaudi": ("the Intel Gaudi accelerator", "the Intel Gaudi accelerators"),
    "intel-xpu": ("the Intel XPU", "the Intel XPUs"),
}
# At most this many rules are named on each side of the runner-up sentence.
_NAMED = 2


def device_words(device: str, plural: bool = False) -> str:
    """'the NVIDIA CUDA GPU': a device in words (the vocabulary's label for a device this table lacks)."""
    label = device_label(device)
    one, many = DEVICE_WORDS.get(device, (f"the {label}", f"the {label}s"))
    return many if plural else one


def _device_words(device: str, hardware: HardwareProfile) -> str:
    return device_words(device, sum(a.count for a in hardware.accelerators if a.kind == device) > 1)


def headline(first: RankedFramework, hardware: HardwareProfile) -> str:
    if not first.supported:
        return "No framework runs on this hardware"
    if first.device == "cpu":
        return f"Use {first.name}"
    return f"Use {first.name} on {_device_words(first.device, hardware)}"


def _points(value: float) -> str:
    return f"{value:+.3g}"


def _counted(item: RankedFramework) -> dict[str, Reason]:
    return {r.rule: r for r in item.reasons if r.counted and not r.knockout and r.points != 0}


def _why(first: RankedFramework) -> str:
    counted = [r for r in first.reasons if r.counted and not r.knockout]
    if not counted:
        return first.reasons[0].message if first.reasons else f"{first.name} ranks first."
    strongest = max(counted, key=lambda r: (r.points, r.rule))
    return strongest.message


def _named(items: list[tuple[float, str]]) -> str:
    parts = [text for _, text in items[:_NAMED]]
    if len(items) > _NAMED:
        rest = items[_NAMED:]
        worth = sum(points for points, _ in rest)
        parts.append(f"{len(rest)} more rule{'s' if len(rest) > 1 else ''} worth {worth:.3g} "
                     f"point{'' if worth == 1 else 's'}")
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def _side(rule: str, ours: Reason | None, theirs: Reason | None, first: str, second: str) -> str:
    """A rule with the points it gave: 'learning-pytorch (+2 for PyTorch)', 'beginner-jax (-1 for JAX)'."""
    if ours is not None and theirs is not None:
        return f"{rule} ({_points(ours.points)} for {first}, {_points(theirs.points)} for {second})"
    if ours is not None:
        return f"{rule} ({_points(ours.points)} for {first})"
    return f"{rule} ({_points(theirs.points)} for {second})"  # type: ignore[union-attr]


def runner_up_sentence(ranking: Sequence[RankedFramework], gap_low: float) -> str:
    """One sentence: the rules whose points separate the first place from the second, by name and points.

    A rule that counted for both with the same points does not separate them; one that counted for both with
    different points separates them by the difference. The rules that widen the gap are named first, the
    largest first, then those that narrow it."""
    first = ranking[0]
    supported = [item for item in ranking if item.supported]
    if not first.supported:
        return "No framework has a build for this hardware, so none is ahead of another."
    if len(supported) == 1:
        return (f"{first.name} is the only framework that runs here; {ranking[1].name}, next, "
                f"cannot run on this hardware.")
    second = supported[1]
    gap = round(first.score - second.score, 3)
    ours, theirs = _counted(first), _counted(second)
    lead: list[tuple[float, str]] = []  # rules that put the first place ahead
    lag: list[tuple[float, str]] = []  # rules that pulled the runner-up closer
    for rule in sorted(set(ours) | set(theirs)):
        mine, other = ours.get(rule), theirs.get(rule)
        difference = round((mine.points if mine else 0.0) - (other.points if other else 0.0), 6)
        if difference:
            (lead if difference > 0 else lag).append((abs(difference), _side(rule, mine, other, first.name, second.name)))
    lead.sort(key=lambda item: -item[0])
    lag.sort(key=lambda item: -item[0])
    prior = round(gap - sum(p for p, _ in lead) + sum(p for p, _ in lag), 3)
    points = "point" if gap == 1 else "points"
    if gap == 0:
        sentence = f"{first.name} and {second.name} tie at {first.score:g} points"
    else:
        sentence = f"{first.name} is {gap:g} {points} ahead of {second.name}"
    if lead:
        verb = "outweighs" if len(lead) == 1 else "outweigh"
        sentence += f": {_named(lead)}" + (f" {verb} {_named(lag)}" if lag else "")
    elif prior:
        sentence += f": its starting score (the catalog's prior) is {prior:g} higher"
    elif lag:
        sentence += f": {_named(lag)} for {second.name} are matched by {first.name}'s other rules"
    if gap == 0:
        sentence += f", {first.name} is listed first only in catalog order"
    elif gap < gap_low:
        sentence += f", too close to call (the rule base separates frameworks from {gap_low:g} points)"
    return sentence + "."


def summarize(ranking: Sequence[RankedFramework], hardware: HardwareProfile, gap_low: float) -> Summary:
    first = ranking[0]
    return Summary(headline=headline(first, hardware), why=_why(first),
                   runner_up=runner_up_sentence(ranking, gap_low))
