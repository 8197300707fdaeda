"""The gunicorn worker `hookloupe serve` runs: gunicorn's gevent worker, with one answer changed and a prompt stop."""

from __future__ import annotations

import os
import signal
import socket
import time
from functools import partial
from typing import Any

import gevent
from gevent import getcurrent, monkey
from gevent.pool import Pool
from gevent.server import StreamServer
from gunicorn.http.errors import InvalidHeader, UnsupportedTransferCoding
from gunicorn.sock import ssl_context
from gunicorn.workers.ggevent import GeventWorker

# How often the worker looks whether it must stop, and then whether its stop may end
# (gunicorn's gevent worker: every second).
STOP_CHECK_S = 0.05
# The operating system's select and socket: gevent's own, used on a socket another greenlet
# reads, would fail that read ("File descriptor was closed in another greenlet").
_select = monkey.get_original("select", "select")
_socket = monkey.get_original("socket", "socket")


class Worker(GeventWorker):  # type: ignore[misc]  # gunicorn has no type hints
    """gevent: each connection is a greenlet (README, "Serving").

    A request framed with a transfer coding gunicorn does not implement (`Transfer-Encoding:
    xchunked`) is answered 400 rather than gunicorn's 501: it is the client's malformed
    request, and nothing a client sends may make Hookloupe answer 5xx (monitoring reads 5xx as
    the server failing). RFC 9112 §6.1 recommends 501 but does not require it.

    A stop waits for requests in progress (at most gunicorn's `graceful_timeout`), never for an
    idle connection. gunicorn keeps a connection open after its response while the client may
    send another request (up to `keepalive` seconds), counts it as busy, and looks once a
    second: a browser's idle connections, and the one of each event stream that had ended,
    held every stop for seconds. Here, once the worker stops, a response closes its
    connection, a connection waiting for a request with no bytes pending is closed, and the
    worker looks every STOP_CHECK_S. SIGINT (Ctrl-C reaches every process of the terminal)
    stops as SIGTERM does."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._sockets: dict[Any, Any] = {}  # greenlet -> the connection it serves
        self._idle: set[Any] = set()  # greenlets waiting for a request's first bytes

    def handle_error(self, req: Any, client: Any, addr: Any, exc: BaseException) -> None:
        if isinstance(exc, UnsupportedTransferCoding):
            exc = InvalidHeader("Transfer-Encoding")
        super().handle_error(req, client, addr, exc)

    def init_signals(self) -> None:
        super().init_signals()
        signal.signal(signal.SIGINT, self.handle_exit)
        signal.siginterrupt(signal.SIGINT, False)

    def run(self) -> None:
        """gunicorn's GeventWorker.run (23 to 27, without the pywsgi server it does not use
        here), checking every STOP_CHECK_S, and closing idle connections once stopped."""
        ssl_args = {"ssl_context": ssl_context(self.cfg)} if self.cfg.is_ssl else {}
        servers = []
        for listener in self.sockets:
            listener.setblocking(1)
            server = StreamServer(
                listener, handle=partial(self.handle, listener), spawn=Pool(self.worker_connections), **ssl_args
            )
            if self.cfg.workers > 1:
                server.max_accept = 1
            server.start()
            servers.append(server)
        notified = 0.0
        while self.alive:
            if time.monotonic() - notified >= 1.0:  # the master's liveness check
                self.notify()
                notified = time.monotonic()
            gevent.sleep(STOP_CHECK_S)
        for server in servers:
            server.close()  # accept no more connections
        stopped = time.monotonic()
        deadline, said = stopped + self.cfg.graceful_timeout, False
        while busy := sum(server.pool.size - server.pool.free_count() for server in servers):
            if not said and time.monotonic() - stopped > 1.5:  # streams and idle connections are gone by now
                self.log.info(
                    "Worker (pid:%s) finishing %s request(s) in progress, at most %s s more (Ctrl-C again quits now)",
                    self.pid,
                    busy,
                    round(deadline - time.monotonic()),
                )
                said = True
            if time.monotonic() > deadline:
                self.log.warning("Worker graceful timeout (pid:%s)", self.pid)
                for server in servers:
                    server.stop(timeout=1)
                return
            self._close_idle()
            self.notify()
            gevent.sleep(STOP_CHECK_S)

    def handle(self, listener: Any, client: Any, addr: Any) -> None:
        self._sockets[getcurrent()] = client
        try:
            super().handle(listener, client, addr)
        finally:
            self._sockets.pop(getcurrent(), None)
            self._idle.discard(getcurrent())

    def timeout_ctx(self) -> Any:
        """gunicorn's wait for the next request's headers, marked idle while it lasts."""
        return _Idle(self._idle, super().timeout_ctx())

    def handle_request(self, listener_name: Any, req: Any, sock: Any, addr: Any) -> None:
        super().handle_request(listener_name, req, sock, addr)
        if not self.alive:
            raise StopIteration  # gunicorn's "close this connection": the worker is stopping

    def _close_idle(self) -> None:
        """Close the connections waiting for a request of which no byte has arrived."""
        for greenlet in list(self._idle):
            client = self._sockets.get(greenlet)
            if client is not None and not _has_bytes_pending(client):
                _shut_down(client)


class _Idle:
    """Marks the current greenlet idle for the duration of gunicorn's header timeout."""

    def __init__(self, idle: set[Any], timeout: Any) -> None:
        self._idle, self._timeout = idle, timeout

    def __enter__(self) -> Any:
        self._idle.add(getcurrent())
        return self._timeout.__enter__()

    def __exit__(self, *exc_info: Any) -> Any:
        self._idle.discard(getcurrent())
        return self._timeout.__exit__(*exc_info)


def _has_bytes_pending(client: Any) -> bool:
    """Whether the client's next request has begun to arrive (then it is read and answered)."""
    try:
        readable, _, _ = _select([client.fileno()], [], [], 0)
    except (OSError, ValueError):  # closed meanwhile
        return False
    return bool(readable)


def _shut_down(client: Any) -> None:
    """End the connection under the greenlet reading it: its read sees the end of the stream
    and gunicorn closes the connection as if the client had (through a duplicate descriptor:
    a shutdown applies to the connection, and gevent's own would fail the reader)."""
    try:
        with _socket(fileno=os.dup(client.fileno())) as duplicate:
            duplicate.shutdown(socket.SHUT_RDWR)
    except OSError:  # closed meanwhile
        pass
