"""Access control for the UI and API (DESIGN §8): who a request acts as, whether the route's
rule (access/policy.py) admits them, the sign-in and sign-out pages, CSRF protection of every
page mutation (Flask-WTF) and a limit on wrong credentials per client address (Flask-Limiter).

Without PASSWORD or AUTH_HEADER there is no access control: a bin id is a capability and every
request acts as `principal.OPEN`. Capture (`/h/`), `/healthz`, static files and share pages
(which check their own link) never need credentials.
"""

from __future__ import annotations

import hmac
import ipaddress
from datetime import UTC, datetime, timedelta

from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    g,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.sessions import SecureCookieSessionInterface
from flask_limiter import Limiter
from flask_limiter.errors import RateLimitExceeded
from flask_wtf.csrf import CSRFError, CSRFProtect
from limits import parse as parse_limit
from werkzeug.wrappers import Response as BaseResponse

from inspector.access import policy, tokens
from inspector.access import principal as principals
from inspector.access.principal import OPEN, Principal
from inspector.capture.request import client_address
from inspector.store import access as access_store
from inspector.views.common import access_control_on, is_api_path, is_htmx, no_store, refusal

bp = Blueprint("auth", __name__)
csrf = CSRFProtect()


def _client_key() -> str:
    return client_address(request.environ, int(current_app.config["TRUSTED_PROXIES"]))


limiter = Limiter(key_func=_client_key)
# Marks a request whose credentials were presented and wrong (not: absent).
_WRONG = object()


class _SessionInterface(SecureCookieSessionInterface):
    """Flask's signed cookie session, marked Secure whenever the page was served over HTTPS
    (directly, or behind a trusted proxy that says so)."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(super().get_cookie_secure(app)) or _is_https()


def init_app(app: Flask) -> None:
    app.session_interface = _SessionInterface()
    app.config.update(
        SESSION_COOKIE_NAME="hookloupe_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=float(app.config["SESSION_HOURS"])),
        # The guard calls csrf.protect() itself, after authentication, on page mutations only
        # (the JSON API is not reachable by a cross-site form: views/security.py).
        WTF_CSRF_CHECK_DEFAULT=False,
        # A page left open all day still works: the token lives as long as the session.
        WTF_CSRF_TIME_LIMIT=None,
        # Flask-WTF's HTTPS check wants a Referer, which our pages never send (no-referrer);
        # Origin and Sec-Fetch-Site are checked instead (views/security.py).
        WTF_CSRF_SSL_STRICT=False,
    )
    _check_proxy_ips(str(app.config["AUTH_PROXY_IPS"]))
    csrf.init_app(app)
    limiter.init_app(app)
    app.before_request(_authorize)
    app.register_error_handler(CSRFError, _csrf_refused)
    app.register_error_handler(RateLimitExceeded, _too_many)
    app.context_processor(lambda: {"principal": g.get("principal"), "signed_in": bool(g.get("signed_in"))})
    app.register_blueprint(bp)


def _authorize() -> BaseResponse | None:
    if _needs_csrf_check():
        csrf.protect()
    rule = policy.rule_for(request.endpoint)
    if not access_control_on():
        g.principal = OPEN
        return None
    if rule.scope == "public" and request.blueprint != "auth":
        return None
    credentials_given = bool(request.headers.get("Authorization"))
    if credentials_given and _over_failure_limit():
        return refusal(429, "too many wrong credentials from this address; wait a minute")
    found = _identify()
    if found is _WRONG:
        _note_failure()
        return _unauthorised("the password or token is wrong")
    if not isinstance(found, Principal):
        return None if rule.scope == "public" else _unauthorised(None)
    g.principal = found
    if rule.scope == "public":
        return None
    why_not = _refusal_reason(found, rule)
    return refusal(403, why_not) if why_not else None


def _needs_csrf_check() -> bool:
    """Page mutations need the CSRF token, unless sent with an API token: a browser never
    adds a Bearer token by itself, so a cross-site page cannot borrow one (it can borrow a
    cookie or cached Basic credentials)."""
    if request.method in ("GET", "HEAD", "OPTIONS") or is_api_path(request.path):
        return False
    if request.headers.get("Authorization", "").lower().startswith("bearer "):
        return False
    return bool(current_app.config.get("WTF_CSRF_ENABLED", True))


def _identify() -> Principal | object | None:
    """The principal of the request's credentials; _WRONG for wrong ones; None for none."""
    config = current_app.config
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer":
        row = access_store.token_by_secret(value.strip(), datetime.now(UTC)) if value.strip() else None
        return principals.token(row.id, row.label, row.scope, row.bin_id) if row else _WRONG
    if scheme.lower() == "basic":
        password = config.get("PASSWORD")
        if password and hmac.compare_digest(_basic_password().encode(), password.encode()):
            return principals.admin()
        return _WRONG
    if scheme:
        return _WRONG
    header = config.get("AUTH_HEADER")
    user = request.headers.get(header, "").strip() if header else ""
    if user and _from_auth_proxy():
        return principals.admin(f"{user[:100]} via {header}")
    password = config.get("PASSWORD")
    if password and session.get("sid") and _session_is_live(password):
        g.signed_in = True
        return principals.admin()
    return None


def _session_is_live(password: str) -> bool:
    """The cookie names a session that was not signed out, has not expired, and began under
    the current password."""
    fingerprint = tokens.session_fingerprint(current_app.config["SECRET_KEY"], password)
    if not hmac.compare_digest(str(session.get("signin", "")), fingerprint):
        return False
    return access_store.sign_in_is_live(str(session["sid"]), datetime.now(UTC))


def _refusal_reason(who: Principal, rule: policy.Rule) -> str | None:
    """Why `who` may not use a route under `rule`, or None when they may."""
    bin_id = (request.view_args or {}).get("bin_id") if rule.where == "bin" else None
    if rule.where == "any":
        bin_id = who.bin_id
    if who.allows(rule.scope, bin_id):
        return None
    if who.bin_id is not None and bin_id != who.bin_id:
        return f"this token is limited to bin {who.bin_id!r}"
    return f"this needs the {rule.scope} scope; this token has {who.scope}"


def _unauthorised(reason: str | None) -> BaseResponse:
    """401: JSON with a Basic challenge for the API; the sign-in page for a browser."""
    password_set = bool(current_app.config.get("PASSWORD"))
    if is_api_path(request.path) or request.path.endswith("/stream") or reason:
        response = refusal(401, reason or "this Hookloupe instance needs a password or an API token")
        if password_set:
            response.headers["WWW-Authenticate"] = 'Basic realm="Hookloupe", charset="UTF-8"'
        return response
    if not password_set:
        header = current_app.config["AUTH_HEADER"]
        return refusal(401, f"sign in through this instance's single sign-on proxy (it sets {header})")
    target = url_for("auth.signin_form", next=request.full_path.rstrip("?"))
    if is_htmx():
        response = make_response("", 401)
        response.headers["HX-Redirect"] = target
        return response
    return redirect(target, 303)


def _basic_password() -> str:
    """The password of an HTTP Basic Authorization header; "" when it cannot be decoded (a
    malformed header is a wrong password, never an error)."""
    try:
        auth = request.authorization
    except ValueError:
        return ""
    return (auth.password or "") if auth and auth.type == "basic" else ""


def _check_proxy_ips(text: str) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    try:
        return [ipaddress.ip_network(part.strip(), strict=False) for part in text.split(",") if part.strip()]
    except ValueError as error:
        raise ValueError(f"HOOKLOUPE_AUTH_PROXY_IPS: {error}") from None


def _from_auth_proxy() -> bool:
    """Whether the connection itself (not a forwarded address) comes from a trusted SSO proxy."""
    try:
        peer = ipaddress.ip_address(request.remote_addr or "")
    except ValueError:
        return False
    return any(peer in network for network in _check_proxy_ips(str(current_app.config["AUTH_PROXY_IPS"])))


def _is_https() -> bool:
    if request.is_secure:
        return True
    trusted = int(current_app.config["TRUSTED_PROXIES"])
    hops = [part.strip() for part in request.headers.get("X-Forwarded-Proto", "").split(",") if part.strip()]
    return trusted > 0 and len(hops) >= trusted and hops[-trusted].lower() == "https"


def _failure_limit() -> object:
    return parse_limit(str(current_app.config["AUTH_FAILURE_LIMIT"]))


def _over_failure_limit() -> bool:
    return not limiter.limiter.test(_failure_limit(), "auth-failures", _client_key())  # type: ignore[arg-type]


def _note_failure() -> None:
    limiter.limiter.hit(_failure_limit(), "auth-failures", _client_key())  # type: ignore[arg-type]


def _csrf_refused(error: CSRFError) -> Response:
    return refusal(403, f"refused: {error.description} Reload the page and try again.")


def _too_many(_error: RateLimitExceeded) -> Response | tuple[str, int]:
    if request.endpoint == "auth.signin":
        return render_template("signin.html", error="Too many attempts. Wait a minute.", next=_next_url()), 429
    return refusal(429, "too many attempts; wait a minute")


def _next_url() -> str:
    """Where to go after signing in: a path on this server only (never `//host`)."""
    target = request.values.get("next", "/")
    return target if target.startswith("/") and not target.startswith(("//", "/\\")) else "/"


@bp.get("/signin")
def signin_form() -> BaseResponse | str:
    if not current_app.config.get("PASSWORD"):
        return redirect(url_for("pages.home"), 303)
    return render_template("signin.html", error=None, next=_next_url())


@bp.post("/signin")
@limiter.limit(lambda: str(current_app.config["AUTH_FAILURE_LIMIT"]), deduct_when=lambda r: r.status_code == 401)
def signin() -> BaseResponse | tuple[str, int]:
    password = current_app.config.get("PASSWORD")
    given = request.form.get("password", "")
    if not password or not hmac.compare_digest(given.encode(), password.encode()):
        return render_template("signin.html", error="Wrong password.", next=_next_url()), 401
    session.clear()  # a fresh session (and CSRF token) for the signed-in browser
    lasts = current_app.config["PERMANENT_SESSION_LIFETIME"]
    session["sid"] = access_store.start_sign_in(datetime.now(UTC), lasts)
    session["signin"] = tokens.session_fingerprint(current_app.config["SECRET_KEY"], password)
    session.permanent = True
    return redirect(_next_url(), 303)


@bp.post("/signout")
def signout() -> BaseResponse:
    if session.get("sid"):
        access_store.end_sign_in(str(session["sid"]))  # the cookie, even copied, is dead now
    session.clear()
    target = url_for("auth.signin_form") if current_app.config.get("PASSWORD") else url_for("pages.home")
    return redirect(target, 303)


bp.after_request(no_store)
