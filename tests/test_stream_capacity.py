"""Event streams at their cap on a real server: each stream opens or is refused 503 with
Retry-After, none hangs, a capture reaches every open one, the server recovers when they close;
and a capture committed by another server process reaches a stream (issue 15)."""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from dataclasses import dataclass, field

import httpx
import pytest
from conftest import PG_URL, LiveServer
from sqlalchemy import create_engine, make_url, text

pytestmark = pytest.mark.server

CAP = 20  # HOOKLOUPE_STREAM_MAX_PER_WORKER of the capped server
WORKERS = 2
STREAMS = 60
TIMEOUT_S = 10.0  # every read and connect of a stream is bounded by this
# Our own database on the test PostgreSQL server: the `test` database belongs to other tests.
PG_DATABASE = "viewers_test"


@pytest.fixture(scope="module")
def capped(tmp_path_factory):
    """2 workers of at most 20 streams each. A stream sees that its client left only when a
    write fails (its second write after the close), so a 1 s heartbeat frees the slots of
    closed streams within ~2 s rather than the default 10-20 s."""
    env = {"HOOKLOUPE_STREAM_MAX_PER_WORKER": str(CAP), "HOOKLOUPE_STREAM_HEARTBEAT_S": "1"}
    server = LiveServer(tmp_path_factory.mktemp("capped"), env, workers=WORKERS).start()
    yield server
    server.stop()


@dataclass
class Stream:
    """One SSE client on its own connection, as a browser's EventSource opens it."""

    status: int
    headers: dict[str, str]
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    received: str = field(default="")

    async def read_until(self, needle: str, timeout_s: float = TIMEOUT_S) -> bool:
        """Read until `needle` is in what arrived; False at the end of the stream or the timeout."""
        deadline = time.monotonic() + timeout_s
        while needle not in self.received:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            try:
                chunk = await asyncio.wait_for(self.reader.read(65536), left)
            except TimeoutError:
                return False
            if not chunk:
                return False
            self.received += chunk.decode(errors="replace")
        return True

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(OSError):
            await self.writer.wait_closed()


async def open_stream(port: int, path: str) -> Stream:
    """Connect, ask for `path` as text/event-stream, read the answer's head; an open stream
    is also read up to its first message (`retry:`). Raises TimeoutError when it hangs."""
    reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), TIMEOUT_S)
    writer.write(
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\nCache-Control: no-cache\r\n\r\n".encode()
    )
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), TIMEOUT_S)
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {
        name.strip().lower(): value.strip() for name, _, value in (line.partition(":") for line in lines if line)
    }
    stream = Stream(int(status_line.split()[1]), headers, reader, writer)
    if stream.status == 200:
        await stream.read_until("retry:")
    return stream


@contextlib.asynccontextmanager
async def held_streams(port: int, paths: list[str]):
    """Open a stream on each path at once; closes every one on the way out."""
    outcomes = await asyncio.gather(*(open_stream(port, path) for path in paths), return_exceptions=True)
    streams = [o for o in outcomes if isinstance(o, Stream)]
    try:
        failed = [o for o in outcomes if not isinstance(o, Stream)]
        assert not failed, f"{len(failed)} of {len(paths)} streams got no answer in time: {failed[:3]!r}"
        yield streams
    finally:
        await asyncio.gather(*(stream.close() for stream in streams))


def mixed_paths(bin_id: str, count: int) -> list[str]:
    """Half the page's stream (as its htmx sse extension opens it), half the API's."""
    return [f"/bins/{bin_id}/stream?after=0" if n % 2 else f"/api/bins/{bin_id}/events" for n in range(count)]


def capture(server: LiveServer, bin_id: str, body: bytes = b"to every viewer") -> int:
    answer = httpx.post(f"{server.url}/h/{bin_id}", content=body, timeout=TIMEOUT_S)
    assert answer.status_code == 200, answer.text
    return answer.json()["request_id"]


def open_streams(server: LiveServer) -> int:
    scrape = httpx.get(f"{server.url}/metrics", timeout=TIMEOUT_S).text
    return round(float(re.search(r"^hookloupe_open_streams ([0-9.]+)$", scrape, re.MULTILINE).group(1)))


def wait_until_no_streams(server: LiveServer, timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while (left := open_streams(server)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert left == 0, f"the server still holds {left} streams {timeout_s:g} s after their clients left"


def test_each_of_sixty_streams_on_forty_slots_streams_or_gets_503_with_retry_after(capped):
    bin_id = capped.create_bin()
    wait_until_no_streams(capped)

    async def scenario():
        async with held_streams(capped.port, mixed_paths(bin_id, STREAMS)) as streams:
            return [(s.status, s.headers.get("retry-after"), s.received) for s in streams]

    outcomes = asyncio.run(scenario())
    opened = [received for status, _, received in outcomes if status == 200]
    refused = [retry_after for status, retry_after, _ in outcomes if status == 503]
    assert len(opened) + len(refused) == STREAMS, sorted({status for status, _, _ in outcomes})
    assert all("retry:" in received for received in opened)
    assert all(retry_after and retry_after.isdigit() for retry_after in refused), refused
    # Each worker takes at most CAP; how the kernel spreads connections over workers varies.
    assert CAP <= len(opened) <= CAP * WORKERS


def test_a_capture_reaches_every_open_stream(capped):
    bin_id = capped.create_bin()
    wait_until_no_streams(capped)

    async def scenario():
        async with held_streams(capped.port, mixed_paths(bin_id, STREAMS)) as streams:
            opened = [s for s in streams if s.status == 200]
            capture_id = await asyncio.to_thread(capture, capped, bin_id)
            arrived = await asyncio.gather(*(s.read_until(f"id: {capture_id}\n") for s in opened))
            return len(opened), sum(arrived)

    opened, reached = asyncio.run(scenario())
    assert opened >= CAP
    assert reached == opened


def test_after_the_streams_close_the_server_answers_and_takes_new_streams(capped):
    bin_id = capped.create_bin()
    wait_until_no_streams(capped)

    async def fill_and_leave():
        async with held_streams(capped.port, mixed_paths(bin_id, STREAMS)):
            pass

    asyncio.run(fill_and_leave())
    assert httpx.get(f"{capped.url}/healthz", timeout=TIMEOUT_S).status_code == 200
    wait_until_no_streams(capped)

    async def reopen():
        # CAP streams fit however the kernel spreads them over the workers.
        async with held_streams(capped.port, mixed_paths(bin_id, CAP)) as streams:
            capture_id = await asyncio.to_thread(capture, capped, bin_id)
            arrived = await asyncio.gather(*(s.read_until(f"id: {capture_id}\n") for s in streams))
            return [s.status for s in streams], sum(arrived)

    statuses, reached = asyncio.run(reopen())
    assert statuses == [200] * CAP
    assert reached == CAP


def shared_database(backend: str, tmp_path) -> str:
    """One empty database for two servers: a SQLite file, or PostgreSQL's `viewers_test`
    (made on the server of HOOKLOUPE_TEST_DATABASE_URL when missing, its schema emptied)."""
    if backend == "sqlite":
        return "sqlite:///" + str(tmp_path / "shared.db")
    if not PG_URL:
        pytest.skip("PostgreSQL tests need HOOKLOUPE_TEST_DATABASE_URL (.ci/run sets it)")
    server = make_url(PG_URL).set(drivername="postgresql+psycopg")
    admin = create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": PG_DATABASE}) is None:
            conn.execute(text(f"CREATE DATABASE {PG_DATABASE}"))
    admin.dispose()
    ours = server.set(database=PG_DATABASE)
    engine = create_engine(ours)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    return ours.render_as_string(hide_password=False)


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_a_stream_gets_a_capture_committed_by_another_server(backend, tmp_path):
    env = {"HOOKLOUPE_DATABASE_URL": shared_database(backend, tmp_path), "HOOKLOUPE_SECRET_KEY": "shared-test-key"}
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a = LiveServer(tmp_path / "a", env, workers=1).start()  # started one after the other: one migrates
    try:
        b = LiveServer(tmp_path / "b", env, workers=1).start()
        try:
            bin_id = a.create_bin()

            async def scenario():
                async with held_streams(a.port, mixed_paths(bin_id, 2)) as streams:
                    capture_id = await asyncio.to_thread(capture, b, bin_id, b"committed by B")
                    arrived = await asyncio.gather(*(s.read_until(f"id: {capture_id}\n") for s in streams))
                    return [s.status for s in streams], arrived

            statuses, arrived = asyncio.run(scenario())
        finally:
            b.stop()
    finally:
        a.stop()
    assert statuses == [200, 200]
    assert arrived == [True, True]
