"""Evaluates the rule base for one question: goals, experience and a HardwareProfile.

Order-independent by construction: knock-outs first; then each framework's score is its prior
plus, for every group of correlated rules, the strongest ``points x certainty`` that fired (an
ungrouped rule is a group of its own). Ties are never decided silently: a gap below the rule base's
``low`` threshold is answered as "not-enough-evidence".
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from framework_advisor.rules.rulebase import MESSAGE_PLACEHOLDER, STARTER_DEVICE_ASSIGNMENT, RuleBase, iter_leaves
from framework_advisor.rules.schema import FRAMEWORK_IDS, GOAL_FAMILIES, AllOf, AnyOf, FrameworkEntry, Leaf, NotOf, Platform, Rule

_MISSING = object()
_OS_NAMES = {"linux": "Linux", "darwin": "macOS", "windows": "Windows"}
# Framework ids read better as names inside messages ("slower than PyTorch").
_FRAMEWORK_NAMES = {"pytorch": "PyTorch", "jax": "JAX", "mlx": "MLX", "tensorflow": "TensorFlow", "numpy": "NumPy"}


def _platform_for(entry: FrameworkEntry, os_name: str, arch: str) -> Platform | None:
    return next((p for p in entry.platforms if os_name in p.os and arch in p.arch), None)


def best_device(entry: FrameworkEntry, hardware: Mapping[str, Any]) -> str | None:
    """The device the framework would use on this hardware; None when it has no build there."""
    platform = _platform_for(entry, hardware["os"], hardware["arch"])
    if platform is None:
        return None
    present = {accelerator["kind"] for accelerator in hardware.get("accelerators", [])}
    return next((d for d in platform.devices if d == "cpu" or d in present), platform.devices[-1])


def derive_facts(
    rulebase: RuleBase, hardware: Mapping[str, Any], goals: Sequence[str], experience: str
) -> dict[str, Any]:
    accelerators = hardware.get("accelerators", [])
    facts: dict[str, Any] = {
        "goals": frozenset(goals),
        "experience": experience,
        "os": hardware["os"],
        "arch": hardware["arch"],
        "apple_silicon": hardware["os"] == "darwin" and hardware["arch"] == "arm64",
        "accelerators": frozenset(a["kind"] for a in accelerators),
        "accelerator_count": sum(a.get("count", 1) for a in accelerators),
        "accelerator_memory_gb": max((a.get("memory_gb", 0) for a in accelerators), default=0),
    }
    if "memory_gb" in hardware:
        facts["memory_gb"] = hardware["memory_gb"]
    if "cpu" in hardware:
        facts["cpu_cores"] = hardware["cpu"]["cores"]
    for framework_id, entry in rulebase.frameworks.items():
        device = best_device(entry, hardware)
        if device is not None:
            facts[f"{framework_id}.device"] = device
            facts[f"{framework_id}.uses_accelerator"] = device != "cpu"
    return facts


def measured_facts(measurements: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """Facts from a probe's derived figures (probes.derived): speed, accelerator reached, failures."""
    facts: dict[str, Any] = {"probed": True}
    for framework_id, derived in measurements.items():
        if framework_id not in FRAMEWORK_IDS:
            continue
        if "slowdown" in derived:
            facts[f"{framework_id}.slowdown"] = max(1.0, float(derived["slowdown"]))
        if derived.get("fastest") in FRAMEWORK_IDS:
            facts["fastest_framework"] = derived["fastest"]
        if "reached_accelerator" in derived:
            facts[f"{framework_id}.reached_accelerator"] = bool(derived["reached_accelerator"])
        issue = derived.get("accelerator_issue")
        if issue:
            fix = f" Fix: {issue['fix']}" if issue.get("fix") else ""
            facts[f"{framework_id}.accelerator_fix"] = f"{issue.get('detail', issue.get('reason', ''))}.{fix}"
        facts[f"{framework_id}.probe_failed"] = bool(derived.get("failed"))
        if derived.get("failed"):
            facts[f"{framework_id}.probe_failure"] = (
                f"{derived.get('failure_kind', 'failure')}: {derived.get('failure_message', '')}".strip())
    return facts


def render_message(template: str, facts: Mapping[str, Any]) -> str:
    """Fill ``{fact}`` or ``{fact:.Nf}`` placeholders from facts only (no attribute access, no code)."""

    def fill(match: re.Match[str]) -> str:
        value = facts.get(match.group(1))
        if value is None:
            return "unknown"
        if match.group(2) is not None and isinstance(value, (int, float)):
            return f"{value:.{int(match.group(2))}f}"
        return _FRAMEWORK_NAMES.get(value, value) if isinstance(value, str) else str(_json_value(value))

    return MESSAGE_PLACEHOLDER.sub(fill, template)


def _leaf_holds(leaf: Leaf, facts: Mapping[str, Any]) -> bool:
    actual = facts.get(leaf.fact, _MISSING)
    if leaf.op == "exists":
        return (actual is not _MISSING) == (leaf.value is not False)
    if actual is _MISSING:
        return False  # an unknown fact satisfies no comparison
    expected = leaf.value
    match leaf.op:
        case "eq":
            return actual == expected
        case "ne":
            return actual != expected
        case "lt":
            return actual < expected
        case "lte":
            return actual <= expected
        case "gt":
            return actual > expected
        case "gte":
            return actual >= expected
        case "in":
            return actual in expected
        case "not_in":
            return actual not in expected
        case "contains":
            return expected in actual
        case "contains_any":
            return not actual.isdisjoint(expected)
    raise ValueError(f"unknown operator {leaf.op!r}")  # unreachable: the schema allows no other


def holds(condition: Any, facts: Mapping[str, Any]) -> bool:
    if isinstance(condition, Leaf):
        return _leaf_holds(condition, facts)
    if isinstance(condition, AllOf):
        return all(holds(child, facts) for child in condition.all)
    if isinstance(condition, AnyOf):
        return any(holds(child, facts) for child in condition.any)
    if isinstance(condition, NotOf):
        return not holds(condition.not_, facts)
    raise TypeError(f"not a condition: {condition!r}")


def _json_value(value: Any) -> Any:
    return sorted(value) if isinstance(value, frozenset) else value


def _matched_facts(rule: Rule, facts: Mapping[str, Any]) -> dict[str, Any]:
    return {leaf.fact: _json_value(facts[leaf.fact]) for leaf in iter_leaves(rule.when) if leaf.fact in facts}


def _platform_knockout(framework_id: str, entry: FrameworkEntry, hardware: Mapping[str, Any]) -> dict[str, Any]:
    where = ", ".join(
        f"{'/'.join(_OS_NAMES[o] for o in p.os)} {'/'.join(p.arch)}" for p in entry.platforms
    )
    return {
        "rule": f"platform-{framework_id}",
        "message": (
            f"{entry.name} has no build for {_OS_NAMES[hardware['os']]} {hardware['arch']}; "
            f"it runs on {where}."
        ),
        "points": 0.0,
        "certainty": 1.0,
        "group": None,
        "counted": True,
        "knockout": True,
        "matched": {"os": hardware["os"], "arch": hardware["arch"]},
        "refs": list(entry.refs),
    }


def install_command(entry: FrameworkEntry, hardware: Mapping[str, Any], device: str | None) -> str:
    os_name, arch = hardware["os"], hardware["arch"]
    if device is None:
        return f"# {entry.name} has no build for {_OS_NAMES[os_name]} {arch}"
    for wanted in (device, "cpu"):
        for row in entry.install:
            if row.device == wanted and os_name in row.os and arch in row.arch:
                return row.command
    return f"# no install command recorded for {entry.name} on {_OS_NAMES[os_name]} {arch}"


def render_starter(rulebase: RuleBase, framework_id: str, device: str, goal: str | None = None) -> dict[str, str]:
    """The framework's starter for ``goal``'s family (GOAL_FAMILIES; "basics" without a goal), with
    its DEVICE line set to the framework's own name for ``device``."""
    spec = rulebase.frameworks[framework_id].starter
    device_name = spec.device_names.get(device, spec.device_names["cpu"])
    family = GOAL_FAMILIES[goal] if goal is not None else "basics"
    code = STARTER_DEVICE_ASSIGNMENT.sub(f'DEVICE = "{device_name}"', rulebase.starters[framework_id, family], count=1)
    starter = {"filename": spec.filename, "code": code, "run": f"python {spec.filename}", "device": device}
    if goal is not None:
        starter["goal"] = goal
    return starter


def starter_goal(goals: Sequence[str]) -> str | None:
    """The goal whose starter a recommendation hands out: the first goal (in the request's order) whose
    family is not "basics", since it asks for a specific program (deploy, scale, ...); else the first
    goal, whose family is basics; None without goals."""
    return next((goal for goal in goals if GOAL_FAMILIES[goal] != "basics"), goals[0] if goals else None)


def _score(prior: float, reasons: list[dict[str, Any]]) -> float:
    """Prior plus the strongest counted contribution of each group; marks the others uncounted."""
    strongest: dict[str, dict[str, Any]] = {}
    for reason in reasons:
        key = reason["group"] or f"rule:{reason['rule']}"
        best = strongest.get(key)
        if best is None or (abs(reason["points"]), reason["rule"]) > (abs(best["points"]), best["rule"]):
            strongest[key] = reason
    counted = {id(reason) for reason in strongest.values()}
    for reason in reasons:
        reason["counted"] = id(reason) in counted
    return prior + sum(reason["points"] for reason in strongest.values())


def _confidence(rulebase: RuleBase, ranking: list[dict[str, Any]]) -> dict[str, Any]:
    supported = [item for item in ranking if item["supported"]]
    thresholds = rulebase.meta.confidence
    if not supported:
        return {"label": "not-enough-evidence", "gap": 0.0, "message": "No framework runs on this hardware."}
    first = supported[0]
    if len(supported) == 1:
        return {"label": "high", "gap": 0.0, "message": f"{first['name']} is the only framework that runs here."}
    second = supported[1]
    gap = round(first["score"] - second["score"], 6)
    if gap < thresholds.low:
        label = "not-enough-evidence"
        message = (
            f"{first['name']} and {second['name']} are {gap:g} points apart: the rule base does not separate "
            f"them for these answers (listed in catalog order). Add a goal, or run the probe to measure both here."
        )
    else:
        label = "high" if gap >= thresholds.high else "medium" if gap >= thresholds.medium else "low"
        points = "point" if gap == 1 else "points"
        message = f"{first['name']} leads {second['name']} by {gap:g} {points} ({label} confidence)."
    return {"label": label, "gap": gap, "message": message}


def _evaluate(rulebase: RuleBase, facts: Mapping[str, Any], hardware: Mapping[str, Any],
              explain: bool) -> tuple[dict[str, list[dict[str, Any]]], set[str], dict[str, float]]:
    """Fire the rules: reasons per framework, the knocked-out set, and scores."""
    reasons: dict[str, list[dict[str, Any]]] = {framework_id: [] for framework_id in FRAMEWORK_IDS}
    knocked_out: set[str] = set()
    for framework_id in FRAMEWORK_IDS:
        if f"{framework_id}.device" not in facts:
            reasons[framework_id].append(_platform_knockout(framework_id, rulebase.frameworks[framework_id], hardware))
            knocked_out.add(framework_id)

    for rule in rulebase.rules:
        if not holds(rule.when, facts):
            continue
        effect = rule.then
        is_knockout = effect.knockout is not None
        message = render_message(rule.message, facts) if explain else ""
        matched = _matched_facts(rule, facts) if explain else {}
        for framework_id in effect.knockout if is_knockout else effect.points:
            if is_knockout:
                knocked_out.add(framework_id)
            reasons[framework_id].append({
                "rule": rule.id,
                "message": message,
                "points": 0.0 if is_knockout else round(effect.points[framework_id] * rule.certainty, 6),
                "certainty": rule.certainty,
                "group": rule.group,
                "counted": True,
                "knockout": is_knockout,
                "matched": matched,
                "refs": list(rule.refs),
            })
    scores = {
        framework_id: _score(rulebase.frameworks[framework_id].prior,
                             [r for r in reasons[framework_id] if not r["knockout"]])
        for framework_id in FRAMEWORK_IDS
    }
    return reasons, knocked_out, scores


_CATALOG_ORDER = {framework_id: index for index, framework_id in enumerate(FRAMEWORK_IDS)}


def _rank_key(framework_id: str, knocked_out: set[str], scores: Mapping[str, float]) -> tuple:
    return (framework_id in knocked_out, -round(scores[framework_id], 3), _CATALOG_ORDER[framework_id])


def _first_place(rulebase: RuleBase, hardware: Mapping[str, Any], goals: Sequence[str], experience: str,
                 measurements: Mapping[str, Mapping[str, Any]] | None) -> str:
    facts = derive_facts(rulebase, hardware, goals, experience)
    facts.update(measured_facts(measurements) if measurements else {"probed": False})
    _, knocked_out, scores = _evaluate(rulebase, facts, hardware, explain=False)
    return min(FRAMEWORK_IDS, key=lambda f: _rank_key(f, knocked_out, scores))


# Hardware alternatives for "what would change the answer", each a machine that can exist
# (Apple GPUs only on arm64 macOS, TPUs only on Linux x86_64 hosts).
_HARDWARE_ALTERNATIVES = (
    ("an NVIDIA GPU", lambda hw: hw["os"] in ("linux", "windows") and "cuda" not in _kinds(hw),
     lambda hw: {**hw, "accelerators": [{"kind": "cuda", "name": "NVIDIA GPU", "count": 1}]}),
    ("an AMD Instinct GPU (ROCm)", lambda hw: hw["os"] == "linux" and "rocm" not in _kinds(hw),
     lambda hw: {**hw, "arch": "x86_64", "accelerators": [{"kind": "rocm", "name": "AMD GPU", "count": 1}]}),
    ("Google TPUs", lambda hw: "tpu" not in _kinds(hw),
     lambda hw: {**hw, "os": "linux", "arch": "x86_64", "accelerators": [{"kind": "tpu", "name": "TPU", "count": 4}]}),
    ("Apple silicon", lambda hw: not (hw["os"] == "darwin" and hw["arch"] == "arm64"),
     lambda hw: {**hw, "os": "darwin", "arch": "arm64",
                 "accelerators": [{"kind": "apple-gpu", "name": "Apple GPU", "count": 1}]}),
    ("no accelerator (CPU only)", lambda hw: bool(_kinds(hw)), lambda hw: {**hw, "accelerators": []}),
)


def _kinds(hardware: Mapping[str, Any]) -> set[str]:
    return {a["kind"] for a in hardware.get("accelerators", [])}


def what_would_change(rulebase: RuleBase, goals: Sequence[str], experience: str, hardware: Mapping[str, Any],
                      measurements: Mapping[str, Mapping[str, Any]] | None, first: str) -> list[dict[str, Any]]:
    """Single changes that put another framework first: the user's own choices, then the hardware."""
    names = {fid: entry.name for fid, entry in rulebase.frameworks.items()}
    changes: list[dict[str, Any]] = []

    def consider(kind: str, change: str, winner: str, message: str) -> None:
        if winner != first:
            changes.append({"kind": kind, "change": change, "first": winner, "message": message})

    for level in (e for e in rulebase.facts["experience"].values or [] if e != experience):
        winner = _first_place(rulebase, hardware, goals, level, measurements)
        consider("user", f"experience: {level}", winner, f"As {level}, {names[winner]} would rank first.")
    for goal in rulebase.facts["goals"].values or []:
        if goal in goals:
            if len(goals) == 1:
                continue
            fewer = [g for g in goals if g != goal]
            winner = _first_place(rulebase, hardware, fewer, experience, measurements)
            consider("user", f"without goal: {goal}", winner, f"Without {goal}, {names[winner]} would rank first.")
        else:
            winner = _first_place(rulebase, hardware, [*goals, goal], experience, measurements)
            consider("user", f"add goal: {goal}", winner, f"Adding {goal}, {names[winner]} would rank first.")
    for label, applies, alter in _HARDWARE_ALTERNATIVES:
        if applies(hardware):
            # Measurements belong to this machine; another machine starts unmeasured.
            winner = _first_place(rulebase, alter(hardware), goals, experience, None)
            consider("hardware", f"on a machine with {label}", winner,
                     f"On a machine with {label}, {names[winner]} would rank first.")
    return changes


def unknown_facts(rulebase: RuleBase, facts: Mapping[str, Any]) -> list[dict[str, str]]:
    """Facts some rule tests that this question did not supply, and how to supply them."""
    unknown = []
    if not facts.get("probed"):
        unknown.append({"fact": "measurements", "message": (
            "No probe of this machine: run `framework-advisor probe` (or POST /v1/probes) to measure each "
            "framework here; measured speed and accelerator use then enter the answer.")})
    tested = {leaf.fact for rule in rulebase.rules for leaf in iter_leaves(rule.when)}
    for fact in sorted(tested):
        spec = rulebase.fact_spec(fact)
        if spec is not None and spec.source == "probe" and not spec.per_framework and fact not in facts:
            unknown.append({"fact": fact, "message": f"{spec.description} is not known for this hardware; "
                                                     f"rules that test it did not fire."})
    return unknown


def recommend(
    rulebase: RuleBase,
    goals: Sequence[str],
    experience: str,
    hardware: Mapping[str, Any],
    installed_versions: Mapping[str, str | None] | None = None,
    measurements: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """Rank all frameworks. ``hardware`` must already be a valid HardwareProfile; ``measurements``
    are a probe's derived figures for that hardware, when there are any.

    Each framework's starter is the one for ``starter_goal(goals)``: the first goal with a family other
    than "basics" (research + production gets the deploy starter), else the basics starter."""
    facts = derive_facts(rulebase, hardware, goals, experience)
    facts.update(measured_facts(measurements) if measurements else {"probed": False})
    reasons, knocked_out, scores = _evaluate(rulebase, facts, hardware, explain=True)

    goal = starter_goal(goals)
    ranking = []
    for framework_id in sorted(FRAMEWORK_IDS, key=lambda f: _rank_key(f, knocked_out, scores)):
        entry = rulebase.frameworks[framework_id]
        device = facts.get(f"{framework_id}.device")
        framework_reasons = sorted(reasons[framework_id],
                                   key=lambda r: (not r["knockout"], not r["counted"], -abs(r["points"]), r["rule"]))
        ranking.append({
            "framework": framework_id,
            "name": entry.name,
            "rank": len(ranking) + 1,
            "score": round(scores[framework_id], 3),
            "supported": framework_id not in knocked_out,
            "device": device or "cpu",
            "reasons": framework_reasons,
            "install": install_command(entry, hardware, device),
            "installed_version": (installed_versions or {}).get(framework_id),
            "starter": render_starter(rulebase, framework_id, device or "cpu", goal),
        })

    return {
        "ranking": ranking,
        "hardware": dict(hardware),
        "goals": list(goals),
        "experience": experience,
        "confidence": _confidence(rulebase, ranking),
        "what_would_change": what_would_change(rulebase, goals, experience, hardware, measurements,
                                               ranking[0]["framework"]),
        "unknown": unknown_facts(rulebase, facts),
        "rulebase": {"version": rulebase.version, "sha256": rulebase.sha256},
    }
