"""The GitHub Action (action.yml) and the CI examples (docs/ci/): their structure, and their command lines run for
real against the CLI.

tests/action_runner.py runs the action's `run:` steps with bash as a runner would, its expressions substituted
with test values; the light_install fixture (tests/conftest.py) is the action's own setup and install steps,
run once per session into a fresh virtualenv. The audits here check NumPy only (no benchmark figure), so each
takes seconds; the interpreter audited is this project's .venv python, which has NumPy, while the advisor's own
light virtualenv has none: an audit that checked its own interpreter could not pass.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from junitparser import JUnitXml

from tests.action_runner import ACTION_FILE, EXPRESSION, ActionRun, StepResult, load_action
from tests.conftest import REPO_ROOT

EXAMPLES = REPO_ROOT / "docs" / "ci"
JOB_PYTHON = Path(sys.executable)  # the project's .venv python: it has NumPy (the advisor's light venv has none)
NUMPY_POLICY = "version: 1\nrequirements:\n  - id: numpy-runs\n    framework: {name: numpy}\n"


def junit_counts(path: Path) -> dict[str, int]:
    [suite] = list(JUnitXml.fromfile(str(path)))
    return {"tests": suite.tests, "failures": suite.failures, "skipped": suite.skipped, "errors": suite.errors}


def strings(node):
    """Every string in a parsed YAML document (keys and values)."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from strings(key)
            yield from strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from strings(item)
    elif isinstance(node, str):
        yield node


def job_env() -> dict[str, str]:
    """The job's environment: its Python (this project's .venv) first on PATH, as after actions/setup-python;
    no FRAMEWORK_ADVISOR_* variables leak in from the developer's shell."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("FRAMEWORK_ADVISOR_")}
    return env | {"PATH": f"{JOB_PYTHON.parent}{os.pathsep}{os.environ.get('PATH', '')}"}


def audit_run(light_install, root: Path, inputs: dict[str, str], policy: str | None = NUMPY_POLICY) -> ActionRun:
    """The action's audit step and the steps after it, in a new job that reuses the session's install."""
    run = ActionRun(root, inputs=inputs, env=job_env())
    if policy is not None:
        (run.workspace / "policy.yaml").write_text(policy)
    run.results.update({step: light_install.results[step] for step in ("setup", "install")})
    return run.run(start="audit")


# --- the action's structure -----------------------------------------------------------------------------

def test_the_action_is_composite_and_every_run_step_has_a_shell():
    action = load_action()
    assert action["name"] and action["description"]
    assert action["runs"]["using"] == "composite"
    steps = action["runs"]["steps"]
    for step in steps:
        assert ("run" in step) != ("uses" in step), step.get("name")
        if "run" in step:
            assert step.get("shell") == "bash", f"{step.get('name')}: a composite run step needs shell: bash"
    uses = {step["uses"] for step in steps if "uses" in step}
    assert uses == {"actions/cache/restore@v4", "actions/cache/save@v4", "actions/upload-artifact@v4"}
    ids = [step["id"] for step in steps if "id" in step]
    assert len(ids) == len(set(ids)) and {"setup", "install", "audit"} <= set(ids)
    [upload] = [step for step in steps if step.get("uses", "").startswith("actions/upload-artifact@")]
    assert upload["if"].startswith("always()"), "the verdicts are uploaded when the audit fails too"


def test_every_expression_names_a_declared_input_or_an_earlier_step():
    action = load_action()
    declared = set(action["inputs"])
    steps = action["runs"]["steps"]
    ids = [step.get("id") for step in steps]
    used_inputs = set()

    def check(text: str, before: int):
        for expression in EXPRESSION.findall(text):
            for name in re.findall(r"\binputs\.([\w-]+)", expression):
                assert name in declared, f"${{{{ {expression} }}}}: input {name!r} is not declared"
                used_inputs.add(name)
            for step_id in re.findall(r"\bsteps\.([\w-]+)\.", expression):
                assert step_id in ids[:before], f"${{{{ {expression} }}}}: no earlier step {step_id!r}"

    for index, step in enumerate(steps):
        for key, value in step.items():
            if key == "if":  # a condition is an expression without the ${{ }}
                check(value if "${{" in value else "${{ " + value + " }}", index)
            elif key != "run":
                for text in strings(value):
                    check(text, index)
        # Inputs reach a script through env only: an expression spliced into a script is a script injection.
        assert "${{" not in step.get("run", ""), f"{step.get('name')}: an expression inside run"
    for output in action["outputs"].values():
        check(output["value"], len(steps))
    assert used_inputs == declared, f"declared but never used: {sorted(declared - used_inputs)}"
    # Nothing in the whole file, comments aside, names an input that is not declared.
    for name in re.findall(r"\binputs\.([\w-]+)", ACTION_FILE.read_text(encoding="utf-8")):
        assert name in declared, name


def test_every_input_and_output_has_a_row_in_docs_ci_md():
    action = load_action()
    assert set(action["outputs"]) == {"exit-code", "verdict", "junit", "json", "python"}
    documented = (REPO_ROOT / "docs" / "ci.md").read_text(encoding="utf-8")
    rows = {match for match in re.findall(r"^\| `([\w-]+)` \|", documented, re.MULTILINE)}
    assert set(action["inputs"]) | set(action["outputs"]) <= rows, "docs/ci.md's tables miss " + ", ".join(
        sorted(set(action["inputs"]) | set(action["outputs"]) - rows))


# --- the install step and its cache -------------------------------------------------------------------

def test_the_install_is_light_and_the_cache_saves_the_virtualenv_it_made(light_install):
    setup, install = light_install.results["setup"], light_install.results["install"]
    venv = Path(setup.outputs["venv"])
    assert venv.parent == light_install.temp  # under the runner's temp directory, outside the workspace
    assert Path(install.outputs["advisor"]) == venv / "bin" / "framework-advisor"
    assert "framework-advisor: installed framework-advisor " in install.stdout
    [restore] = [use for use in light_install.used.values() if use["uses"].startswith("actions/cache/restore@")]
    [save] = [use for use in light_install.used.values() if use["uses"].startswith("actions/cache/save@")]
    for cache in (restore, save):  # the directory the install step filled, under the key the setup step made
        assert cache["runs"] and cache["with"] == {"path": str(venv), "key": setup.outputs["cache-key"]}
    # Saved right after the install (not at the end of the job): a failed audit or training still caches it.
    steps = [step.get("uses") or step.get("id") for step in load_action()["runs"]["steps"]]
    assert steps.index("install") < steps.index(save["uses"]) < steps.index("audit")
    assert re.fullmatch(r"framework-advisor-linux-[\w]+-py3\.\d+\.\d+-[0-9a-f]{32}", setup.outputs["cache-key"])
    listed = subprocess.run([install.outputs["python"], "-m", "pip", "list", "--format=freeze"],
                            capture_output=True, text=True, timeout=120).stdout.lower()
    assert "framework-advisor==" in listed and "numpy==" not in listed and "torch==" not in listed


def test_a_restored_environment_is_used_without_installing_again(light_install):
    """The same cache key (the setup step's outputs of the session's install) and a virtualenv in place, as
    actions/cache leaves it on a hit: the install step checks it and installs nothing."""
    again = ActionRun(light_install.root, inputs={"advisor-python": sys.executable})
    again.results["setup"] = light_install.results["setup"]
    install = again.run(start="install", until="install").results["install"]
    assert install.outcome == "success", install.stdout + install.stderr
    assert "using the cached environment" in install.stdout and "installed" not in install.stdout
    assert install.outputs["advisor"] == light_install.results["install"].outputs["advisor"]


def test_an_environment_from_another_key_is_replaced(tmp_path):
    """A virtualenv whose stamp names another cache key (an older advisor) is removed and made anew; here the
    new one cannot be made (the base Python is /bin/false), which is a one-line error."""
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "framework-advisor").write_text("#!/bin/sh\necho framework-advisor 0.0.1\n")
    (venv / "bin" / "framework-advisor").chmod(0o755)
    (venv / ".framework-advisor-cache-key").write_text("framework-advisor-older\n")
    run = ActionRun(tmp_path / "job")
    run.results["setup"] = StepResult(id="setup", outcome="success", outputs={
        "base-python": "/bin/false", "venv": str(venv), "cache-key": "framework-advisor-newer"})
    install = run.run(start="install", until="install").results["install"]
    assert install.returncode == 2 and not venv.exists()
    assert install.stdout.splitlines() == [
        "::error title=framework-advisor action::cannot create a virtualenv with /bin/false (Debian/Ubuntu: "
        "apt-get install python3-venv; or run actions/setup-python first)"]


def _action_copy(tmp_path: Path) -> Path:
    copy = tmp_path / "action"
    copy.mkdir()
    for name in ("pyproject.toml", "constraints.txt"):
        shutil.copy(REPO_ROOT / name, copy / name)
    for folder in ("service", "rules", "probes"):
        shutil.copytree(REPO_ROOT / folder, copy / folder, ignore=shutil.ignore_patterns("__pycache__"))
    return copy


def test_the_cache_key_changes_with_pyproject_constraints_and_sources(tmp_path):
    copy = _action_copy(tmp_path)

    def key() -> str:
        run = ActionRun(tmp_path / "job", inputs={"advisor-python": sys.executable}, action_path=copy)
        run.run(until="setup")
        assert run.results["setup"].outcome == "success", run.results["setup"].stdout
        return run.results["setup"].outputs["cache-key"]

    first = key()
    assert key() == first
    (copy / "probes" / "__pycache__").mkdir(exist_ok=True)
    (copy / "probes" / "__pycache__" / "x.pyc").write_bytes(b"compiled")  # byte code is not the source
    assert key() == first
    keys = {first}
    for changed in ("constraints.txt", "pyproject.toml", "probes/target.py", "rules/base/frameworks.yaml"):
        with (copy / changed).open("a", encoding="utf-8") as handle:
            handle.write("\n# changed\n")
        keys.add(key())
    assert len(keys) == 5


@pytest.mark.parametrize("advisor_python,message", [
    ("no-such-python", "advisor-python: 'no-such-python' is not a command on PATH or an executable file"),
    ("old-python", "advisor-python: {path} is Python 3.10; the advisor's own environment needs Python 3.11 or newer"),
    ("/bin/true", "advisor-python: /bin/true is not a Python interpreter (it could not report its version)"),
])
def test_an_unusable_python_for_the_advisor_is_one_line_and_installs_nothing(tmp_path, advisor_python, message):
    if advisor_python == "old-python":
        fake = tmp_path / "python3.10"  # answers as a Python 3.10 would to the version question
        fake.write_text("#!/bin/sh\necho 3.10\n")
        fake.chmod(0o755)
        advisor_python = str(fake)
    run = ActionRun(tmp_path / "job", inputs={"advisor-python": advisor_python}).run()
    setup = run.results["setup"]
    assert setup.returncode == 2
    [line] = [line for line in setup.stdout.splitlines() if line.startswith("::error")]
    assert line.startswith("::error title=framework-advisor action::" + message.format(path=advisor_python))
    assert run.results["install"].outcome == "skipped" and run.results["audit"].outcome == "skipped"
    assert not run.uploaded()["runs"]  # nothing was audited, nothing to upload


def test_an_action_path_without_the_advisor_is_one_line(tmp_path):
    (tmp_path / "empty").mkdir()
    run = ActionRun(tmp_path / "job", action_path=tmp_path / "empty").run()
    setup = run.results["setup"]
    assert setup.returncode == 2 and setup.stdout.splitlines() == [
        f"::error title=framework-advisor action::no framework-advisor checkout at GITHUB_ACTION_PATH "
        f"({tmp_path / 'empty'}): use it as uses: OWNER/framework-advisor@REF"]
    assert run.results["install"].outcome == "skipped"


# --- the audit step -------------------------------------------------------------------------------------

def test_the_action_audits_the_jobs_own_python_and_passes(light_install, tmp_path):
    run = audit_run(light_install, tmp_path, {
        "policy": "policy.yaml", "quick": "true", "strict": "true",
        "require": "# a comment, then a blank line\n\n   framework:numpy>=1  \n"})
    audit = run.results["audit"]
    assert audit.returncode == 0, audit.stdout + audit.stderr
    assert run.outputs() == {"exit-code": "0", "verdict": "passed", "junit": "framework-advisor-audit.xml",
                             "json": "framework-advisor-audit.json", "python": str(JOB_PYTHON)}
    assert junit_counts(run.workspace / "framework-advisor-audit.xml") == {
        "tests": 2, "failures": 0, "skipped": 0, "errors": 0}
    verdict = json.loads((run.workspace / "framework-advisor-audit.json").read_text())
    assert verdict["strict"] is True and verdict["report"]["quick"] is True
    # The job's interpreter was measured, not the advisor's own (which has no NumPy).
    assert verdict["report"]["python"]["executable"] == str(JOB_PYTHON)
    assert verdict["report"]["python"]["own"] is False
    assert [measured["framework"] for measured in verdict["report"]["frameworks"]] == ["numpy"]
    summary = run.summary.read_text(encoding="utf-8")
    assert summary.startswith("## framework-advisor audit on ") and ": ✅ passed" in summary.splitlines()[0]
    assert "| `numpy-runs` | ✅ passed |" in summary and "| `framework:numpy>=1` | ✅ passed |" in summary
    upload = run.uploaded()
    assert upload["runs"] and upload["with"]["name"] == "framework-advisor-audit-train"
    paths = upload["with"]["path"].split()
    assert paths == ["framework-advisor-audit.xml", "framework-advisor-audit.json"]
    assert all((run.workspace / path).is_file() for path in paths)


def test_a_failing_audit_fails_the_step_and_still_uploads_the_verdicts(light_install, tmp_path):
    run = audit_run(light_install, tmp_path, {"require": "framework:numpy<1", "junit": "reports/audit.xml",
                                              "json": "reports/audit.json", "artifact-name": "gpu-audit"},
                    policy=None)
    audit = run.results["audit"]
    assert audit.outcome == "failure" and audit.returncode == 1
    assert run.outputs()["exit-code"] == "1" and run.outputs()["verdict"] == "failed"
    assert "::error title=audit failed%3A framework%3Anumpy<1::" in audit.stdout
    assert junit_counts(run.workspace / "reports" / "audit.xml") == {
        "tests": 1, "failures": 1, "skipped": 0, "errors": 0}
    assert "❌ failed" in run.summary.read_text(encoding="utf-8")
    upload = run.uploaded()
    assert upload["runs"] and upload["with"]["name"] == "gpu-audit"
    assert all((run.workspace / path).is_file() for path in upload["with"]["path"].split())


def test_an_upload_can_be_turned_off(light_install, tmp_path):
    run = audit_run(light_install, tmp_path, {"policy": "policy.yaml", "upload-artifact": "false"})
    assert run.results["audit"].returncode == 0
    assert not run.uploaded()["runs"]


@pytest.mark.parametrize("inputs,message", [
    ({"quick": "yes"}, "::error title=framework-advisor action::input quick must be true or false, not 'yes'"),
    ({"json": "-"}, "::error title=framework-advisor action::input json must name a file, not '-'"),
    ({"python": "no-such-python"}, "::error title=framework-advisor action::python: 'no-such-python' is not a "
                                   "command on PATH or an executable file"),
    ({"policy": "missing.yaml"}, "framework-advisor: error: missing.yaml:1:1: cannot read"),
    ({}, "framework-advisor: error: nothing to check: give --policy FILE or --require REQ"),
])
def test_a_mistake_in_the_inputs_is_one_line_and_exit_2(light_install, tmp_path, inputs, message):
    run = audit_run(light_install, tmp_path, inputs, policy=None)
    audit = run.results["audit"]
    assert audit.returncode == 2
    assert run.outputs()["exit-code"] == "2" and run.outputs()["verdict"] == "usage-error"
    lines = (audit.stdout + audit.stderr).splitlines()
    assert any(line.startswith(message) for line in lines), lines
    assert not (run.workspace / "framework-advisor-audit.xml").exists()


# --- the GitHub Actions example -------------------------------------------------------------------------

def _workflow() -> dict:
    document = yaml.safe_load((EXAMPLES / "github-actions.yml").read_text(encoding="utf-8"))
    document["on"] = document.pop(True, document.get("on"))  # YAML 1.1 reads the key `on` as True
    return document


def test_the_github_example_audits_and_trains_in_one_job_with_the_action():
    from framework_advisor.audit.policy import load_policy, parse_require

    workflow = _workflow()
    assert workflow["on"]
    [(name, job)] = workflow["jobs"].items()  # one job: audit and training on the same runner
    assert "needs" not in job
    steps = job["steps"]
    [action_index] = [i for i, step in enumerate(steps) if re.fullmatch(r"[\w-]+/framework-advisor@v\d+",
                                                                        step.get("uses", ""))]
    runs = [(i, step["run"]) for i, step in enumerate(steps) if "run" in step]
    installs = [i for i, script in runs if "pip install" in script]
    trains = [i for i, script in runs if "train" in script]
    assert installs and max(installs) < action_index < min(trains), "install the training env, audit, then train"
    options = steps[action_index]["with"]
    assert set(options) <= set(load_action()["inputs"]), set(options) - set(load_action()["inputs"])
    load_policy(REPO_ROOT / options["policy"])
    for line in options.get("require", "").splitlines():
        if line.strip():
            parse_require(line.strip())
    assert "python" not in options or options["python"] == "python"  # the job's own, on PATH
    assert options["token"] == "${{ secrets.FRAMEWORK_ADVISOR_TOKEN }}"  # a secret, never a literal
    assert not any("framework-advisor audit" in script for _, script in runs), "the action runs the audit"


# --- the GitLab CI example --------------------------------------------------------------------------------

GITLAB_KEYWORDS = {"stages", "variables", "default", "include", "workflow", "image", "services", "cache",
                   "before_script", "after_script"}


def _gitlab_job() -> tuple[str, dict]:
    document = yaml.safe_load((EXAMPLES / "gitlab-ci.yml").read_text(encoding="utf-8"))
    jobs = {name: job for name, job in document.items() if name not in GITLAB_KEYWORDS and not name.startswith(".")}
    [(name, job)] = jobs.items()  # one job: audit and training on the same runner
    return name, job


def test_the_gitlab_example_audits_and_trains_in_one_job_and_caches_the_advisor():
    from framework_advisor.audit.policy import load_policy
    from framework_advisor.cli import build_parser

    _, job = _gitlab_job()
    assert "needs" not in job
    script = job["script"]
    [install] = [i for i, line in enumerate(script) if "python -m venv \"$ADVISOR_VENV\"" in line]
    [audit] = [i for i, line in enumerate(script) if " audit " in line]
    trains = [i for i, line in enumerate(script) if "train.py" in line]
    training_env = [i for i, line in enumerate(script) if "pip install -r" in line]
    assert max(training_env) < install < audit < min(trains)
    assert "-c " in script[install] and "constraints.txt" in script[install]
    variables = job["variables"]
    venv = variables["ADVISOR_VENV"]
    assert venv.startswith("$CI_PROJECT_DIR/")  # GitLab caches only paths inside the project
    assert any(venv.removeprefix("$CI_PROJECT_DIR/") in entry["paths"] for entry in job["cache"])
    argv = shlex.split(script[audit])
    assert argv[0] == "$ADVISOR_VENV/bin/framework-advisor"
    args = build_parser().parse_args(argv[1:])
    assert args.command == "audit" and args.python == "$(command -v python)"
    assert args.policy == Path("$AUDIT_POLICY")
    load_policy(REPO_ROOT / variables["AUDIT_POLICY"])
    assert job["artifacts"]["when"] == "always"
    assert job["artifacts"]["reports"]["junit"] == str(args.junit) and str(args.junit) in job["artifacts"]["paths"]
    assert args.json_out in job["artifacts"]["paths"]


def test_the_gitlab_example_command_lines_run_against_the_cli(light_install, tmp_path):
    """The example's install line (its cached-environment branch) and audit line, run with bash as GitLab
    would, with the advisor's venv from the session's install and a NumPy-only policy for AUDIT_POLICY."""
    _, job = _gitlab_job()
    (tmp_path / "policy.yaml").write_text(NUMPY_POLICY)
    env = job_env() | {"ADVISOR_VENV": light_install.results["setup"].outputs["venv"], "ADVISOR_REF": "v1.0.0",
                       "AUDIT_POLICY": "policy.yaml", "CI_PROJECT_DIR": str(tmp_path), "CI": "true"}
    script = job["script"]
    [install] = [line for line in script if "python -m venv" in line]
    [audit] = [line for line in script if " audit " in line]
    cached = subprocess.run(["bash", "-eo", "pipefail", "-c", install], capture_output=True, text=True,
                            timeout=120, cwd=tmp_path, env=env)
    assert cached.returncode == 0 and cached.stdout.startswith("framework-advisor "), cached.stderr
    done = subprocess.run(["bash", "-eo", "pipefail", "-c", audit], capture_output=True, text=True, timeout=300,
                          cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert junit_counts(tmp_path / "audit.xml") == {"tests": 1, "failures": 0, "skipped": 0, "errors": 0}
    report = json.loads((tmp_path / "audit.json").read_text())["report"]
    assert report["python"]["executable"] == str(JOB_PYTHON) and report["python"]["own"] is False
