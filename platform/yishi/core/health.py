"""Liveness and readiness (CONTRACT.md): /healthz answers if the process runs; /readyz if the
database and the job queue answer too."""

from __future__ import annotations

from flask import Blueprint, jsonify
from sqlalchemy import text

from yishi.core import jobs
from yishi.core.db import db

blueprint = Blueprint("health", __name__)


@blueprint.route("/healthz")
def healthz():
    return jsonify(status="ok")


@blueprint.route("/readyz")
def readyz():
    checks = {}
    try:
        db.session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as error:  # noqa: BLE001 - any failure means not ready
        db.session.rollback()
        checks["database"] = f"error: {type(error).__name__}"
    try:
        jobs.connection().ping()
        checks["queue"] = "ok"
    except Exception as error:  # noqa: BLE001
        checks["queue"] = f"error: {type(error).__name__}"
    ready = all(value == "ok" for value in checks.values())
    return jsonify(status="ok" if ready else "unavailable", checks=checks), 200 if ready else 503
