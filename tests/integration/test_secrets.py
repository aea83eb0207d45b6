"""Secrets: HiBob tokens and webhook secrets are encrypted at rest and never appear in an API
answer, a log line, an exception message, a job's arguments, Redis or the change log.

One full scenario (connect, sync, webhook secret and its rotation, events, a wrong token, HiBob
failures, the operator commands) runs with everything captured, then every place is scanned for
every form of every secret. Each channel is also checked to catch a planted secret, so an empty
scan cannot pass by capturing nothing.
"""
from __future__ import annotations

import base64
import io
import json
import logging
import uuid
import zlib
from typing import Any

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet

from shared.crypto import SecretBox
from shared.db import integrations as integrations_db
from shared.db.tables import metadata
from tests.integration.test_webhooks import drain, event, sign
from worker import context as worker_context

API = "/api/v1"


@pytest.fixture
def hibob_api_url(hibob_sandbox):
    return hibob_sandbox.base_url


def forms(user: str, secret: str) -> list[str]:
    """The ways a secret could leak: as is, as HiBob's Basic credentials, JSON-escaped."""
    return [secret, base64.b64encode(f"{user}:{secret}".encode()).decode(), json.dumps(secret)[1:-1]]


class Answers:
    """A test client that keeps every answer (status line, headers, body)."""

    def __init__(self, client, auth: dict[str, str]):
        self.client, self.auth, self.seen = client, auth, []

    def __call__(self, method: str, path: str, body: Any = None, raw: bytes | None = None,
                 headers: dict[str, str] | None = None):
        kwargs: dict[str, Any] = {"headers": {**self.auth, **(headers or {})}}
        if raw is not None:
            kwargs["data"] = raw
            kwargs["content_type"] = "application/json"
        elif body is not None:
            kwargs["json"] = body
        answer = self.client.open(path, method=method, **kwargs)
        self.seen.append(f"{answer.status}\n{answer.headers}\n{answer.get_data(as_text=True)}")
        return answer


def redis_texts(client, prefix: str) -> list[bytes]:
    """Every key and value of this test in Redis (its prefix) and every rq job and result, with
    rq's zlib-compressed payloads (the pickled function arguments) decompressed."""
    keys = set(client.scan_iter(match=f"*{prefix}*", count=1000))
    keys |= set(client.scan_iter(match="rq:job:*", count=1000)) | set(client.scan_iter(match="rq:results:*",
                                                                                         count=1000))
    out: list[bytes] = []
    for key in keys:
        kind = client.type(key).decode()
        values: list[bytes] = []
        if kind == "string":
            values = [client.get(key) or b""]
        elif kind == "hash":
            values = [b for pair in client.hgetall(key).items() for b in pair]
        elif kind == "list":
            values = client.lrange(key, 0, -1)
        elif kind == "set":
            values = list(client.smembers(key))
        elif kind == "zset":
            values = [m for m, _ in client.zrange(key, 0, -1, withscores=True)]
        elif kind == "stream":
            values = [b for _, entry in client.xrange(key) for pair in entry.items() for b in pair]
        out.append(key)
        for v in values:
            out.append(v)
            try:
                out.append(zlib.decompress(v))
            except zlib.error:
                pass
    return out


def database_texts(ctx) -> list[str]:
    """Every value of every column of every table, as text (JSON columns serialised)."""
    out = []
    with ctx.db.begin() as conn:
        for table in metadata.sorted_tables:
            for row in conn.execute(sa.select(table)).mappings():
                for column, cell in row.items():
                    out.append(cell if isinstance(cell, str) else json.dumps(cell, default=str))
    return out


def leaks(secrets: list[str], texts: list[Any]) -> list[str]:
    found = []
    for text in texts:
        blob = text if isinstance(text, bytes) else str(text).encode()
        for secret in secrets:
            if secret.encode() in blob:
                found.append(f"{secret[:6]}… in {blob[:200]!r}")
    return found


@pytest.fixture
def json_log():
    stream = io.StringIO()
    from shared import logs

    handler = logs.handler(stream)
    handler.setLevel(logging.DEBUG)
    logging.getLogger().addHandler(handler)
    yield stream
    logging.getLogger().removeHandler(handler)


def test_no_secret_appears_anywhere_in_a_full_scenario(app, client, ctx, config, store_auth, hibob_sandbox,
                                                      run_jobs, caplog, capfd, json_log, monkeypatch):
    caplog.set_level(logging.DEBUG)
    monkeypatch.setattr("shared.hibob.client._backoff", lambda attempt: 0.0)
    state = hibob_sandbox.state
    user_id, token = "SERVICE-5150", "tok" + uuid.uuid4().hex
    wrong = "wrong" + uuid.uuid4().hex
    secret_1, secret_2 = "whs1-" + uuid.uuid4().hex, "whs2-" + uuid.uuid4().hex
    state.add_service_user(user_id=user_id, token=token)
    secrets = (forms(user_id, token) + forms(user_id, wrong) + [secret_1, secret_2]
               + [config.store_api_token, f"Bearer {config.store_api_token}"])
    call = Answers(client, store_auth)

    # connect, sync, webhook secret, events
    created = call("POST", f"{API}/integrations", {"store_id": "shop-s", "provider": "hibob", "credentials": {
        "service_user_id": user_id, "token": token, "api_key": "retired"}})
    assert created.status_code == 202
    integration_id = created.get_json()["id"]
    run_jobs()
    assert call("PUT", f"{API}/integrations/{integration_id}/webhook-secret", {"secret": secret_1}).status_code == 204
    people = [p for p in state.directory.snapshot() if p.lifecycle == "employed"][:3]
    for i, person in enumerate(people):
        state.directory.update(person.id, email=f"changed{i}@example.com")
        body = event("employee.updated", person.id, at=f"2026-12-04T10:00:0{i}")
        assert call("POST", f"/webhooks/hibob/{integration_id}", raw=body,
                    headers={"Bob-Signature": sign(body, secret_1)}).status_code == 200
    bad = event("employee.updated", people[0].id)
    assert call("POST", f"/webhooks/hibob/{integration_id}", raw=bad,
                headers={"Bob-Signature": sign(bad, "not-it")}).status_code == 401
    drain(ctx, run_jobs)

    # failures: a wrong token (401), HiBob errors and HTML, a refused body holding the token
    assert call("PATCH", f"{API}/integrations/{integration_id}", {"credentials": {
        "service_user_id": user_id, "token": wrong}}).status_code == 200
    run_jobs()
    assert call("GET", f"{API}/integrations/{integration_id}").get_json()["state_reason"]["code"] == "auth_failed"
    assert call("PATCH", f"{API}/integrations/{integration_id}", {"credentials": {
        "service_user_id": "", "token": token}}).status_code == 400
    assert call("POST", f"{API}/integrations", {"store_id": "shop-s", "provider": "hibob", "credentials": {
        "service_user_id": user_id, "token": token}}).status_code == 409
    assert call("PATCH", f"{API}/integrations/{integration_id}", {"credentials": {
        "service_user_id": user_id, "token": token}}).status_code == 200
    run_jobs()
    for fault in ({"kind": "status", "status": 500}, {"kind": "html"}):
        state.add_fault(endpoint="search", count=10, **fault)
        assert call("POST", f"{API}/integrations/{integration_id}/sync").status_code == 202
        run_jobs()
        state.clear_faults()
    assert call("PUT", f"{API}/integrations/{integration_id}/webhook-secret", {"secret": secret_2}).status_code == 204
    assert call("POST", f"{API}/integrations/{integration_id}/sync").status_code == 202  # left queued in Redis
    for path in (f"/integrations/{integration_id}", f"/integrations/{integration_id}/runs",
                 "/stores/shop-s/integration", "/stores/shop-s/people?status=all", "/stores/shop-s/changes"):
        assert call("GET", API + path).status_code == 200
    for run in call("GET", f"{API}/integrations/{integration_id}/runs").get_json()["items"]:
        call("GET", f"{API}/integrations/{integration_id}/runs/{run['id']}/changes")
    runner = app.test_cli_runner()
    cli_output = [runner.invoke(args=args).output for args in (
        ["peoplesync", "show", integration_id], ["peoplesync", "show", integration_id, "--json"],
        ["peoplesync", "reencrypt-credentials"])]

    # the secrets are there, encrypted
    with ctx.db.begin() as conn:
        row = integrations_db.get(conn, integration_id)
    assert ctx.box.open(row["credentials_enc"])["token"] == token
    assert ctx.box.open(row["webhook_secret_enc"]) == secret_2
    assert ctx.box.open(row["webhook_prev_secret_enc"]) == secret_1

    captured = capfd.readouterr()
    channels = {
        "API answers": call.seen,
        "log records": [caplog.text] + [r.getMessage() for r in caplog.records]
                       + [repr(r.__dict__) for r in caplog.records],
        "JSON log lines": [json_log.getvalue()],
        "stdout/stderr": [captured.out, captured.err],
        "CLI output": cli_output,
        "Redis": redis_texts(ctx.redis, config.queue_prefix),
        "database": database_texts(ctx),
    }
    for channel, texts in channels.items():
        assert texts, f"{channel}: nothing captured"
        assert not leaks(secrets, texts), f"{channel}: {leaks(secrets, texts)[:3]}"
    # rq's job payloads were among what was scanned (the sync left queued, at least)
    assert any(b"worker.jobs.run_sync" in t for t in channels["Redis"] if isinstance(t, bytes))

    # the scanners do see a secret where one is put (so the clean result above means something)
    ctx.redis.set(f"{config.queue_prefix}planted", token)
    logging.getLogger("planted").warning("planted %s", token)
    with ctx.db.begin() as conn:
        integrations_db.update(conn, integration_id, warnings=[{"code": "planted", "message": token}])
    assert leaks([token], redis_texts(ctx.redis, config.queue_prefix))
    assert leaks([token], [caplog.text]) and leaks([token], [json_log.getvalue()])
    assert leaks([token], database_texts(ctx))


def test_reencrypting_with_a_new_first_key_lets_the_old_key_go(app, ctx, config, client, store_auth,
                                                               hibob_sandbox, run_jobs):
    from web import create_app

    old_key = config.credentials_keys[0]
    user_id, token = hibob_sandbox.credentials
    created = client.post(f"{API}/integrations", headers=store_auth, json={
        "store_id": "shop-k", "provider": "hibob", "credentials": {"service_user_id": user_id, "token": token}})
    integration_id = created.get_json()["id"]
    for secret in ("first-secret", "second-secret"):  # a rotation leaves a previous secret too
        client.put(f"{API}/integrations/{integration_id}/webhook-secret", headers=store_auth,
                   json={"secret": secret})
    new_key = Fernet.generate_key().decode()
    rotated = create_app(config.with_(credentials_keys=(new_key, old_key)))
    try:
        result = rotated.test_cli_runner().invoke(args=["peoplesync", "reencrypt-credentials"])
        assert result.exit_code == 0, result.output
        assert result.output.startswith("re-encrypted 3 secret values of 1 integrations")
    finally:
        rotated.extensions["peoplesync"].db.dispose()
    with ctx.db.begin() as conn:
        row = integrations_db.get(conn, integration_id)
    only_new, only_old = SecretBox((new_key,)), SecretBox((old_key,))
    assert only_new.open(row["credentials_enc"]) == {"service_user_id": user_id, "token": token}
    assert only_new.open(row["webhook_secret_enc"]) == "second-secret"
    assert only_new.open(row["webhook_prev_secret_enc"]) == "first-secret"
    with pytest.raises(ValueError) as refused:
        only_old.open(row["credentials_enc"])
    assert row["credentials_enc"] not in str(refused.value)  # the error names no ciphertext
    # a worker that has only the new key syncs
    worker = worker_context.JobContext.from_config(config.with_(credentials_keys=(new_key,)))
    worker_context.install(worker)
    try:
        run_jobs()
    finally:
        worker_context.install(ctx)
        worker.db.dispose()
    with ctx.db.begin() as conn:
        assert integrations_db.get(conn, integration_id)["state"] == "active"


def test_a_value_no_key_opens_stops_the_reencryption_naming_the_integration(app, ctx, config, client,
                                                                            store_auth):
    from web import create_app

    created = client.post(f"{API}/integrations", headers=store_auth, json={
        "store_id": "shop-x", "provider": "hibob", "credentials": {"service_user_id": "u", "token": "tok-x1"}})
    integration_id = created.get_json()["id"]
    stranger = create_app(config.with_(credentials_keys=(Fernet.generate_key().decode(),)))
    try:
        result = stranger.test_cli_runner().invoke(args=["peoplesync", "reencrypt-credentials"])
    finally:
        stranger.extensions["peoplesync"].db.dispose()
    assert result.exit_code == 1
    assert integration_id in result.output and "tok-x1" not in result.output
