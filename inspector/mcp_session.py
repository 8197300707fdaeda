"""One MCP session's state over a Client: the bins it has used, and client errors as tool errors."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

from mcp.server.mcpserver.exceptions import ToolError

from inspector.client import Bin, BinGoneError, Client, HookloupeError, strip_userinfo
from inspector.mcp_args import MATCHER_HELP


class ToolSession:
    """What the tools of one session share: the client, and the Bin objects of the bins used
    (each holding its wait cursor), guarded by a lock."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self._bins: dict[str, Bin] = {}
        self._lock = threading.Lock()

    def _bin(self, bin: str) -> Bin:
        """The session's Bin object of `bin` (an id or URL), made on first use; ToolError when
        the bin does not exist or the server cannot be reached."""
        with self._lock:
            known = self._bins.get(bin)
        if known is not None:
            return known
        with self._errors(bin):
            found = self.client.bin(bin)
        with self._lock:
            found = self._bins.setdefault(found.id, found)
            self._bins[bin] = found
        return found

    def _forget(self, bin_id: str) -> None:
        with self._lock:
            for key in [key for key, value in self._bins.items() if key == bin_id or value.id == bin_id]:
                del self._bins[key]

    def _capture_bin(self, url: str) -> str | None:
        """The bin id when `url` is a capture URL of this session's server, else None."""
        prefix = self.client.url + "/h/"
        shown = strip_userinfo(url)
        if not shown.startswith(prefix):
            return None
        bin_id = urlsplit(shown).path.removeprefix(urlsplit(prefix).path).split("/", 1)[0]
        return bin_id or None

    @contextmanager
    def _errors(self, bin: str | None = None) -> Iterator[None]:
        """Turn the client's errors into ToolErrors that say what failed and what to do."""
        try:
            yield
        except BinGoneError as error:
            if bin is not None:
                self._forget(bin)
            if error.status == 410:
                raise ToolError(f"bin {bin!r} is gone ({error}) — create a new one with create_bin") from None
            raise ToolError(
                f"bin {bin!r} does not exist — create one with create_bin (the id is the part after /h/ "
                "in a capture URL)"
            ) from None
        except HookloupeError as error:
            raise ToolError(self._explain(error)) from None

    def _explain(self, error: HookloupeError) -> str:
        message = self.client.redact(str(error))
        status = error.status
        if status is None:
            cause = message.removeprefix(f"cannot reach {self.client.url}: ")
            return (
                f"server unreachable at {self.client.url} ({cause}) — start it with `hookloupe serve`, or "
                "restart `hookloupe mcp` with --url (or HOOKLOUPE_URL) pointing at a running server"
            )
        if status == 401:
            return f"{message} — restart `hookloupe mcp` with the right credentials (--token, or the password in --url)"
        if status == 403:
            return f"{message} — the token's scope or bin does not allow this call"
        if status == 400 and "unknown matcher" in message:
            return f"{message} — valid matchers: {MATCHER_HELP}"
        if status == 404:
            return f"{message} — list_requests shows the ids of a bin's captures"
        if status == 409:
            return f"{message} — choose another name, or leave name empty for a random id"
        if status == 503:
            return f"{message} — the server is busy; try again in a moment"
        return message
