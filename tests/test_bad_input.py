"""Bad input gets a 4xx application/problem+json that names what is wrong; never a 500 or HTML."""

from __future__ import annotations

import json

import pytest

GOOD = {"goals": ["learning"], "experience": "beginner"}


def post(client, data, content_type="application/json", **kwargs):
    return client.post("/v1/recommendations", data=data, content_type=content_type, **kwargs)


def assert_problem(response, status, *needles):
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body = response.get_json(force=True)
    assert body["status"] == status and body["title"] and body["type"] == "about:blank"
    text = body["detail"] + " ".join(e["pointer"] + " " + e["message"] for e in body.get("errors", []))
    for needle in needles:
        assert needle in text, f"{needle!r} not in {text!r}"
    return body


def test_unknown_goal_names_the_field_and_the_allowed_values(client):
    body = assert_problem(client.post("/v1/recommendations", json={**GOOD, "goals": ["gardening"]}), 422,
                          "/goals/0", "gardening", "scientific-computing")
    assert body["errors"][0]["pointer"] == "/goals/0"


def test_wrong_type(client):
    assert_problem(client.post("/v1/recommendations", json={**GOOD, "goals": "learning"}), 422, "/goals", "array")


def test_wrong_type_deep_in_the_hardware(client):
    hardware = {"os": "linux", "arch": "x86_64", "accelerators": [{"kind": "cuda", "name": "A100", "count": "8"}]}
    assert_problem(client.post("/v1/recommendations", json={**GOOD, "hardware": hardware}), 422,
                   "/hardware/accelerators/0/count", "integer")


@pytest.mark.parametrize("hardware,pointer,needle", [
    ({"os": "darwin", "arch": "x86_64", "accelerators": [{"kind": "apple-gpu", "name": "Apple GPU"}]},
     "/hardware/accelerators/0/kind", "an Intel Mac (darwin x86_64) has none"),
    ({"os": "linux", "arch": "arm64", "accelerators": [{"kind": "apple-gpu", "name": "Apple M2 GPU"}]},
     "/hardware/accelerators/0/kind", "only in an Apple-silicon Mac"),
    ({"os": "windows", "arch": "x86_64", "accelerators": [{"kind": "cuda", "name": "RTX 4090"},
                                                          {"kind": "tpu", "name": "TPU v4"}]},
     "/hardware/accelerators/1/kind", "Cloud TPUs are attached to Linux hosts"),
    ({"os": "darwin", "arch": "arm64", "accelerators": [{"kind": "cuda", "name": "RTX 4090"}]},
     "/hardware/accelerators/0/kind", "macOS has no NVIDIA CUDA support"),
    ({"os": "windows", "arch": "x86_64", "accelerators": [{"kind": "gaudi", "name": "Gaudi 3"}]},
     "/hardware/accelerators/0/kind", "Linux x86_64 servers"),
    ({"os": "linux", "arch": "x86_64", "accelerators": [{"kind": "cuda", "name": "RTX 4090", "integrated": True}]},
     "/hardware/accelerators/0/integrated", "on Arm systems"),
])
def test_a_machine_that_cannot_exist_is_refused_with_why(client, hardware, pointer, needle):
    body = assert_problem(client.post("/v1/recommendations", json={**GOOD, "hardware": hardware}), 422, pointer, needle)
    assert [error["pointer"] for error in body["errors"]] == [pointer]
    assert needle in body["detail"]  # the detail line says why too, for clients that show only it


def test_a_hardware_file_of_a_machine_that_cannot_exist_is_one_line_at_its_accelerator(tmp_path):
    from framework_advisor.cli_input import HardwareFileError, load_hardware_file

    path = tmp_path / "hw.yaml"
    path.write_text("os: darwin\narch: x86_64\naccelerators:\n  - kind: apple-gpu\n    name: Apple GPU\n")
    with pytest.raises(HardwareFileError) as refused:
        load_hardware_file(path)
    assert refused.value.problems == [f"{path}:4:5: /accelerators/0/kind: an Apple GPU exists only in an "
                                      "Apple-silicon Mac (darwin arm64); an Intel Mac (darwin x86_64) has none that "
                                      "a framework can use: describe it with no accelerators"]


def test_machines_that_do_exist_are_not_refused(client):
    for hardware in ({"os": "linux", "arch": "arm64", "accelerators": [
                         {"kind": "cuda", "name": "Jetson AGX Orin", "compute_capability": "8.7", "integrated": True}]},
                     {"os": "windows", "arch": "arm64", "accelerators": []},
                     {"os": "windows", "arch": "x86_64", "accelerators": [{"kind": "rocm", "name": "RX 7900 XTX"}]},
                     {"os": "linux", "arch": "x86_64", "accelerators": [{"kind": "gaudi", "name": "Gaudi 3", "count": 8}]},
                     {"os": "darwin", "arch": "x86_64", "accelerators": []}):
        response = client.post("/v1/recommendations", json={**GOOD, "hardware": hardware})
        assert response.status_code == 200, (hardware, response.get_data(as_text=True))


def test_missing_field(client):
    assert_problem(client.post("/v1/recommendations", json={"goals": ["learning"]}), 422, "experience", "required")


def test_unknown_field_is_refused_so_typos_do_not_pass_silently(client):
    assert_problem(client.post("/v1/recommendations", json={**GOOD, "hardwre": {}}), 422, "hardwre")


def test_body_that_is_not_an_object(client):
    assert_problem(client.post("/v1/recommendations", json=["learning"]), 422, "object")


def test_malformed_json_gives_the_position(client):
    assert_problem(post(client, '{"goals": ["learning"],'), 400, "malformed JSON", "line 1")


def test_non_utf8_body(client):
    assert_problem(post(client, b'{"goals": ["\xff\xfe"]}'), 400, "not UTF-8")


def test_empty_body(client):
    assert_problem(post(client, b""), 400, "empty")


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml"])
def test_wrong_content_type(client, content_type):
    assert_problem(post(client, "{}", content_type=content_type), 415, "application/json", content_type)


def test_missing_content_type(client):
    response = client.post("/v1/recommendations", data=b"{}")
    assert_problem(response, 415, "application/json")


def test_oversized_body_with_content_length(client):
    assert_problem(post(client, b" " * (64 * 1024 + 1)), 413, "limit")


def test_oversized_chunked_body_is_refused_not_truncated(client):
    # No Content-Length: the body arrives as a terminated stream, as gunicorn hands over a chunked body.
    import io

    big = b'{"goals": ["learning"], "experience": "beginner", "pad": "' + b"x" * 70_000 + b'"}'
    response = client.post("/v1/recommendations", input_stream=io.BytesIO(big), content_type="application/json",
                           headers={"Transfer-Encoding": "chunked"},
                           environ_overrides={"wsgi.input_terminated": True})
    assert_problem(response, 413, "limit")


def test_unknown_path_is_problem_json_not_html(client):
    assert_problem(client.get("/v2/everything"), 404, "/openapi.yaml")


@pytest.mark.parametrize("path", ["/static//etc/passwd", "/v1//frameworks", "/static/../openapi.yaml"])
def test_empty_or_dot_segments_are_not_found_not_redirected(client, path):
    response = client.get(path)
    assert response.status_code == 404 and response.mimetype == "application/problem+json"
    assert "Location" not in response.headers


def test_wrong_method_says_what_is_allowed(client):
    response = client.put("/v1/recommendations", json=GOOD)
    assert_problem(response, 405, "PUT", "POST")
    assert "POST" in response.headers["Allow"]


def test_unknown_probe_id_is_404(client):
    assert_problem(client.post("/v1/recommendations", json={**GOOD, "probe_id": "nope"}), 404, "nope")


def test_probe_id_with_path_characters_is_refused(client):
    assert_problem(client.post("/v1/recommendations", json={**GOOD, "probe_id": "../../etc/passwd"}), 422,
                   "/probe_id")


# --- JSON that stays JSON, documents that are not what they claim ------------------------------------------------

@pytest.mark.parametrize("body,needle", [
    ('{"goals": ["learning"], "experience": "beginner", "x": NaN}', "NaN"),
    ('{"goals": ["learning"], "experience": "beginner", "x": -Infinity}', "Infinity"),
    ('{"goals": [' + "9" * 5000 + '], "experience": "beginner"}', "digits"),
])
def test_what_json_does_not_have_is_a_400(client, body, needle):
    assert_problem(post(client, body), 400, needle)


def test_deep_nesting_is_refused_not_recursed_into(client):
    deep = '{"goals": ' + "[" * 600 + "]" * 600 + ', "experience": "beginner"}'
    assert_problem(post(client, deep), 422, "nested deeper than")
    assert_problem(post(client, "[" * 5000 + "]" * 5000), 400)


@pytest.mark.parametrize("field,value", [("hardware", None), ("probe_id", None),
                                         ("hardware", {"os": "linux", "arch": "x86_64", "cpu": None})])
def test_a_null_is_not_an_absent_field(client, field, value):
    # null never means "use the default" (for hardware that would silently answer for this machine).
    body = assert_problem(client.post("/v1/recommendations", json={**GOOD, field: value}), 422)
    assert body["errors"][0]["pointer"].startswith(f"/{field}")


def test_integral_numbers_are_integers_as_in_json_schema(client):
    hardware = {"os": "linux", "arch": "x86_64", "cpu": {"model": "x", "cores": 8.0}}
    assert client.post("/v1/recommendations", json={**GOOD, "hardware": hardware}).status_code == 200


# --- JSON stays JSON (issue 13, 2) ------------------------------------------------------------------------------

def _upload(client, text: str):
    return client.post("/v1/probes", data=text, content_type="application/json")


def _stored(client) -> list:
    return client.get("/v1/probes").get_json()["probes"]


@pytest.mark.parametrize("number", ["1e400", "-1e400", "1" + "0" * 400 + ".0"])
def test_a_number_beyond_a_double_is_a_400_not_an_infinity(client, number):
    hardware = '{"os": "linux", "arch": "x86_64", "cpu": {"model": "x", "cores": 2}, "memory_gb": %s}' % number
    assert_problem(post(client, '{"goals": ["learning"], "experience": "beginner", "hardware": %s}' % hardware), 400,
                   "out of range")


def test_an_upload_with_an_infinite_figure_is_refused_not_stored_as_null(tmp_path):
    # It used to be stored as null, and the stored report could then never be read again (409 on every use).
    from framework_advisor.app import create_app
    from tests.service_fixtures import canned_report_json, settings_for

    client = create_app(settings_for(tmp_path)).test_client()
    report = canned_report_json(quick=True)
    report["frameworks"][0]["benchmarks"][0]["timing"]["total_s"] = 12345.5
    assert_problem(_upload(client, json.dumps(report).replace("12345.5", "1e400")), 400, "out of range")
    assert _stored(client) == []


@pytest.mark.parametrize("body,where", [
    ('{"goals": ["learning"], "experience": "beginner\\ud800"}', "/experience"),
    ('{"goals": ["learning\\udfff"], "experience": "beginner"}', "/goals/0"),
    ('{"goals": ["learning"], "experience": "beginner", "\\ud83d": 1}', "(the key)"),
    ('{"goals": ["learning"], "experience": "beginner", "x": "\\udc00\\ud800"}', "/x"),  # a pair the wrong way round
])
def test_a_lone_surrogate_is_a_400_naming_where(client, body, where):
    assert_problem(post(client, body), 400, "lone surrogate", where)


def test_an_escaped_pair_is_one_character_and_fine(client):
    body = '{"goals": ["learning"], "experience": "beginner", "hardware": {"os": "linux", "arch": "x86_64", ' \
           '"cpu": {"model": "\\ud83d\\ude80 chip", "cores": 2}}}'
    response = post(client, body)
    assert response.status_code == 200 and response.get_json()["hardware"]["cpu"]["model"] == "\U0001F680 chip"


def test_a_lone_surrogate_in_an_upload_is_refused_not_stored(tmp_path):
    from framework_advisor.app import create_app
    from tests.service_fixtures import canned_report_json, settings_for

    client = create_app(settings_for(tmp_path)).test_client()
    report = canned_report_json(quick=True)
    report["host"] = "node\ud800"
    assert_problem(_upload(client, json.dumps(report)), 400, "lone surrogate", "/host")
    assert _stored(client) == []


@pytest.mark.parametrize("limit", ["²", "٣", "５", "+5", " 5", "5 ", "1e2", "0x10", "99999"])
def test_a_limit_that_is_not_ascii_digits_in_range_is_a_400(client, limit):
    from urllib.parse import quote

    assert_problem(client.get(f"/v1/probes?limit={quote(limit)}"), 400, "limit must be an integer")


@pytest.mark.parametrize("where", ["top", "framework", "benchmark", "timing", "hardware", "accelerator"])
def test_unknown_fields_in_an_uploaded_report_are_refused_and_nothing_is_stored(tmp_path, where):
    from framework_advisor.app import create_app
    from tests.service_fixtures import canned_report_json, settings_for

    client = create_app(settings_for(tmp_path)).test_client()
    report = canned_report_json(quick=True)
    report["hardware"]["accelerators"] = [{"kind": "cuda", "name": "NVIDIA H100"}]
    target = {"top": report, "framework": report["frameworks"][0],
              "benchmark": report["frameworks"][0]["benchmarks"][0],
              "timing": report["frameworks"][0]["benchmarks"][0]["timing"], "hardware": report["hardware"],
              "accelerator": report["hardware"]["accelerators"][0]}[where]
    target["surprise"] = {"nested": [1, 2, 3]}
    body = assert_problem(_upload(client, json.dumps(report)), 422, "unknown field")
    assert body["errors"][0]["pointer"].endswith("/surprise") and body["errors"][0]["message"] == "unknown field"
    assert _stored(client) == []


def test_nan_and_infinity_are_never_written(app):
    import math

    from framework_advisor.contract import ContractViolation, validate
    from framework_advisor.probes.hardware import HardwareProfile

    with pytest.raises(ValueError):
        app.json.dumps({"x": math.nan})  # Flask's own JSON (jsonify) refuses rather than write NaN
    hardware = {"os": "linux", "arch": "x86_64", "cpu": {"model": "x", "cores": 2}, "memory_gb": math.inf}
    with pytest.raises(ContractViolation, match="NaN and Infinity"):  # from a YAML .inf or Python: refused too
        validate(HardwareProfile, hardware)


def test_every_json_answer_parses_without_nan_or_infinity(client):
    def strict(text: str):
        return json.loads(text, parse_constant=lambda name: pytest.fail(f"{name} written"))

    for response in (client.get("/v1/vocabulary"), client.get("/v1/hardware"), client.get("/v1/frameworks"),
                     client.get("/v1/rules"), client.post("/v1/recommendations", json=GOOD),
                     client.get("/v1/probes")):
        assert response.status_code == 200
        strict(response.get_data(as_text=True))


@pytest.mark.parametrize("where", ["memory_gb", "accelerator"])
def test_a_memory_of_a_few_bytes_is_answered_not_a_500(client, where):
    # Found by make fuzz: 5e-324 GB made the capacity facts' device counts infinite (OverflowError, 500).
    hardware = {"os": "linux", "arch": "x86_64", "cpu": {"model": "x", "cores": 2}, "memory_gb": 5e-324}
    if where == "accelerator":
        hardware = {**hardware, "memory_gb": 64,
                    "accelerators": [{"kind": "cuda", "name": "NVIDIA H100", "memory_gb": 5e-324}]}
    response = client.post("/v1/recommendations", json={"goals": ["pretrained-models", "large-scale-training"],
                                                        "experience": "expert", "hardware": hardware})
    assert response.status_code == 200, response.get_data(as_text=True)
