"""What a framework can make of a machine (rules/capacity.py and rules-capacity.yaml): the accelerators it leaves
idle, weighed by how many, and the model sizes that fit the memory of the device it would use."""

from __future__ import annotations

import pytest

from framework_advisor.probes.hardware import HardwareProfile
from framework_advisor.probes.inventory.apple import recommended_working_set_gb
from framework_advisor.rules.capacity import apple_gpu_working_set_gb
from framework_advisor.rules.engine import derive_facts
from tests.conftest import recommend_json as recommend


def _hardware(accelerators, memory_gb=64, os="linux", arch="x86_64"):
    return {"os": os, "arch": arch, "cpu": {"model": "x", "cores": 16}, "memory_gb": memory_gb,
            "accelerators": accelerators}


def _facts(rulebase, hardware, goals=("pretrained-models",), experience="intermediate"):
    return derive_facts(rulebase, HardwareProfile.model_validate(hardware), list(goals), experience)


RTX_4090 = [{"kind": "cuda", "name": "NVIDIA GeForce RTX 4090", "count": 1, "memory_gb": 24}]
H100_8 = [{"kind": "cuda", "name": "NVIDIA H100 80GB HBM3", "count": 8, "memory_gb": 80}]
MAC_128 = _hardware([{"kind": "apple-gpu", "name": "Apple M4 Max GPU", "count": 1, "memory_gb": 128}], 128,
                    "darwin", "arm64")


def _tpus(count):
    return _hardware([{"kind": "tpu", "name": "TPU v5 lite", "count": count, "memory_gb": 16}], 384)


def test_one_24gb_gpu_holds_10b_in_16_bit_and_a_70b_model_needs_seven_of_them(rulebase):
    facts = _facts(rulebase, _hardware(RTX_4090))
    assert facts["pytorch.device_count"] == 1 and facts["pytorch.device_memory_gb"] == 24
    assert facts["pytorch.fit_16bit_b"] == 10.0  # 24 GB / (2 bytes x 1.2)
    assert facts["pytorch.fit_4bit_b"] == pytest.approx(35.6, abs=0.1)  # 24 GB / (0.5625 bytes x 1.2)
    assert facts["pytorch.devices_for_70b"] == 7  # 168 GB / 24 GB, rounded up
    assert facts["pytorch.train_fit_b"] == pytest.approx(1.2, abs=0.05)  # 24 GB / (16 bytes x 1.2)
    assert facts["pytorch.idle_accelerators"] == 0


def test_eight_h100s_split_a_model_across_all_of_them(rulebase):
    facts = _facts(rulebase, _hardware(H100_8, 2048))
    assert facts["jax.device_count"] == 8 and facts["jax.pool_memory_gb"] == 640
    assert facts["jax.fit_16bit_b"] == pytest.approx(33.3, abs=0.1)
    assert facts["jax.fit_16bit_all_b"] == pytest.approx(266.7, abs=0.1)
    assert facts["jax.devices_for_70b"] == 3
    assert facts["jax.hosts_for_405b"] == 2  # 405B x 2.4 GB = 972 GB > 640 GB
    assert facts["jax.hosts_for_70b_training"] == 3  # 70B x 19.2 GB = 1344 GB
    assert facts["numpy.idle_accelerators"] == 8 and facts["numpy.device_count"] == 1


def test_an_apple_gpu_gets_metals_working_set_and_the_cpu_frameworks_the_whole_memory(rulebase):
    facts = _facts(rulebase, MAC_128)
    assert facts["mlx.device"] == "apple-gpu" and facts["mlx.device_memory_gb"] == 96  # 75% of 128 GB
    assert facts["mlx.fit_16bit_b"] == 40.0 and facts["mlx.fit_4bit_b"] >= 70
    assert facts["jax.device"] == "cpu" and facts["jax.device_memory_gb"] == 128
    # An Apple GPU a framework cannot use is one idle device, its memory is the machine's own.
    assert facts["jax.idle_accelerators"] == 1


def test_a_stated_usable_memory_wins_and_the_estimate_matches_the_inventory(rulebase):
    mac = {**MAC_128, "accelerators": [{**MAC_128["accelerators"][0], "usable_memory_gb": 100}]}
    assert _facts(rulebase, mac)["pytorch.device_memory_gb"] == 100
    for unified in (8, 16, 24, 36, 48, 64, 96, 128, 192, 512):
        assert apple_gpu_working_set_gb(unified) == recommended_working_set_gb(unified), unified


def test_unknown_memory_gives_no_sizes(rulebase):
    facts = _facts(rulebase, {"os": "linux", "arch": "x86_64",
                              "accelerators": [{"kind": "cuda", "name": "some GPU", "count": 2}]})
    assert facts["pytorch.device_count"] == 2
    assert not [name for name in facts if name.startswith("pytorch.fit_") or name.endswith("memory_gb")
                and name.startswith("pytorch.")]
    answer = recommend(rulebase, ["pretrained-models"], "intermediate",
                       {"os": "linux", "arch": "x86_64", "accelerators": [{"kind": "cuda", "name": "some GPU"}]})
    pytorch = next(item for item in answer["ranking"] if item["framework"] == "pytorch")
    assert not [r for r in pytorch["reasons"] if r["rule"].startswith(("model-size-", "model-70b-", "quantized-"))]


def _hardware_fit(answer, framework):
    """The points the group hardware-fit counts for a framework (its strongest rule there)."""
    item = next(item for item in answer["ranking"] if item["framework"] == framework)
    return sum(r["points"] for r in item["reasons"] if r["counted"] and r["group"] == "hardware-fit")


def test_the_penalty_for_idle_accelerators_grows_with_how_many_are_left_idle(rulebase):
    penalties = [_hardware_fit(recommend(rulebase, ["research"], "intermediate", _tpus(count)), "pytorch")
                 for count in (1, 2, 4, 8)]
    assert all(p < 0 for p in penalties)
    assert penalties == sorted(penalties, reverse=True) and len(set(penalties)) == 4, penalties
    # JAX uses the TPUs: nothing against it in that group, however many there are.
    assert _hardware_fit(recommend(rulebase, ["research"], "intermediate", _tpus(8)), "jax") == 0


@pytest.mark.parametrize("experience", ["beginner", "intermediate", "expert"])
@pytest.mark.parametrize("goals", [["learning"], ["research"], ["pretrained-models"], ["production"],
                                   ["research", "production"], ["pretrained-models", "research"]])
def test_pytorch_on_the_cpu_of_an_8_chip_tpu_host_never_outranks_jax_on_the_tpus(rulebase, goals, experience):
    """The issue's case: PyTorch's ecosystem points (hubs, community, courses) against JAX on the chips."""
    scores = {item["framework"]: item["score"] for item in recommend(rulebase, goals, experience, _tpus(8))["ranking"]}
    assert scores["pytorch"] < scores["jax"], scores


def test_model_size_reasons_name_the_sizes_that_fit(rulebase):
    answer = recommend(rulebase, ["pretrained-models"], "intermediate", _hardware(RTX_4090))
    pytorch = {r["rule"]: r["message"] for r in next(i for i in answer["ranking"] if i["framework"] == "pytorch")["reasons"]}
    assert "up to about 10B parameters" in pytorch["model-size-one-device-pytorch"]
    assert "7 devices" in pytorch["model-70b-beyond-this-machine-pytorch"]
    assert "about 36B parameters" in pytorch["quantized-weights-pytorch"]
    answer = recommend(rulebase, ["large-scale-training"], "intermediate", _hardware(H100_8, 2048))
    jax = {r["rule"]: r["message"] for r in next(i for i in answer["ranking"] if i["framework"] == "jax")["reasons"]}
    assert "all 8 devices" in jax["training-memory-several-devices-jax"]
    assert "3 machines like this one" in jax["training-needs-several-hosts-jax"]
    assert "jax.distributed.initialize()" in jax["training-needs-several-hosts-jax"]


def test_mlx_is_an_expectation_until_a_probe_measures_it(rulebase):
    unprobed = recommend(rulebase, ["research"], "expert", MAC_128)
    mlx = next(i for i in unprobed["ranking"] if i["framework"] == "mlx")
    expectation = [r for r in mlx["reasons"] if r["rule"] == "mlx-expected-fast-on-apple-silicon"]
    assert expectation and "expected" in expectation[0]["message"]
    measured = {"mlx": {"slowdown": 3.0}, "pytorch": {"slowdown": 1.0, "fastest": "pytorch"}}
    probed = recommend(rulebase, ["research"], "expert", MAC_128, measurements=measured)
    mlx = next(i for i in probed["ranking"] if i["framework"] == "mlx")
    assert "mlx-expected-fast-on-apple-silicon" not in {r["rule"] for r in mlx["reasons"]}


def test_keras_3_reaches_the_accelerator_tensorflow_cannot_use(rulebase):
    windows = {"os": "windows", "arch": "x86_64", "memory_gb": 32,
               "accelerators": [{"kind": "cuda", "name": "NVIDIA GeForce RTX 4070", "count": 1, "memory_gb": 12}]}
    tensorflow = next(i for i in recommend(rulebase, ["learning"], "beginner", windows)["ranking"]
                      if i["framework"] == "tensorflow")
    keras = [r for r in tensorflow["reasons"] if r["rule"] == "keras3-runs-on-jax-and-pytorch"]
    assert keras and keras[0]["points"] > 0 and "KERAS_BACKEND" in keras[0]["message"]
    linux = _hardware(RTX_4090)  # TensorFlow uses this GPU itself: nothing to reach through other backends
    tensorflow = next(i for i in recommend(rulebase, ["learning"], "beginner", linux)["ranking"]
                      if i["framework"] == "tensorflow")
    assert "keras3-runs-on-jax-and-pytorch" not in {r["rule"] for r in tensorflow["reasons"]}
