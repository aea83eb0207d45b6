"""The web process: ``create_app()`` builds a Flask app (gunicorn runs ``web:create_app()``).

The app is built, not imported: configuration comes from ``load_config`` (environment, then the
test mapping), per-app resources live on ``app.extensions["peoplesync"]`` (a JobContext: config,
database, Redis, queues, secret box) and blueprints are registered explicitly, each declaring
its own authentication policy (see web/auth.py).
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask, current_app
from werkzeug.routing import BaseConverter

from shared import logs
from shared.config import Config, load_config
from worker.context import JobContext

MAX_BODY_BYTES = 1024 * 1024  # DESIGN: bodies over 1 MiB are refused with 413


class StoreIdConverter(BaseConverter):
    """``<store:store_id>``: a path segment that is a valid store id (anything else is a 404)."""

    regex = r"[A-Za-z0-9._-]{1,64}"


def current_context() -> JobContext:
    """The JobContext of the app handling the current request."""
    return current_app.extensions["peoplesync"]


def create_app(test_config: Config | Mapping[str, Any] | None = None) -> Flask:
    """Build the web app.

    Args:
        test_config: a ready Config (used as is) or a mapping of Config fields that override the
            environment.

    Raises:
        shared.config.ConfigError: a setting is missing or malformed.
    """
    config = test_config if isinstance(test_config, Config) else load_config(test_config)
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=config.secret_key,
        SECRET_KEY_FALLBACKS=list(config.secret_keys[1:]),
        MAX_CONTENT_LENGTH=MAX_BODY_BYTES,
    )
    from web.dashboard.access import cookie_settings

    # The dashboard's session cookie (the only cookie we set): see web/dashboard/access.py.
    app.config.update(cookie_settings(config))
    app.json.sort_keys = False  # type: ignore[attr-defined]  # keep DESIGN's field order
    app.url_map.converters["store"] = StoreIdConverter
    app.extensions["peoplesync"] = JobContext.from_config(config)

    from web import cli, errors

    if config.env != "test":
        logs.configure()  # JSON lines on stderr (shared/logs.py); tests read records through caplog
    errors.register(app)
    register_blueprints(app)
    app.cli.add_command(cli.group)  # flask --app "web:create_app()" peoplesync ... (web/cli.py)
    return app


def register_blueprints(app: Flask) -> None:
    """One line per blueprint; each blueprint module states its auth policy where it is created."""
    from web import api, dashboard, openapi, ops, webhooks

    app.register_blueprint(api.bp)  # store backend: Bearer STORE_API_TOKEN
    app.register_blueprint(ops.bp)  # /healthz, /readyz, /metrics: open
    app.register_blueprint(openapi.bp)  # /api/openapi.json: open
    app.register_blueprint(webhooks.bp)  # POST /webhooks/hibob/<integration_id>: HiBob signature
    app.register_blueprint(dashboard.bp)  # /dashboard/...: signed-link session for one store
