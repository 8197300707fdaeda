"""The scope every route needs, by Flask endpoint name: one table, checked by the guard
(views/auth.py) and by a test that fails when a route is missing from it.

`where` says which principals a rule admits besides the scope: "bin" routes act on the bin in
the URL (a token bound to another bin is refused), "server" routes act on the whole server
(only principals bound to no bin), "any" routes touch no bin's data.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Rule:
    scope: str  # "public" (no credentials at all), "read", "write" or "admin"
    where: str = "bin"  # "bin", "server" or "any"


PUBLIC = Rule("public", "any")
READ, WRITE = Rule("read"), Rule("write")
# A route that is not in the table needs the instance's administrator: a forgotten route is
# closed, never open.
UNLISTED = Rule("admin", "server")

# Endpoints under these blueprints are public: share pages check their own link token, sign-in
# is how credentials arrive.
_PUBLIC_BLUEPRINTS = ("share.", "auth.")

RULES: dict[str, Rule] = {
    "static": PUBLIC,
    "api.healthz": PUBLIC,
    "metrics.scrape": Rule("read", "any"),
    "openapi.document": Rule("read", "any"),
    # Pages
    "pages.home": Rule("read", "any"),
    "pages.create": Rule("write", "server"),
    "pages.show": READ,
    "pages.list_pane": READ,
    "pages.rows": READ,
    "pages.detail": READ,
    "pages.body_view": READ,
    "pages.stream_rows": READ,
    "pages.signature": READ,
    "pages.deliveries": READ,
    "pages.compare_deliveries": READ,
    "pages.facets": READ,
    "pages.delete_request": WRITE,
    "pages.clear": WRITE,
    "pages.replay": WRITE,
    "pages.add_secret": WRITE,
    "pages.delete_secret": WRITE,
    "pages.save_forward": WRITE,
    # The owner's sharing, redaction and activity sections of a bin page, and the admin pages
    "manage.all_bins": Rule("admin", "server"),
    "manage.delete_bin": WRITE,
    "manage.tokens": Rule("admin", "server"),
    "manage.create_token": Rule("admin", "server"),
    "manage.revoke_token": Rule("admin", "server"),
    "manage.shares": READ,
    "manage.create_share": WRITE,
    "manage.revoke_share": WRITE,
    "manage.redaction": READ,
    "manage.save_redaction": WRITE,
    "manage.activity": READ,
    # A bin page's Settings section (views/pages/settings.py)
    "settings.panel": READ,
    "settings.count": READ,
    "settings.save_response": WRITE,
    "settings.save_retention": WRITE,
    "settings.save_handshakes": WRITE,
    "settings.save_public_base": WRITE,
    # A capture's pin and note (page and API), and a delivery's retry (views/request_meta.py)
    "request_meta.update_request": WRITE,
    "request_meta.toggle_pin": WRITE,
    "request_meta.save_note": WRITE,
    "request_meta.retry_delivery": WRITE,
    # JSON API
    "api.create_bin": Rule("write", "server"),
    "access.list_bins": Rule("admin", "server"),
    "api.show_bin": READ,
    "api.update_bin": WRITE,
    "api.delete_bin": WRITE,
    "api.events": READ,
    "api.list_requests": READ,
    "api.clear_requests": WRITE,
    "api.show_request": READ,
    "api.delete_request": WRITE,
    "api.raw_body": READ,
    "api.count_requests": READ,
    "api.wait_for_request": READ,
    "api.stats": READ,
    "replay.replay": WRITE,
    "replay.deliveries": READ,
    "secrets.add_secret": WRITE,
    "secrets.list_secrets": READ,
    "secrets.delete_secret": WRITE,
    "access.list_tokens": Rule("admin", "server"),
    "access.create_token": Rule("admin", "server"),
    "access.revoke_token": Rule("admin", "server"),
    "access.list_shares": READ,
    "access.create_share": WRITE,
    "access.revoke_share": WRITE,
    "access.bin_activity": READ,
    "access.server_activity": Rule("admin", "server"),
    # Export and import (issue 13)
    "exports.request_export": READ,
    "exports.multipart_part": READ,
    "exports.bin_export": READ,
    "exports.bin_import": WRITE,
    "exports.page_request_export": READ,
}


def rule_for(endpoint: str | None) -> Rule:
    """The rule of a route; PUBLIC for no endpoint (the answer is a 404 or 405 anyway)."""
    if endpoint is None or endpoint.startswith(_PUBLIC_BLUEPRINTS):
        return PUBLIC
    return RULES.get(endpoint, UNLISTED)
