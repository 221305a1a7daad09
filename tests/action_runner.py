"""Runs the composite GitHub Action (action.yml) here, step by step, the way a runner does.

Each `run:` step is executed with `bash --noprofile --norc -eo pipefail FILE` (the runner's `shell: bash`), with
its `env:` and script after substituting every ``${{ ... }}`` expression with test values: the inputs (the
declared defaults, overridden by the test), ``github.action_path`` (this repository), ``runner.temp`` (a temporary
directory), ``steps.ID.outputs.NAME`` (read back from the GITHUB_OUTPUT file of the steps that ran) and
``steps.ID.outcome``. The runner's variables are set as on GitHub (GITHUB_ACTIONS=true, GITHUB_ACTION_PATH,
RUNNER_TEMP, GITHUB_OUTPUT, a GITHUB_STEP_SUMMARY file shared by all steps, GITHUB_WORKSPACE as the working
directory). An expression this module does not know fails the test: nothing is silently left as text.

A `uses:` step (actions/cache, actions/upload-artifact) is not run: its condition and its `with:` are evaluated
and kept in ``ActionRun.used`` so the tests can check what it would have been given. As on GitHub, a step
without a condition runs only while every earlier step succeeded.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
ACTION_FILE = REPO_ROOT / "action.yml"
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}", re.DOTALL)
_COMPARISON = re.compile(r"^(?P<left>[\w.-]+)\s*(?P<op>==|!=)\s*'(?P<right>[^']*)'$")


def load_action() -> dict[str, Any]:
    return yaml.safe_load(ACTION_FILE.read_text(encoding="utf-8"))


def parse_output_file(path: Path) -> dict[str, str]:
    """A GITHUB_OUTPUT file: ``name=value`` lines and ``name<<DELIMITER`` blocks."""
    outputs: dict[str, str] = {}
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    index = 0
    while index < len(lines):
        line = lines[index]
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            end = lines.index(delimiter, index + 1)
            outputs[name] = "\n".join(lines[index + 1:end])
            index = end + 1
            continue
        name, _, value = line.partition("=")
        outputs[name] = value
        index += 1
    return outputs


@dataclass
class StepResult:
    id: str
    outcome: str  # success, failure or skipped
    returncode: int | None = None
    stdout: str = ""
    stderr: str = ""
    outputs: dict[str, str] = field(default_factory=dict)


class ActionRun:
    """One use of the action in one (simulated) job: ``run()`` runs its steps in order."""

    def __init__(self, root: Path, inputs: dict[str, str] | None = None, env: dict[str, str] | None = None,
                 action_path: Path = REPO_ROOT, job: str = "train"):
        self.action = load_action()
        declared = self.action["inputs"]
        unknown = set(inputs or {}) - set(declared)
        assert not unknown, f"the action declares no input {sorted(unknown)}"
        self.inputs = {name: str(spec.get("default", "")) for name, spec in declared.items()} | dict(inputs or {})
        self.root = root
        self.temp = root / "runner-temp"
        self.workspace = root / "workspace"
        self.summary = root / "step-summary.md"
        for folder in (self.temp, self.workspace):
            folder.mkdir(parents=True, exist_ok=True)
        self.summary.touch()
        self.action_path = action_path
        self.job = job
        self.env = dict(env if env is not None else os.environ)
        self.results: dict[str, StepResult] = {}
        self.used: dict[str, dict[str, Any]] = {}  # uses: step name -> {"uses", "if", "runs", "with"}

    # --- expressions -----------------------------------------------------------------------------------

    def value(self, expression: str) -> str:
        parts = expression.split(".")
        if parts[0] == "inputs" and len(parts) == 2:
            assert parts[1] in self.inputs, f"${{{{ {expression} }}}}: no such input"
            return self.inputs[parts[1]]
        if parts[0] == "steps" and len(parts) == 4 and parts[2] == "outputs":
            result = self.results.get(parts[1])
            return result.outputs.get(parts[3], "") if result else ""
        if parts[0] == "steps" and len(parts) == 3 and parts[2] == "outcome":
            result = self.results.get(parts[1])
            return result.outcome if result else "skipped"
        known = {"github.action_path": str(self.action_path), "runner.temp": str(self.temp),
                 "github.job": self.job, "github.workspace": str(self.workspace), "runner.os": "Linux"}
        assert expression in known, f"the test does not know the expression ${{{{ {expression} }}}}"
        return known[expression]

    def substitute(self, text: str) -> str:
        return EXPRESSION.sub(lambda match: self.value(match.group(1)), text)

    def condition(self, text: str | None, failed: bool) -> bool:
        """A step's `if:`: absent (success()), or `&&` of always(), success(), failure() and comparisons."""
        if text is None:
            return not failed
        result = True
        for term in (term.strip() for term in EXPRESSION.sub(r"\1", str(text)).split("&&")):
            if term in ("always()", "success()", "failure()"):
                result &= {"always()": True, "success()": not failed, "failure()": failed}[term]
                continue
            match = _COMPARISON.match(term)
            assert match, f"the test cannot evaluate the condition {term!r}"
            equal = self.value(match["left"]) == match["right"]
            result &= equal if match["op"] == "==" else not equal
        if not any(word in str(text) for word in ("always()", "failure()")):
            result &= not failed  # GitHub adds success() to a condition without a status function
        return result

    # --- running ---------------------------------------------------------------------------------------

    def runner_env(self, step_id: str) -> dict[str, str]:
        return self.env | {
            "GITHUB_ACTIONS": "true", "CI": "true", "GITHUB_ACTION_PATH": str(self.action_path),
            "RUNNER_TEMP": str(self.temp), "RUNNER_OS": "Linux", "GITHUB_WORKSPACE": str(self.workspace),
            "GITHUB_JOB": self.job, "GITHUB_STEP_SUMMARY": str(self.summary),
            "GITHUB_OUTPUT": str(self.temp / f"output-{step_id}"),
        }

    def run_step(self, index: int, step: dict[str, Any], timeout: float = 600) -> StepResult:
        step_id = step.get("id", f"step{index}")
        output_file = self.temp / f"output-{step_id}"
        output_file.unlink(missing_ok=True)
        output_file.touch()
        script = self.temp / f"script-{step_id}.sh"
        script.write_text(self.substitute(step["run"]), encoding="utf-8")
        env = self.runner_env(step_id) | {name: self.substitute(str(value))
                                          for name, value in (step.get("env") or {}).items()}
        completed = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
                                   capture_output=True, text=True, timeout=timeout, env=env, cwd=self.workspace)
        return StepResult(id=step_id, outcome="success" if completed.returncode == 0 else "failure",
                          returncode=completed.returncode, stdout=completed.stdout, stderr=completed.stderr,
                          outputs=parse_output_file(output_file))

    def run(self, until: str | None = None, start: str | None = None) -> ActionRun:
        """Run the steps in order, from the step with id ``start`` to the one with id ``until``, inclusive."""
        steps = self.action["runs"]["steps"]
        ids = [step.get("id", f"step{index}") for index, step in enumerate(steps)]
        first = ids.index(start) if start else 0
        last = ids.index(until) if until else len(steps) - 1
        failed = any(result.outcome == "failure" for result in self.results.values())
        for index in range(first, last + 1):
            step = steps[index]
            runs = self.condition(step.get("if"), failed)
            if "uses" in step:
                self.used[step.get("name", step["uses"])] = {
                    "uses": step["uses"], "if": step.get("if"), "runs": runs,
                    "with": {key: self.substitute(str(value)) for key, value in (step.get("with") or {}).items()}}
                continue
            if not runs:
                self.results[ids[index]] = StepResult(id=ids[index], outcome="skipped")
                continue
            result = self.run_step(index, step)
            self.results[result.id] = result
            failed |= result.outcome == "failure"
        return self

    @property
    def failed_step(self) -> StepResult | None:
        return next((result for result in self.results.values() if result.outcome == "failure"), None)

    def outputs(self) -> dict[str, str]:
        """The action's own outputs, as its caller would read them."""
        return {name: self.substitute(spec["value"]) for name, spec in self.action["outputs"].items()}

    def uploaded(self) -> dict[str, Any]:
        [upload] = [use for use in self.used.values() if use["uses"].startswith("actions/upload-artifact@")]
        return upload
