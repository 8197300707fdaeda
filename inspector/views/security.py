"""Headers every answer carries, the optional instance password, and error answers (HTTP
errors, and invalid input from any view: one handler for the whole app)."""

from __future__ import annotations

import hmac

from flask import Flask, Response, current_app, jsonify, request
from werkzeug.exceptions import HTTPException

from inspector.bins import InvalidInput

# Pages load only our own scripts, styles and connections; nothing inline, nothing framed.
PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
# JSON and downloads are never documents.
API_CSP = "default-src 'none'; frame-ancestors 'none'; sandbox"


def init_app(app: Flask) -> None:
    app.before_request(_require_password)
    app.after_request(_security_headers)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(InvalidInput, _invalid_input)


def is_api_path(path: str) -> bool:
    return path.startswith(("/api/", "/h/")) or path == "/healthz"


def _require_password() -> Response | None:
    """With HOOKLOUPE_PASSWORD set, the UI and API need HTTP Basic auth (any user name);
    capture URLs and the health check never do."""
    password = current_app.config.get("PASSWORD")
    if not password or request.path.startswith("/h/") or request.path == "/healthz":
        return None
    auth = request.authorization
    given = (auth.password or "") if auth and auth.type == "basic" else ""
    if hmac.compare_digest(given.encode(), password.encode()):
        return None
    response = jsonify(error="this Hookloupe instance needs its password")
    response.status_code = 401
    response.headers["WWW-Authenticate"] = 'Basic realm="Hookloupe", charset="UTF-8"'
    return response


def _security_headers(response: Response) -> Response:
    if request.path.startswith("/h/"):  # capture answers carry their own (views/capture.py)
        return response
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    # A bin URL is a capability: never leak it through Referer.
    headers.setdefault("Referrer-Policy", "no-referrer")
    if not request.path.startswith("/h/"):
        headers.setdefault("X-Frame-Options", "DENY")
        csp = API_CSP if is_api_path(request.path) else PAGE_CSP
        headers.setdefault("Content-Security-Policy", csp)
    return response


def _http_error(error: HTTPException) -> Response:
    """4xx/5xx from routing or aborts: JSON for the API and capture, plain text for pages."""
    if is_api_path(request.path):
        response = jsonify(error=error.description or error.name)
        response.status_code = error.code or 500
        return response
    return Response(
        f"{error.code} {error.name}: {error.description}",
        status=error.code or 500,
        content_type="text/plain; charset=utf-8",
    )


def _invalid_input(error: InvalidInput) -> Response | tuple[Response, int]:
    """Input a view refused: 400 with the reason (JSON for the API, plain text for pages;
    page forms that show the reason in place catch InvalidInput themselves)."""
    if is_api_path(request.path):
        return jsonify(error=str(error)), 400
    return Response(f"400 Bad Request: {error}", status=400, content_type="text/plain; charset=utf-8")
