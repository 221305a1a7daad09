"""The stored probes on a terminal (rich): ``probes list``, ``probes show`` and ``probes diff``. Kept readable at
80 columns: tables wrap at spaces, never cut a value short."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

from rich import box
from rich.console import Console
from rich.table import Table

from framework_advisor.models import ProbeJob, ProbeSummary
from framework_advisor.probes.probe_diff import FigureChange, FigureKey, ProbeDiff, ProbeRef, ratio_range_text
from framework_advisor.probes.vocabulary import device_label

_console = Console()
CHANGE_WORDS = {"better": "better", "worse": "worse", "within-noise": "within noise", "not-judged": "not judged"}


def when_text(timestamp: str | None) -> str:
    """An ISO timestamp as "2026-11-22 10:04 UTC" (the store writes UTC)."""
    if not timestamp:
        return "-"
    text = timestamp.replace("T", " ")[:16]
    return text + (" UTC" if timestamp.endswith(("+00:00", "Z")) else "")


def _line(text: str, style: str | None = None) -> None:
    """One paragraph, wrapped to the terminal at spaces; an indented one wraps with a hanging indent."""
    indent = " " * (len(text) - len(text.lstrip(" ")))
    wrapped = textwrap.fill(text.strip(" "), width=max(40, _console.width), initial_indent=indent,
                            subsequent_indent=indent + "  " if indent else "", break_long_words=False,
                            break_on_hyphens=False) if text.strip() else ""
    _console.print(wrapped, style=style, highlight=False, markup=False, soft_wrap=True)


def _table(title: str | None = None) -> Table:
    return Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True, title_justify="left",
                 show_edge=False)


def print_probe_list(probes: Sequence[ProbeSummary], where: str) -> None:
    if not probes:
        _line(f"No probes stored in {where}.")
        return
    table = _table()
    for column in ("id", "when (UTC)", "host", "status", "quick", "frameworks"):
        fixed = column not in ("host", "frameworks")  # ids and times never wrap; names wrap at spaces, or fold
        table.add_column(column, no_wrap=fixed, overflow="fold")
    for probe in probes:
        quick = "quick" if probe.params.quick else "full"
        table.add_row(probe.id, when_text(probe.created_at).removesuffix(" UTC"), probe.host, probe.status, quick,
                      ", ".join(probe.frameworks) or "-")
    _console.print(table)
    _line(f"{len(probes)} probe{'s' if len(probes) != 1 else ''}, newest first; `framework-advisor probes show ID`, "
          f"`probes diff A B`", style="dim")


def print_probe_job(probe: ProbeJob) -> None:
    """A stored probe: its state, then (once finished) the same summary `probe` printed when it ran."""
    quick = "quick" if probe.params.quick else "full"
    uploaded = ", uploaded" if probe.params.uploaded else ""
    _line(f"Probe {probe.id} of {probe.host}: {probe.status} ({quick}{uploaded}), created "
          f"{when_text(probe.created_at)}, finished {when_text(probe.finished_at)}")
    if probe.error:
        _line(f"error: {probe.error}", style="yellow")
    if probe.report is None:
        progress = probe.progress
        if probe.status in ("queued", "running"):
            _line(f"progress: {progress.phase} {progress.percent:.0f}%")
        return
    from framework_advisor.render import print_probe_summary
    from framework_advisor.rules.rulebase import load_rulebase

    print_probe_summary(load_rulebase(), probe.report, None)


def _ref_text(side: str, ref: ProbeRef) -> str:
    reused = f", figures of {ref.reused_from}" if ref.reused_from else ""
    return f"{side} = probe {ref.id} of {ref.host}, measured {when_text(ref.measured_at)}, " \
           f"{'quick' if ref.quick else 'full'}{reused}"


def _figure_name(figure: FigureKey) -> str:
    where = "" if figure.device == "cpu" else f" on {device_label(figure.device)}"
    return f"{figure.benchmark}{where}"


def _figure_text(figure: FigureKey) -> str:
    size = _size(figure)
    return f"{_figure_name(figure)}{'' if size == '-' else ' ' + size} ({figure.unit})"


def _number(value: float) -> str:
    return f"{value:,.0f}" if value >= 1000 else f"{value:.3g}"


def _size(figure: FigureKey) -> str:
    return " ".join(filter(None, [figure.precision if figure.precision != "fp32" else "", figure.size_text])) or "-"


def _change(figure: FigureChange) -> str:
    return CHANGE_WORDS[figure.verdict] + (" (noisy)" if figure.noisy else "")


def print_probe_diff(diff: ProbeDiff) -> None:
    _line(_ref_text("A", diff.a))
    _line(_ref_text("B", diff.b))
    for note in diff.notes:
        _line(f"Note: {note}.", style="yellow")
    changed = diff.changed_versions()
    unchanged = [version for version in diff.versions if not version.changed]
    _console.print("\n[bold]Versions[/bold]")
    for version in changed:
        _line(f"  {version.name}: {version.a or 'absent'} -> {version.b or 'absent'}")
    if unchanged:
        _line(f"  {'unchanged' if changed else 'all unchanged'}: "
              + ", ".join(f"{version.name} {version.a}" for version in unchanged), style="dim")
    outcomes = [outcome for outcome in diff.frameworks if outcome.changed]
    if outcomes:
        _console.print("\n[bold]Frameworks[/bold]")
        for outcome in outcomes:
            left = outcome.a + (f" ({outcome.a_detail})" if outcome.a_detail else "")
            right = outcome.b + (f" ({outcome.b_detail})" if outcome.b_detail else "")
            _line(f"  {outcome.framework}: {left} -> {right}")
    _print_devices(diff)
    _print_figures(diff)
    _console.print()
    _line(f"Noise: {diff.noise_rule}.", style="dim")


def _print_devices(diff: ProbeDiff) -> None:
    _console.print("\n[bold]Devices[/bold]")
    if not (diff.accelerators or diff.devices_seen or diff.unused_accelerators):
        _line("  no change in the accelerators, the devices each framework saw, or those it left unused")
    for acc in diff.accelerators:
        if acc.a_count is None:
            _line(f"  new in B: {acc.b_count} x {acc.name} ({acc.kind})")
        elif acc.b_count is None:
            _line(f"  gone in B: {acc.a_count} x {acc.name} ({acc.kind})")
        else:
            driver = f", driver {acc.a_driver} -> {acc.b_driver}" if acc.a_driver != acc.b_driver else ""
            _line(f"  {acc.name} ({acc.kind}): {acc.a_count} -> {acc.b_count}{driver}")
    usable = {None: "not listed", True: "usable", False: "not usable"}
    for seen in diff.devices_seen:
        index = f":{seen.index}" if seen.index is not None else ""
        _line(f"  {seen.framework} sees {seen.device}{index} {seen.name}: {usable[seen.a_usable]} -> "
              f"{usable[seen.b_usable]}")
    for unused in diff.unused_accelerators:
        left = f"unused ({unused.a_reason})" if unused.a_reason else "not unused"
        right = f"unused ({unused.b_reason})" if unused.b_reason else "not unused"
        _line(f"  {unused.framework} and the {unused.kind} device: {left} -> {right}")


def _print_figures(diff: ProbeDiff) -> None:
    _console.print("\n[bold]Figures[/bold] (B/A, its range from both figures' samples)")
    if diff.figures:
        table = _table()
        table.add_column("framework", no_wrap=True)
        # The figure's name, device, size and unit wrap at spaces; the longest name (21 characters) stays whole.
        table.add_column("figure (unit)", min_width=21, overflow="fold")
        for column in ("A", "B", "B/A (range)"):
            table.add_column(column, justify="right", overflow="fold")
        table.add_column("change", overflow="fold")
        for figure in diff.figures:
            style = {"better": "green", "worse": "red"}.get(figure.verdict)
            table.add_row(figure.framework, _figure_text(figure), _number(figure.a_value), _number(figure.b_value),
                          ratio_range_text(figure), _change(figure), style=style)
        _console.print(table)
    else:
        _line("  no figure measured by both at the same size")
    for left in diff.not_compared:
        _line(f"  not compared: {left.framework} {left.benchmark} on {device_label(left.device)}, A "
              f"{', '.join(left.a)}, B {', '.join(left.b)} ({left.reason})")
    for side, figures in (("A", diff.only_in_a), ("B", diff.only_in_b)):
        for figure in figures:
            size = "" if _size(figure) == "-" else f" {_size(figure)}"
            _line(f"  only in {side}: {figure.framework} {_figure_name(figure)}{size}: {_number(figure.value)} "
                  f"{figure.unit}")
