"""Every response of every endpoint is checked against openapi.yaml with openapi-core.

openapi-core is independent of the service's own jsonschema validation, so the contract is held
by a second implementation.
"""

from __future__ import annotations

import json

import pytest
from openapi_core import Config, OpenAPI
from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest, WerkzeugOpenAPIResponse
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from tests.conftest import REPO_ROOT

WINDOWS_LAPTOP = {"os": "windows", "arch": "x86_64", "cpu": {"model": "x", "cores": 8}, "memory_gb": 16,
                  "accelerators": []}
H100_SERVER = {"os": "linux", "arch": "x86_64", "cpu": {"model": "Xeon", "cores": 96}, "memory_gb": 2048,
               "accelerators": [{"kind": "cuda", "name": "NVIDIA H100 80GB HBM3", "count": 8, "memory_gb": 80,
                                 "cores": 132, "compute_capability": "9.0"}]}
APPLE_M3 = {"os": "darwin", "arch": "arm64", "cpu": {"model": "Apple M3 Pro", "cores": 12}, "memory_gb": 36,
            "accelerators": [{"kind": "apple-gpu", "name": "Apple M3 Pro GPU", "memory_gb": 36}]}


@pytest.fixture(scope="module")
def openapi():
    config = Config(extra_media_type_deserializers={"application/problem+json": json.loads,
                                                    "text/markdown": lambda data: bytes(data).decode("utf-8")})
    return OpenAPI.from_file_path(str(REPO_ROOT / "openapi.yaml"), config=config)


def call(openapi, client, method, path, **kwargs):
    """Make the request and validate the response; the request is rebuilt for openapi-core because
    the service has already consumed the original body stream."""
    response = client.open(path, method=method.upper(), **kwargs)
    request = Request(EnvironBuilder(path=path, method=method.upper(), **kwargs).get_environ())
    openapi.validate_response(WerkzeugOpenAPIRequest(request), WerkzeugOpenAPIResponse(response))
    return response


def test_the_document_is_valid_openapi_3_1():
    import yaml
    from openapi_spec_validator import OpenAPIV31SpecValidator

    document = yaml.safe_load((REPO_ROOT / "openapi.yaml").read_text())
    errors = [error.message for error in OpenAPIV31SpecValidator(document).iter_errors()]
    assert errors == []


def test_the_committed_openapi_yaml_is_the_one_the_models_generate():
    from framework_advisor.contract.document import openapi_text

    committed = (REPO_ROOT / "openapi.yaml").read_text(encoding="utf-8")
    assert committed == openapi_text(), "openapi.yaml is stale: run `make openapi`"


def test_the_contract_enums_are_the_vocabulary():
    import yaml

    from framework_advisor.probes import vocabulary

    schemas = yaml.safe_load((REPO_ROOT / "openapi.yaml").read_text())["components"]["schemas"]
    request = schemas["RecommendationRequest"]["properties"]
    assert request["goals"]["items"]["enum"] == list(vocabulary.GOALS)
    assert request["experience"]["enum"] == list(vocabulary.EXPERIENCE_LEVELS)
    assert schemas["FrameworkId"]["enum"] == list(vocabulary.FRAMEWORK_IDS)
    assert schemas["Device"]["enum"] == list(vocabulary.DEVICES)
    assert schemas["Accelerator"]["properties"]["kind"]["enum"] == list(vocabulary.ACCELERATOR_KINDS)


def test_the_service_serves_the_committed_contract(client):
    response = client.get("/openapi.yaml")
    assert response.status_code == 200
    assert response.get_data(as_text=True) == (REPO_ROOT / "openapi.yaml").read_text(encoding="utf-8")


@pytest.mark.parametrize("path", ["/healthz", "/v1/frameworks", "/v1/hardware", "/openapi.yaml", "/v1/rules",
                                  "/v1/probes", "/v1/vocabulary", "/v1/starters/pytorch?device=cuda&goal=research",
                                  "/v1/starters/mlx?device=apple-gpu"])
def test_get_endpoints_match_the_contract(openapi, client, path):
    response = call(openapi, client, "get", path)
    assert response.status_code == 200


@pytest.mark.parametrize("hardware", [WINDOWS_LAPTOP, H100_SERVER, APPLE_M3, None],
                         ids=["windows", "h100", "apple", "this-machine"])
@pytest.mark.parametrize("goals,experience", [(["learning"], "beginner"), (["research", "production"], "expert")])
def test_recommendations_match_the_contract(openapi, client, hardware, goals, experience):
    body = {"goals": goals, "experience": experience}
    if hardware is not None:
        body["hardware"] = hardware
    response = call(openapi, client, "post", "/v1/recommendations", json=body)
    assert response.status_code == 200
    assert [item["rank"] for item in response.json["ranking"]] == [1, 2, 3, 4, 5]


@pytest.mark.parametrize("method,path,kwargs,status", [
    ("get", "/nowhere", {}, 404),
    ("get", "/v1/probes/unknown", {}, 404),
    ("get", "/v1/starters/numpy?device=cuda", {}, 404),  # a valid device with no starter: no such starter
    ("delete", "/v1/frameworks", {}, 405),
    ("post", "/v1/recommendations", {"data": "{", "content_type": "application/json"}, 400),
    ("post", "/v1/recommendations", {"data": "goals=learning", "content_type": "text/plain"}, 415),
    ("post", "/v1/recommendations", {"json": {"goals": ["gardening"], "experience": "beginner"}}, 422),
    ("post", "/v1/recommendations", {"data": "x" * 70_000, "content_type": "application/json"}, 413),
])
def test_error_responses_match_the_contract(openapi, client, method, path, kwargs, status):
    if path != "/nowhere" and method != "delete":  # documented operations are checked against the contract
        response = call(openapi, client, method, path, **kwargs)
    else:  # undocumented paths and methods have no operation to check against
        response = client.open(path, method=method.upper(), **kwargs)
    assert response.status_code == status
    assert response.mimetype == "application/problem+json"


@pytest.mark.parametrize("accept", ["text/markdown", "text/html"])
def test_a_recommendation_in_markdown_or_json_matches_the_contract(openapi, client, accept):
    response = call(openapi, client, "post", "/v1/recommendations", headers={"Accept": accept},
                    json={"goals": ["learning"], "experience": "beginner", "hardware": WINDOWS_LAPTOP})
    assert response.status_code == 200
    assert response.mimetype == ("text/markdown" if accept == "text/markdown" else "application/json")
