"""`framework-advisor starter FRAMEWORK [--device D] [--goal G] [--write FILE [--force]]`: the program of
GET /v1/starters/{framework}, printed or written to a new file; every mistake one line, exit 2, nothing created."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import REPO_ROOT
from tests.service_fixtures import run_cli




@pytest.mark.parametrize("framework,device,goal", [("pytorch", "cuda", "research"), ("jax", "cpu", None),
                                                   ("mlx", "apple-gpu", "apple-on-device"),
                                                   ("tensorflow", "cpu", "production"),
                                                   ("numpy", "cpu", "scientific-computing")])
def test_starter_prints_the_programme_the_api_serves(client, capsys, framework, device, goal):
    argv = ["starter", framework, "--device", device] + (["--goal", goal] if goal else [])
    code, out, err = run_cli(capsys, *argv)
    assert code == 0 and err == ""
    query = f"device={device}" + (f"&goal={goal}" if goal else "")
    served = client.get(f"/v1/starters/{framework}?{query}").json
    assert out == served["code"]
    compile(out, served["filename"], "exec")


def test_starter_write_writes_a_file_that_compiles_and_refuses_to_overwrite(tmp_path, capsys):
    target = tmp_path / "train.py"
    code, out, err = run_cli(capsys, "starter", "pytorch", "--device", "cuda", "--write", str(target))
    assert code == 0 and err == ""
    assert str(target) in out and "python" in out
    written = target.read_text(encoding="utf-8")
    compile(written, str(target), "exec")
    assert 'DEVICE = "cuda"' in written

    code, out, err = run_cli(capsys, "starter", "pytorch", "--device", "cpu", "--write", str(target))
    assert code == 2 and out == ""
    assert err.startswith("framework-advisor: error: ") and "exists" in err and "--force" in err
    assert len(err.strip().splitlines()) == 1
    assert target.read_text(encoding="utf-8") == written  # untouched

    os.chmod(target, 0o640)
    code, _, _ = run_cli(capsys, "starter", "pytorch", "--device", "cpu", "--write", str(target), "--force")
    assert code == 0
    replaced = target.read_text(encoding="utf-8")
    assert 'DEVICE = "cpu"' in replaced and replaced != written
    compile(replaced, str(target), "exec")
    assert os.stat(target).st_mode & 0o777 == 0o640  # replaced in place of the old file, with its mode
    assert sorted(path.name for path in tmp_path.iterdir()) == ["train.py"]  # no temporary file left


@pytest.mark.parametrize("argv,needle", [
    (["starter", "pytorhc", "--write", "{dir}/x.py"], "no framework 'pytorhc'; one of: pytorch"),
    (["starter", "numpy", "--device", "cuda", "--write", "{dir}/x.py"], "NumPy has no starter for device 'cuda'"),
    (["starter", "jax", "--device", "gpu", "--write", "{dir}/x.py"], "unknown device 'gpu'"),
    (["starter", "jax", "--goal", "gardening", "--write", "{dir}/x.py"], "unknown goal 'gardening'"),
    (["starter", "jax", "--write", "{dir}/missing/x.py"], "does not exist"),
    (["starter", "jax", "--write", "{dir}"], "is a directory"),
    (["starter", "jax", "--force"], "--force only applies with --write"),
])
def test_starter_mistakes_are_one_line_exit_2_and_create_nothing(tmp_path, capsys, argv, needle):
    before = sorted(tmp_path.rglob("*"))
    code, out, err = run_cli(capsys, *[part.format(dir=tmp_path) for part in argv])
    assert code == 2 and out == ""
    assert err.startswith("framework-advisor: error: ") and needle in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert sorted(tmp_path.rglob("*")) == before


def test_starter_runs_as_an_installed_command(tmp_path):
    result = subprocess.run([sys.executable, "-m", "framework_advisor", "starter", "numpy", "--write",
                             str(tmp_path / "np.py")], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    compile((tmp_path / "np.py").read_text(encoding="utf-8"), "np.py", "exec")


@pytest.mark.parametrize("goals,hardware", [(["research"], "h100"), (["production", "learning"], "windows")])
def test_the_command_an_answer_names_writes_that_answers_starter(tmp_path, capsys, monkeypatch, goals, hardware):
    """The table, the Markdown and the HTML tell the user `framework-advisor starter ... --write FILE`: for every
    framework it writes exactly the program the recommendation holds."""
    import shlex

    import framework_advisor
    from framework_advisor.rules.markup import starter_command
    from tests.test_markdown import WINDOWS_LAPTOP
    from tests.test_python_api import H100_SERVER

    answer = framework_advisor.recommend(goals, "expert", H100_SERVER if hardware == "h100" else WINDOWS_LAPTOP)
    monkeypatch.chdir(tmp_path)
    for item in answer.ranking:
        command = shlex.split(starter_command(item))
        assert command[0] == "framework-advisor"
        code, _, err = run_cli(capsys, *command[1:])
        assert code == 0, err
        assert (tmp_path / item.starter.filename).read_text(encoding="utf-8") == item.starter.code
