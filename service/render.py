"""Human-readable terminal output for the CLI (rich); the JSON stays the machine interface."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

_console = Console()


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
    _console.print(f"\n[bold]Install[/bold]\n  {first['install']}", highlight=False)
    starter = first["starter"]
    _console.print(f"\n[bold]Start[/bold]\n  save the starter as {starter['filename']} "
                   f"(framework-advisor recommend ... --json | jq -r '.ranking[0].starter.code'), "
                   f"then: {starter['run']}", highlight=False, markup=False)
    _console.print(f"\nrule base {answer['rulebase']['version']}", style="dim")
