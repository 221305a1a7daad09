"""End to end: a real quick probe of NumPy (the fastest framework to probe) through the CLI and through the
HTTP API, each report held to openapi.yaml's ProbeReport and to what the probe promises (checked figures,
the quick subset, the documented skips). Nothing here asserts a duration or a speed: the machine is shared.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from framework_advisor.probes.report import ProbeReport
from tests.openapi_schemas import validate
from tests.conftest import REPO_ROOT
from tests.service_fixtures import settings_for

pytestmark = pytest.mark.skipif(importlib.util.find_spec("numpy") is None, reason="numpy is not installed")

# A quick probe of NumPy takes a few seconds; these bounds only keep a hung probe from hanging the suite
# (the CLI waits for the machine's probe lock while another probe runs on this machine).
CLI_TIMEOUT_S = 240
HTTP_WAIT_S = 240


def assert_checked_quick_numpy_report(report: dict) -> None:
    validate("ProbeReport", report)
    assert report["quick"] is True and report["thorough"] is False
    assert [f["framework"] for f in report["frameworks"]] == ["numpy"]
    assert report["failures"] == []
    numpy = report["frameworks"][0]
    assert "failure" not in numpy and numpy["errors"] == []
    figures = {bench["name"]: bench for bench in numpy["benchmarks"]}
    # The quick subset, measured and checked against the NumPy reference (checked: True only after the check).
    assert set(figures) == {"matmul_fp32", "elementwise_bandwidth", "dispatch_latency"}
    for bench in figures.values():
        assert bench["checked"] is True and bench["value"] > 0 and bench["device"] == "cpu"
        assert bench["timing"]["samples"] >= 3 and bench["timing"]["first_call_s"] is not None
    matmul = figures["matmul_fp32"]
    assert matmul["unit"] == "GFLOP/s" and matmul["precision"] == "fp32"
    # Equal sizes: the quick standard is n=512; a smaller n must say why.
    assert matmul["params"]["n"] == 512 or (matmul["params"]["standard_n"] == 512 and matmul["params"]["size_note"])
    if "peak" in matmul:
        assert ("percent_of_peak" in matmul) != bool(matmul["peak"].get("understated"))
        if "percent_of_peak" in matmul:
            assert 0 < matmul["percent_of_peak"] <= 100
    skipped = {entry["benchmark"]: entry["reason"] for entry in numpy["skipped"]}
    assert "quick subset" in skipped["mlp_step_eager"]
    assert "conv2d" in skipped and "matmul_bf16" in skipped
    assert report["derived"]["numpy"]["failed"] is False
    assert report["derived"]["numpy"]["relative_speed"] == 1.0
    assert report["duration_s"] > 0 and report["hardware"]["cpu"]["cores"] >= 1


def cli_command() -> list[str]:
    """The installed console script next to this interpreter, else the module it runs."""
    script = Path(sys.executable).parent / "framework-advisor"
    if script.exists():
        return [str(script)]
    found = shutil.which("framework-advisor")
    return [found] if found else [sys.executable, "-m", "framework_advisor"]


def test_cli_quick_probe_of_numpy_prints_a_valid_checked_report_and_stores_it(tmp_path):
    from framework_advisor.config import Settings
    from framework_advisor.storage import Store

    data_dir = tmp_path / "data"
    env = {**os.environ, "FRAMEWORK_ADVISOR_DATA_DIR": str(data_dir), "PYTHONPATH": str(REPO_ROOT)}
    result = subprocess.run(
        [*cli_command(), "probe", "--quick", "--frameworks", "numpy", "--json", "-"],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=CLI_TIMEOUT_S, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout)
    assert_checked_quick_numpy_report(report)

    # Stored under this host in the data directory the environment named: what "this machine" uses later.
    latest = Store.open(Settings(data_dir=data_dir).database_path).latest_finished_probe(report["host"])
    assert latest is not None and latest.report == ProbeReport.model_validate(report)


def test_http_quick_probe_of_numpy_finishes_with_a_valid_checked_report(tmp_path):
    from framework_advisor.app import create_app

    settings = settings_for(tmp_path)
    client = create_app(settings).test_client()
    response = client.post("/v1/probes", json={"quick": True, "frameworks": ["numpy"]})
    assert response.status_code == 202, response.get_data(as_text=True)
    location = response.headers["Location"]

    deadline = time.monotonic() + HTTP_WAIT_S
    while True:
        job = client.get(location).get_json()
        if job["status"] in ("finished", "failed", "interrupted") or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert job["status"] == "finished", job
    validate("ProbeJob", job)
    assert job["params"] == {"quick": True, "thorough": False, "benchmarks": True, "fresh": False, "frameworks": ["numpy"],
                             "uploaded": False}
    assert_checked_quick_numpy_report(job["report"])
    listed = client.get("/v1/probes").get_json()["probes"]
    assert job["id"] in {entry["id"] for entry in listed}


def test_a_thorough_request_reaches_the_probe_runner_and_is_recorded(tmp_path):
    """thorough: true travels from the ProbeRequest to run_probe (a stand-in here: a real thorough probe
    compiles for a minute) and into the job's params."""
    from framework_advisor.app import create_app

    calls = []

    def fake_probe(options, progress=None):
        calls.append({"quick": options.quick, "frameworks": options.frameworks, "thorough": options.thorough})
        return ProbeReport.model_validate({
            "schema_version": 2, "host": "h", "created_at": "2026-01-01T00:00:00+00:00", "quick": options.quick,
            "thorough": options.thorough, "hardware": {"os": "linux", "arch": "x86_64",
                                                       "cpu": {"model": "x", "cores": 2}, "memory_gb": 4},
            "frameworks": [], "duration_s": 0.1})

    settings = settings_for(tmp_path)
    client = create_app(settings, run_probe=fake_probe).test_client()
    assert client.post("/v1/probes", json={"thorough": "yes"}).status_code == 422
    response = client.post("/v1/probes", json={"thorough": True, "frameworks": ["pytorch"]})
    assert response.status_code == 202
    deadline = time.monotonic() + 30
    while (job := client.get(response.headers["Location"]).get_json())["status"] != "finished":
        assert time.monotonic() < deadline, job
        time.sleep(0.05)
    assert calls == [{"quick": False, "frameworks": ["pytorch"], "thorough": True}]
    assert job["params"]["thorough"] is True and job["report"]["thorough"] is True
