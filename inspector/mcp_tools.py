"""The nine MCP tools of DESIGN §8, as methods whose signatures and docstrings agents read."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import quote

import httpx
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field

from inspector.client import strip_userinfo
from inspector.client_shapes import matcher_params
from inspector.mcp_args import (
    BinArg,
    ContentTypeMatch,
    EventMatch,
    HeadersMatch,
    IdArg,
    JsonMatch,
    MethodMatch,
    PathMatch,
    ProviderMatch,
    QueryMatch,
    TextMatch,
    VerdictMatch,
    client_matchers,
)
from inspector.mcp_session import ToolSession
from inspector.mcp_views import (
    ANSWER_LIMIT,
    LIST_LIMIT,
    VERDICT_HINTS,
    bounded,
    delivery_view,
    request_view,
    signature_view,
    summary_view,
)

# The server holds one wait at most this long (DESIGN §4).
MAX_WAIT_S = 60
# Extra read time over a server wait before the connection counts as lost.
_WAIT_READ_MARGIN_S = 15.0


class HookloupeTools(ToolSession):
    """The nine tools over one `Client`. Methods are registered as MCP tools by `build_server`;
    each raises ToolError (an MCP tool error) with a hint when something fails."""

    def create_bin(
        self,
        name: Annotated[
            str | None,
            Field(description="A custom id ([a-z0-9][a-z0-9-]{2,62}); leave empty for a random one."),
        ] = None,
        expires_in_s: Annotated[
            int | None,
            Field(description="Delete the bin this many seconds from now (1..31536000); empty keeps it.", ge=1),
        ] = None,
    ) -> dict[str, Any]:
        """Create a bin that records every HTTP request sent to its capture URL.

        Point the webhook sender (your app, a provider's dashboard, or send_sample) at
        `capture_url` — any method, any sub-path, any query string is captured. Then read what
        arrived with wait_for_request, list_requests and get_request. Add the provider's signing
        secret with add_secret so signatures are verified. Use expires_in_s for throwaway bins."""
        with self._errors():
            bin_ = self.client.create_bin(name, expires_in_s=expires_in_s)
        with self._lock:
            self._bins[bin_.id] = bin_
        return {
            "bin": bin_.id,
            "capture_url": bin_.url,
            "inspect_url": bin_.inspect_url,
            "expires_at": bin_.data.get("expires_at"),
        }

    def delete_bin(self, bin: BinArg) -> dict[str, Any]:
        """Delete a bin with all its captures, secrets and deliveries. This cannot be undone;
        its capture URL answers 404 afterwards."""
        bin_ = self._bin(bin)
        with self._errors(bin):
            bin_.delete()
        self._forget(bin_.id)
        return {"deleted": bin_.id}

    def list_requests(
        self,
        bin: BinArg,
        limit: Annotated[
            int, Field(description=f"How many to list, newest first (1..{LIST_LIMIT}).", ge=1, le=LIST_LIMIT)
        ] = 20,
        method: MethodMatch = None,
        path: PathMatch = None,
        content_type: ContentTypeMatch = None,
        text: TextMatch = None,
        provider: ProviderMatch = None,
        event: EventMatch = None,
        verdict: VerdictMatch = None,
        query: QueryMatch = None,
        headers: HeadersMatch = None,
        json: JsonMatch = None,
    ) -> dict[str, Any]:
        """List a bin's captured requests, newest first, as short summaries (id, time, method,
        path, provider, event, signature verdict; "pending" while the analysis runs).

        Every matcher given must hold. `more_requests` counts the matching captures not listed:
        narrow the matchers to see them. Use get_request for headers and body, and
        explain_signature for why a verdict is what it is."""
        matchers = client_matchers(method, path, content_type, text, provider, event, verdict, query, headers, json)
        bin_ = self._bin(bin)
        with self._errors(bin):
            captures = bin_.requests(limit=limit, **matchers)
            more = bin_.count(**matchers) - len(captures) if len(captures) == limit else 0
        return {
            "bin": bin_.id,
            "requests": [summary_view(capture.summary) for capture in captures],
            "more_requests": max(0, more),
        }

    def get_request(self, bin: BinArg, id: IdArg) -> dict[str, Any]:
        """One captured request in full: method, path, query, headers as [name, value] pairs in
        arrival order, the body, the detected provider and event, and the signature verdict.

        The body comes as text when it is UTF-8 (`body_encoding` "utf-8"), else as base64; it
        is cut at 16 KiB and `body_truncated_bytes` says how many bytes were left out.
        Authorization, Cookie, Set-Cookie, Proxy-Authorization and X-Api-Key show "[redacted]"."""
        bin_ = self._bin(bin)
        with self._errors(bin):
            capture = bin_.get(id)
        return request_view(capture.data)

    def wait_for_request(
        self,
        bin: BinArg,
        timeout_s: Annotated[
            int,
            Field(description=f"Seconds to wait at most (0..{MAX_WAIT_S}; 0 answers at once).", ge=0, le=MAX_WAIT_S),
        ] = 30,
        after: Annotated[
            int | None,
            Field(
                description="Consider only captures with a greater id (0: every stored one). Empty: continue "
                "after the last capture this tool returned for the bin (see the tool description).",
                ge=0,
            ),
        ] = None,
        method: MethodMatch = None,
        path: PathMatch = None,
        content_type: ContentTypeMatch = None,
        text: TextMatch = None,
        provider: ProviderMatch = None,
        event: EventMatch = None,
        verdict: VerdictMatch = None,
        query: QueryMatch = None,
        headers: HeadersMatch = None,
        json: JsonMatch = None,
    ) -> dict[str, Any]:
        """Wait until the bin holds a capture that matches every matcher given, and return it in
        full (as get_request does). Returns at once when one is already there.

        Without `after`, it looks past the last capture it returned for this bin: for a bin made
        with create_bin in this session that means every capture, for another bin the ones newer
        than the newest when this session first used it — so "send, then wait" works. Matching on
        provider, event or verdict waits for the capture's analysis.

        On timeout this is not an error: `timed_out` is true, `near_misses` lists recent
        captures with what each one missed, and `last_id` is the newest capture examined; call
        again with after=last_id to keep waiting for newer ones."""
        matchers = client_matchers(method, path, content_type, text, provider, event, verdict, query, headers, json)
        bin_ = self._bin(bin)
        start = bin_.cursor if after is None else after
        params = [*matcher_params(matchers), ("timeout_s", str(timeout_s))]
        if start is not None:
            params.append(("after", str(start)))
        with self._errors(bin):
            answer = self.client.call_json(
                "GET",
                f"/api/bins/{quote(bin_.id, safe='')}/requests/wait",
                params=params,
                read_timeout=timeout_s + _WAIT_READ_MARGIN_S,
            )
        last_id = answer.get("last_id")
        found = answer.get("request")
        if found is not None:
            with self._lock:
                if bin_.cursor is None or found["id"] > bin_.cursor:
                    bin_.cursor = found["id"]
            return {"timed_out": False, "last_id": last_id, "request": request_view(found)}
        return {
            "timed_out": True,
            "after": start,
            "last_id": last_id,
            "near_misses": bounded(answer.get("near_misses") or []),
            "next": f"Nothing matched within {timeout_s} s. Call wait_for_request again with after={last_id} to "
            "wait for newer captures, or loosen the matchers (near_misses says what each recent capture missed).",
        }

    def add_secret(
        self,
        bin: BinArg,
        label: Annotated[str, Field(description="A name for the secret, shown in verdicts (e.g. 'stripe test').")],
        value: Annotated[str, Field(description="The signing secret as the provider gives it (e.g. whsec_…).")],
        provider: Annotated[
            str | None, Field(description="Try it only for this provider id (e.g. stripe); empty: for every one.")
        ] = None,
    ) -> dict[str, Any]:
        """Store a signing secret on a bin (encrypted; it is never shown again, only a hint of
        its last characters). Every capture of the bin is then verified again in the background:
        wait_for_request(verdict="valid") or explain_signature show the new verdicts."""
        bin_ = self._bin(bin)
        with self._errors(bin):
            secret = bin_.add_secret(label, value, provider)
        return {"bin": bin_.id, "secret": secret}

    def explain_signature(
        self,
        bin: BinArg,
        id: IdArg,
        at_now: Annotated[
            bool, Field(description="Also verify it again as if it arrived now (nothing is stored).")
        ] = False,
    ) -> dict[str, Any]:
        """Why a capture's signature verdict is what it is: status, the scheme used, the label of
        the secret that matched, a one-sentence detail, warnings and debug data (what was
        received, what was expected, how the key was read).

        A capture is judged as of when it arrived; at_now=true adds the verdict as of now (e.g.
        to tell an old timestamp from a wrong secret). Statuses: valid, invalid (no stored
        secret matches), expired (matches, timestamp out of tolerance), unsigned, no_secret (add
        one with add_secret), unverifiable, none (no provider detected)."""
        bin_ = self._bin(bin)
        path = f"/api/bins/{quote(bin_.id, safe='')}/requests/{id}"
        with self._errors(bin):
            stored = self.client.call_json("GET", path)
            now = self.client.call_json("GET", path, params={"at": "now"}) if at_now else None
        answer: dict[str, Any] = {
            "id": stored["id"],
            "received_at": stored.get("received_at"),
            "provider": stored.get("provider"),
            **signature_view(stored.get("signature") or {}),
        }
        if now is not None:
            answer["at_now"] = signature_view(now.get("signature") or {})
        hint = VERDICT_HINTS.get(answer["status"])
        if hint:
            answer["next"] = hint
        return answer

    def send_sample(
        self,
        provider: Annotated[str, Field(description="Provider id to imitate, e.g. stripe, github, slack, shopify.")],
        url: Annotated[str, Field(description="Where to send it: a bin's capture_url, or your own receiver.")],
        secret: Annotated[str, Field(description="The signing secret the receiver holds.")],
        event: Annotated[
            str | None, Field(description="Event type (default: the provider's documented example event).")
        ] = None,
    ) -> dict[str, Any]:
        """Send one correctly signed sample webhook of a provider to a URL, built and signed
        here from the provider's documented example, and report the receiver's answer.

        Send it to a bin's capture_url to see Hookloupe verify it (add the same secret with
        add_secret), or to your own endpoint to test its signature check. The answer shows the
        status and the first part of the response body; a capture URL also gives `request_id`."""
        from inspector.bins import is_http_url
        from inspector.signing.samples import SAMPLES, build_sample, signable_providers
        from inspector.signing.schemes import SignatureError

        if provider not in signable_providers():
            raise ToolError(f"cannot sign as {provider!r} — providers with samples: {', '.join(signable_providers())}")
        shown_url = strip_userinfo(url)
        if not is_http_url(url):
            raise ToolError(f"{shown_url!r} is not an http(s) URL — pass a bin's capture_url (see create_bin)")
        try:
            sample = build_sample(provider, secret=secret, event=event, at=datetime.now(UTC), url=url)
        except (SignatureError, ValueError) as error:
            raise ToolError(f"cannot sign the {provider} sample: {error} — check the secret's format") from None
        bin_id = self._capture_bin(url)
        if bin_id is not None:
            # Before sending: a later wait_for_request on this bin then sees the sample.
            try:
                self._bin(bin_id)
            except ToolError:
                pass  # the send below shows what is wrong with the bin
        try:
            response = httpx.request(
                sample.method, url + sample.path_suffix, headers=sample.headers, content=sample.body, timeout=30
            )
        except httpx.HTTPError as error:
            raise ToolError(
                f"could not send to {shown_url}: {type(error).__name__}: {self.client.redact(str(error))} — "
                "is the receiver running and the URL right?"
            ) from None
        body_text = response.content.decode("utf-8", "replace")
        answer: dict[str, Any] = {
            "sent": f"{sample.method} {shown_url}",
            "provider": provider,
            "event": event or SAMPLES[provider].event,
            "status_code": response.status_code,
            "response": body_text[:ANSWER_LIMIT],
            "response_truncated_chars": max(0, len(body_text) - ANSWER_LIMIT),
        }
        if bin_id is not None:
            answer["bin"] = bin_id
            try:
                answer["request_id"] = response.json()["request_id"]
            except (ValueError, KeyError, TypeError):
                pass  # the bin answers with its own configured response
        return answer

    def replay_request(
        self,
        bin: BinArg,
        id: IdArg,
        url: Annotated[str, Field(description="Target base URL; the captured sub-path and query string are appended.")],
        method: Annotated[str | None, Field(description="Send with this method instead of the captured one.")] = None,
        headers: Annotated[
            list[Annotated[list[str], Field(min_length=2, max_length=2)]] | None,
            Field(description="Replace all captured headers with these [name, value] pairs."),
        ] = None,
        body: Annotated[str | None, Field(description="Replace the body with this text (sent as UTF-8).")] = None,
        resign: Annotated[
            bool,
            Field(description="Sign it again with the secret that verified it, for the time of sending (after edits)."),
        ] = False,
    ) -> dict[str, Any]:
        """Send a captured request again, now, to a URL (e.g. your local app:
        http://localhost:3000/webhooks) and report the target's answer.

        Method, headers and exact body bytes are sent as captured unless replaced; hop-by-hop
        headers, Host and Content-Length are recomputed. A stale timestamped signature can be
        refreshed with resign=true (needs a valid verdict). The answer shows the status code or
        the error, the time taken and the response (body cut at 16 KiB)."""
        bin_ = self._bin(bin)
        with self._errors(bin):
            delivery = bin_.replay(
                id,
                url,
                method=method,
                headers=[(pair[0], pair[1]) for pair in headers] if headers is not None else None,
                body=body.encode() if body is not None else None,
                resign=resign,
            )
        return delivery_view(delivery)
