"""Human-readable terminal output for the CLI (rich); the JSON stays the machine interface."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

_console = Console()
_stderr = Console(stderr=True)


def _accelerator_line(accelerator: dict[str, Any]) -> str:
    memory = f", {accelerator['memory_gb']:g} GB" if "memory_gb" in accelerator else ""
    return f"{accelerator.get('count', 1)} x {accelerator['name']} ({accelerator['kind']}{memory})"


def print_hardware(profile: dict[str, Any]) -> None:
    cpu = profile.get("cpu", {})
    _console.print(f"[bold]{profile['os']} {profile['arch']}[/bold]")
    if cpu:
        _console.print(f"CPU: {cpu['model']}, {cpu['cores']} cores", highlight=False)
    if "memory_gb" in profile:
        _console.print(f"Memory: {profile['memory_gb']:g} GB", highlight=False)
    accelerators = profile.get("accelerators", [])
    _console.print("Accelerators: " + ("none (CPU only)" if not accelerators else ""), highlight=False)
    for accelerator in accelerators:
        _console.print(f"  - {_accelerator_line(accelerator)}", highlight=False, markup=False)
    for warning in profile.get("warnings", []):
        _console.print(f"[yellow]warning:[/yellow] {warning}", highlight=False)


def print_recommendation(answer: dict[str, Any]) -> None:
    table = Table(title=f"Frameworks for {', '.join(answer['goals'])} ({answer['experience']})")
    for column in ("rank", "framework", "score", "runs here", "device"):
        table.add_column(column, justify="right" if column in ("rank", "score") else "left")
    for item in answer["ranking"]:
        style = None if item["supported"] else "dim"
        table.add_row(str(item["rank"]), item["name"], f"{item['score']:.2f}",
                      "yes" if item["supported"] else "no", item["device"], style=style)
    _console.print(table)
    _console.print(answer["confidence"]["message"], highlight=False, markup=False)
    first = answer["ranking"][0]
    _console.print(f"\n[bold]Why {first['name']}[/bold]")
    for reason in first["reasons"]:
        counted = "" if reason.get("counted", True) else " (counted once in its group)"
        _console.print(f"  {reason['points']:+.2f}  {reason['message']} [{reason['rule']}]{counted}",
                       highlight=False, markup=False)
    # Install commands hold brackets (mlx[cpu]) that rich would read as markup: headings only.
    _console.print("\n[bold]Install[/bold]")
    _console.print(f"  {first['install']}", highlight=False, markup=False)
    starter = first["starter"]
    _console.print("\n[bold]Start[/bold]")
    _console.print(f"  save the starter as {starter['filename']} "
                   f"(framework-advisor recommend ... --json | jq -r '.ranking[0].starter.code'), "
                   f"then: {starter['run']}", highlight=False, markup=False)
    _console.print(f"\nrule base {answer['rulebase']['version']}", style="dim")


class ProbeProgress:
    """A progress bar on stderr for a terminal; silent otherwise (CI logs stay clean)."""

    def __init__(self, enabled: bool):
        self._progress = Progress(TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(),
                                  console=_stderr, transient=True, disable=not enabled)
        self._task = None
        self._framework_total = 1
        self._index = 0

    def __enter__(self) -> ProbeProgress:
        self._progress.__enter__()
        self._task = self._progress.add_task("inventory", total=100)
        return self

    def __exit__(self, *exc_info) -> None:
        self._progress.__exit__(*exc_info)

    def __call__(self, event: dict[str, Any]) -> None:
        if event.get("phase") == "framework":
            self._index, self._framework_total = event["index"], max(1, event["total"])
            self._progress.update(self._task, description=f"{event['framework']}: starting",
                                  completed=100 * self._index / self._framework_total)
        elif "step" in event:
            inside = event.get("done", 0) / event["total"] if event.get("total") else 0
            self._progress.update(self._task, description=f"{event.get('framework', '')}: {event['step']}",
                                  completed=100 * (self._index + inside) / self._framework_total)
        elif event.get("phase") == "done":
            self._progress.update(self._task, description="done", completed=100)


def _figure(result: dict[str, Any], name: str) -> str:
    bench = next((b for b in result.get("benchmarks", []) if b["name"] == name), None)
    if bench is None:
        return "-"
    peak = f" ({bench['percent_of_peak']:.0f}%)" if "percent_of_peak" in bench else ""
    return f"{bench['value']:.3g}{peak}"


def print_probe_summary(report: dict[str, Any], probe_id: str | None) -> None:
    table = Table(title=f"Probe of {report['host']} ({'quick' if report.get('quick') else 'full'}, "
                        f"{report['duration_s']:.1f} s)")
    columns = ("framework", "version", "import s", "matmul GFLOP/s (% peak)", "bandwidth GB/s",
               "dispatch us", "MLP steps/s", "vs fastest")
    for column in columns:
        table.add_column(column, justify="left" if column in ("framework", "version") else "right")
    for result in report["frameworks"]:
        derived = report["derived"].get(result["framework"], {})
        if "failure" in result:
            failure = result["failure"]
            table.add_row(result["framework"], "", "", f"[red]{failure['kind']}[/red]: {failure['message'][:60]}",
                          "", "", "", "")
            continue
        slowdown = derived.get("slowdown")
        table.add_row(result["framework"], result.get("version", ""), f"{result.get('import_s', 0):.2f}",
                      _figure(result, "matmul_fp32"), _figure(result, "elementwise_bandwidth"),
                      _figure(result, "dispatch_latency"), _figure(result, "mlp_step_eager"),
                      "fastest" if slowdown == 1.0 else f"{slowdown:.1f}x slower" if slowdown else "-")
    _console.print(table)
    for skipped in report.get("skipped", []):
        _console.print(f"{skipped['framework']}: skipped ({skipped['reason']})", style="dim")
    for result in report["frameworks"]:
        for issue in result.get("unused_accelerators", []):
            _console.print(f"[yellow]{result['framework']}[/yellow] does not use the {issue['kind']} device: "
                           f"{issue.get('detail', issue['reason'])}. Fix: {issue.get('fix', 'see the docs')}",
                           highlight=False)
    if probe_id:
        _console.print(f"stored as probe {probe_id}; `framework-advisor recommend` now uses these measurements",
                       style="dim")
