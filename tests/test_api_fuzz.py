"""Property-based fuzzing of the JSON API against a real `hookloupe serve`: whatever JSON (or
almost-JSON, or not JSON at all) reaches bins, settings, secrets, replay and the request list,
the answer is never 5xx, and the server stays healthy with an earlier capture intact.

The examples are derandomized (the same ones every run, so a failure reproduces); raise
`max_examples` locally to explore further.
"""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from conftest import LiveServer, free_port
from hostile_helpers import Survival, make_sentinel
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.server

FUZZ = settings(
    max_examples=100,
    deadline=None,
    derandomize=True,
    database=None,
    # Examples are whole HTTP round trips, and some bodies are deliberately large.
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
FUZZ_BIN = "fuzz-bin"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    live = LiveServer(tmp_path_factory.mktemp("fuzz")).start()
    yield live
    live.stop()


@pytest.fixture(scope="module")
def survival(server):
    checks = Survival(server, make_sentinel(server, "fuzz-sentinel"))
    yield checks
    checks.client.close()


@pytest.fixture(scope="module")
def api(survival) -> dict[str, Any]:
    """The fuzzed bin and one capture in it (`client`, `rid`)."""
    client = survival.client
    assert client.post("/api/bins", json={"name": FUZZ_BIN}).status_code == 201
    rid = client.post(f"/h/{FUZZ_BIN}/x?y=1", content=b'{"a": 1}').json()["request_id"]
    return {"client": client, "rid": rid}


# --- strategies -----------------------------------------------------------------------------

# Any text but lone surrogates (which JSON text cannot carry as UTF-8); NUL and controls included.
TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=30)
# Plain visible ASCII, so that a good share of the shaped objects is valid and reaches past validation.
PLAIN = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=20)
HUGE_INTS = st.sampled_from([2**31, 2**63, 2**64, -(2**63) - 1, 10**30, -(10**400)])
SCALARS = (
    st.none() | st.booleans() | st.integers() | HUGE_INTS | st.floats(allow_nan=False, allow_infinity=False) | TEXT
)
JSON_VALUES = st.recursive(
    SCALARS, lambda kids: st.lists(kids, max_size=4) | st.dictionaries(TEXT, kids, max_size=4), max_leaves=20
)
# JSON-ish tokens json.dumps never writes: non-finite numbers, numbers Python refuses to read,
# escaped lone surrogates and NUL.
ODD_TOKENS = st.sampled_from(
    ["NaN", "Infinity", "-Infinity", "1e999", "-1e999", "9" * 5000, '"\\ud800"', '"\\udfff\\ud800"', '"\\u0000"']
)


def deep(depth: int, opener: str) -> str:
    """`depth` levels of `[` or `{"a":` around a 1, closed."""
    closer = "]" if opener == "[" else "}"
    return opener * depth + "1" + closer * depth


DEEP = st.builds(deep, st.sampled_from([50, 300, 5_000, 100_000]), st.sampled_from(["[", '{"a":']))


def with_field(names: list[str]) -> st.SearchStrategy[str]:
    """A JSON object text with one of `names` set to an odd token or a deep value."""
    return st.builds(lambda name, value: f'{{"{name}": {value}}}', st.sampled_from(names), ODD_TOKENS | DEEP)


def bodies(fields: list[str], shaped: st.SearchStrategy[Any]) -> st.SearchStrategy[bytes]:
    """Request bodies for an endpoint taking `fields`: half of them objects of its shape, the
    rest any JSON value, odd or deep JSON text, or arbitrary bytes."""
    objects = shaped.map(json.dumps).map(str.encode)
    others = (JSON_VALUES.map(json.dumps) | with_field(fields) | DEEP | ODD_TOKENS).map(str.encode)
    return st.one_of(objects, objects, others, st.binary(max_size=200))


def anything_or(*strategies: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(*strategies, JSON_VALUES)


HEADER_PAIRS = st.lists(st.lists(TEXT, min_size=0, max_size=3), max_size=4) | st.dictionaries(TEXT, TEXT, max_size=3)
# Never long enough to slow a later capture down much; the out-of-range ones must be refused.
DELAYS = st.integers(-10, 10) | st.integers(30_001, 2**70)
RESPONSE = st.fixed_dictionaries(
    {},
    optional={
        "status": anything_or(st.integers(100, 700)),
        "headers": anything_or(HEADER_PAIRS),
        "body": anything_or(TEXT),
        "delay_ms": st.one_of(DELAYS, TEXT, st.floats(), st.booleans()),
    },
)
CLOSED_PORT = free_port()  # nothing listens there: a send is refused at once
ODD_URLS = st.sampled_from(
    [
        f"http://127.0.0.1:{CLOSED_PORT}/",
        f"http://[::1]:{CLOSED_PORT}/in",
        "http://169.254.169.254/",
        "http://[::ffff:169.254.169.254]/",
        "http://127.0.0.1:99999/",
        "http://[::1",
        "ftp://127.0.0.1/",
        "javascript:alert(1)",
        "http://user:pw@127.0.0.1/",
    ]
)
URLS = st.one_of(ODD_URLS, TEXT.map(lambda t: f"http://127.0.0.1:{CLOSED_PORT}/{t}"), JSON_VALUES)
# URLs assembled from odd parts. Hosts are IP literals or broken, never names: nothing waits on DNS.
URL_ISH = st.builds(
    "{}{}{}{}".format,
    st.sampled_from(["http://", "https://", "HTTP://", "ftp://", "http:/", "//", "javascript:", ""]),
    st.sampled_from(
        [
            "127.0.0.1",
            "[::1]",
            "[::1",
            "::1]",
            "[fe80::1%25eth0]",
            "169.254.169.254",
            "[::ffff:a9fe:a9fe]",
            "0x7f000001",
            "user:pw@127.0.0.1",
            "",
            "127.0.0.1\x00",
            "[" + "1" * 50 + "]",
        ]
    ),
    st.sampled_from(["", ":0", ":99999", ":-1", ":abc", ":", ":1e3", ":" + "9" * 30, f":{CLOSED_PORT}"]),
    st.just("") | TEXT.map(lambda t: "/" + t),
)
PATCH = st.fixed_dictionaries(
    {},
    optional={
        "response": anything_or(RESPONSE),
        "forward": anything_or(
            st.fixed_dictionaries({"url": ODD_URLS | URLS}, optional={"enabled": anything_or(st.booleans())})
        ),
        "max_requests": anything_or(st.integers(-5, 200_000), HUGE_INTS),
        "handshakes": anything_or(st.booleans()),
        "public_base_url": ODD_URLS | URLS,
    },
)
CREATE = st.fixed_dictionaries(
    {},
    optional={
        "name": anything_or(st.from_regex(r"[a-z0-9][a-z0-9-]{2,62}", fullmatch=True)),
        "expires_in_s": JSON_VALUES,
    },
)
SECRET = st.fixed_dictionaries(
    {"label": PLAIN | TEXT | JSON_VALUES, "value": PLAIN | TEXT | st.text(min_size=4090, max_size=4200) | JSON_VALUES},
    optional={"provider": anything_or(st.sampled_from(["github", "stripe", "slack", "nope"]))},
)
REPLAY = st.fixed_dictionaries(
    {"url": ODD_URLS | URLS},
    optional={
        "method": anything_or(st.sampled_from(["GET", "POST", "PURGE", "GE T", "get"])),
        "headers": anything_or(HEADER_PAIRS),
        "body_base64": anything_or(st.binary(max_size=50).map(lambda b: base64.b64encode(b).decode())),
        "resign": anything_or(st.booleans()),
    },
)
LIST_ARGS = ["limit", "before", "after", "q", "provider", "event", "verdict"]
NUMBERISH = (
    st.integers(0, 5).map(str)
    | st.integers(-(2**70), 2**70).map(str)
    | st.sampled_from(["١٢", "²", "1.5", "0x10", " 7", "1e3", ""])
)
QUERIES = st.dictionaries(st.sampled_from(LIST_ARGS) | TEXT, NUMBERISH | TEXT, max_size=5)


# --- properties -----------------------------------------------------------------------------


def no_5xx(response: httpx.Response) -> None:
    """The answer is not 5xx (each test also runs inside `survival.around()`: the server survived)."""
    event(f"answered {response.status_code}")  # --hypothesis-show-statistics shows the mix
    assert response.status_code < 500, f"{response.status_code} {response.text[:300]}"


def send_json(client: httpx.Client, method: str, path: str, body: bytes) -> httpx.Response:
    return client.request(method, path, content=body, headers={"Content-Type": "application/json"})


@FUZZ
@given(body=bodies(["name", "expires_in_s"], CREATE))
def test_create_bin_never_5xx(body, api, survival):
    with survival.around():
        no_5xx(send_json(api["client"], "POST", "/api/bins", body))


@FUZZ
@given(body=bodies(["response", "forward", "max_requests", "handshakes", "public_base_url"], PATCH))
def test_patch_bin_never_5xx_and_captures_keep_answering(body, api, survival):
    """Whatever PATCH accepts, a capture is then answered with the configured status."""
    client = api["client"]
    with survival.around():
        try:
            response = send_json(client, "PATCH", f"/api/bins/{FUZZ_BIN}", body)
            no_5xx(response)
            if response.status_code == 200:
                configured = response.json()["response"]["status"]
                captured = client.post(f"/h/{FUZZ_BIN}/after", content=b"x", timeout=5)
                assert captured.status_code == configured, f"configured {configured}, answered {captured.status_code}"
        finally:
            reset = {
                "response": {"status": 200, "headers": [], "delay_ms": 0},
                "forward": None,
                "public_base_url": None,
            }
            client.patch(f"/api/bins/{FUZZ_BIN}", json=reset)


@FUZZ
@given(body=bodies(["label", "value", "provider"], SECRET))
def test_add_secret_never_5xx(body, api, survival):
    with survival.around():
        no_5xx(send_json(api["client"], "POST", f"/api/bins/{FUZZ_BIN}/secrets", body))


@FUZZ
@given(body=bodies(["url", "method", "headers", "body_base64", "resign"], REPLAY))
def test_replay_never_5xx(body, api, survival):
    with survival.around():
        no_5xx(send_json(api["client"], "POST", f"/api/bins/{FUZZ_BIN}/requests/{api['rid']}/replay", body))


TARGETS = {
    "forward": lambda url: ("PATCH", f"/api/bins/{FUZZ_BIN}", {"forward": {"url": url, "enabled": True}}),
    "public_base_url": lambda url: ("PATCH", f"/api/bins/{FUZZ_BIN}", {"public_base_url": url}),
    "replay": lambda url: ("POST", f"/api/bins/{FUZZ_BIN}/requests/{{rid}}/replay", {"url": url}),
}


@FUZZ
@given(url=URL_ISH | ODD_URLS, where=st.sampled_from(sorted(TARGETS)))
def test_target_urls_never_5xx(url, where, api, survival):
    """Every field that takes a URL: forward.url, public_base_url and the replay target."""
    method, path, body = TARGETS[where](url)
    with survival.around():
        try:
            no_5xx(api["client"].request(method, path.format(rid=api["rid"]), json=body))
        finally:
            api["client"].patch(f"/api/bins/{FUZZ_BIN}", json={"forward": None, "public_base_url": None})


@FUZZ
@given(args=QUERIES)
def test_request_list_arguments_never_5xx(args, api, survival):
    with survival.around():
        no_5xx(api["client"].get(f"/api/bins/{FUZZ_BIN}/requests", params=args))


@FUZZ
@given(raw=st.text(st.characters(exclude_categories=("Cs",)), max_size=60))
def test_raw_query_strings_never_5xx(raw, api, survival):
    """Any text as the list's query string, percent-encoded only where HTTP requires it."""
    query = quote(raw, safe="=&;+%/?:@!$'()*,")
    with survival.around():
        no_5xx(api["client"].get(f"/api/bins/{FUZZ_BIN}/requests?{query}"))


@FUZZ
@given(capture_id=NUMBERISH | TEXT, suffix=st.sampled_from(["", "/raw", "/deliveries", "?at=now"]))
def test_request_ids_never_5xx(capture_id, suffix, api, survival):
    with survival.around():
        no_5xx(api["client"].get(f"/api/bins/{FUZZ_BIN}/requests/{quote(capture_id, safe='')}{suffix}"))
