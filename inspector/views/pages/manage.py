"""The owner's and administrator's pages of sharing and access: every bin on the server, API
tokens, and a bin page's share links, redaction rules and activity log (htmx fragments).

The scope each route needs is in access/policy.py (`manage.*`); the guard (views/auth.py)
checks it and the CSRF token before any view here runs. Secrets (API tokens, share links) are
shown once, in the answer that created them, and never again.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Blueprint, Response, abort, make_response, render_template, request, url_for
from werkzeug.datastructures import MultiDict

from inspector import redaction, store
from inspector.access.principal import SCOPES, check_scope
from inspector.bins import InvalidInput, check_text
from inspector.models import Bin
from inspector.store import access as access_store
from inspector.store import activity, overview
from inspector.views.common import (
    access_control_on,
    base_url,
    bin_or_404,
    no_store,
    note_activity,
    principal,
    refuse_foreign_mutation,
)
from inspector.views.pages.forms import int_arg

bp = Blueprint("manage", __name__)

BINS_PER_PAGE = 100
# The server's activity shown under the bin list (the bin's own log shows activity.MAX_ENTRIES).
SERVER_ACTIVITY = 50
MAX_LABEL = 100
# The share form's expiry choices: form value → (label, lifetime or None for never).
SHARE_EXPIRIES: dict[str, tuple[str, timedelta | None]] = {
    "1h": ("1 hour", timedelta(hours=1)),
    "1d": ("1 day", timedelta(days=1)),
    "7d": ("7 days", timedelta(days=7)),
    "30d": ("30 days", timedelta(days=30)),
    "never": ("never", None),
}
DEFAULT_EXPIRY = "1d"
# The redaction form's textareas (one entry per line), by rule key.
REDACTION_LISTS = ("headers", "json_paths", "form_fields", "patterns")
REDACTION_FLAGS = ("at_capture", "for_owner")
REDACTION_LABELS = {
    "headers": "Header names",
    "json_paths": "JSON paths",
    "form_fields": "Form fields",
    "patterns": "Patterns",
}
_RULE_FIELD = re.compile(rf"redact\.({'|'.join(REDACTION_LISTS)}) #(\d+)")
NO_ACCESS_CONTROL = (
    "This instance has no access control (neither HOOKLOUPE_PASSWORD nor HOOKLOUPE_AUTH_HEADER is set): "
    "everything is open to whoever reaches it, so a token would restrict nothing. Set a password to use tokens."
)
# Tells the bin page that its activity log has a new entry.
ACTIVITY_CHANGED = "hookloupe-activity-changed"


bp.before_request(refuse_foreign_mutation)


bp.after_request(no_store)


@bp.app_template_filter("utc_time")
def utc_time(moment: datetime | None, empty: str = "—") -> str:
    """A stored time as `2024-05-01 12:34:56 UTC`; `empty` for None."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if moment else empty


def wants_open() -> bool:
    """Whether a section is asked for open (`?open=1`): the bin page loads each one when its
    placeholder is first clicked open, and the answer replaces it."""
    return request.args.get("open") == "1"


def _logged(html: str, status: int = 200) -> Response:
    """`html` plus the event that makes the bin page's activity log reload (_activity.html)."""
    response = make_response(html, status)
    response.headers["HX-Trigger"] = ACTIVITY_CHANGED
    return response


# --- every bin (admin) ---------------------------------------------------------------------


@bp.get("/bins")
def all_bins() -> str:
    """Every bin on the server, newest first, `BINS_PER_PAGE` a page (`?page=`, from 1), and
    the server's newest activity."""
    return render_template("manage/bins.html", **bins_context(int_arg("page") or 1))


@bp.delete("/bins/<bin_id>")
def delete_bin(bin_id: str) -> Response:
    """Delete the bin and everything it holds (404 when there is none). From the bin list
    the answer replaces its row; from the bin page (`?from=page`) htmx is sent to the bin
    list, or home for someone who may not see it."""
    count = store.count_captures(bin_id)
    store.clear_captures(bin_id)  # in batches first: one large DELETE would stall capture
    if not store.delete_bin(bin_id):
        abort(404, description=f"no bin named {bin_id!r}")
    note_activity(bin_id, "delete_bin", f"with {count} request{'s' if count != 1 else ''}")
    if request.args.get("from") == "page":
        response = make_response("", 200)
        allowed = principal().allows("admin", None)
        response.headers["HX-Redirect"] = url_for("manage.all_bins" if allowed else "pages.home")
        return response
    return make_response(render_template("manage/_bin_deleted.html", bin_id=bin_id, count=count))


def bins_context(page: int) -> dict[str, Any]:
    """The all-bins page at `page` (from 1; one past the end shows the last)."""
    total = overview.count_bins()
    pages = max(1, (total + BINS_PER_PAGE - 1) // BINS_PER_PAGE)
    page = min(max(page, 1), pages)
    return {
        "bins": overview.bins_page((page - 1) * BINS_PER_PAGE, BINS_PER_PAGE),
        "total": total,
        "page": page,
        "pages": pages,
        "now": datetime.now(UTC),
        "entries": activity.newest(SERVER_ACTIVITY),
    }


# --- API tokens (admin) --------------------------------------------------------------------


@bp.get("/tokens")
def tokens() -> str:
    return render_template("manage/tokens.html", **tokens_context())


@bp.post("/tokens")
def create_token() -> tuple[str, int]:
    """Create a token from the form: answers the panel showing it once (201); 400 with the
    reason for a bad field; 409 when the instance has no access control."""
    if not access_control_on():
        # The panel says why in place of its form.
        return render_template("manage/_tokens.html", **tokens_context()), 409
    try:
        label, scope, bin_id = parse_token_form(request.form)
    except InvalidInput as error:
        return render_template("manage/_tokens.html", **tokens_context(error=str(error), form=request.form)), 400
    row, plain = access_store.create_token(label, scope, bin_id, datetime.now(UTC))
    return render_template("manage/_tokens.html", **tokens_context(new_token=plain, new_id=row.id)), 201


@bp.delete("/tokens/<int:token_id>")
def revoke_token(token_id: int) -> str:
    """Revoke a token at once; answers the refreshed panel (404 when there is no such token)."""
    if not access_store.revoke_token(token_id):
        abort(404, description=f"no token {token_id}")
    return render_template("manage/_tokens.html", **tokens_context(message=f"Token #{token_id} revoked."))


def parse_token_form(form: MultiDict[str, str]) -> tuple[str, str, str | None]:
    """The token form as (label, scope, bin id or None); InvalidInput naming the bad field."""
    label = check_text(form.get("label", ""), "label").strip()
    if not label or len(label) > MAX_LABEL or any(ord(char) < 32 for char in label):
        raise InvalidInput(f"label must be text of 1 to {MAX_LABEL} characters, without control characters")
    try:
        scope = check_scope(form.get("scope"))
    except ValueError as error:
        raise InvalidInput(str(error)) from None
    bin_id = check_text(form.get("bin", ""), "bin").strip() or None
    if bin_id is not None and store.get_bin(bin_id) is None:
        raise InvalidInput(f"there is no bin named “{bin_id}”; leave the bin empty for a token of every bin")
    return label, scope, bin_id


def tokens_context(**extra: Any) -> dict[str, Any]:
    """The tokens panel; `extra`: new_token and new_id (just created: shown this once),
    error, message, form (the values to show again after an error)."""
    return {
        "tokens": access_store.list_tokens(),
        "scopes": SCOPES,
        "access_control": access_control_on(),
        "no_access_control": NO_ACCESS_CONTROL,
        "new_token": None,
        "new_id": None,
        "error": None,
        "message": None,
        "form": {},
        **extra,
    }


# --- a bin's share links -------------------------------------------------------------------


@bp.get("/bins/<bin_id>/shares")
def shares(bin_id: str) -> str:
    """The share panel (`?open=1`: shown open, as when the bin page first loads it)."""
    bin_or_404(bin_id)
    return render_template("manage/_shares.html", **shares_context(bin_id, open=wants_open()))


@bp.post("/bins/<bin_id>/shares")
def create_share(bin_id: str) -> Response | tuple[str, int]:
    """Create a share link from the form: answers the panel with its URL shown once (201);
    400 with the reason for a bad choice."""
    bin_or_404(bin_id)
    now = datetime.now(UTC)
    try:
        expiry, allow_raw = parse_share_form(request.form)
    except InvalidInput as error:
        return render_template("manage/_shares.html", **shares_context(bin_id, error=str(error))), 400
    lifetime = SHARE_EXPIRIES[expiry][1]
    row, plain = access_store.create_share(bin_id, now, now + lifetime if lifetime else None, allow_raw)
    note_activity(bin_id, "share_create", share_detail(row.id, SHARE_EXPIRIES[expiry][0], allow_raw))
    new_url = f"{base_url()}/s/{plain}"
    return _logged(
        render_template("manage/_shares.html", **shares_context(bin_id, new_url=new_url, new_id=row.id)), 201
    )


@bp.delete("/bins/<bin_id>/shares/<int:share_id>")
def revoke_share(bin_id: str, share_id: int) -> Response:
    """Revoke a link at once (an open shared page's stream ends); 404 when it is not this bin's."""
    bin_or_404(bin_id)
    if not access_store.revoke_share(bin_id, share_id):
        abort(404, description=f"no share link {share_id} in bin {bin_id!r}")
    note_activity(bin_id, "share_revoke", f"share link #{share_id}")
    message = f"Share link #{share_id} revoked: it stops working now, open pages included."
    return _logged(render_template("manage/_shares.html", **shares_context(bin_id, message=message)))


def parse_share_form(form: MultiDict[str, str]) -> tuple[str, bool]:
    """The share form as (expiry choice, raw download allowed); InvalidInput for an unknown
    expiry."""
    expiry = form.get("expires", DEFAULT_EXPIRY)
    if expiry not in SHARE_EXPIRIES:
        raise InvalidInput(f"expiry must be one of: {', '.join(label for label, _ in SHARE_EXPIRIES.values())}")
    return expiry, form.get("allow_raw") == "1"


def share_detail(share_id: int, expiry_label: str, allow_raw: bool) -> str:
    """The activity log's words for a new link."""
    expires = "never expires" if expiry_label == "never" else f"expires in {expiry_label}"
    return f"share link #{share_id}, {expires}" + (", raw download allowed" if allow_raw else "")


def shares_context(bin_id: str, **extra: Any) -> dict[str, Any]:
    """The share panel; `extra`: new_url and new_id (just created: shown this once), error,
    message."""
    return {
        "bin_id": bin_id,
        "shares": access_store.list_shares(bin_id),
        "expiries": [(value, label) for value, (label, _) in SHARE_EXPIRIES.items()],
        "default_expiry": DEFAULT_EXPIRY,
        "now": datetime.now(UTC),
        "open": False,
        "new_url": None,
        "new_id": None,
        "error": None,
        "message": None,
        **extra,
    }


# --- a bin's redaction rules ----------------------------------------------------------------


# Endpoints `manage.redaction` and `manage.activity` (policy.py): the functions are named apart
# from the modules of those names.
@bp.get("/bins/<bin_id>/redaction", endpoint="redaction")
def redaction_rules(bin_id: str) -> str:
    """The redaction panel (`?open=1`: shown open)."""
    bin_ = bin_or_404(bin_id)
    return render_template("manage/_redaction.html", **redaction_context(bin_, open=wants_open()))


@bp.post("/bins/<bin_id>/redaction")
def save_redaction(bin_id: str) -> Response | tuple[str, int]:
    """Save the rules from the form (validated by redaction.parse_rules); 400 with the form
    as sent and the reason when a rule is unusable (e.g. a bad regular expression)."""
    bin_ = bin_or_404(bin_id)
    sent = redaction_form_rules(request.form)
    try:
        rules = redaction.parse_rules(sent)
    except InvalidInput as error:
        reason = form_reason(str(error))
        return render_template("manage/_redaction.html", **redaction_context(bin_, rules=sent, error=reason)), 400
    store.save_bin_settings(bin_, redact=rules)
    note_activity(bin_id, "redaction", redaction_detail(rules))
    return _logged(render_template("manage/_redaction.html", **redaction_context(bin_, message="Saved.")))


def redaction_form_rules(form: MultiDict[str, str]) -> dict[str, Any]:
    """The form's fields as a rules object (redaction.parse_rules checks it): one entry per
    non-blank line of each textarea, spaces around it ignored (a pattern spells a space it
    needs at an end as `[ ]` or `\\s`), and the two checkboxes."""
    rules: dict[str, Any] = {
        key: [line.strip() for line in form.get(key, "").replace("\r\n", "\n").split("\n") if line.strip()]
        for key in REDACTION_LISTS
    }
    rules.update({key: form.get(key) == "1" for key in REDACTION_FLAGS})
    return rules


def form_reason(message: str) -> str:
    """parse_rules' reason in the form's words: "redact.patterns #2" (the API's field) becomes
    "Patterns, entry 2"."""
    return _RULE_FIELD.sub(lambda found: f"{REDACTION_LABELS[found[1]]}, entry {found[2]}", message)


def redaction_detail(rules: dict[str, Any]) -> str:
    """The activity log's words for saved rules: how many of each, and the switches."""
    counts = ", ".join(f"{key.replace('_', ' ')} {len(rules.get(key) or [])}" for key in REDACTION_LISTS)
    switches = ", ".join(f"{key.replace('_', ' ')} {'on' if rules.get(key) else 'off'}" for key in REDACTION_FLAGS)
    return f"{counts}; {switches}"


def redaction_context(bin_: Bin, *, rules: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    """The redaction panel: `rules` as sent (after an error), else the bin's (the defaults
    when it has none); `extra`: error, message."""
    shown = rules if rules is not None else redaction.rules_json(redaction.rules_of(bin_))
    return {
        "bin_id": bin_.id,
        "rules": {key: shown.get(key) for key in (*REDACTION_LISTS, *REDACTION_FLAGS)},
        "uses_defaults": bin_.redact is None,
        "open": False,
        "error": None,
        "message": None,
        **extra,
    }


# --- a bin's activity log -------------------------------------------------------------------


@bp.get("/bins/<bin_id>/activity", endpoint="activity")
def bin_activity(bin_id: str) -> str:
    """The bin's activity log, newest first (`?open=1`: shown open)."""
    bin_or_404(bin_id)
    return render_template("manage/_activity.html", bin_id=bin_id, entries=activity.of_bin(bin_id), open=wants_open())
