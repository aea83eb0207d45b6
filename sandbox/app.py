"""The sandbox's Flask app: HiBob's API under /v1 and the control API under /_control."""
from __future__ import annotations

from flask import Flask, Response, jsonify

from sandbox import api, control
from sandbox.state import SandboxState


def create_sandbox_app(state: SandboxState) -> Flask:
    """Build an app serving ``state``; several apps (and states) can live in one process."""
    app = Flask("sandbox")
    app.extensions["sandbox"] = state
    # Large answers are pre-rendered bytes; never let Flask re-encode or pretty-print them.
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.register_blueprint(api.bp, url_prefix="/v1")
    app.register_blueprint(control.bp, url_prefix="/_control")

    @app.get("/")
    def home() -> Response:
        return jsonify({"hibob_base_url": "/v1", "control": "/_control/",
                        "default_service_user": state.default_user.id})

    return app
