"""The Python API (``from framework_advisor import recommend, probe, hardware, starter``): the CLI's code, the
typed models, readable errors, a cheap import, and a recommendation that shows itself as escaped HTML."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from html.parser import HTMLParser

import pytest

import framework_advisor
from framework_advisor.cli import main
from framework_advisor.probes.hardware import HardwareProfile
from framework_advisor.probes.report import FrameworkRun, ProbeReport
from framework_advisor.probes.vocabulary import FRAMEWORK_IDS
from framework_advisor.rules.recommendation import Recommendation, Starter
from tests.conftest import HEAVY_MODULES, REPO_ROOT
from tests.service_fixtures import APPLE_YAML

H100_SERVER = {"os": "linux", "arch": "x86_64", "cpu": {"model": "Xeon", "cores": 96}, "memory_gb": 2048,
               "accelerators": [{"kind": "cuda", "name": "NVIDIA H100 80GB HBM3", "count": 8, "memory_gb": 80,
                                 "cores": 132, "compute_capability": "9.0"}]}
HOSTILE = '<script>alert("x")</script> <img src=x onerror=alert(1)> a|b *bold* [go](javascript:alert(1)) `t` &amp;'


def cli_json(capsys, *argv) -> dict:
    assert main(list(argv)) == 0
    return json.loads(capsys.readouterr().out)


def as_json(model) -> dict:
    return model.model_dump(mode="json", exclude_none=True)


# --- imports --------------------------------------------------------------------------------------


def test_importing_the_package_stays_cheap_and_the_api_imports_no_framework():
    script = f"""
import json, sys
import framework_advisor
loaded_by_import = sorted(m for m in sys.modules if m.startswith(("framework_advisor.", "pydantic", "flask", "rich")))
from framework_advisor import hardware, recommend, starter
recommend("research", "expert", hardware={H100_SERVER!r})
recommend(["learning"], "beginner")  # this machine: the inventory, no framework
hardware()
starter("pytorch", "cuda")
heavy = sorted(m for m in sys.modules if m.split(".")[0] in {list(HEAVY_MODULES)!r})
print(json.dumps([loaded_by_import, heavy]))
"""
    result = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    loaded_by_import, heavy = json.loads(result.stdout.strip().splitlines()[-1])
    assert loaded_by_import == []
    assert heavy == []


def test_the_package_exports_the_api():
    assert {"recommend", "probe", "hardware", "starter", "InputError"} <= set(framework_advisor.__all__)
    assert {"recommend", "probe", "hardware"} <= set(dir(framework_advisor))
    from framework_advisor import hardware, probe, recommend

    for function in (hardware, probe, recommend, framework_advisor.starter):
        assert function.__doc__ and len(function.__doc__) > 80
    with pytest.raises(AttributeError, match="no attribute 'recomend'"):
        framework_advisor.recomend  # noqa: B018 (a typo is an AttributeError, not a lazy import)
    from framework_advisor import probes  # a subpackage still imports as before

    assert probes.__name__ == "framework_advisor.probes"


# --- hardware --------------------------------------------------------------------------------------


def test_hardware_is_this_machines_profile_as_the_cli_gives_it(capsys):
    profile = framework_advisor.hardware()
    assert isinstance(profile, HardwareProfile)
    assert as_json(profile) == cli_json(capsys, "hardware", "--json")


# --- recommend ------------------------------------------------------------------------------------


def test_recommend_for_a_fixture_profile_is_the_clis_answer(tmp_path, capsys):
    path = tmp_path / "h100.json"
    path.write_text(json.dumps(H100_SERVER))
    expected = cli_json(capsys, "recommend", "--goal", "research", "--goal", "large-scale-training",
                        "--experience", "expert", "--hardware", str(path), "--json")
    given_as = [HardwareProfile.model_validate(H100_SERVER), H100_SERVER, path, str(path)]
    for hardware in given_as:
        answer = framework_advisor.recommend(["research", "large-scale-training"], "expert", hardware)
        assert isinstance(answer, Recommendation)
        assert as_json(answer) == expected, type(hardware)
    assert framework_advisor.recommend("research,large-scale-training", "expert", H100_SERVER) == \
        framework_advisor.recommend(["research", "large-scale-training"], "expert", H100_SERVER)


def test_recommend_reads_a_yaml_file_and_answers_for_it(tmp_path):
    path = tmp_path / "mac.yaml"
    path.write_text(APPLE_YAML)
    answer = framework_advisor.recommend("apple-on-device", "intermediate", hardware=path)
    assert answer.hardware_source == "request"
    assert answer.hardware.os == "darwin" and answer.hardware.accelerators[0].kind == "apple-gpu"
    assert [item.rank for item in answer.ranking] == [1, 2, 3, 4, 5]
    assert {item.framework for item in answer.ranking} == set(FRAMEWORK_IDS)
    mlx = next(item for item in answer.ranking if item.framework == "mlx")
    assert mlx.supported and mlx.device == "apple-gpu"


def test_recommend_for_this_machine_uses_its_stored_probe(tmp_path):
    answer = framework_advisor.recommend("research", "expert", data_dir=tmp_path / "empty")
    assert answer.hardware_source == "this-machine" and answer.probe_id is None
    assert answer.hardware == framework_advisor.hardware()
    assert not (tmp_path / "empty").exists()  # recommend only reads a store, never creates one

    report = framework_advisor.probe(frameworks=[], data_dir=tmp_path / "data")  # the inventory only: fast
    assert isinstance(report, ProbeReport)
    answer = framework_advisor.recommend("research", "expert", data_dir=tmp_path / "data")
    assert answer.probe_id is not None and answer.measurements.probe_ids == [answer.probe_id]
    asked = framework_advisor.recommend("research", "expert", probe_id=answer.probe_id, data_dir=tmp_path / "data")
    assert asked.hardware_source == "probe" and asked.probe_id == answer.probe_id


@pytest.mark.parametrize("kwargs,pointer,needle", [
    ({"goals": "gardening"}, "/goals/0", "'gardening' is not allowed here; expected one of: 'learning'"),
    ({"goals": ["research", 3]}, "/goals/1", "3 is not allowed here"),
    ({"goals": []}, "/goals", "at least 1"),
    ({"goals": 7}, "/goals", "goals must be an id or a list of ids, not int"),
    ({"experience": "guru"}, "/experience", "'guru' is not allowed here"),
    ({"hardware": {"os": "beos", "arch": "x86_64"}}, "/hardware/os", "'beos' is not allowed here"),
    ({"hardware": {"os": "linux"}}, "/hardware/arch", "required field"),
    ({"hardware": 42}, "/hardware", "hardware must be a HardwareProfile, a dict or a file path, not int"),
    ({"probe_id": "no such probe"}, "/probe_id", "should match pattern"),
    ({"probe_id": "unknown"}, "/probe_id", "no probe with id 'unknown'"),
])
def test_bad_input_is_an_input_error_that_names_the_field(tmp_path, kwargs, pointer, needle):
    arguments = {"goals": "research", "experience": "expert", "data_dir": tmp_path, **kwargs}
    with pytest.raises(framework_advisor.InputError) as raised:
        framework_advisor.recommend(**arguments)
    assert isinstance(raised.value, ValueError)
    assert needle in str(raised.value)
    assert pointer in [found for found, _ in raised.value.errors]
    assert "Traceback" not in str(raised.value) and "\n" not in str(raised.value)


def test_a_bad_hardware_file_is_an_input_error_naming_the_file(tmp_path):
    missing = tmp_path / "missing.yaml"
    with pytest.raises(framework_advisor.InputError, match="missing.yaml"):
        framework_advisor.recommend("research", "expert", hardware=missing)
    broken = tmp_path / "broken.json"
    broken.write_text('{"os": "linux",')
    with pytest.raises(framework_advisor.InputError, match="broken.json"):
        framework_advisor.recommend("research", "expert", hardware=broken)
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text("os: beos\narch: sparc\ncpu: {model: x, cores: '8'}\n")
    with pytest.raises(framework_advisor.InputError) as raised:
        framework_advisor.recommend("research", "expert", hardware=wrong)
    problems = [message for _, message in raised.value.errors]  # every mistake, each with its line
    assert [problem.split(": /", 1)[0] for problem in problems] == [f"{wrong}:1:1", f"{wrong}:2:1", f"{wrong}:3:17"]
    assert "'beos' is not allowed here" in problems[0] and "/cpu/cores" in problems[2]


# --- probe ----------------------------------------------------------------------------------------


def test_probe_stores_by_default_and_not_when_asked(tmp_path):
    from framework_advisor.config import Settings
    from framework_advisor.storage import Store

    report = framework_advisor.probe(frameworks=[], data_dir=tmp_path / "kept")
    assert isinstance(report, ProbeReport) and report.frameworks == []
    assert report.python.own and report.hardware == framework_advisor.hardware()
    stored = Store.open(Settings.from_env(data_dir=tmp_path / "kept").database_path).list_probes()
    assert [probe.status for probe in stored] == ["finished"]

    framework_advisor.probe(frameworks=[], store=False, data_dir=tmp_path / "not-kept")
    assert not (tmp_path / "not-kept").exists()


@pytest.mark.slow
def test_probe_measures_numpy_in_a_worker(tmp_path):
    report = framework_advisor.probe(quick=True, frameworks="numpy", store=False)
    assert [run.framework for run in report.frameworks] == ["numpy"]
    run = report.frameworks[0]
    assert isinstance(run, FrameworkRun) and run.version and run.benchmarks
    assert "numpy" not in sys.modules  # measured in the worker subprocess, never imported here


@pytest.mark.parametrize("kwargs,needle", [
    ({"frameworks": "torch"}, "/frameworks/0: 'torch' is not allowed here"),
    ({"frameworks": 3}, "frameworks must be an id or a list of ids, not int"),
    ({"threads": 0}, "/threads"),
    ({"python": "/no/such/python"}, "python=/no/such/python: no such file"),
    ({"python": "/bin/true"}, "is not a Python interpreter"),
])
def test_bad_probe_arguments_are_input_errors(tmp_path, kwargs, needle):
    with pytest.raises(framework_advisor.InputError, match=re.escape(needle)):
        framework_advisor.probe(store=False, **kwargs)


# --- starter --------------------------------------------------------------------------------------


def test_starter_is_the_programme_the_http_api_serves(client):
    starter = framework_advisor.starter("jax", "cuda", "research")
    assert isinstance(starter, Starter)
    served = client.get("/v1/starters/jax?device=cuda&goal=research").json
    assert as_json(starter) == served
    compile(starter.code, starter.filename, "exec")
    for framework, device, needle in [("nump", "cpu", "no framework 'nump'"),
                                      ("numpy", "cuda", "NumPy has no starter for device 'cuda'"),
                                      ("numpy", "gpu", "unknown device 'gpu'")]:
        with pytest.raises(framework_advisor.InputError, match=needle):
            framework_advisor.starter(framework, device)


# --- HTML in a notebook -------------------------------------------------------------------------------


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags: set[str] = set()
        self.attributes: set[str] = set()
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        self.attributes |= {name for name, _ in attrs}

    def handle_data(self, data):
        self.text.append(data)


def hostile_recommendation() -> Recommendation:
    """A real answer whose texts (all data) are replaced with markup and Markdown."""
    answer = framework_advisor.recommend("research", "expert", H100_SERVER)
    first = answer.ranking[0]
    reason = first.reasons[0].model_copy(update={"message": HOSTILE, "rule": HOSTILE})
    starter = first.starter.model_copy(update={"code": 'print("```")\n```\n</code></pre><script>x()</script>\n',
                                               "filename": HOSTILE, "run": HOSTILE})
    first = first.model_copy(update={"name": HOSTILE, "reasons": (reason, *first.reasons[1:]),
                                     "install": "pip install 'a|b' <x> && echo ``` `id`", "starter": starter})
    accelerator = answer.hardware.accelerators[0].model_copy(update={"name": HOSTILE})
    return answer.model_copy(update={"ranking": (first, *answer.ranking[1:]),
                                     "hardware": answer.hardware.model_copy(update={"accelerators": [accelerator]})})


def test_a_recommendation_shows_as_html_with_every_text_escaped():
    answer = hostile_recommendation()
    fragment = answer._repr_html_()
    parsed = _Tags()
    parsed.feed(fragment)
    assert parsed.tags <= {"div", "h3", "p", "table", "thead", "tbody", "tr", "th", "td", "details", "summary",
                           "strong", "ul", "li", "code", "pre", "small"}
    assert parsed.attributes <= {"class", "open"}
    text = "".join(parsed.text)
    assert text.count(HOSTILE) >= 4  # the name (table and section), the reason and its rule, the hardware
    assert answer.ranking[0].starter.code in text  # the program, whole, as text
    assert "<script>" not in fragment and "&lt;script&gt;" in fragment


def test_the_html_holds_the_ranking_in_order_with_reasons_and_install_commands():
    answer = framework_advisor.recommend("research", "expert", H100_SERVER)
    parsed = _Tags()
    parsed.feed(answer._repr_html_())
    text = "".join(parsed.text)
    positions = [text.index(f"{item.rank}. {item.name}") for item in answer.ranking]
    assert positions == sorted(positions)
    for item in answer.ranking:
        assert item.install in text
        assert all(reason.message in text for reason in item.reasons if reason.counted)
        # A reason that did not count is folded into one line of rule ids and points, not its text again.
        assert all(f"{reason.rule} {reason.points:+.2f}" in text for reason in item.reasons if not reason.counted)
