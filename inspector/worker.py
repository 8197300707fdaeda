"""The gunicorn worker `hookloupe serve` runs: gunicorn's gevent worker, with one answer changed."""

from __future__ import annotations

from typing import Any

from gunicorn.http.errors import InvalidHeader, UnsupportedTransferCoding
from gunicorn.workers.ggevent import GeventWorker


class Worker(GeventWorker):  # type: ignore[misc]  # gunicorn has no type hints
    """gevent: each connection is a greenlet (README, "Serving").

    A request framed with a transfer coding gunicorn does not implement (`Transfer-Encoding:
    xchunked`) is answered 400 rather than gunicorn's 501: it is the client's malformed
    request, and nothing a client sends may make Hookloupe answer 5xx (monitoring reads 5xx as
    the server failing). RFC 9112 §6.1 recommends 501 but does not require it."""

    def handle_error(self, req: Any, client: Any, addr: Any, exc: BaseException) -> None:
        if isinstance(exc, UnsupportedTransferCoding):
            exc = InvalidHeader("Transfer-Encoding")
        super().handle_error(req, client, addr, exc)
