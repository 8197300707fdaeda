"""Build a large Hookloupe database fast: the server's schema, then realistic analysed captures written directly.

The schema comes from `inspector.migrate.upgrade` (what `hookloupe serve` runs on start). The
rows are written with the driver, not through the server: `executemany` INSERTs in large
transactions on SQLite, COPY on PostgreSQL. Each row is what the capture path and the
analyser would have stored for a real webhook: a ~1 KiB JSON body signed by the provider's
own scheme (inspector/signing/samples.py), the headers a sender and gunicorn give, and
provider_id / event / delivery_id / verdict / signature as `analyse()` concluded for that
request (it is run once per kind of row, then the row varies only in its delivery id, body
note and arrival time). The mix (`MIX`) gives the filters a few % selectivity.
"""

from __future__ import annotations

import json
import random
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from string import Template

from sqlalchemy import create_engine, insert, inspect, text
from sqlalchemy.engine import Engine

from inspector import migrate
from inspector.capture.request import CapturedRequest
from inspector.models import Bin, Capture
from inspector.signing import providers
from inspector.signing.analysis import analyse, public_url, signature_json
from inspector.signing.samples import SAMPLES
from inspector.signing.schemes import Message, format_timestamp
from inspector.signing.verify import SecretValue

# (provider or None for plain JSON no provider claims, what its stored verdict is, weight in %).
MIX: tuple[tuple[str | None, str, int], ...] = (
    ("github", "valid", 45),
    ("github", "invalid", 2),
    ("github", "no_secret", 5),
    ("shopify", "valid", 15),
    ("slack", "valid", 12),
    ("stripe", "valid", 4),
    ("stripe", "invalid", 1),
    (None, "none", 16),
)
BODY_BYTES = 1024
SECRET = "scale-bench-secret"
# The JSON field every body carries, so that bodies differ and text searches have something to find.
NOTE_CHARS = 40
# In ~2% of the big bin's bodies (a search that finds a page quickly) ...
COMMON_NEEDLE = "needle-common"
# ... and in exactly one body, the big bin's oldest (a search that reads the whole bin).
RARE_NEEDLE = "needle-rare-7f3a9c"
# Rows per transaction (SQLite) or per COPY (PostgreSQL).
BATCH = 20_000
# Written here: every column but the id and those whose defaults a generated capture keeps
# (nothing redacted at capture, unpinned, no note).
_DEFAULTED = ("id", "redacted", "pinned", "note")
COLUMNS = tuple(column.name for column in Capture.__table__.columns if column.name not in _DEFAULTED)
HOST = "hooks.example.test"


@dataclass(frozen=True)
class RowKind:
    """One kind of row: the stored columns of a capture analysed as `verdict`, with the slots
    each row fills in (the delivery id `id_slot`, the body's note)."""

    provider: str | None
    verdict: str
    weight: int
    method: str
    content_type: str
    headers_json: str  # with `id_slot` where the delivery id goes
    body_head: bytes  # the body is body_head + note + body_tail
    body_tail: bytes
    event: str | None
    delivery_id: str | None  # with `id_slot`, or None
    signature_json: str
    id_slot: str


@dataclass
class Dataset:
    """What `build` wrote: the bins by role and how many captures each holds."""

    database: str  # "sqlite" or "postgresql"
    big_bin: str
    prune_bin: str
    load_bin: str
    probe_bin: str
    other_bins: list[str]
    rows: dict[str, int] = field(default_factory=dict)  # bin id -> captures
    total: int = 0
    seconds: float = 0.0
    rare_needle: str = RARE_NEEDLE
    common_needle: str = COMMON_NEEDLE

    @property
    def bins(self) -> list[str]:
        return [self.big_bin, self.prune_bin, self.load_bin, self.probe_bin, *self.other_bins]


def row_kinds(at: datetime) -> list[RowKind]:
    """Each kind of MIX as signed by its provider's scheme and analysed by `analyse()`.
    Raises AssertionError when the analysis does not conclude what MIX says (a registry change)."""
    return [_row_kind(provider, verdict, weight, at) for provider, verdict, weight in MIX]


def _row_kind(provider: str | None, verdict: str, weight: int, at: datetime) -> RowKind:
    slot = "00000000-0000-4000-8000-000000000000"
    note_slot = "~" * NOTE_CHARS
    base_headers = [("Host", HOST), ("Accept", "*/*"), ("X-Forwarded-Proto", "https")]
    if provider is None:
        body = _padded(b'{"type":"job.finished","id":"' + slot.encode() + b'","note":"' + note_slot.encode() + b'"}')
        headers = (*base_headers, ("Content-Type", "application/json"), ("User-Agent", "curl/8.5.0"))
        secrets: list[SecretValue] = []
        method = "POST"
    else:
        sample = SAMPLES[provider]
        entry = providers.get(provider)
        assert entry is not None, provider
        values = {
            "event": sample.event,
            "id": slot,
            "unix": format_timestamp(at, "unix"),
            "ms": format_timestamp(at, "ms"),
            "iso": format_timestamp(at, "iso"),
        }
        filled = Template(sample.body).safe_substitute(values).encode()
        assert filled.endswith(b"}"), f"{provider}'s sample body is not a JSON object"
        body = _padded(filled[:-1] + b',"note":"' + note_slot.encode() + b'"}')
        sample_headers = tuple((name, Template(value).safe_substitute(values)) for name, value in sample.headers)
        msg = Message(sample.method, f"https://{HOST}/h/bin", sample_headers, body)
        signed = entry.schemes[sample.scheme].sign(msg, SECRET, at=at)
        headers = (*base_headers, *signed.headers)
        body, method = signed.body, signed.method
        secrets = {
            "valid": [SecretValue(1, "bench", provider, SECRET)],
            "invalid": [SecretValue(1, "bench", provider, "not-" + SECRET)],
            "no_secret": [],
        }[verdict]
    headers = (*headers, ("Content-Length", str(len(body))))
    content_type = next((value for name, value in headers if name.lower() == "content-type"), "")
    captured = CapturedRequest(
        method, "", "", tuple(headers), body, len(body), False, "203.0.113.7", at, content_type=content_type
    )
    analysis = analyse(captured, secrets, public_url=public_url(f"https://{HOST}", "bin", "", ""))
    got = analysis.verification.status
    assert (analysis.provider_id, got) == (provider, verdict), f"{provider}/{verdict} analysed as {analysis}"
    head, _, tail = body.partition(note_slot.encode())
    return RowKind(
        provider=provider,
        verdict=verdict,
        weight=weight,
        method=method,
        content_type=content_type,
        headers_json=json.dumps([list(pair) for pair in headers]),
        body_head=head,
        body_tail=tail,
        event=analysis.event,
        delivery_id=analysis.delivery_id,
        signature_json=json.dumps(signature_json(analysis), default=str),
        id_slot=slot,
    )


# Words the padding is made of, in a seeded random order: it compresses about as well as real
# JSON text does (PostgreSQL compresses values over ~2 KB), unlike one phrase repeated.
_WORDS = (
    "order customer payment invoice shipping address line item quantity price currency total "
    "status pending paid refunded created updated repository commit branch merge request review "
    "comment issue label milestone user account email phone city country postal code region "
    "product variant sku inventory warehouse delivery tracking carrier event webhook message "
    "channel team workspace subscription plan trial renewal cancelled active metadata source "
    "description title note tag version release deploy environment production staging build"
)


def _padded(body: bytes) -> bytes:
    """`body` (a JSON object) with a `padding` field of words and numbers that makes it BODY_BYTES long."""
    room = BODY_BYTES - len(body) - len(b',"padding":""')
    if room <= 0:
        return body
    rng = random.Random(body)
    vocabulary = _WORDS.split()
    words: list[str] = []
    while sum(len(word) + 1 for word in words) < room:
        words.append(rng.choice(vocabulary) if rng.random() < 0.8 else str(rng.randrange(10**6)))
    filler = " ".join(words).encode()[:room]
    return body[:-1] + b',"padding":"' + filler + b'"}'


def build(
    url: str,
    *,
    captures_per_bin: int,
    total: int,
    other_bins: int,
    seed: int = 15,
    days: float = 3.0,
    progress: Callable[[int, int], None] | None = None,
) -> Dataset:
    """Create the schema at `url` (an empty database) and fill it: a big bin and a prune bin
    of `captures_per_bin` captures each, `total` minus those spread over `other_bins` bins,
    and two empty bins (load, probe). Captures of all bins are interleaved in arrival
    order over the last `days` days, as they would arrive; `progress(written, total)` is
    called after each batch. Raises ValueError when the
    database already holds bins, or `total` < 2 x `captures_per_bin`."""
    if total < 2 * captures_per_bin or captures_per_bin < 1 or other_bins < 1:
        raise ValueError("--total must be at least 2 x --captures-per-bin, and both positive")
    began = time.monotonic()
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            if inspect(conn).has_table("bins") and conn.execute(text("SELECT count(*) FROM bins")).scalar_one():
                raise ValueError(f"{engine.url.render_as_string()} already holds bins: use an empty database")
        migrate.upgrade(engine, lock_path=None)
        now = datetime.now(UTC).replace(microsecond=0)
        start = now - timedelta(days=days)
        dataset = Dataset(
            engine.dialect.name,
            big_bin="scale-big",
            prune_bin="scale-prune",
            load_bin="scale-load",
            probe_bin="scale-probe",
            other_bins=[f"scale-{n:04d}" for n in range(other_bins)],
        )
        with engine.begin() as conn:
            conn.execute(insert(Bin.__table__), [_bin_row(bin_id, start) for bin_id in dataset.bins])
        kinds = row_kinds(now)
        rows = _plan(dataset, captures_per_bin=captures_per_bin, total=total, seed=seed)
        stamps = (start + timedelta(seconds=days * 86400 * n / total) for n in range(total))
        generated = _rows(rows, kinds, stamps, dataset, seed=seed)
        writer = _write_sqlite if engine.dialect.name == "sqlite" else _write_postgresql
        writer(engine, generated, total, progress)
    finally:
        engine.dispose()
    dataset.total = total
    dataset.seconds = time.monotonic() - began
    return dataset


def _bin_row(bin_id: str, created_at: datetime) -> dict:
    return {
        "id": bin_id,
        "created_at": created_at,
        "max_requests": None,
        "response_status": 200,
        "response_headers": None,
        "response_body": None,
        "response_delay_ms": 0,
        "forward_url": None,
        "forward_enabled": False,
        "handshakes": True,
        "public_base_url": None,
        "analysis_generation": 0,
        "expires_at": None,
    }


def _plan(dataset: Dataset, *, captures_per_bin: int, total: int, seed: int) -> list[str]:
    """The bin of each capture in arrival order: every bin's captures spread over the whole time."""
    rest = total - 2 * captures_per_bin
    counts = {dataset.big_bin: captures_per_bin, dataset.prune_bin: captures_per_bin}
    share, extra = divmod(rest, len(dataset.other_bins))
    for n, bin_id in enumerate(dataset.other_bins):
        counts[bin_id] = share + (1 if n < extra else 0)
    order = [bin_id for bin_id, count in counts.items() for _ in range(count)]
    random.Random(seed).shuffle(order)
    dataset.rows = {bin_id: count for bin_id, count in counts.items() if count}
    return order


def _rows(
    order: list[str], kinds: list[RowKind], stamps: Iterator[datetime], dataset: Dataset, *, seed: int
) -> Iterator[tuple]:
    """The captures as tuples in COLUMNS order (received_at as an aware datetime)."""
    rng = random.Random(seed + 1)
    weights = [kind.weight for kind in kinds]
    big_seen = 0
    for n, (bin_id, at) in enumerate(zip(order, stamps, strict=False)):
        kind = rng.choices(kinds, weights)[0]
        delivery = f"{kind.id_slot[:24]}{n:012x}"
        note = f"{n:012x}-"
        if bin_id == dataset.big_bin:
            big_seen += 1
            if big_seen == 1:
                note += dataset.rare_needle
            elif rng.random() < 0.02:
                note += dataset.common_needle
        note = (note + "-" * NOTE_CHARS)[:NOTE_CHARS]
        body = kind.body_head + note.encode() + kind.body_tail
        values = {
            "bin_id": bin_id,
            "received_at": at,
            "method": kind.method,
            "path": "",
            "query_string": "",
            "headers": kind.headers_json.replace(kind.id_slot, delivery),
            "remote_addr": "203.0.113.7",
            "content_type": kind.content_type,
            "body": body.replace(kind.id_slot.encode(), delivery.encode()),
            "body_size": len(body),
            "body_truncated": False,
            "body_incomplete": False,
            "provider_id": kind.provider,
            "event": kind.event,
            "delivery_id": kind.delivery_id.replace(kind.id_slot, delivery) if kind.delivery_id else None,
            "verdict": kind.verdict,
            "signature": kind.signature_json,
            "handshake": None,
        }
        yield tuple(values[name] for name in COLUMNS)


def _batches(rows: Iterator[tuple], size: int) -> Iterator[list[tuple]]:
    batch: list[tuple] = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _write_sqlite(
    engine: Engine, rows: Iterator[tuple], total: int, progress: Callable[[int, int], None] | None
) -> None:
    """executemany INSERTs, BATCH rows per transaction, then a WAL checkpoint."""
    path = engine.url.database
    assert path, "an in-memory SQLite database cannot be shared with the server"
    at = COLUMNS.index("received_at")
    flags = [COLUMNS.index(name) for name in ("body_truncated", "body_incomplete")]
    sql = f"INSERT INTO captures ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("PRAGMA cache_size=-262144")  # 256 MiB while loading
        written = 0
        for batch in _batches(rows, BATCH):
            converted = []
            for row in batch:
                row = list(row)
                row[at] = row[at].astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
                for index in flags:
                    row[index] = int(row[index])
                converted.append(row)
            conn.execute("BEGIN")
            conn.executemany(sql, converted)
            conn.execute("COMMIT")
            written += len(batch)
            if progress:
                progress(written, total)
        # No ANALYZE: Hookloupe never runs it, so a real instance plans without sqlite_stat1.
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()


def _write_postgresql(
    engine: Engine, rows: Iterator[tuple], total: int, progress: Callable[[int, int], None] | None
) -> None:
    """COPY, BATCH rows per COPY and transaction, then VACUUM ANALYZE (what autovacuum does soon after)."""
    import psycopg

    url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(url) as conn:
        written = 0
        for batch in _batches(rows, BATCH):
            with conn.cursor() as cursor, cursor.copy(f"COPY captures ({', '.join(COLUMNS)}) FROM STDIN") as copy:
                for row in batch:
                    copy.write_row(row)
            conn.commit()
            written += len(batch)
            if progress:
                progress(written, total)
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE captures")
