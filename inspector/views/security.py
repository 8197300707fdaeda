"""Headers every answer carries, the guards every request to the UI and API passes (body size,
cross-site; access control is views/auth.py), and error answers (HTTP errors, and invalid input
from any view: one handler for the whole app). Capture URLs never come here (capture.py)."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

from flask import Flask, Response, current_app, jsonify, request
from werkzeug.exceptions import HTTPException

from inspector.bins import InvalidInput
from inspector.views.common import is_api_path, refusal

# Pages load only our own scripts, styles and connections; nothing inline, nothing framed.
PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
# JSON and downloads are never documents.
API_CSP = "default-src 'none'; frame-ancestors 'none'; sandbox"


# Methods a browser may send across sites; only these change state.
_UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# The content types a cross-site page can send without a CORS preflight (HTML forms, fetch
# in no-cors mode). The API takes JSON, so it refuses them whatever the body.
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data", "text/plain")
# Sec-Fetch-Site values of a request the user's own page (or the user, typing) made.
_OWN_SITE = ("same-origin", "none")


def init_app(app: Flask) -> None:
    # Werkzeug enforces it on bodies without a declared length (chunked) as they are read.
    app.config["MAX_CONTENT_LENGTH"] = int(app.config["MAX_API_BODY_BYTES"])
    app.before_request(_refuse_oversized_body)
    app.before_request(_refuse_cross_site)
    app.after_request(_security_headers)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(InvalidInput, _invalid_input)
    app.register_error_handler(TimeoutError, _client_timeout)


def _refuse_oversized_body() -> Response | None:
    """413 on a declared length over MAX_API_BODY_BYTES, before a byte of the body is read."""
    limit = int(current_app.config["MAX_API_BODY_BYTES"])
    if request.content_length is not None and request.content_length > limit:
        return refusal(413, f"request body of {request.content_length} bytes is over the {limit}-byte limit")
    return None


def cross_site_refusal(
    method: str, path: str, header: Callable[[str], str | None], own_origins: tuple[str, ...]
) -> tuple[int, str] | None:
    """Why a state-changing request that a page on another site could have made is refused,
    as (status, reason), or None when it may go on; `header(name)` reads a request header. Scripts (curl, the CLI, httpx) send no
    Origin or Sec-Fetch-Site and are judged by their content type alone."""
    if method not in _UNSAFE_METHODS:
        return None
    fetch_site = header("Sec-Fetch-Site")
    origin = header("Origin")
    if fetch_site is not None and fetch_site not in _OWN_SITE:
        return 403, f"cross-site request refused (Sec-Fetch-Site: {fetch_site})"
    # Under our pages' `Referrer-Policy: no-referrer` a browser sends `Origin: null` with a
    # plain form post (sign-in, sign-out); the browser's own Sec-Fetch-Site still tells.
    opaque_but_own = origin is not None and origin.strip() == "null" and fetch_site == "same-origin"
    if origin is not None and _origin(origin) not in own_origins and not opaque_but_own:
        return 403, "cross-site request refused (its Origin is not this Hookloupe)"
    content_type = (header("Content-Type") or "").split(";", 1)[0].strip().lower()
    if path.startswith("/api/") and content_type in _FORM_TYPES:
        return 415, f"the API takes JSON (Content-Type: application/json), not {content_type}"
    return None


def _origin(url: str) -> str:
    """`scheme://host[:port]` in lower case; "" for what is not an origin (e.g. `null`)."""
    parts = urlsplit(url.strip())
    return f"{parts.scheme}://{parts.netloc}".lower() if parts.scheme and parts.netloc else ""


def _refuse_cross_site() -> Response | None:
    own = tuple(o for o in (_origin(request.host_url), _origin(current_app.config.get("BASE_URL") or "")) if o)
    refused = cross_site_refusal(request.method, request.path, request.headers.get, own)
    return refusal(*refused) if refused else None


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
    """4xx/5xx from routing or aborts: JSON for the API and capture, plain text for pages. The
    error's own headers but its content type stay (a 405 says which methods are `Allow`ed)."""
    if is_api_path(request.path):
        response = jsonify(error=error.description or error.name)
        response.status_code = error.code or 500
    else:
        response = Response(
            f"{error.code} {error.name}: {error.description}",
            status=error.code or 500,
            content_type="text/plain; charset=utf-8",
        )
    for name, value in error.get_headers():
        if name.lower() != "content-type":
            response.headers[name] = value
    return response


def _client_timeout(_error: TimeoutError) -> Response:
    """The client stalled while sending its body (IDLE_TIMEOUT_S, views/capture.py): 408."""
    return refusal(408, "the request body stopped arriving; send it again")


def _invalid_input(error: InvalidInput) -> Response | tuple[Response, int]:
    """Input a view refused: 400 with the reason (JSON for the API, plain text for pages;
    page forms that show the reason in place catch InvalidInput themselves)."""
    if is_api_path(request.path):
        return jsonify(error=str(error)), 400
    return Response(f"400 Bad Request: {error}", status=400, content_type="text/plain; charset=utf-8")
