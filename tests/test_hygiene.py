"""Process and lock hygiene (issue 13, 6): the probe lock lives in the data directory, is never opened through a
symbolic link and never used when another user owns it; a worker dies with its parent, whatever it is doing;
the scratch folders of killed runs are removed at the next start; secrets never reach framework code."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

from framework_advisor.app import create_app
from framework_advisor.config import Settings, probe_lock_path
from framework_advisor.probe_jobs import ProbeLockError, machine_probe_lock
from framework_advisor.probes.hygiene import is_secret, remove_stale_scratch, worker_environment
from framework_advisor.probes.runner import WorkerLimits
from framework_advisor.probes.workers import WorkerProcess
from framework_advisor.storage import StoreError
from tests.conftest import REPO_ROOT
from tests.service_fixtures import FakeProbe, run_cli

# --- the probe lock ---------------------------------------------------------------------------------------------


def test_the_lock_lives_in_the_data_directory_not_in_a_shared_one(tmp_path, monkeypatch):
    assert Settings(data_dir=tmp_path / "d").probe_lock_path == tmp_path / "d" / "probe.lock"
    # No data directory (probe --no-store, audit): the one it would use if it exists, else the runtime directory.
    monkeypatch.setenv("FRAMEWORK_ADVISOR_DATA_DIR", str(tmp_path / "missing"))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "run"))
    (tmp_path / "run").mkdir()
    assert probe_lock_path() == tmp_path / "run" / "framework-advisor" / "probe.lock"
    (tmp_path / "missing").mkdir()
    assert probe_lock_path() == tmp_path / "missing" / "probe.lock"
    monkeypatch.delenv("FRAMEWORK_ADVISOR_DATA_DIR")
    monkeypatch.delenv("XDG_RUNTIME_DIR")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "share"))
    assert probe_lock_path() == tmp_path / "share" / "framework-advisor" / "probe.lock"
    assert not str(probe_lock_path()).startswith("/tmp/framework-advisor")


def test_a_symbolic_link_at_the_lock_is_refused_and_its_target_never_created(tmp_path):
    target = tmp_path / "victim" / ".bashrc"
    target.parent.mkdir()
    lock = tmp_path / "probe.lock"
    lock.symlink_to(target)
    with pytest.raises(ProbeLockError) as caught:
        with machine_probe_lock(path=lock):
            pass
    assert "symbolic link" in str(caught.value) and str(lock) in str(caught.value)
    assert not target.exists()  # O_NOFOLLOW: nothing was created (or locked) through the link


def test_a_fifo_at_the_lock_is_refused(tmp_path):
    lock = tmp_path / "probe.lock"
    os.mkfifo(lock)
    with pytest.raises(ProbeLockError, match="not a regular file"):
        with machine_probe_lock(path=lock, blocking=False):
            pass


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a file to another user needs root")
def test_a_lock_file_another_user_owns_is_refused_with_a_clear_message(tmp_path):
    lock = tmp_path / "probe.lock"
    lock.write_bytes(b"")
    os.chown(lock, 4242, 4242)
    with pytest.raises(ProbeLockError) as caught:
        with machine_probe_lock(path=lock, blocking=False):
            pass
    message = str(caught.value)
    assert "belongs to another user" in message and "uid 4242" in message and "--data-dir" in message


def test_a_planted_lock_stops_the_service_at_start_up_in_one_line(tmp_path, capsys):
    data = tmp_path / "data"
    data.mkdir()
    (data / "probe.lock").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(StoreError, match="symbolic link"):
        create_app(Settings(data_dir=data), run_probe=FakeProbe())
    code, _, err = run_cli(capsys, "serve", "--data-dir", str(data), "--port", "8999")
    assert code == 2 and err.count("\n") == 1 and "symbolic link" in err
    assert not (tmp_path / "elsewhere").exists()


def test_the_cli_probe_refuses_a_planted_lock_in_one_line(tmp_path, capsys):
    data = tmp_path / "data"
    data.mkdir()
    (data / "probe.lock").symlink_to(tmp_path / "elsewhere")
    code, _, err = run_cli(capsys, "probe", "--quick", "--frameworks", "numpy", "--data-dir", str(data))
    assert code == 2 and err.count("\n") == 1 and "symbolic link" in err and "nothing was measured" in err


# --- a worker dies with its parent ------------------------------------------------------------------------------

# A worker that watches its parent as the real one does (worker/__main__.py's first line), starts a child of its
# own, says who they are, then is "busy" (reads nothing from the parent, as during an import or a long sample).
_BUSY_WORKER = textwrap.dedent("""
    import os, subprocess, sys, time
    from framework_advisor.probes.worker.watchdog import watch_parent
    watching = watch_parent()
    child = subprocess.Popen(["sleep", "300"])
    with open(sys.argv[1], "w") as out:
        out.write(f"{os.getpid()} {child.pid} {watching} {os.environ.get('FRAMEWORK_ADVISOR_WATCHDOG_FD')}")
    time.sleep(300)
""")
_PARENT = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from framework_advisor.probes.runner import WorkerLimits
    from framework_advisor.probes.workers import WorkerProcess
    worker = WorkerProcess("numpy", lambda out, fd: [sys.executable, "-c", sys.argv[1], sys.argv[2]],
                           WorkerLimits(timeout_s=600, memory_bytes=2**34))
    time.sleep(300)
""")


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _wait(condition, timeout_s: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def test_a_busy_worker_and_its_children_die_when_the_parent_is_killed(tmp_path):
    said = tmp_path / "pids"
    parent = subprocess.Popen([sys.executable, "-c", _PARENT, _BUSY_WORKER, str(said)], cwd=REPO_ROOT)
    try:
        assert _wait(lambda: said.exists() and said.read_text().count(" ") == 3), "the worker never started"
        worker_pid, child_pid, watching, leaked = said.read_text().split()
        assert watching == "True" and leaked == "None"  # the variable is gone before framework code runs
        worker_pid, child_pid = int(worker_pid), int(child_pid)
        assert not _gone(worker_pid) and not _gone(child_pid)
        parent.send_signal(signal.SIGKILL)  # no clean-up code of the parent's can run
        parent.wait()
        # Bounded by counting what is left, not by a time figure: both are gone (the wait only bounds the test).
        assert _wait(lambda: _gone(worker_pid) and _gone(child_pid)), \
            [p.status() for p in map(psutil.Process, (worker_pid, child_pid)) if psutil.pid_exists(p.pid)]
    finally:
        parent.kill()
        parent.wait()


def test_a_worker_outlives_nothing_but_stays_while_its_parent_does(tmp_path):
    """The watch kills only on the parent's end closing: a worker whose parent lives is left to work."""
    said = tmp_path / "pids"
    worker = WorkerProcess("numpy", lambda out, fd: [sys.executable, "-c", _BUSY_WORKER, str(said)],
                           WorkerLimits(timeout_s=600, memory_bytes=2**34))
    try:
        assert _wait(lambda: said.exists() and said.read_text().count(" ") == 3)
        worker_pid, child_pid = map(int, said.read_text().split()[:2])
        time.sleep(0.5)
        assert not _gone(worker_pid) and not _gone(child_pid)
    finally:
        worker.stop()  # kills its group and closes the watchdog's end
    assert _wait(lambda: _gone(worker_pid) and _gone(child_pid))


# --- scratch folders of killed runs -----------------------------------------------------------------------------

def _dead_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def test_only_scratch_folders_whose_owner_is_gone_are_removed(tmp_path):
    dead, alive = _dead_pid(), os.getpid()
    stale = [tmp_path / f"framework-advisor-worker-{dead}-abc123", tmp_path / f"framework-advisor-worker-code-{dead}-x_1",
             tmp_path / f"framework-advisor-bench-{dead}-q9"]
    live = tmp_path / f"framework-advisor-worker-{alive}-def456"
    unnamed = tmp_path / "framework-advisor-worker-k2j3h4"  # before folders carried their owner: left alone
    other = tmp_path / f"something-else-{dead}-abc"
    for folder in (*stale, live, unnamed, other):
        (folder / "inductor").mkdir(parents=True)
        (folder / "inductor" / "kernel.cpp").write_text("x")
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "keep.txt").write_text("mine")
    link = tmp_path / f"framework-advisor-worker-{dead}-link"
    link.symlink_to(victim)  # a link named like a folder: never followed, never removed through
    removed = remove_stale_scratch(tmp_path)
    assert sorted(removed) == sorted(stale)
    assert not any(folder.exists() for folder in stale)
    assert live.exists() and unnamed.exists() and other.exists() and link.is_symlink()
    assert (victim / "keep.txt").read_text() == "mine"


def test_a_reused_pid_does_not_keep_a_stale_folder(tmp_path):
    """A folder older than the process now holding its owner's id belonged to an earlier process."""
    folder = tmp_path / f"framework-advisor-worker-{os.getppid()}-old"
    folder.mkdir()
    started = psutil.Process(os.getppid()).create_time()
    os.utime(folder, (started - 3600, started - 3600))
    assert remove_stale_scratch(tmp_path) == [folder]


def test_scratch_folders_are_named_after_their_owner(tmp_path):
    said = tmp_path / "pids"
    worker = WorkerProcess("numpy", lambda out, fd: [sys.executable, "-c", _BUSY_WORKER, str(said)],
                           WorkerLimits(timeout_s=600, memory_bytes=2**34))
    try:
        assert worker._scratch.name.startswith(f"framework-advisor-worker-{os.getpid()}-")
        assert worker._scratch not in remove_stale_scratch(worker._scratch.parent)  # its owner lives: kept
        assert worker._scratch.exists()
    finally:
        worker.stop()
    assert not worker._scratch.exists()


def test_the_service_and_every_probe_sweep_at_start(tmp_path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    stale = tmp_path / f"framework-advisor-worker-{_dead_pid()}-zz"
    stale.mkdir()
    create_app(Settings(data_dir=tmp_path / "data"), run_probe=FakeProbe())
    assert not stale.exists()
    stale.mkdir()
    from framework_advisor.probes.probe import run_probe
    from framework_advisor.probes.report import ProbeOptions

    run_probe(ProbeOptions(quick=True, frameworks=[]))  # the inventory only: no worker, but the sweep
    assert not stale.exists()


# --- secrets stay out of framework code ---------------------------------------------------------------------------

SECRETS = {"FRAMEWORK_ADVISOR_TOKEN": "service-token-0123456789abcdef0123456789", "HF_TOKEN": "hf_x",
           "GITHUB_TOKEN": "ghp_x", "AWS_SECRET_ACCESS_KEY": "k", "AWS_SESSION_TOKEN": "t", "OPENAI_API_KEY": "sk",
           "DB_PASSWORD": "p", "GOOGLE_APPLICATION_CREDENTIALS": "/secrets/sa.json", "SSH_AUTH_SOCK": "/run/agent",
           "PIP_INDEX_URL": "https://user:hunter2@pypi.example.com/simple"}
KEPT = {"TOKENIZERS_PARALLELISM": "false", "OMP_NUM_THREADS": "2", "CUDA_VISIBLE_DEVICES": "0",
        "PIP_EXTRA_INDEX_URL": "https://download.pytorch.org/whl/cpu", "KERAS_BACKEND": "jax"}


def test_the_secret_rule():
    assert [name for name, value in SECRETS.items() if not is_secret(name, value)] == []
    assert [name for name, value in KEPT.items() if is_secret(name, value)] == []
    assert worker_environment({**SECRETS, **KEPT}, TMPDIR="/x") == {**KEPT, "TMPDIR": "/x"}


def test_a_worker_sees_no_secret_of_the_parents_environment(tmp_path, monkeypatch):
    for name, value in {**SECRETS, **KEPT}.items():
        monkeypatch.setenv(name, value)
    dump = tmp_path / "env.json"
    script = f"import json, os; json.dump(dict(os.environ), open({str(dump)!r}, 'w'))"
    worker = WorkerProcess("numpy", lambda out, fd: [sys.executable, "-c", script],
                           WorkerLimits(timeout_s=60, memory_bytes=2**34))
    worker.process.wait(timeout=60)
    worker.stop()
    seen = json.loads(dump.read_text())
    assert sorted(set(SECRETS) & set(seen)) == []
    assert not any("hunter2" in value for value in seen.values())
    assert all(seen[name] == value for name, value in KEPT.items())
    assert seen["TMPDIR"] == str(worker._scratch) and "PATH" in seen


def test_another_interpreter_is_asked_its_versions_without_the_secrets(tmp_path, monkeypatch):
    from framework_advisor.probes import target

    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    seen = target._run_json([sys.executable, "-c", "import json, os; print(json.dumps(dict(os.environ)))"], "x")
    assert sorted(set(SECRETS) & set(seen)) == [] and seen["PYTHONIOENCODING"] == "utf-8"


def test_the_real_worker_watches_its_parent_first():
    """worker/__main__.py starts the watch before it parses options, makes its scratch or imports a framework."""
    import ast

    main = next(node for node in ast.parse((REPO_ROOT / "probes" / "worker" / "__main__.py").read_text()).body
                if isinstance(node, ast.FunctionDef) and node.name == "main")
    calls = [node.value.func.id for node in main.body
             if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call) and isinstance(node.value.func, ast.Name)]
    assert calls[:1] == ["watch_parent"]
    assert Path(REPO_ROOT / "probes" / "worker" / "watchdog.py").exists()
