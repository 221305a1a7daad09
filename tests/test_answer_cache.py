"""The per-worker cache of recommendation answers: same question, same bytes; never a stale answer
when what the answer depends on (a newly finished probe of this machine) changes; bounded."""

from __future__ import annotations

import json

from framework_advisor.answer_cache import AnswerCache
from framework_advisor.app import create_app
from tests.service_fixtures import FakeProbe, settings_for, wait_for

HARDWARE = {"os": "linux", "arch": "x86_64", "cpu": {"model": "x", "cores": 8}, "memory_gb": 32,
            "accelerators": [{"kind": "cuda", "name": "NVIDIA L4", "count": 1, "memory_gb": 24}]}


def make_app(tmp_path, probe=None):
    return create_app(settings_for(tmp_path), run_probe=probe or FakeProbe())


def test_a_repeated_question_gets_the_same_answer_from_the_cache(tmp_path):
    app = make_app(tmp_path)
    client = app.test_client()
    question = {"goals": ["research", "production"], "experience": "expert", "hardware": HARDWARE}
    first = client.post("/v1/recommendations", json=question)
    answers = app.extensions["framework_advisor.answers"]
    hits = answers.hits
    again = client.post("/v1/recommendations", json=question)
    reordered = client.post("/v1/recommendations", data=json.dumps(dict(reversed(list(question.items())))),
                            content_type="application/json")
    assert first.status_code == again.status_code == reordered.status_code == 200
    assert first.get_data() == again.get_data() == reordered.get_data()
    assert answers.hits == hits + 2  # the same question, in the same bytes and in other bytes


def test_goal_order_and_invalid_bodies_are_not_confused(tmp_path):
    client = make_app(tmp_path).test_client()
    one = client.post("/v1/recommendations", json={"goals": ["production", "learning"], "experience": "beginner",
                                                   "hardware": HARDWARE}).get_json()
    other = client.post("/v1/recommendations", json={"goals": ["learning", "production"], "experience": "beginner",
                                                     "hardware": HARDWARE}).get_json()
    assert one["goals"] == ["production", "learning"] and other["goals"] == ["learning", "production"]
    bad = {"goals": ["gardening"], "experience": "beginner", "hardware": HARDWARE}
    assert client.post("/v1/recommendations", json=bad).status_code == 422
    assert client.post("/v1/recommendations", json=bad).status_code == 422  # refused again, not answered


def test_this_machine_answers_follow_a_newly_finished_probe(tmp_path):
    probe = FakeProbe()
    probe.release.set()
    client = make_app(tmp_path, probe).test_client()
    question = {"goals": ["research"], "experience": "expert"}
    before = client.post("/v1/recommendations", json=question).get_json()
    assert before["probe_id"] is None and before["hardware_source"] == "this-machine"
    probe_id = client.post("/v1/probes", json={}).get_json()["id"]
    wait_for(client, f"/v1/probes/{probe_id}", "finished")
    after = client.post("/v1/recommendations", json=question).get_json()
    assert after["probe_id"] == probe_id


def test_the_cache_is_bounded_least_recently_used_first():
    cache = AnswerCache(max_entries=2)
    cache.put("a", b"1")
    cache.put("b", b"2")
    assert cache.get("a") == b"1"  # "a" is now the most recently used
    cache.put("c", b"3")
    assert len(cache) == 2 and cache.get("b") is None and cache.get("a") == b"1" and cache.get("c") == b"3"
    assert cache.get_or_compute("d", lambda: b"4") == b"4" and len(cache) == 2
