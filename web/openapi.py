"""The OpenAPI 3 document, generated from the routes and the marshmallow schemas that serve them.

A view declares its contract with ``@operation(...)`` next to its route; ``build_spec`` walks the
app's URL map (a test checks that no store-API or ops route lacks a declaration). The request and
response schemas documented are the very classes that validate requests and (in tests) responses.
Error answers every route can give (401, 404 on a path id, 400/413/415 on a body) are added here,
once.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Blueprint, Flask, current_app, jsonify
from marshmallow import Schema

from shared.schemas import STORE_ID_PATTERN, ErrorSchema
from web.auth import open_access

F = TypeVar("F", bound=Callable[..., Any])
OPENAPI_VERSION = "3.0.3"
_RULE_ARG = re.compile(r"<(?:(?P<converter>\w+)(?:\([^)]*\))?:)?(?P<name>\w+)>")
_PATH_PARAM_SCHEMAS: dict[str, dict[str, Any]] = {
    "uuid": {"type": "string", "format": "uuid"},
    "store": {"type": "string", "pattern": STORE_ID_PATTERN},
}
_ERROR_TEXT = {
    400: "validation_failed: the body, a query parameter or the cursor is not valid (`fields` names them)",
    401: "unauthorized: the store API token is missing or wrong",
    404: "not_found",
    409: "conflict",
    413: "payload_too_large: the body is over 1 MiB",
    415: "unsupported_media_type: the body is not application/json",
}
_BODY_METHODS = {"post", "put", "patch"}


@dataclass(frozen=True)
class Operation:
    summary: str
    responses: Mapping[int, type[Schema] | None]
    body: type[Schema] | None = None
    query: type[Schema] | None = None
    errors: Mapping[int, str] = field(default_factory=dict)
    headers: Mapping[int, Mapping[str, str]] = field(default_factory=dict)
    description: str = ""
    tag: str = "integrations"
    content_type: str = "application/json"
    # Path parameters the first 2xx answer provides, as OpenAPI runtime expressions: they become
    # `links` to every operation that needs only those (tools such as schemathesis follow them).
    provides: Mapping[str, str] = field(default_factory=dict)


def operation(summary: str, *, responses: Mapping[int, type[Schema] | None], **kwargs: Any) -> Callable[[F], F]:
    """Attach the OpenAPI declaration of a view (read by ``build_spec``)."""
    def decorate(view: F) -> F:
        view.openapi = Operation(summary=summary, responses=responses, **kwargs)  # type: ignore[attr-defined]
        return view
    return decorate


def _path_and_params(rule: str) -> tuple[str, list[dict[str, Any]]]:
    params = []
    for match in _RULE_ARG.finditer(rule):
        schema = _PATH_PARAM_SCHEMAS.get(match["converter"] or "", {"type": "string"})
        params.append({"in": "path", "name": match["name"], "required": True, "schema": schema})
    return _RULE_ARG.sub(lambda m: "{" + m["name"] + "}", rule), params


def _json(schema: type[Schema] | None, description: str, content_type: str = "application/json") -> dict[str, Any]:
    answer: dict[str, Any] = {"description": description}
    if schema is not None:
        answer["content"] = {content_type: {"schema": schema}}
    return answer


def _operation_doc(op: Operation, method: str, name: str, path_params: list[dict[str, Any]],
                   secured: bool) -> dict[str, Any]:
    responses: dict[str, Any] = {}
    for status, schema in op.responses.items():
        answer = _json(schema, {200: "OK", 201: "Created", 202: "Accepted", 204: "No Content",
                                503: "Not ready"}.get(status, str(status)), op.content_type)
        if status in op.headers:
            answer["headers"] = {h: {"description": d, "schema": {"type": "string"}}
                                 for h, d in op.headers[status].items()}
        responses[str(status)] = answer
    errors: dict[int, str] = {}
    if op.body is not None or op.query is not None or method in _BODY_METHODS:
        errors[400] = _ERROR_TEXT[400]
    if secured:
        errors[401] = _ERROR_TEXT[401]
    if path_params:
        errors[404] = _ERROR_TEXT[404]
    if method in _BODY_METHODS:
        errors.update({413: _ERROR_TEXT[413], 415: _ERROR_TEXT[415]})
    errors.update(op.errors)
    for status, text in sorted(errors.items()):
        answer = _json(ErrorSchema, text)
        if status == 401:
            answer["headers"] = {"WWW-Authenticate": {"schema": {"type": "string"}, "description": "Bearer"}}
        responses[str(status)] = answer
    doc: dict[str, Any] = {"operationId": name, "summary": op.summary, "tags": [op.tag], "responses": responses}
    if op.description:
        doc["description"] = op.description
    if op.query is not None:
        doc["parameters"] = [{"in": "query", "schema": op.query}]
    if op.body is not None:
        doc["requestBody"] = {"required": True, "content": {"application/json": {"schema": op.body}}}
    doc["security"] = [{"storeToken": []}] if secured else []
    return doc


def build_spec(app: Flask) -> dict[str, Any]:
    """The OpenAPI document of every declared route of ``app``."""
    config = app.extensions["peoplesync"].config
    spec = APISpec(
        title="peoplesync store-backend API", version="1", openapi_version=OPENAPI_VERSION,
        plugins=[MarshmallowPlugin()], servers=[{"url": config.public_base_url.rstrip("/")}],
        info={"description": "Keeps an online store's people directory in step with HiBob. "
                             "Every 4xx answers {\"error\": {\"code\", \"message\", \"fields\"?}}."})
    spec.components.security_scheme("storeToken", {"type": "http", "scheme": "bearer",
                                                   "description": "STORE_API_TOKEN"})
    spec.components.schema("Error", schema=ErrorSchema)
    paths: dict[str, dict[str, Any]] = {}
    path_params: dict[str, list[dict[str, Any]]] = {}
    provided: dict[tuple[str, str], Mapping[str, str]] = {}
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        op: Operation | None = getattr(app.view_functions.get(rule.endpoint), "openapi", None)
        if op is None:
            continue
        blueprint = app.blueprints.get(rule.endpoint.rpartition(".")[0])
        secured = getattr(blueprint, "auth_policy", "open") == "store_token"
        path, params = _path_and_params(rule.rule)
        path_params[path] = params
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            name = rule.endpoint.rpartition(".")[2]
            paths.setdefault(path, {})[method.lower()] = _operation_doc(op, method.lower(), name, params, secured)
            if op.provides:
                provided[(path, method.lower())] = op.provides
    _add_links(paths, path_params, provided)
    for path, operations in paths.items():
        spec.path(path=path, operations=operations, parameters=path_params[path] or None)
    return spec.to_dict()


def _add_links(paths: dict[str, dict[str, Any]], path_params: dict[str, list[dict[str, Any]]],
               provided: dict[tuple[str, str], Mapping[str, str]]) -> None:
    for (source_path, method), provides in provided.items():
        source = paths[source_path][method]
        status = min(code for code in source["responses"] if code.startswith("2"))
        links = {}
        for path, operations in paths.items():
            needed = {p["name"] for p in path_params[path]}
            if not needed or not needed <= set(provides):
                continue
            for target in operations.values():
                links[target["operationId"]] = {
                    "operationId": target["operationId"],
                    "parameters": {name: provides[name] for name in sorted(needed)}}
        if links:
            source["responses"][status]["links"] = links


def spec_for(app: Flask) -> dict[str, Any]:
    """The app's document, built once per app (routes do not change after start)."""
    cached = app.extensions.get("peoplesync.openapi")
    if cached is None:
        cached = app.extensions["peoplesync.openapi"] = build_spec(app)
    return cached


# The description of the API is not a secret, and tools (schemathesis, doc viewers) fetch it
# before they hold a token.
bp = open_access(Blueprint("openapi", __name__))


@bp.get("/api/openapi.json")
@operation("This document", responses={200: None}, tag="meta")
def openapi_json():  # type: ignore[no-untyped-def]
    return jsonify(spec_for(current_app._get_current_object()))  # type: ignore[attr-defined]
