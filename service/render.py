"""Human-readable terminal output for the CLI (rich); the JSON stays the machine interface."""

from __future__ import annotations

from rich import box
from rich.console import Console
from rich.padding import Padding
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from framework_advisor.probes.hardware import Accelerator, HardwareProfile
from framework_advisor.probes.history import describe_measurements
from framework_advisor.probes.progress import ProbeProgress
from framework_advisor.probes.comparisons import ratio_text
from framework_advisor.probes.report import DerivedFacts, FailedFramework, FrameworkRun, ProbeReport
from framework_advisor.probes.vocabulary import BENCHMARK_LABELS
from framework_advisor.rules.recommendation import Recommendation
from framework_advisor.rules.markup import folded_line, starter_command, summary_of
from framework_advisor.rules.remedies import fix_for
from framework_advisor.rules.rulebase import RuleBase

_console = Console()
_stderr = Console(stderr=True)
# The probe's tables are wide (up to eight columns): a header rule and two spaces between columns, no frame,
# so that at 80 columns every header word and every version fits whole and only long cells wrap.
_LIGHT = {"box": box.SIMPLE_HEAD, "show_edge": False, "pad_edge": False, "collapse_padding": True}


def _hanging(rows: list[tuple[str, str]], indent: int = 2) -> Padding:
    """Rows of a label and a text (``+1.80``, a reason), the text's wrapped lines indented under its first:
    a hanging indent. Plain text: rule messages and install commands hold brackets (mlx[cpu]), not markup."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(justify="right", no_wrap=True)
    grid.add_column(overflow="fold")
    for label, text in rows:
        grid.add_row(Text(label), Text(text))
    return Padding(grid, (0, 0, 0, indent))


def _accelerator_line(accelerator: Accelerator) -> str:
    memory = f", {accelerator.memory_gb:g} GB" if accelerator.memory_gb is not None else ""
    return f"{accelerator.count} x {accelerator.name} ({accelerator.kind}{memory})"


def print_hardware(profile: HardwareProfile) -> None:
    _console.print(f"[bold]{profile.os} {profile.arch}[/bold]")
    if profile.cpu is not None:
        _console.print(f"CPU: {profile.cpu.model}, {profile.cpu.cores} cores", highlight=False)
    if profile.memory_gb is not None:
        _console.print(f"Memory: {profile.memory_gb:g} GB", highlight=False)
    _console.print("Accelerators: " + ("none (CPU only)" if not profile.accelerators else ""), highlight=False)
    for accelerator in profile.accelerators:
        _console.print(f"  - {_accelerator_line(accelerator)}", highlight=False, markup=False)
    for warning in profile.warnings:
        _console.print(f"[yellow]warning:[/yellow] {warning}", highlight=False)


def print_recommendation(answer: Recommendation) -> None:
    # The answer first, as the form and the Markdown give it: what to use and its install command, then why, and
    # why not the runner-up.
    summary, first = summary_of(answer), answer.ranking[0]
    _console.print(Text(summary.headline, style="bold"))
    if first.supported:
        _console.print(Padding(Text(first.install), (0, 0, 0, 2)))
    lines = [(label, text) for label, text in (("why", summary.why), ("runner-up", summary.runner_up)) if text]
    if lines:
        _console.print(_hanging(lines))
    _console.print()
    table = Table(title=f"Frameworks for {', '.join(answer.goals)} ({answer.experience})")
    # "runs here" only of this machine; described hardware (or a stored probe's) is another machine
    runs = "runs here" if answer.hardware_source == "this-machine" else "supported"
    for column in ("rank", "framework", "score", runs, "device"):
        table.add_column(column, justify="right" if column in ("rank", "score") else "left")
    for item in answer.ranking:
        style = None if item.supported else "dim"
        table.add_row(str(item.rank), item.name, f"{item.score:.2f}", "yes" if item.supported else "no", item.device,
                      style=style)
    _console.print(table)
    if answer.confidence is not None:
        _console.print(answer.confidence.message, highlight=False, markup=False)
    measured = describe_measurements(answer.measurements) if answer.measurements is not None else "none"
    _console.print(f"Measurements used: {measured}.", style="dim", highlight=False, markup=False)
    _console.print(f"\n[bold]Why {first.name}[/bold]")
    folded = folded_line(first.reasons)  # reasons that did not count: one short line, not their text again
    _console.print(_hanging([(f"{reason.points:+.2f}", f"{reason.message} [{reason.rule}]")
                             for reason in first.reasons if reason.counted]
                            + ([("", folded)] if folded else [])))
    # The install command is in the headline above. Commands hold brackets (mlx[cpu]) that rich would read as
    # markup: plain Text, markup in headings only.
    starter = first.starter
    _console.print("\n[bold]Start[/bold]")
    _console.print(Padding(Text(f"write the starter with {starter_command(first)}, then: {starter.run}"),
                           (0, 0, 0, 2)))
    if answer.what_would_change:
        _console.print("\n[bold]What would change the answer[/bold]")
        _console.print(_hanging([("-", change.message) for change in answer.what_would_change]))
    _console.print(f"\nrule base {answer.rulebase.version}", style="dim")


class ProgressBar:
    """A probe's progress (probes.progress) as a bar on stderr for a terminal; silent otherwise (CI logs stay
    clean)."""

    def __init__(self, enabled: bool):
        self._progress = Progress(TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(),
                                  console=_stderr, transient=True, disable=not enabled)
        self._task = None

    def __enter__(self) -> ProgressBar:
        self._progress.__enter__()
        self._task = self._progress.add_task("inventory", total=100)
        return self

    def __exit__(self, *exc_info) -> None:
        self._progress.__exit__(*exc_info)

    def show(self, state: ProbeProgress) -> None:
        if state.phase == "done":
            description = "done"
        elif state.framework:
            description = f"{state.framework}: {state.step or 'starting'}"
        else:
            description = state.phase
        self._progress.update(self._task, description=description, completed=state.percent)


def _versus_fastest(framework: str, derived: DerivedFacts | None) -> str:
    if derived is None or derived.slowdown is None:
        return "-"
    if derived.fastest == framework:
        return "fastest"
    if derived.slowdown_range is None:  # figures without rounds, flagged noisy: no evidence
        return f"{ratio_text(derived.slowdown)} slower (noisy)"
    return f"{derived.slowdown_range.text()} slower" + (" (tied)" if derived.tied_with_fastest else "")


def _comparisons_table(report: ProbeReport) -> Table:
    """Each benchmark compared in rounds, at the size every framework in it ran: the ratio to the fastest."""
    table = Table(title="Compared in rounds (the same size for every framework)", **_LIGHT)
    for column in ("benchmark", "device", "size", "framework", "vs fastest (range over rounds)"):
        table.add_column(column, justify="right" if column == "size" else "left")
    for comparison in report.comparisons:
        fastest = comparison.fastest()
        for entry in comparison.frameworks:
            interval = comparison.slowdown(entry.framework, fastest)
            table.add_row(BENCHMARK_LABELS[comparison.benchmark], comparison.device, str(comparison.size),
                          entry.framework, "fastest" if entry.framework == fastest else f"{interval.text()} slower")
        for left in comparison.not_compared:
            table.add_row(BENCHMARK_LABELS[comparison.benchmark], comparison.device, "-", left.framework,
                          f"not compared: {left.reason}")
    return table


def measurement_notes(report: ProbeReport) -> list[str]:
    """What a reader of the figures should know about how they were taken: a busy machine, the threads."""
    notes = []
    conditions = report.conditions
    if conditions is not None and conditions.unreliable:
        notes.append(f"The machine was busy while this probe measured ({conditions.why}): it measured extra "
                     f"rounds, and its figures may be unreliable; probe again when the machine is quieter.")
    elif conditions is not None and conditions.busy:
        waited = f"waited for a CPU {conditions.waiting_percent:g}% of their turns" if conditions.waiting_percent \
            is not None else "were not measurably delayed"
        notes.append(f"The machine was busy ({conditions.why}): the workers ran on the idlest CPUs and {waited}, "
                     f"so the figures held.")
    if report.threads_note:
        notes.append(f"Threads: {report.threads_note}.")
    drifted = [run for run in report.calibrations if run.drift is not None and abs(run.drift - 1) > 0.15]
    if drifted:
        moved = ", ".join(f"{run.framework} {run.before_gflops:g} -> {run.after_gflops:g} GFLOP/s" for run in drifted)
        notes.append(f"The CPU's speed moved while the probe ran (calibration before and after: {moved}).")
    return notes


def _figure(result: FrameworkRun, name: str, cpu_percents_hold: bool) -> str:
    bench = next((b for b in result.benchmarks if b.name == name), None)
    if bench is None:
        return "-"
    shown = bench.percent_of_peak is not None and (bench.device != "cpu" or cpu_percents_hold)
    return f"{bench.value:.3g}" + (f" ({bench.percent_of_peak:.0f}%)" if shown else "")


def print_probe_summary(rulebase: RuleBase, report: ProbeReport, probe_id: str | None) -> None:
    table = Table(title=f"Probe of {report.host} ({'quick' if report.quick else 'full'}, {report.duration_s:.1f} s)",
                  **_LIGHT)
    # Headers broken where a person would break them; the version shares the framework's cell (its own line
    # when narrow), so that eight columns fit in 80 and only "vs fastest" wraps much.
    columns = ("framework", "import\ns", "matmul\nGFLOP/s\n(% peak)", "bandwidth\nGB/s", "dispatch\nus",
               "MLP\nsteps/s", "vs fastest")
    for column in columns:
        table.add_column(column, justify="left" if column in ("framework", "vs fastest") else "right",
                         overflow="fold")  # never an ellipsis: a cell too long for its column wraps
    failed = []
    for result in report.frameworks:
        if isinstance(result, FailedFramework):
            failed.append((result.framework, f"failed ({result.failure.kind}): {result.failure.message}"))
            version = report.versions.get(result.framework)
            table.add_row(Text.assemble(result.framework, *((" ", (version, "dim")) if version else ())),
                          "-", "-", "-", "-", "-", Text(f"failed: {result.failure.kind}", style="red"))
            continue
        holds = report.cpu_percents_hold()
        table.add_row(Text.assemble(result.framework, " ", (result.version, "dim")), f"{result.import_s:.2f}",
                      _figure(result, "matmul_fp32", holds), _figure(result, "elementwise_bandwidth", holds),
                      _figure(result, "dispatch_latency", holds), _figure(result, "mlp_step_eager", holds),
                      _versus_fastest(result.framework, report.derived.get(result.framework)))
    _console.print(table)
    if failed:
        _console.print(_hanging(failed, indent=0))
    if report.comparisons:
        _console.print(_comparisons_table(report))
    for note in measurement_notes(report):
        _console.print(note, style="yellow" if report.conditions and report.conditions.unreliable else "dim",
                       highlight=False, markup=False)
    if report.understated_cpu_peak is not None:
        peak = report.understated_cpu_peak
        _console.print(f"CPU percents of peak are not shown: {peak.framework} {peak.benchmark} reached "
                       f"{peak.figure_gflops:g} GFLOP/s, above the computed {peak.peak_gflops:g} GFLOP/s (the clock "
                       f"under load runs at {peak.clock_ghz_at_least} GHz or more)", style="dim", highlight=False)
    for skipped in report.skipped:
        _console.print(f"{skipped.framework}: skipped ({skipped.reason})", style="dim")
    for result in report.runs():
        for issue in result.unused_accelerators:
            fix = fix_for(rulebase, result.framework, issue, report.hardware)
            # plain text: a fix names install commands whose brackets (jax[cuda12]) markup would swallow
            _console.print(_hanging([(result.framework, f"does not use the {issue.kind} device: "
                                                        f"{issue.detail or issue.reason}. Fix: {fix}")], indent=0))
    if report.reused is not None:
        _console.print(f"Nothing was measured: {report.reused.why}.", highlight=False, markup=False)
    if probe_id:
        _console.print(f"stored as probe {probe_id}; `framework-advisor recommend` now uses these measurements",
                       style="dim")
