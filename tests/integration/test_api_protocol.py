"""What every call has in common: the token, JSON-only bodies, the error body, size limits,
no 500 for bad input, no secret in any answer; the open ops routes; the OpenAPI document."""
from __future__ import annotations

import re
import uuid

import pytest

from shared import schemas as s
from shared import service
from tests.integration.test_api import API, _release_app, conforms, connect, error_of, new_body, seed_person  # noqa: F401  (_release_app is an autouse fixture)
from web import create_app

_ARG = re.compile(r"<(?:\w+:)?(\w+)>")


def api_routes(app) -> list[tuple[str, str]]:
    """(method, concrete URL) for every store-backend route."""
    values = {"integration_id": str(uuid.uuid4()), "run_id": str(uuid.uuid4()), "store_id": "acme-shop"}
    routes = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("api."):
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                routes.append((method, _ARG.sub(lambda m: values[m[1]], rule.rule)))
    return routes


# --- the token ---------------------------------------------------------------------------------

def test_every_api_route_needs_the_store_token(app, client, config):
    routes = api_routes(app)
    assert len(routes) == 16
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {config.store_api_token}"},
                    {"Authorization": config.store_api_token}, {"Authorization": "Bearer "},
                    {"Authorization": "Bearer caf\u00e9"}):
        for method, url in routes:
            response = client.open(url, method=method, headers=headers, json={"x": 1})
            error_of(response, 401, "unauthorized")
            assert response.headers["WWW-Authenticate"] == "Bearer", (method, url)


def test_the_scheme_is_case_insensitive(client, config):
    response = client.get(f"{API}/stores/acme-shop/people",
                          headers={"Authorization": f"bearer {config.store_api_token}"})
    assert response.status_code == 200


def test_an_unauthenticated_caller_cannot_make_the_api_parse_a_body(client):
    response = client.post(f"{API}/integrations", data="{not json", content_type="application/json")
    error_of(response, 401, "unauthorized")


# --- bodies ------------------------------------------------------------------------------------

@pytest.mark.parametrize("method, path", [("POST", "/integrations"), ("PATCH", "/integrations/{iid}"),
                                          ("PUT", "/integrations/{iid}/webhook-secret"),
                                          ("POST", "/integrations/{iid}/removals/approve")])
@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml"])
def test_a_body_that_is_not_json_is_415(client, store_auth, method, path, content_type):
    iid = connect(client, store_auth)["id"]
    response = client.open(API + path.format(iid=iid), method=method, data='{"store_id": "x"}',
                           content_type=content_type, headers=store_auth)
    error_of(response, 415, "unsupported_media_type")


@pytest.mark.parametrize("data", [b"{", b'{"store_id": }', b"\xff\xfe\x00", b"[" * 100_000 + b"]" * 100_000,
                                  b'{"a": 1} trailing'])
def test_malformed_json_is_400(client, store_auth, data):
    response = client.post(f"{API}/integrations", data=data, content_type="application/json", headers=store_auth)
    assert error_of(response, 400, "validation_failed")["message"] == "the body is not valid JSON"


def test_json_with_a_charset_or_a_json_suffix_type_is_accepted(client, store_auth):
    for content_type in ("application/json; charset=utf-8", "application/merge-patch+json"):
        response = client.post(f"{API}/integrations", data='{"store_id": "x"}', content_type=content_type,
                               headers=store_auth)
        error_of(response, 400, "validation_failed")  # parsed: only the fields are wrong


def test_a_body_over_1_mib_is_413(client, store_auth, ctx):
    payload = new_body(note="x" * (1024 * 1024))
    response = client.post(f"{API}/integrations", json=payload, headers=store_auth)
    error_of(response, 413, "payload_too_large")
    with ctx.db.begin() as conn:
        from shared.db import integrations as integrations_db
        assert integrations_db.count_by_state(conn) == {}


def test_a_wrong_method_is_a_json_405_with_allow(client, store_auth):
    response = client.get(f"{API}/integrations", headers=store_auth)
    error_of(response, 405, "method_not_allowed")
    assert "POST" in response.headers["Allow"]


def test_an_unknown_route_is_a_json_404(client, store_auth):
    error_of(client.get(f"{API}/nothing-here", headers=store_auth), 404, "not_found")
    error_of(client.get("/nothing-here"), 404, "not_found")


def test_an_unexpected_failure_is_a_json_500_without_details(client, store_auth, monkeypatch, caplog):
    def broken(*_args, **_kwargs):
        raise RuntimeError("database password is hunter2")
    monkeypatch.setattr(service, "describe", broken)
    response = client.get(f"{API}/integrations/{uuid.uuid4()}", headers=store_auth)
    assert response.status_code == 500
    assert response.json["error"]["code"] == "internal_error"
    assert "hunter2" not in response.get_data(as_text=True)
    assert "unhandled error on GET" in caplog.text


# --- secrets never leave ------------------------------------------------------------------------

def test_no_answer_ever_contains_the_store_token_or_a_credential(app, client, store_auth, config, ctx):
    secrets = [config.store_api_token, "hibob-token-secret-1", "whsec-never-shown", "legacy-api-key"]
    answers = []
    payload = new_body()
    payload["credentials"]["api_key"] = "legacy-api-key"
    answers.append(client.post(f"{API}/integrations", json=payload, headers=store_auth))
    iid = answers[0].json["id"]
    answers.append(client.post(f"{API}/integrations", json=payload, headers=store_auth))  # 409
    answers.append(client.put(f"{API}/integrations/{iid}/webhook-secret", json={"secret": "whsec-never-shown"},
                              headers=store_auth))
    answers.append(client.put(f"{API}/integrations/{iid}/webhook-secret",
                              json={"secret": "whsec-never-shown", "extra": "whsec-never-shown"}, headers=store_auth))
    answers.append(client.patch(f"{API}/integrations/{iid}", json={"credentials": {
        "service_user_id": "S", "token": "hibob-token-secret-1", "bogus": 1}}, headers=store_auth))
    answers.append(client.patch(f"{API}/integrations/{iid}", json={"credentials": {
        "service_user_id": "S", "token": "hibob-token-secret-1"}}, headers=store_auth))
    seed_person(ctx, "acme-shop", iid, "1")
    for method, url in api_routes(app):
        url = url.replace(url.split("/")[4], iid) if "/integrations/" in url else url
        answers.append(client.open(url, method=method, headers=store_auth, json={}))
        answers.append(client.open(url, method=method, headers={"Authorization": "Bearer wrong"}))
    for path in ("/healthz", "/readyz", "/metrics", "/api/openapi.json"):
        answers.append(client.get(path))
    row_secrets = [v for k, v in _row(ctx, iid).items() if k.endswith("_enc") and v]
    for answer in answers:
        text = answer.get_data(as_text=True) + str(answer.headers)
        for secret in secrets + row_secrets:
            assert secret not in text, (answer.request.method, answer.request.path)


def _row(ctx, iid):
    from shared.db import integrations as integrations_db
    with ctx.db.begin() as conn:
        return integrations_db.get(conn, iid)


# --- ops ---------------------------------------------------------------------------------------

def test_health_and_readiness_are_open(client):
    assert client.get("/healthz").json == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json == {"database": "ok", "redis": "ok"}
    conforms(s.ReadinessSchema, ready.json)


def test_readiness_is_503_naming_what_is_down(config, free_port_url):
    app = create_app(config.with_(redis_url=free_port_url("redis"),
                                  database_url=free_port_url("postgresql+psycopg") + "x"))
    try:
        response = app.test_client().get("/readyz")
        assert response.status_code == 503
        assert response.json["database"] != "ok" and response.json["redis"] != "ok"
        assert "127.0.0.1" not in response.get_data(as_text=True)
    finally:
        app.extensions["peoplesync"].db.dispose()


@pytest.fixture
def free_port_url():
    from tests.conftest import free_port

    return lambda scheme: f"{scheme}://127.0.0.1:{free_port()}/"


def test_metrics_are_prometheus_text(client, store_auth):
    connect(client, store_auth)
    response = client.get("/metrics")
    assert response.status_code == 200 and response.mimetype == "text/plain"
    text = response.get_data(as_text=True)
    assert 'peoplesync_integrations{state="connecting"} 1.0' in text
    assert 'peoplesync_queue_depth{queue="sync"} 1.0' in text


# --- OpenAPI -----------------------------------------------------------------------------------

@pytest.fixture
def spec(client):
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    return response.json


def test_openapi_document_is_valid_openapi_3(spec):
    try:
        from openapi_spec_validator import validate
    except ImportError:  # not installed: check the structure the tools rely on
        assert spec["openapi"].startswith("3.") and spec["info"]["title"] and spec["paths"]
        for path, item in spec["paths"].items():
            for method, op in item.items():
                if method != "parameters":
                    assert op["responses"], (path, method)
    else:
        validate(spec)
    assert spec["openapi"] == "3.0.3"


def test_openapi_documents_every_route_with_its_errors(app, spec):
    documented = {(m.upper(), p) for p, item in spec["paths"].items() for m in item if m != "parameters"}
    for rule in app.url_map.iter_rules():
        if rule.endpoint.partition(".")[0] not in ("api", "ops", "openapi"):
            continue  # HiBob's webhook and the dashboard are not part of the store's API
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert (method, path) in documented, (method, path)
            op = spec["paths"][path][method.lower()]
            codes = set(op["responses"])
            if rule.endpoint.startswith("api."):
                assert "401" in codes and op["security"] == [{"storeToken": []}]
            if "{" in path:
                assert "404" in codes
            if method in ("POST", "PUT", "PATCH"):
                assert {"400", "413", "415"} <= codes
    assert ("GET", "/api/v1/stores/{store_id}/changes") in documented
    assert len([d for d in documented if d[1].startswith("/api/v1/")]) == 16


def test_openapi_declares_bodies_parameters_and_schemas(spec):
    paths = spec["paths"]
    create = paths["/api/v1/integrations"]["post"]
    assert create["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/IntegrationCreate"}
    assert create["responses"]["202"]["content"]["application/json"]["schema"]["$ref"].endswith("/Integration")
    assert "Location" in create["responses"]["202"]["headers"]
    assert create["responses"]["202"]["links"]["get_integration"]["parameters"] == {
        "integration_id": "$response.body#/id"}
    assert paths["/api/v1/integrations/{integration_id}"]["patch"]["requestBody"]
    people = {p["name"]: p for p in paths["/api/v1/stores/{store_id}/people"]["get"]["parameters"]}
    assert people["status"]["schema"]["enum"] == ["active", "upcoming", "removed", "all"]
    assert people["limit"]["schema"]["maximum"] == 1000
    store_param = paths["/api/v1/stores/{store_id}/people"]["parameters"][0]
    assert store_param["schema"]["pattern"] == s.STORE_ID_PATTERN
    schemas = spec["components"]["schemas"]
    assert "token" not in schemas["Integration"]["properties"]
    assert schemas["FeedPage"]["properties"]["next_cursor"].get("nullable") is not True
    assert schemas["RunPage"]["properties"]["next_cursor"]["nullable"] is True
    assert set(schemas["Error"]["properties"]) == {"error", "integration_id"}
    assert schemas["SettingsInput"]["properties"]["removal_guard_percent"]["maximum"] == 100


def test_openapi_is_public(client):
    assert client.get("/api/openapi.json").status_code == 200
