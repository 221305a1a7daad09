"""The CLI speaks the API's JSON with --json, and bad arguments give one line and exit status 2."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from framework_advisor.probes.hardware import HardwareProfile
from tests.openapi_schemas import validate
from tests.conftest import REPO_ROOT
from tests.service_fixtures import APPLE_YAML, run_cli

WINDOWS_JSON = {"os": "windows", "arch": "x86_64", "cpu": {"model": "x", "cores": 8}, "memory_gb": 16,
                "accelerators": []}




def test_recommend_json_from_a_json_hardware_file(tmp_path, capsys):
    hardware = tmp_path / "hw.json"
    hardware.write_text(json.dumps(WINDOWS_JSON))
    code, out, _ = run_cli(capsys, "recommend", "--goal", "learning", "--experience", "beginner",
                           "--hardware", str(hardware), "--json")
    assert code == 0
    answer = json.loads(out)
    validate("Recommendation", answer)
    assert HardwareProfile.model_validate(answer["hardware"]) == HardwareProfile.model_validate(WINDOWS_JSON)
    assert answer["hardware_source"] == "request"
    mlx = next(item for item in answer["ranking"] if item["framework"] == "mlx")
    assert mlx["supported"] is False and mlx["rank"] == 5


def test_recommend_from_yaml_with_several_goals(tmp_path, capsys):
    hardware = tmp_path / "mac.yaml"
    hardware.write_text(APPLE_YAML)
    code, out, _ = run_cli(capsys, "recommend", "--goal", "apple-on-device", "--goal", "research",
                           "--experience", "expert", "--hardware", str(hardware), "--json")
    assert code == 0
    answer = json.loads(out)
    assert answer["goals"] == ["apple-on-device", "research"]
    assert all(item["supported"] for item in answer["ranking"]), "everything runs on Apple silicon"


def test_recommend_human_output_names_the_first_place_and_its_install(tmp_path, capsys):
    hardware = tmp_path / "hw.json"
    hardware.write_text(json.dumps(WINDOWS_JSON))
    code, out, _ = run_cli(capsys, "recommend", "--goal", "learning", "--experience", "beginner",
                           "--hardware", str(hardware))
    _, json_out, _ = run_cli(capsys, "recommend", "--goal", "learning", "--experience", "beginner",
                             "--hardware", str(hardware), "--json")
    first = json.loads(json_out)["ranking"][0]
    assert code == 0
    assert f"Why {first['name']}" in out and first["install"] in out


H100_JSON = {"os": "linux", "arch": "x86_64", "cpu": {"model": "Xeon", "cores": 96}, "memory_gb": 2048,
             "accelerators": [{"kind": "cuda", "name": "NVIDIA H100 80GB HBM3", "count": 8, "memory_gb": 80,
                               "compute_capability": "9.0"}]}


@pytest.mark.parametrize("hardware,goal,experience", [(WINDOWS_JSON, "learning", "beginner"),
                                                      (H100_JSON, "research", "expert")])
def test_recommend_table_starts_with_the_headline_and_the_install_command(tmp_path, capsys, hardware, goal,
                                                                          experience):
    path = tmp_path / "hw.json"
    path.write_text(json.dumps(hardware))
    argv = ("recommend", "--goal", goal, "--experience", experience, "--hardware", str(path))
    code, out, _ = run_cli(capsys, *argv)
    _, json_out, _ = run_cli(capsys, *argv, "--json")
    answer = json.loads(json_out)
    first, summary = answer["ranking"][0], answer["summary"]
    assert code == 0
    lines = [line.rstrip() for line in out.splitlines()]
    assert lines[0] == summary["headline"] and lines[0].startswith(f"Use {first['name']}")
    # the install command next, indented (wrapped at 80 columns if it must), then why and the runner-up
    why_at = next(index for index, line in enumerate(lines) if line.lstrip().startswith("why  "))
    assert why_at > 1 and all(line.startswith("  ") for line in lines[1:why_at])
    assert " ".join(" ".join(lines[1:why_at]).split()) == " ".join(first["install"].split())
    head = " ".join(" ".join(lines[why_at:lines.index("")]).split())
    assert head == f"why {summary['why']} runner-up {summary['runner_up']}"
    assert out.index("runner-up  ") < out.index("Frameworks for")  # all of it before the table
    # a reason that did not count says so in words a reader follows
    assert "counted once in its group" not in out
    uncounted = [reason for reason in first["reasons"] if not reason["counted"]]
    assert ("not counted: a stronger reason of the same kind counts" in " ".join(out.split())) == bool(uncounted)


def test_hardware_json_is_a_valid_profile(capsys):
    code, out, _ = run_cli(capsys, "hardware", "--json")
    assert code == 0
    validate("HardwareProfile", json.loads(out))


@pytest.mark.parametrize("argv,needle", [
    (["recommend", "--goal", "gardening", "--experience", "beginner"], "gardening"),
    (["recommend", "--goal", "learning"], "--experience"),
    (["recommend", "--goal", "learning", "--experience", "guru"], "guru"),
    (["frobnicate"], "frobnicate"),
    (["serve", "--port", "http"], "--port"),
    (["probe", "--threads", "0"], "--threads"),
])
def test_bad_arguments_exit_2_with_one_line(argv, needle):
    result = subprocess.run([sys.executable, "-m", "framework_advisor", *argv], cwd=REPO_ROOT, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0] and "Traceback" not in result.stderr


@pytest.mark.parametrize("content,needle", [
    ('{"os": "beos", "arch": "x86_64"}', "/os"),
    ("{not json", "not valid JSON"),
    ('{"os": "linux", "arch": "x86_64", "accelerators": [{"kind": "gpu", "name": "x"}]}', "/accelerators/0/kind"),
])
def test_bad_hardware_file_is_one_line_exit_2(tmp_path, capsys, content, needle):
    hardware = tmp_path / "hw.json"
    hardware.write_text(content)
    code, out, err = run_cli(capsys, "recommend", "--goal", "learning", "--experience", "beginner",
                             "--hardware", str(hardware))
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and needle in err and str(hardware) in err


def test_missing_hardware_file(tmp_path, capsys):
    code, _, err = run_cli(capsys, "recommend", "--goal", "learning", "--experience", "beginner",
                           "--hardware", str(tmp_path / "absent.yaml"))
    assert code == 2 and "absent.yaml" in err and "No such file" in err


def test_yaml_hardware_file_with_an_alias_is_refused(tmp_path, capsys):
    hardware = tmp_path / "hw.yaml"
    hardware.write_text("os: &o linux\narch: x86_64\nextra: *o\n")
    code, _, err = run_cli(capsys, "recommend", "--goal", "learning", "--experience", "beginner",
                           "--hardware", str(hardware))
    assert code == 2 and "hw.yaml:1:" in err


def test_rules_schema_is_a_json_schema(capsys):
    code, out, _ = run_cli(capsys, "rules", "schema")
    schema = json.loads(out)
    assert code == 0 and schema["$schema"].endswith("2020-12/schema") and "rules" in schema["properties"]
