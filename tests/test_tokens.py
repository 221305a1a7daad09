"""Uploads speak only for their own host (issue 13, 7): one upload token per machine, bound to its host name and
managed with `framework-advisor tokens`; a report of another host is refused (403); stored probes can be put
behind the token (--private-reads); a token shorter than 32 characters is refused at start-up."""

from __future__ import annotations

import sqlite3

import pytest

from framework_advisor.app import create_app
from framework_advisor.config import Settings, SettingsError
from framework_advisor.storage import Store
from tests.service_fixtures import HOST, SERVICE_TOKEN, FakeProbe, canned_report_json, run_cli, settings_for


def _report(host: str) -> dict:
    return {**canned_report_json(True), "host": host}


def _bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def _add(capsys, data_dir, host: str, *extra: str) -> str:
    code, out, err = run_cli(capsys, "tokens", "add", host, "--data-dir", str(data_dir), *extra)
    assert code == 0, err
    assert f"set it as FRAMEWORK_ADVISOR_TOKEN on {host}" in err
    return out.strip()


# --- the tokens command -----------------------------------------------------------------------------------------

def test_tokens_add_prints_a_random_token_once_and_the_store_keeps_only_its_hash(tmp_path, capsys):
    first, second = _add(capsys, tmp_path, "node-1"), _add(capsys, tmp_path, "node-2")
    assert len(first) >= 43 and first != second and "\n" not in first
    stored = b"".join(path.read_bytes() for path in tmp_path.iterdir() if path.is_file())
    assert first.encode() not in stored and second.encode() not in stored
    code, out, _ = run_cli(capsys, "tokens", "list", "--data-dir", str(tmp_path))
    assert code == 0 and [line.split()[0] for line in out.splitlines()] == ["node-1", "node-2"]
    assert first not in out and "sha256:" in out
    code, out, _ = run_cli(capsys, "tokens", "list", "--json", "--data-dir", str(tmp_path))
    import json

    assert [entry["host"] for entry in json.loads(out)["tokens"]] == ["node-1", "node-2"]


def test_a_second_token_for_a_host_needs_replace_and_revoke_ends_it(tmp_path, capsys):
    old = _add(capsys, tmp_path, "node-1")
    code, _, err = run_cli(capsys, "tokens", "add", "node-1", "--data-dir", str(tmp_path))
    assert code == 2 and err.count("\n") == 1 and "--replace" in err
    new = _add(capsys, tmp_path, "node-1", "--replace")
    store = Store.open(tmp_path / "framework-advisor.sqlite3")
    from framework_advisor.storage import token_digest

    assert store.token_host(token_digest(old)) is None and store.token_host(token_digest(new)) == "node-1"
    assert run_cli(capsys, "tokens", "revoke", "node-1", "--data-dir", str(tmp_path))[0] == 0
    assert store.token_host(token_digest(new)) is None
    code, _, err = run_cli(capsys, "tokens", "revoke", "node-1", "--data-dir", str(tmp_path))
    assert code == 2 and "has no token" in err


@pytest.mark.parametrize("host", ["node 1", "../etc", "", "x" * 256, "nöde"])
def test_a_bad_host_name_is_one_line_and_exit_2(tmp_path, capsys, host):
    code, _, err = run_cli(capsys, "tokens", "add", host, "--data-dir", str(tmp_path))
    assert code == 2 and err.count("\n") == 1 and "host name" in err
    assert not (tmp_path / "framework-advisor.sqlite3").exists()


def test_listing_a_store_that_does_not_exist_says_so(tmp_path, capsys):
    code, _, err = run_cli(capsys, "tokens", "list", "--data-dir", str(tmp_path / "none"))
    assert code == 2 and "no store" in err and not (tmp_path / "none").exists()


# --- uploads speak only for their own host ----------------------------------------------------------------------

@pytest.fixture()
def fleet(tmp_path, capsys):
    """A service with a service token and upload tokens for node-1 and node-2 (made with the CLI)."""
    settings = settings_for(tmp_path, api_token=SERVICE_TOKEN)
    tokens = {host: _add(capsys, settings.data_dir, host) for host in ("node-1", "node-2")}
    probe = FakeProbe()
    probe.release.set()
    return create_app(settings, run_probe=probe).test_client(), tokens


def test_a_machine_uploads_its_own_report(fleet):
    client, tokens = fleet
    stored = client.post("/v1/probes", json=_report("node-1"), headers=_bearer(tokens["node-1"]))
    assert stored.status_code == 201 and stored.get_json()["host"] == "node-1"
    # Host names are case-insensitive.
    assert client.post("/v1/probes", json=_report("NODE-1"), headers=_bearer(tokens["node-1"])).status_code == 201


def test_a_report_for_another_host_is_403_and_nothing_is_stored(fleet):
    client, tokens = fleet
    forged = client.post("/v1/probes", json=_report("node-2"), headers=_bearer(tokens["node-1"]))
    assert forged.status_code == 403 and forged.mimetype == "application/problem+json"
    detail = forged.get_json()["detail"]
    assert "'node-2'" in detail and "'node-1'" in detail and "tokens add node-2" in detail
    assert client.get("/v1/probes?host=node-2").get_json()["probes"] == []


def test_the_service_token_uploads_only_this_machines_reports(fleet):
    client, _ = fleet
    assert client.post("/v1/probes", json=_report(HOST), headers=_bearer(SERVICE_TOKEN)).status_code == 201
    other = client.post("/v1/probes", json=_report("node-1"), headers=_bearer(SERVICE_TOKEN))
    assert other.status_code == 403 and "only this machine's reports" in other.get_json()["detail"]


def test_an_upload_token_cannot_start_a_probe(fleet):
    client, tokens = fleet
    refused = client.post("/v1/probes", json={"quick": True}, headers=_bearer(tokens["node-1"]))
    assert refused.status_code == 403 and "service token" in refused.get_json()["detail"]
    assert client.post("/v1/probes", json={"quick": True}, headers=_bearer(SERVICE_TOKEN)).status_code == 202


def test_no_token_or_a_revoked_one_is_401(fleet, capsys, tmp_path):
    client, tokens = fleet
    missing = client.post("/v1/probes", json=_report("node-1"))
    assert missing.status_code == 401 and missing.headers["WWW-Authenticate"].startswith("Bearer")
    assert run_cli(capsys, "tokens", "revoke", "node-1", "--data-dir", str(tmp_path / "data"))[0] == 0
    revoked = client.post("/v1/probes", json=_report("node-1"), headers=_bearer(tokens["node-1"]))
    assert revoked.status_code == 401 and 'error="invalid_token"' in revoked.headers["WWW-Authenticate"]


def test_with_upload_tokens_and_no_service_token_uploads_still_need_one(tmp_path, capsys):
    settings = settings_for(tmp_path)
    token = _add(capsys, settings.data_dir, "node-1")
    client = create_app(settings, run_probe=FakeProbe()).test_client()
    assert client.post("/v1/probes", json=_report("node-1")).status_code == 401
    assert client.post("/v1/probes", json=_report("node-1"), headers=_bearer(token)).status_code == 201
    assert client.post("/v1/probes", json=_report("node-2"), headers=_bearer(token)).status_code == 403


def test_a_service_without_tokens_stays_open_on_loopback(tmp_path):
    client = create_app(settings_for(tmp_path), run_probe=FakeProbe()).test_client()
    assert client.post("/v1/probes", json=_report("node-7")).status_code == 201
    # A header sent anyway changes nothing there (as before).
    assert client.post("/v1/probes", json=_report("node-7"), headers=_bearer("whatever")).status_code == 201


def test_an_unauthorized_upload_reads_no_report(fleet, monkeypatch):
    """A caller without a token is refused before the body is validated: no work spent on it."""
    import framework_advisor.api as api

    validated = []
    monkeypatch.setattr(api, "read_report", lambda body: validated.append(body))
    client, _ = fleet
    assert client.post("/v1/probes", json=_report("node-1")).status_code == 401
    assert client.post("/v1/probes", json=_report("node-1"), headers=_bearer("x" * 40)).status_code == 401
    assert validated == []


# --- private reads ----------------------------------------------------------------------------------------------

def test_private_reads_need_a_token(tmp_path, capsys):
    settings = settings_for(tmp_path, api_token=SERVICE_TOKEN, private_reads=True)
    token = _add(capsys, settings.data_dir, "node-1")
    client = create_app(settings, run_probe=FakeProbe()).test_client()
    first = client.post("/v1/probes", json=_report("node-1"), headers=_bearer(token)).get_json()["id"]
    second = client.post("/v1/probes", json=_report("node-1"), headers=_bearer(token)).get_json()["id"]
    asks = [("get", "/v1/probes", None), ("get", f"/v1/probes/{first}", None),
            ("get", f"/v1/probes/{first}/diff/{second}", None),
            ("post", "/v1/recommendations", {"goals": ["research"], "experience": "expert", "probe_id": first})]
    for method, url, body in asks:
        anonymous = getattr(client, method)(url, json=body)
        assert anonymous.status_code == 401 and anonymous.mimetype == "application/problem+json", url
        assert "--private-reads" in anonymous.get_json()["detail"]
        for given in (SERVICE_TOKEN, token):
            assert getattr(client, method)(url, json=body, headers=_bearer(given)).status_code == 200, url
    # The rest stays open: health, the catalog, a recommendation for this machine without a probe_id.
    assert client.get("/healthz").status_code == 200 and client.get("/v1/frameworks").status_code == 200
    assert client.post("/v1/recommendations", json={"goals": ["research"], "experience": "expert"}).status_code == 200


def test_without_private_reads_reading_stays_open(fleet):
    client, _ = fleet
    assert client.get("/v1/probes").status_code == 200


def test_private_reads_by_flag_and_variable(tmp_path, capsys, monkeypatch):
    from framework_advisor import server

    seen = []
    monkeypatch.setattr(server, "serve", lambda settings, **kwargs: seen.append(settings) or 0)
    monkeypatch.setenv("FRAMEWORK_ADVISOR_TOKEN", SERVICE_TOKEN)
    assert run_cli(capsys, "serve", "--data-dir", str(tmp_path), "--private-reads")[0] == 0
    monkeypatch.setenv("FRAMEWORK_ADVISOR_PRIVATE_READS", "1")
    assert run_cli(capsys, "serve", "--data-dir", str(tmp_path))[0] == 0
    assert [settings.private_reads for settings in seen] == [True, True]
    monkeypatch.setenv("FRAMEWORK_ADVISOR_PRIVATE_READS", "maybe")
    code, _, err = run_cli(capsys, "serve", "--data-dir", str(tmp_path))
    assert code == 2 and "FRAMEWORK_ADVISOR_PRIVATE_READS" in err


def test_private_reads_with_no_token_at_all_stop_start_up(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("FRAMEWORK_ADVISOR_TOKEN", raising=False)
    code, _, err = run_cli(capsys, "serve", "--data-dir", str(tmp_path), "--private-reads")
    assert code == 2 and err.count("\n") == 1 and "nobody could read" in err


# --- a short token is refused at start-up -----------------------------------------------------------------------

def test_a_short_service_token_is_refused_at_start_up(tmp_path, capsys, monkeypatch):
    with pytest.raises(SettingsError, match="at least 32"):
        create_app(settings_for(tmp_path, api_token="s3cret"), run_probe=FakeProbe())
    monkeypatch.setenv("FRAMEWORK_ADVISOR_TOKEN", "x" * 31)
    code, _, err = run_cli(capsys, "serve", "--data-dir", str(tmp_path), "--host", "0.0.0.0")
    assert code == 2 and err.count("\n") == 1 and "31 characters" in err and "secrets.token_urlsafe(32)" in err
    Settings(data_dir=tmp_path, api_token="x" * 32).check_token()  # 32 is enough


def test_tokens_table_is_part_of_the_store(tmp_path):
    store = Store.open(tmp_path / "db.sqlite3")
    with sqlite3.connect(store.path) as db:
        columns = [row[1] for row in db.execute("PRAGMA table_info(tokens)")]
    assert columns == ["host", "sha256", "created_at"] and not store.has_tokens()
