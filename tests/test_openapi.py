"""The OpenAPI document (`GET /api/openapi.json`): valid OpenAPI 3.1, listing exactly the
app's `/api/` routes, served for the caller's base URL, and kept by a real server: a
property-based schemathesis run against `hookloupe serve` finds no 5xx and no answer that
breaks the document (undocumented status, wrong content type, body off its schema).

The run is derandomized (the same examples every time, so a failure reproduces) and bounded
(examples per operation, a per-call timeout, and a time budget for the whole run).
"""

from __future__ import annotations

import base64
import json
import re
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import jsonschema
import pytest
import schemathesis
from conftest import LiveServer
from hypothesis import strategies as st
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.specs.openapi.definitions import OPENAPI_31

from inspector.openapi import endpoint, openapi_document

BASE = "http://hooks.example.com"
# Flask's names for the path variables, as the document spells them.
_VARIABLE = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")


def documented(base: str = BASE) -> dict[str, Any]:
    return openapi_document(base)


def schema_objects(node: Any) -> list[dict[str, Any]]:
    """Every Schema Object of an OpenAPI document: the values of `schema` keys (parameters,
    media types, headers) and of `components.schemas`."""
    found: list[dict[str, Any]] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "schema" and isinstance(value, dict):
                found.append(value)
            elif key == "schemas" and isinstance(value, dict):
                found.extend(value.values())
            else:
                found.extend(schema_objects(value))
    elif isinstance(node, list):
        for item in node:
            found.extend(schema_objects(item))
    return found


def refs(node: Any) -> set[str]:
    if isinstance(node, dict):
        return {node["$ref"]} if isinstance(node.get("$ref"), str) else set().union(*map(refs, node.values()))
    if isinstance(node, list):
        return set().union(*map(refs, node))
    return set()


def validator_for(document: dict[str, Any], name: str) -> jsonschema.Draft202012Validator:
    """A JSON Schema validator of `components.schemas[name]` that resolves the document's `$ref`s."""
    registry: Registry = Registry().with_resource(
        "urn:openapi", Resource.from_contents(document, default_specification=DRAFT202012)
    )
    return jsonschema.Draft202012Validator(
        {"$ref": f"urn:openapi#/components/schemas/{name}"},
        registry=registry,
        format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER,
    )


def assert_shape(document: dict[str, Any], name: str, value: Any) -> None:
    errors = sorted(validator_for(document, name).iter_errors(value), key=lambda e: list(e.absolute_path))
    assert not errors, f"{name}: " + "; ".join(f"{list(e.absolute_path)}: {e.message}" for e in errors)


# --- the document -----------------------------------------------------------------------------


def test_document_validates_as_openapi_31():
    document = documented()
    # The OpenAPI 3.1 meta-schema (schemathesis bundles the official one)...
    jsonschema.Draft202012Validator(OPENAPI_31).validate(document)
    # ...which leaves the Schema Objects to the JSON Schema 2020-12 dialect.
    for schema in schema_objects(document):
        jsonschema.Draft202012Validator.check_schema(schema)
    # schemathesis's own validation, and it can read every operation.
    loaded = schemathesis.openapi.from_dict(documented())
    loaded.validate()
    assert all(result.ok() for result in loaded.get_all_operations())


def test_every_ref_resolves():
    document = documented()
    for ref in refs(document):
        node: Any = document
        for part in ref.removeprefix("#/").split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        assert isinstance(node, dict), ref


def test_document_is_plain_json_data_for_its_base_url():
    document = documented("https://hooks.example.com/")
    assert json.loads(json.dumps(document)) == document
    assert document["openapi"] == "3.1.0"
    assert document["servers"] == [{"url": "https://hooks.example.com"}]
    # A new document every call: a caller may change its copy.
    document["paths"].clear()
    assert documented()["paths"]


def test_every_operation_documents_json_errors_with_the_error_schema():
    document = documented()
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            statuses = {int(s) for s in operation["responses"]}
            assert {401, 403, 429} <= statuses, (method, path)
            if "{bin}" in path:
                assert {404, 410} <= statuses, (method, path)
            if method in ("post", "patch", "delete"):
                assert 415 in statuses, (method, path)
            if "requestBody" in operation:
                assert {400, 413} <= statuses, (method, path)
            for status in statuses - {200, 201, 204, 414, 431}:
                ref = operation["responses"][str(status)]["$ref"]
                response = document["components"]["responses"][ref.rsplit("/", 1)[1]]
                assert response["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}


def test_stream_and_raw_body_media_types():
    paths = documented()["paths"]
    events = paths["/api/bins/{bin}/events"]["get"]["responses"]["200"]["content"]
    raw = paths["/api/bins/{bin}/requests/{id}/raw"]["get"]["responses"]["200"]["content"]
    assert list(events) == ["text/event-stream"] and list(raw) == ["application/octet-stream"]


def test_security_is_basic_with_the_password_or_a_bearer_token_or_none():
    document = documented()
    schemes = document["components"]["securitySchemes"]
    assert {name: (s["type"], s["scheme"]) for name, s in schemes.items()} == {
        "password": ("http", "basic"),
        "token": ("http", "bearer"),
    }
    # None at all is allowed too: an instance without a password is open.
    assert document["security"] == [{}, {"password": []}, {"token": []}]
    assert "`/healthz` and capture (`/h/{bin}`) never need credentials" in document["info"]["description"]
    assert not any(path.startswith(("/h/", "/healthz")) for path in document["paths"])


def test_each_operation_lists_the_scope_its_route_needs_as_the_token_role():
    scopes = {}
    for path, item in documented()["paths"].items():
        for method, operation in item.items():
            assert operation["security"][:2] == [{}, {"password": []}]
            [scope] = operation["security"][2]["token"]
            scopes[method, path] = scope
    assert scopes["get", "/api/bins/{bin}/requests"] == "read"
    assert scopes["patch", "/api/bins/{bin}"] == "write"
    assert scopes["post", "/api/tokens"] == scopes["get", "/api/bins"] == "admin"


def test_redact_is_a_boolean_parameter_of_what_shows_captures():
    paths = documented()["paths"]
    shown = ("/requests", "/requests/{id}", "/requests/{id}/raw", "/requests/wait", "/events", "/export")
    for path in shown:
        operation = paths[f"/api/bins/{{bin}}{path}"]["get"]
        [redact] = [p for p in operation["parameters"] if p.get("name") == "redact"]
        assert redact["in"] == "query" and redact["schema"] == {"type": "boolean"}, path


def test_matchers_are_query_parameters_of_list_count_wait_and_events():
    paths = documented()["paths"]
    for path in ("/requests", "/requests/count", "/requests/wait", "/events"):
        operation = paths[f"/api/bins/{{bin}}{path}"]["get"]
        names = {p["name"] for p in operation["parameters"] if "name" in p}
        assert {"method", "path", "content_type", "text", "provider", "event", "verdict", "matchers"} <= names
        assert (
            "`q.<name>=<value>`" in operation["description"]
            and "`json.<dotted.path>=<value>`" in (operation["description"])
        )


# --- the document and the app ---------------------------------------------------------------


def as_openapi_path(rule: str) -> str:
    """`/api/bins/<bin_id>/requests/<int:capture_id>` as `/api/bins/{bin}/requests/{id}`."""

    def name(match: re.Match[str]) -> str:
        variable = match.group(1)
        if variable == "bin_id":
            return "{bin}"
        return "{id}" if variable.endswith("_id") else "{" + variable + "}"

    return _VARIABLE.sub(name, rule)


def test_document_and_app_list_the_same_endpoints(app):
    routed = {
        (method.lower(), as_openapi_path(rule.rule)): rule.endpoint
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/")
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}
    }
    document = documented()
    listed = {
        (method, path): endpoint(operation["operationId"])
        for path, item in document["paths"].items()
        for method, operation in item.items()
    }
    assert sorted(listed.keys() - routed.keys()) == [], "documented but not routed"
    assert sorted(routed.keys() - listed.keys()) == [], "routed but not documented"
    # Each operation names its route's view (whose access rule gives the token role).
    assert listed == routed


def test_documented_limits_are_the_views_limits():
    from inspector import openapi_parameters as documented_limits
    from inspector import openapi_schemas
    from inspector.exports.formats import FORMATS
    from inspector.views import access_api, api, exports

    assert (documented_limits.DEFAULT_PAGE, documented_limits.MAX_PAGE) == (api.DEFAULT_PAGE, api.MAX_PAGE)
    assert (documented_limits.DEFAULT_WAIT_S, documented_limits.MAX_WAIT_S) == (api.DEFAULT_WAIT_S, api.MAX_WAIT_S)
    assert openapi_schemas.MAX_TOKEN_LABEL == access_api.MAX_LABEL
    assert tuple(FORMATS) == documented_limits.REQUEST_FORMATS
    assert documented_limits.DEFAULT_REQUEST_FORMAT == exports.DEFAULT_REQUEST_FORMAT
    assert tuple(exports.BIN_FORMATS) == documented_limits.BIN_FORMATS
    assert documented_limits.DEFAULT_BIN_FORMAT == exports.DEFAULT_BIN_FORMAT


def test_served_document_is_the_document_for_the_callers_base_url(client):
    response = client.get("/api/openapi.json", base_url="http://inspect.example.com:8080")
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert response.json == openapi_document("http://inspect.example.com:8080")


def test_served_document_uses_base_url_when_set(app, client):
    app.config["BASE_URL"] = "https://hooks.example.com/"
    assert client.get("/api/openapi.json").json["servers"] == [{"url": "https://hooks.example.com"}]


def test_answers_of_the_test_client_match_their_schemas(client):
    """One real answer of each JSON shape, checked against the document (deterministic; the
    live run below explores further)."""
    document = documented()
    bin_ = client.post("/api/bins", json={"name": "shapes"})
    assert bin_.status_code == 201
    assert_shape(document, "Bin", bin_.json)
    headers = {"X-GitHub-Event": "push", "Authorization": "Bearer abc"}
    rid = client.post("/h/shapes/orders?x=1", data=b'{"id": 7}', headers=headers).json["request_id"]
    assert_shape(document, "RequestList", client.get("/api/bins/shapes/requests?redact=true").json)
    assert_shape(document, "Request", client.get(f"/api/bins/shapes/requests/{rid}").json)
    assert_shape(document, "Request", client.get(f"/api/bins/shapes/requests/{rid}?at=now").json)
    redacted = client.get(f"/api/bins/shapes/requests/{rid}?redact=true").json
    assert_shape(document, "Request", redacted)
    assert redacted["redacted"] == ["header Authorization"]
    assert_shape(document, "Stats", client.get("/api/bins/shapes/stats").json)
    secret = client.post("/api/bins/shapes/secrets", json={"label": "gh", "value": "s3cret", "provider": "github"})
    assert secret.status_code == 201
    assert_shape(document, "Secret", secret.json)
    assert_shape(document, "SecretList", client.get("/api/bins/shapes/secrets").json)
    assert_shape(document, "DeliveryList", client.get(f"/api/bins/shapes/requests/{rid}/deliveries").json)
    patched = client.patch(
        "/api/bins/shapes",
        json={
            "response": {"status": 202, "headers": {"X-A": "b"}},
            "forward": {"url": "http://127.0.0.1:9/in"},
            "redact": {"json_paths": ["id"], "for_owner": True},
        },
    )
    assert patched.status_code == 200
    assert_shape(document, "Bin", patched.json)
    assert patched.json["redact"]["json_paths"] == ["id"] and patched.json["redact"]["headers"]
    for error in (client.get("/api/bins/nope"), client.post("/api/bins", json={"name": "shapes"})):
        assert_shape(document, "Error", error.json)


def test_access_answers_match_their_schemas(app, client):
    document = documented()
    client.post("/api/bins", json={"name": "shapes"})
    assert_shape(document, "BinList", client.get("/api/bins").json)
    share = client.post("/api/bins/shapes/shares", json={"expires_in_s": 60, "allow_raw": True})
    assert share.status_code == 201
    assert_shape(document, "CreatedShare", share.json)
    assert_shape(document, "ShareList", client.get("/api/bins/shapes/shares").json)
    assert_shape(document, "ActivityList", client.get("/api/bins/shapes/activity").json)
    assert_shape(document, "ActivityList", client.get("/api/activity").json)
    assert_shape(document, "TokenList", client.get("/api/tokens").json)
    # Without a password, a token would mean nothing: refused as documented.
    refused = client.post("/api/tokens", json={"label": "ci", "scope": "read"})
    assert refused.status_code == 409
    assert_shape(document, "Error", refused.json)
    app.config["PASSWORD"] = "pw"
    auth = {"Authorization": "Basic " + base64.b64encode(b"any:pw").decode()}
    token = client.post("/api/tokens", json={"label": "ci", "scope": "write", "bin": "shapes"}, headers=auth)
    assert token.status_code == 201
    assert_shape(document, "CreatedToken", token.json)
    assert_shape(document, "TokenList", client.get("/api/tokens", headers=auth).json)
    bearer = {"Authorization": "Bearer " + token.json["token"]}
    assert client.get("/api/bins/shapes", headers=bearer).status_code == 200
    for status, answer in ((401, client.get("/api/bins/shapes")), (403, client.get("/api/bins", headers=bearer))):
        assert answer.status_code == status
        assert_shape(document, "Error", answer.json)


def test_export_operations_are_documented_as_files():
    paths = documented()["paths"]
    one = paths["/api/bins/{bin}/requests/{id}/export"]["get"]
    part = paths["/api/bins/{bin}/requests/{id}/parts/{index}"]["get"]
    export = paths["/api/bins/{bin}/export"]["get"]
    imported = paths["/api/bins/{bin}/import"]["post"]
    assert list(one["responses"]["200"]["content"]) == ["text/plain", "application/octet-stream"]
    assert list(part["responses"]["200"]["content"]) == ["*/*"]
    assert list(export["responses"]["200"]["content"]) == ["application/x-ndjson", "application/json"]
    assert list(imported["requestBody"]["content"]) == ["application/json", "application/x-ndjson"]
    formats = {
        op["operationId"]: p["schema"]["enum"]
        for op in (one, export)
        for p in op["parameters"]
        if p.get("name") == "format"
    }
    assert formats == {"request_export": ["curl", "httpie", "httpx", "http"], "bin_export": ["har", "ndjson"]}
    for operation in (one, part, export):
        [redact] = [p for p in operation["parameters"] if p.get("name") == "redact"]
        assert redact["schema"] == {"type": "boolean"}
    assert {"method", "verdict", "matchers", "q"} <= {p["name"] for p in export["parameters"] if "name" in p}
    assert {"400", "413", "415"} <= set(imported["responses"])
    assert {op["tags"][0] for op in (one, part, export, imported)} == {"exports"}
    assert [op["security"][2]["token"] for op in (one, part, export, imported)] == [["read"]] * 3 + [["write"]]


def test_export_and_import_answers_match_their_schemas(client):
    document = documented()
    client.post("/api/bins", json={"name": "shapes"})
    client.post("/h/shapes/orders?x=1", data=b'{"id": 7}', headers={"X-GitHub-Event": "push"})
    rid = client.post("/h/shapes/bin", data=b"\xff\x00", headers={"Content-Type": "image/png"}).json["request_id"]
    har = client.get("/api/bins/shapes/export?format=har")
    assert har.status_code == 200 and har.mimetype == "application/json"
    assert har.headers["Content-Disposition"] == 'attachment; filename="shapes.har"'
    assert_shape(document, "Har", har.json)
    assert len(har.json["log"]["entries"]) == 2
    ndjson = client.get("/api/bins/shapes/export?redact=true&method=POST")
    assert ndjson.status_code == 200 and ndjson.mimetype == "application/x-ndjson"
    lines = ndjson.get_data(as_text=True).splitlines()
    for line in lines:
        assert_shape(document, "Request", json.loads(line))
    for body, content_type in ((har.data, "application/json"), (ndjson.data, "application/x-ndjson")):
        answer = client.post("/api/bins/shapes/import", data=body, headers={"Content-Type": content_type})
        assert answer.status_code == 200, answer.json
        assert_shape(document, "Imported", answer.json)
        assert answer.json == {"imported": 2}
    command = client.get(f"/api/bins/shapes/requests/{rid}/export")
    assert command.status_code == 200 and command.mimetype == "text/plain"
    raw = client.get(f"/api/bins/shapes/requests/{rid}/export?format=http")
    assert raw.status_code == 200 and raw.mimetype == "application/octet-stream"
    refused = (
        client.get(f"/api/bins/shapes/requests/{rid}/export?format=wget"),
        client.get("/api/bins/shapes/export?format=csv"),
        client.get(f"/api/bins/shapes/requests/{rid}/parts/0"),
        client.post("/api/bins/shapes/import", data=b"not json", headers={"Content-Type": "application/x-ndjson"}),
        client.post("/api/bins/shapes/import", data=b"a=1", headers={"Content-Type": "text/plain"}),
    )
    assert [answer.status_code for answer in refused] == [400, 400, 404, 400, 415]
    for answer in refused:
        assert_shape(document, "Error", answer.json)


def test_count_and_wait_answers_match_their_schemas(client):
    document = documented()
    client.post("/api/bins", json={"name": "shapes"})
    rid = client.post("/h/shapes/a", data=b"{}").json["request_id"]
    count = client.get("/api/bins/shapes/requests/count?method=POST")
    assert count.status_code == 200 and count.json == {"count": 1}
    found = client.get("/api/bins/shapes/requests/wait?after=0&timeout_s=0")
    assert found.status_code == 200 and found.json["request"]["id"] == rid
    assert_shape(document, "WaitResult", found.json)
    missed = client.get("/api/bins/shapes/requests/wait?after=0&timeout_s=0&method=PUT")
    assert missed.status_code == 200 and missed.json["timed_out"] is True
    assert_shape(document, "WaitResult", missed.json)


# --- a live server against its own document -------------------------------------------------

FUZZ_BIN = "openapi-fuzz"
MAX_EXAMPLES = 25
# The whole run stays under this many seconds: past it, generated calls are no longer sent.
BUDGET_S = 60.0
# Operations the generated calls leave out: the event stream never ends by itself (it is
# checked once below, with a real capture); everything else, including the long poll (held
# to `timeout_s=0`), is called.
NOT_FUZZED = r"/events$"


@dataclass
class Target:
    """The seeded bin on the live server and the ids in it; `aim` points generated calls at
    them, `restore` puts them back after a call that deleted or changed them. (The server has
    no password, so it holds no tokens: a token id stays as generated, a 404.)"""

    server: LiveServer
    client: httpx.Client
    capture_id: int = 0
    secret_id: int = 0
    share_id: int = 0
    deadline: float = field(default_factory=lambda: time.monotonic() + BUDGET_S)
    calls: int = 0
    statuses: dict[int, int] = field(default_factory=dict)

    def seed(self) -> None:
        """The bin (with default settings), one capture, one secret and one share link, created
        when missing."""
        created = self.client.post("/api/bins", json={"name": FUZZ_BIN})
        assert created.status_code in (201, 409), created.text
        defaults = {"response": {}, "forward": None, "max_requests": 1000, "handshakes": True, "public_base_url": None}
        defaults["redact"] = None
        assert self.client.patch(f"/api/bins/{FUZZ_BIN}", json=defaults).status_code == 200
        if not self.client.get(f"/api/bins/{FUZZ_BIN}/requests/{self.capture_id}").is_success:
            self.client.post(f"/h/{FUZZ_BIN}/orders?x=1", content=b'{"id": 7}', headers={"X-GitHub-Event": "push"})
            self.capture_id = self.client.get(f"/api/bins/{FUZZ_BIN}/requests?limit=1").json()["requests"][0]["id"]
        secrets = self.client.get(f"/api/bins/{FUZZ_BIN}/secrets").json()["secrets"]
        if not any(s["id"] == self.secret_id for s in secrets):
            added = self.client.post(f"/api/bins/{FUZZ_BIN}/secrets", json={"label": "gh", "value": "s3cret"})
            self.secret_id = added.json()["id"]
        shares = self.client.get(f"/api/bins/{FUZZ_BIN}/shares").json()["shares"]
        if not any(s["id"] == self.share_id for s in shares):
            self.share_id = self.client.post(f"/api/bins/{FUZZ_BIN}/shares", json={}).json()["id"]

    def aim(self, case: schemathesis.Case, real: bool) -> None:
        """Point `case` at the seeded bin and its ids when `real` (else it keeps its generated
        path: mostly a 404), hold waits to answering at once, and send replays and forwards to
        the live server's own non-capture URL (a real answer, never the network)."""
        path = case.operation.path
        if real and case.path_parameters and "bin" in case.path_parameters:
            case.path_parameters["bin"] = FUZZ_BIN
            if "id" in case.path_parameters:
                ids = {"/secrets/": self.secret_id, "/shares/": self.share_id}
                case.path_parameters["id"] = next((v for k, v in ids.items() if k in path), self.capture_id)
        if path.endswith("/requests/wait"):
            case.query = {**(case.query or {}), "timeout_s": 0}
        if isinstance(case.body, dict):
            if isinstance(case.body.get("url"), str):
                case.body["url"] = self.sink(case.body["url"])
            forward = case.body.get("forward")
            if isinstance(forward, dict) and isinstance(forward.get("url"), str):
                forward["url"] = self.sink(forward["url"])

    def sink(self, url: str) -> str:
        """`url` with the live server's origin and a path under `/fuzz-sink/` (a 404 page)."""
        try:
            parts = urlsplit(url)
        except ValueError:
            return url
        if parts.scheme not in ("http", "https"):
            return url
        origin = urlsplit(self.server.url)
        return urlunsplit(("http", origin.netloc, "/fuzz-sink" + parts.path, parts.query, ""))

    def restore(self, case: schemathesis.Case, status: int) -> None:
        self.calls += 1
        self.statuses[status] = self.statuses.get(status, 0) + 1
        if case.method in ("DELETE", "PATCH") and status < 300:
            self.seed()


@pytest.fixture(scope="module")
def openapi_server(tmp_path_factory):
    """A real `hookloupe serve` (gunicorn, 2 workers, SQLite) whose replays give up fast."""
    server = LiveServer(
        tmp_path_factory.mktemp("openapi"), env={"HOOKLOUPE_FORWARD_TIMEOUT_S": "2", "HOOKLOUPE_FORWARDER": "false"}
    ).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def target(openapi_server):
    with httpx.Client(base_url=openapi_server.url, timeout=10) as client:
        seeded = Target(openapi_server, client)
        seeded.seed()
        yield seeded


# The document needs no server (a plain function of the base URL): the cases are generated
# from it at collection and sent to the live server (`base_url`); the test of the event stream
# below checks that the server serves this same document. (schemathesis's lazy
# `from_fixture` schemas fail on pytest 9: `Function` has no `_nodeid`.)
@schemathesis.serializer("application/x-ndjson")
def _ndjson(_context: Any, value: Any) -> bytes:
    """An NDJSON import body as generated: the text as it is (lone surrogates kept, as bytes
    that are not UTF-8), anything else as one JSON line."""
    if isinstance(value, str):
        return value.encode("utf-8", "surrogatepass")
    return json.dumps(value).encode() + b"\n"


live = schemathesis.openapi.from_dict(
    openapi_document("http://127.0.0.1"),
    config=schemathesis.Config.from_dict(
        {
            "seed": 11,
            "generation": {"max-examples": MAX_EXAMPLES, "deterministic": True, "database": "none"},
            "request-timeout": 10,
        }
    ),
).exclude(path_regex=NOT_FUZZED)


@pytest.mark.server
@live.parametrize()
# Three calls in four go to the seeded bin and its ids; the rest keep their generated path.
@live.given(real=st.sampled_from((True, True, True, False)))
def test_live_server_answers_as_documented(case, real, target):
    if time.monotonic() > target.deadline:
        return  # the run's time budget is spent; the examples left are not sent
    target.aim(case, real)
    response = case.call_and_validate(
        base_url=target.server.url,
        checks=[
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_headers_conformance,
            response_schema_conformance,
        ],
    )
    target.restore(case, response.status_code)


@pytest.mark.server
def test_live_event_stream_sends_documented_summaries(openapi_server, target):
    """The stream left out of the generated calls: a capture arrives as an `event: request`
    whose data is a Summary of the document."""
    document = openapi_document(openapi_server.url)
    assert httpx.get(openapi_server.url + "/api/openapi.json").json() == document
    url = f"{openapi_server.url}/api/bins/{FUZZ_BIN}/events"
    with httpx.stream("GET", url, params={"after": target.capture_id}, timeout=10) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        sent = httpx.post(f"{openapi_server.url}/h/{FUZZ_BIN}/streamed", content=b"streamed")
        assert sent.status_code == 200
        event: dict[str, str] = {}
        for line in response.iter_lines():
            if line.startswith(("event:", "id:", "data:")):
                key, _, value = line.partition(":")
                event[key] = value.strip()
            if "data" in event:
                break
    assert event["event"] == "request" and int(event["id"]) == json.loads(event["data"])["id"]
    assert_shape(document, "Summary", json.loads(event["data"]))


@pytest.mark.server
def test_live_run_reached_the_seeded_bin(target):
    """The generated calls (when they ran) got real answers, not only 404s and refusals."""
    if not target.calls:
        pytest.skip("the generated calls were not selected in this run")
    assert {200, 201, 204} <= set(target.statuses), target.statuses
