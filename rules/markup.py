"""A Recommendation as Markdown (``recommend --format md``, ``Accept: text/markdown``, ``to_markdown()``) and as
an HTML fragment (``_repr_html_``: how a notebook shows it). One renderer of each for every caller.

Every text in a recommendation is data (rule messages, names, install commands, a described machine's names):
nothing of it may become markup. Markdown prose is escaped (HTML's ``& < >`` as entities, Markdown's inline
punctuation with backslashes, whitespace folded onto one line); commands, ids and programs go into code spans
and fences longer than any run of backticks they hold. HTML is escaped with ``html.escape`` throughout.
Standard library only.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from framework_advisor.probes.vocabulary import (DEVICE_LABELS, EXPERIENCE_LABELS, GOAL_LABELS, OS_LABELS)

if TYPE_CHECKING:
    from framework_advisor.probes.hardware import HardwareProfile
    from framework_advisor.rules.recommendation import RankedFramework, Reason, Recommendation, Starter, Summary

# Markdown's inline punctuation; "_" only where it could open or close emphasis (x86_64 stays readable).
_MARKDOWN_INLINE = re.compile(r"([\\`*\[\]|~#]|(?<![0-9A-Za-z])_|_(?![0-9A-Za-z]))")
_SOURCES = {"request": "as described", "this-machine": "this machine", "probe": "a stored probe's machine"}


# --- shared wording ----------------------------------------------------------------------------------


def _heading(answer: Recommendation) -> str:
    goals = ", ".join(GOAL_LABELS.get(goal, goal) for goal in answer.goals) or "your goals"
    experience = f" ({EXPERIENCE_LABELS.get(answer.experience, answer.experience)})" if answer.experience else ""
    return f"Frameworks for {goals}{experience}"


def hardware_line(profile: HardwareProfile) -> str:
    """The machine in one line: OS and arch, CPU, memory, accelerators."""
    parts = [f"{OS_LABELS.get(profile.os, profile.os)} {profile.arch}"]
    if profile.cpu is not None:
        parts.append(f"{profile.cpu.model} ({profile.cpu.cores} cores)")
    if profile.memory_gb is not None:
        parts.append(f"{profile.memory_gb:g} GB memory")
    for accelerator in profile.accelerators:
        memory = f", {accelerator.memory_gb:g} GB" if accelerator.memory_gb is not None else ""
        parts.append(f"{accelerator.count} x {accelerator.name} ({accelerator.kind}{memory})")
    if not profile.accelerators:
        parts.append("no accelerator")
    return ", ".join(parts)


# What a reason that did not count says (a stronger reason of its group counted instead): the CLI and the form
# say the same.
NOT_COUNTED = "not counted: a stronger reason of the same kind counts"


def folded_line(reasons: Sequence[Reason]) -> str | None:
    """The reasons that did not count (a stronger reason of their group did), folded into one short line of rule
    ids and points: their text is not printed again (the JSON keeps it, with ``counted: false``)."""
    folded = [reason for reason in reasons if not reason.counted]
    if not folded:
        return None
    return f"also ({NOT_COUNTED}): " + ", ".join(f"{reason.rule} {reason.points:+.2f}" for reason in folded)


def _reason_note(counted: bool, knockout: bool) -> str:
    notes = ([] if counted else [NOT_COUNTED]) + (["cannot run here"] if knockout else [])
    return f" ({'; '.join(notes)})" if notes else ""


def summary_of(answer: Recommendation) -> Summary:
    """The answer's headline, one line why and the runner-up sentence, which every front end shows first
    (``Recommendation.summary``; it is optional in the contract, so an answer without one is headed by the name
    of its first place)."""
    if answer.summary is not None:
        return answer.summary
    from framework_advisor.rules.recommendation import Summary

    return Summary(headline=f"Use {answer.ranking[0].name}", why="", runner_up="")


def installed_here(answer: Recommendation) -> bool:
    """Whether "installed" means anything: the versions installed are this machine's, so only when the answer's
    hardware is this machine (not hardware the user described, nor a stored probe's machine)."""
    return answer.hardware_source == "this-machine"


def starter_command(item: RankedFramework) -> str:
    """The CLI command that writes this framework's starter (the same program as in the answer); the table of
    ``recommend`` shows it too."""
    starter = item.starter
    device = starter.device or item.device
    goal = f" --goal {starter.goal}" if starter.goal else ""
    return f"framework-advisor starter {item.framework} --device {device}{goal} --write {starter.filename}"


def _measurements_line(answer: Recommendation) -> str:
    from framework_advisor.probes.history import describe_measurements

    if answer.measurements is None:
        return "none (no probe of this machine entered the answer)"
    return describe_measurements(answer.measurements)


# --- Markdown ----------------------------------------------------------------------------------------


def md_text(text: object) -> str:
    """Data as Markdown prose: one line, no HTML, no Markdown construct (table cells included)."""
    folded = " ".join(str(text).split())
    escaped = folded.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MARKDOWN_INLINE.sub(r"\\\1", escaped)


def md_code(text: object) -> str:
    """Data as an inline code span (one line); the fence is longer than any run of backticks inside."""
    folded = " ".join(str(text).split())
    fence = "`" * (max((len(run) for run in re.findall(r"`+", folded)), default=0) + 1)
    pad = " " if folded.startswith("`") or folded.endswith("`") else ""
    return f"{fence}{pad}{folded}{pad}{fence}"


def md_block(text: str, language: str = "") -> str:
    """A fenced code block that no line of ``text`` can close."""
    fence = "`" * max(3, max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    return f"{fence}{language}\n{text.rstrip(chr(10))}\n{fence}"


def _md_ranking_table(answer: Recommendation) -> list[str]:
    here = installed_here(answer)  # the installed versions are this machine's: a column only for it
    lines = ["| Rank | Framework | Score | Supported | Device |" + (" Installed here |" if here else ""),
             "| ---: | --- | ---: | --- | --- |" + (" --- |" if here else "")]
    for item in answer.ranking:
        cells = [str(item.rank), md_text(item.name), f"{item.score:.2f}", "yes" if item.supported else "no",
                 md_text(DEVICE_LABELS.get(item.device, item.device))]
        if here:
            cells.append(md_text(item.installed_version) if item.installed_version else "no")
        lines.append(f"| {' | '.join(cells)} |")
    return lines


def _md_answer(answer: Recommendation) -> list[str]:
    """The answer first: what to use, why, its install command, why not the runner-up, what would change."""
    summary, first = summary_of(answer), answer.ranking[0]
    lines = [f"# {md_text(summary.headline)}", ""]
    if summary.why:
        lines += [f"**Why:** {md_text(summary.why)}", ""]
    if first.supported:
        lines += ["Install:", "", md_block(first.install, "sh"), ""]
    if summary.runner_up:
        lines += [f"**Runner-up:** {md_text(summary.runner_up)}", ""]
    if answer.what_would_change:
        lines += ["What would change the answer:", ""]
        lines += [f"- {md_text(change.message)}" for change in answer.what_would_change] + [""]
    return lines


def _md_framework(item: RankedFramework, with_code: bool) -> list[str]:
    where = "" if item.supported else ", cannot run on this hardware"
    lines = [f"## {item.rank}. {md_text(item.name)}", "",
             f"Score {item.score:.2f} on {md_text(DEVICE_LABELS.get(item.device, item.device))}{where}.", ""]
    if item.reasons:
        lines += ["Why:", ""]
        lines += [f"- {reason.points:+.2f} {md_text(reason.message)} ({md_code(reason.rule)})"
                  f"{_reason_note(reason.counted, reason.knockout)}" for reason in item.reasons if reason.counted]
        folded = folded_line(item.reasons)
        if folded:
            lines.append(f"- {md_text(folded)}")
        lines.append("")
    lines += ["Install:", "", md_block(item.install, "sh"), ""]
    starter: Starter = item.starter
    lines.append(f"Starter: {md_code(starter.filename)}, run with {md_code(starter.run)}; write it with "
                 f"{md_code(starter_command(item))}" + ("." if not with_code else ":"))
    lines.append("")
    if with_code:
        lines += [md_block(starter.code, "python"), ""]
    return lines


def recommendation_markdown(answer: Recommendation) -> str:
    """The whole answer as GitHub-flavoured Markdown: the answer first (the headline as the title, why, the install
    command, the runner-up sentence, what would change), the ranking as a table, then every framework in rank
    order with its reasons, install command and starter (the first one's program in full)."""
    source = _SOURCES.get(answer.hardware_source or "", "")
    lines = _md_answer(answer) + [
        f"{md_text(_heading(answer))}. Hardware{f' ({source})' if source else ''}: "
        f"{md_text(hardware_line(answer.hardware))}.", ""]
    lines += _md_ranking_table(answer) + [""]
    if answer.confidence is not None:
        lines += [f"Confidence: {md_text(answer.confidence.label)}. {md_text(answer.confidence.message)}", ""]
    lines += [f"Measurements used: {md_text(_measurements_line(answer))}.", ""]
    for index, item in enumerate(answer.ranking):
        lines += _md_framework(item, with_code=index == 0)
    if answer.unknown:
        lines += ["## Not known", ""]
        lines += [f"- {md_code(fact.fact)}: {md_text(fact.message)}" for fact in answer.unknown] + [""]
    lines.append(f"Rule base {md_text(answer.rulebase.version)} (sha256 {md_code(answer.rulebase.sha256[:12])}).")
    return "\n".join(lines) + "\n"


# --- HTML --------------------------------------------------------------------------------------------


def _h(text: object) -> str:
    return html.escape(str(text), quote=True)


def _html_framework(item: RankedFramework, open_: bool) -> str:
    where = "" if item.supported else ", cannot run on this hardware"
    reasons = "".join(
        f"<li><code>{reason.points:+.2f}</code> {_h(reason.message)} <code>{_h(reason.rule)}</code>"
        f"{_h(_reason_note(reason.counted, reason.knockout))}</li>" for reason in item.reasons if reason.counted)
    folded = folded_line(item.reasons)
    if folded:
        reasons += f'<li class="folded">{_h(folded)}</li>'
    starter = item.starter
    return (f"<details{' open' if open_ else ''}><summary><strong>{item.rank}. {_h(item.name)}</strong> "
            f"score {item.score:.2f} on {_h(DEVICE_LABELS.get(item.device, item.device))}{where}</summary>"
            + (f"<p>Why:</p><ul>{reasons}</ul>" if reasons else "")
            + f"<p>Install:</p><pre><code>{_h(item.install)}</code></pre>"
            f"<p>Starter <code>{_h(starter.filename)}</code>, run with <code>{_h(starter.run)}</code>; write it with "
            f"<code>{_h(starter_command(item))}</code></p>"
            f"<details><summary>{_h(starter.filename)}</summary><pre><code>{_h(starter.code)}</code></pre></details>"
            "</details>")


def recommendation_html(answer: Recommendation) -> str:
    """The answer as a self-contained HTML fragment (no script, no style sheet, no external resource)."""
    source = _SOURCES.get(answer.hardware_source or "", "")
    here = installed_here(answer)
    rows = "".join(
        f"<tr><td>{item.rank}</td><td>{_h(item.name)}</td><td>{item.score:.2f}</td>"
        f"<td>{'yes' if item.supported else 'no'}</td><td>{_h(DEVICE_LABELS.get(item.device, item.device))}</td>"
        + (f"<td>{_h(item.installed_version) if item.installed_version else 'no'}</td>" if here else "")
        + "</tr>" for item in answer.ranking)
    summary, first = summary_of(answer), answer.ranking[0]
    parts = [f'<div class="framework-advisor-recommendation"><h3>{_h(summary.headline)}</h3>']
    if summary.why:
        parts.append(f"<p><strong>Why:</strong> {_h(summary.why)}</p>")
    if first.supported:
        parts.append(f"<p>Install:</p><pre><code>{_h(first.install)}</code></pre>")
    if summary.runner_up:
        parts.append(f"<p><strong>Runner-up:</strong> {_h(summary.runner_up)}</p>")
    if answer.what_would_change:
        changes = "".join(f"<li>{_h(change.message)}</li>" for change in answer.what_would_change)
        parts.append(f"<p>What would change the answer:</p><ul>{changes}</ul>")
    parts += [f"<p>{_h(_heading(answer))}. Hardware{_h(f' ({source})' if source else '')}: "
              f"{_h(hardware_line(answer.hardware))}.</p>",
              "<table><thead><tr><th>Rank</th><th>Framework</th><th>Score</th><th>Supported</th><th>Device</th>"
              + ("<th>Installed here</th>" if here else "") + f"</tr></thead><tbody>{rows}</tbody></table>"]
    if answer.confidence is not None:
        parts.append(f"<p>Confidence: {_h(answer.confidence.label)}. {_h(answer.confidence.message)}</p>")
    parts.append(f"<p>Measurements used: {_h(_measurements_line(answer))}.</p>")
    parts += [_html_framework(item, open_=index == 0) for index, item in enumerate(answer.ranking)]
    if answer.unknown:
        unknown = "".join(f"<li><code>{_h(fact.fact)}</code>: {_h(fact.message)}</li>" for fact in answer.unknown)
        parts.append(f"<p>Not known:</p><ul>{unknown}</ul>")
    parts.append(f"<p><small>Rule base {_h(answer.rulebase.version)}</small></p></div>")
    return "".join(parts)
