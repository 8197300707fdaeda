"""`GET /api/openapi.json`: the OpenAPI document of the JSON API, for this server's base URL."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from inspector.openapi import openapi_document
from inspector.views.common import base_url

bp = Blueprint("openapi", __name__)


@bp.get("/api/openapi.json")
def document() -> Response:
    return jsonify(openapi_document(base_url()))
