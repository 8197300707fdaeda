"""Redaction (inspector.redaction): every rule kind, the rules' validation, redacted copies that
leave the stored row alone, and redaction at capture ("never store") on both backends, with
its effect on signature verdicts."""

from __future__ import annotations

import base64
import dataclasses
import gzip
import hashlib
import hmac
import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from inspector import redacted_view, redaction, store
from inspector.bins import InvalidInput
from inspector.capture import insert
from inspector.db import db
from inspector.models import Bin, Capture
from inspector.redaction import MASK, Rules, parse_rules, redact_body, redact_headers, redact_query
from inspector.shapes import request_json
from inspector.signing.analysis import blame_redaction
from inspector.signing.samples import build_sample
from inspector.signing.verify import Verification

AUTH = "Bearer AUTH-SECRET-4711"
CARD = "4111-1111-1111-1111"
TOKEN = "QUERY-SECRET-0815"
API_KEY = "sk_live_PATTERNSECRET42"
GITHUB_SECRET = "gh-redaction-secret-0123456789"
SECRETS = (AUTH, "AUTH-SECRET", CARD, TOKEN, "PATTERNSECRET")


def rules(**given) -> Rules:
    return redaction.rules_from_json(parse_rules(given))


# --- the rules ---------------------------------------------------------------------------------


def test_a_bin_without_rules_masks_the_credential_headers():
    assert redaction.rules_of(Bin(id="b", redact=None)) == Rules()
    pairs, notes = redact_headers([("authorization", AUTH), ("X-API-KEY", "k"), ("Accept", "*/*")], Rules())
    assert pairs == [["authorization", MASK], ["X-API-KEY", MASK], ["Accept", "*/*"]]
    assert notes == ["header authorization", "header X-API-KEY"]


def test_a_key_left_out_takes_its_default():
    given = redaction.rules_from_json({"json_paths": ["card"], "at_capture": True})
    assert given.headers == redaction.DEFAULT_HEADERS
    assert (given.json_paths, given.form_fields, given.patterns, given.at_capture, given.for_owner) == (
        ("card",),
        (),
        (),
        True,
        False,
    )


def test_parse_rules_fills_in_defaults_and_normalises_paths():
    parsed = parse_rules({"json_paths": ["$.card.number", "items[*].token", "rows[0]", "card.number"]})
    assert parsed["json_paths"] == ["card.number", "items.*.token", "rows.0"]
    assert parsed["headers"] == list(redaction.DEFAULT_HEADERS)
    assert parsed["at_capture"] is False and parsed["for_owner"] is False
    assert parse_rules(None) == redaction.rules_json(Rules())
    assert parse_rules({"headers": []})["headers"] == []


@pytest.mark.parametrize(
    "value, reason",
    [
        ([], "must be an object"),
        ({"colour": "red"}, "unknown field(s): colour"),
        ({"headers": "Authorization"}, "redact.headers must be a list of strings"),
        ({"headers": ["X Api Key"]}, "is not a header name"),
        ({"headers": [""]}, "must be 1 to 200 characters"),
        ({"form_fields": ["a\nb"]}, "control character"),
        ({"json_paths": ["card..number"]}, "is not a dotted JSON path"),
        ({"json_paths": ["$"]}, "is not a dotted JSON path"),
        ({"json_paths": [".".join(["a"] * 33)]}, "at most 32"),
        ({"patterns": ["("]}, "is not a valid regular expression"),
        ({"patterns": ["x" * 201]}, "must be 1 to 200 characters"),
        ({"patterns": ["a*"]}, "matches the empty string"),
        ({"patterns": ["(a+)+$"]}, "nests an unbounded repeat"),
        ({"patterns": [r"(\w)\1"]}, "backreference"),
        ({"patterns": ["x"] * 51}, "at most 50"),
        ({"at_capture": "yes"}, "redact.at_capture must be true or false"),
    ],
)
def test_parse_rules_refuses_with_a_reason(value, reason):
    with pytest.raises(InvalidInput) as refused:
        parse_rules(value)
    assert reason in str(refused.value)


def test_capture_rules_text_only_while_at_capture_is_on():
    assert redaction.capture_rules_text(rules(json_paths=["card"])) is None
    text_ = redaction.capture_rules_text(rules(json_paths=["card"], at_capture=True))
    assert text_ is not None and json.loads(text_)["json_paths"] == ["card"]
    assert redaction.rules_from_text(text_) == rules(json_paths=["card"], at_capture=True)


# --- query and headers -------------------------------------------------------------------------


def test_query_fields_are_masked_and_the_raw_shape_kept():
    query, notes = redact_query(f"a=1&token={TOKEN}&flag&token=2&b=%20x", rules(form_fields=["token"]))
    assert query == "a=1&token=[redacted]&flag&token=[redacted]&b=%20x"
    assert notes == ["query token"]


def test_patterns_apply_to_query_values_and_header_values():
    given = rules(patterns=[r"sk_live_\w+"])
    query, notes = redact_query(f"key=abc+{API_KEY}&page=2", given)
    assert query == "key=abc+[redacted]&page=2" and notes == ["query key pattern #1"]
    pairs, notes = redact_headers([("X-Note", f"key {API_KEY} here")], given)
    assert pairs == [["X-Note", "key [redacted] here"]] and notes == ["header X-Note pattern #1"]


# --- bodies ------------------------------------------------------------------------------------

ORDER = json.dumps({"card": {"number": CARD, "cvc": 123}, "items": [{"token": "t1"}, {"token": "t2", "n": 1}]})


def test_json_paths_mask_values_of_any_type():
    given = rules(json_paths=["card.number", "items.*.token", "$.card.cvc"])
    body, notes = redact_body(ORDER.encode(), "application/json", "", given)
    assert json.loads(body) == {
        "card": {"number": MASK, "cvc": MASK},
        "items": [{"token": MASK}, {"token": MASK, "n": 1}],
    }
    assert notes == ["body json card.number", "body json items.*.token", "body json card.cvc"]
    whole, notes = redact_body(ORDER.encode(), "application/json", "", rules(json_paths=["card"]))
    assert json.loads(whole)["card"] == MASK and notes == ["body json card"]


def test_json_list_index_and_absent_paths():
    body, notes = redact_body(b'[{"a": 1}, {"a": 2}]', "application/json", "", rules(json_paths=["1.a", "5.a"]))
    assert json.loads(body) == [{"a": 1}, {"a": MASK}] and notes == ["body json 1.a"]


def test_a_body_nothing_matched_keeps_its_bytes():
    original = b'{ "card" :  {"brand": "visa"} }\n'
    assert redact_body(original, "application/json", "", rules(json_paths=["card.number"])) == (original, [])
    assert redact_body(b"plain", "text/plain", "", rules(json_paths=["card"])) == (b"plain", [])


def test_form_fields_in_urlencoded_and_multipart_bodies():
    given = rules(form_fields=["card"])
    body, notes = redact_body(f"card={CARD}&amount=12".encode(), "application/x-www-form-urlencoded", "", given)
    assert body == b"card=[redacted]&amount=12" and notes == ["body form card"]
    multipart = (
        b'--XyZ\r\nContent-Disposition: form-data; name="card"\r\n\r\n' + CARD.encode() + b"\r\n"
        b'--XyZ\r\nContent-Disposition: form-data; name="amount"\r\n\r\n12\r\n--XyZ--\r\n'
    )
    body, notes = redact_body(multipart, "multipart/form-data; boundary=XyZ", "", given)
    assert CARD.encode() not in body and b'name="card"\r\n\r\n[redacted]\r\n' in body and b"\r\n12\r\n" in body
    assert notes == ["body form card"]


def test_patterns_apply_to_the_body_text():
    body, notes = redact_body(f"key={API_KEY};".encode(), "text/plain", "", rules(patterns=["nomatch", r"sk_live_\w+"]))
    assert body == b"key=[redacted];" and notes == ["body pattern #2"]


def test_a_gzip_body_is_redacted_and_compressed_again():
    body, notes = redact_body(gzip.compress(ORDER.encode()), "application/json", "gzip", rules(json_paths=["card"]))
    assert notes == ["body json card"] and json.loads(gzip.decompress(body))["card"] == MASK


@pytest.mark.parametrize(
    "body, content_type, encoding, reason",
    [
        (b'{"card": "' + CARD.encode(), "application/json", "", "JSON that does not parse"),
        (b"compressed", "application/json", "br", "Content-Encoding br"),
        (b"not gzip at all", "application/json", "gzip", "does not inflate"),
        (b"[" + b" " * redaction.BODY_LIMIT + b"]", "application/json", "", "over 2 MiB"),
    ],
)
def test_a_body_the_rules_cannot_read_is_withheld(body, content_type, encoding, reason):
    redacted, notes = redact_body(body, content_type, encoding, rules(json_paths=["card"]))
    assert redacted == MASK.encode() and len(notes) == 1 and reason in notes[0]


def test_a_large_body_no_rule_reads_is_kept():
    big = b"x" * (redaction.BODY_LIMIT + 1)
    assert redact_body(big, "application/octet-stream", "", rules(json_paths=["card"])) == (big, [])


# --- redacted copies ----------------------------------------------------------------------------


def sensitive_capture(client, bin_id: str) -> dict:
    response = client.post(
        f"/h/{bin_id}/pay?token={TOKEN}&page=2",
        data=json.dumps({"card": CARD, "note": API_KEY}).encode(),
        headers={"Authorization": AUTH, "Content-Type": "application/json"},
    )
    assert response.status_code == 200, response.text
    return client.get(f"/api/bins/{bin_id}/requests/{response.json['request_id']}").json


FULL_RULES = {"json_paths": ["card"], "form_fields": ["token"], "patterns": [r"sk_live_\w+"]}


def test_redacted_copy_leaves_the_stored_row_untouched(app, client, bin_id):
    stored = sensitive_capture(client, bin_id)
    with app.app_context():
        row = db.session.get(Capture, stored["id"])
        before = {attr: getattr(row, attr) for attr in ("headers", "query_string", "body", "body_size", "signature")}
        copy = redacted_view.redacted_copy(row, rules(**FULL_RULES))
        assert copy not in db.session and copy is not row
        shown = request_json(copy)
        assert not any(secret in json.dumps(shown) for secret in SECRETS)
        assert ["Authorization", MASK] in shown["headers"] and ["token", MASK] in shown["query"]
        assert shown["redacted"] == ["header Authorization", "query token", "body json card", "body pattern #1"]
        assert shown["body_size"] == len(copy.body) and shown["id"] == stored["id"]
        assert {attr: getattr(row, attr) for attr in before} == before
        db.session.commit()
        db.session.expire_all()
        assert db.session.get(Capture, stored["id"]).body == before["body"]
    assert client.get(f"/api/bins/{bin_id}/requests/{stored['id']}").json == stored


# --- redaction at capture -----------------------------------------------------------------------


def set_rules(app, bin_id: str, **given) -> None:
    with app.app_context():
        store.save_bin_settings(store.get_bin(bin_id), redact=parse_rules(given))


def stored_text(app, capture_id: int) -> str:
    """Every stored column of the capture, as the database holds it."""
    with app.app_context():
        row = db.session.execute(text("SELECT * FROM captures WHERE id = :id"), {"id": capture_id}).one()
    return " ".join(value.decode("latin-1") if isinstance(value, bytes) else str(value) for value in row)


def test_the_bin_shows_its_rules_and_stores_capture_rules_only_while_at_capture(app, client, bin_id):
    assert client.get(f"/api/bins/{bin_id}").json["redact"] == parse_rules(None)
    set_rules(app, bin_id, json_paths=["card"])
    with app.app_context():
        bin_ = store.get_bin(bin_id)
        assert bin_.capture_redaction is None and bin_.redact["json_paths"] == ["card"]
        generation = bin_.analysis_generation
    set_rules(app, bin_id, json_paths=["card"], at_capture=True)
    with app.app_context():
        bin_ = store.get_bin(bin_id)
        assert redaction.rules_from_text(bin_.capture_redaction).json_paths == ("card",)
        assert bin_.analysis_generation == generation
    assert client.get(f"/api/bins/{bin_id}").json["redact"]["at_capture"] is True


def test_at_capture_the_secret_values_are_never_stored(app, client, bin_id):
    set_rules(app, bin_id, at_capture=True, **FULL_RULES)
    shown = sensitive_capture(client, bin_id)
    stored = stored_text(app, shown["id"])
    assert not [secret for secret in SECRETS if secret in stored]
    assert shown["redacted"] == ["header Authorization", "query token", "body json card", "body pattern #1"]
    assert json.loads(base64.b64decode(shown["body_base64"])) == {"card": MASK, "note": MASK}
    assert shown["body_size"] == len(json.dumps({"card": MASK, "note": MASK}, separators=(",", ":")))


def test_captures_without_rules_are_stored_as_they_arrived(app, client, bin_id):
    shown = sensitive_capture(client, bin_id)
    assert shown["redacted"] == [] and AUTH in stored_text(app, shown["id"])


def test_turning_redaction_at_capture_on_and_off_takes_effect_at_once(app, client, bin_id):
    first = sensitive_capture(client, bin_id)  # this process now believes the bin has no rules
    set_rules(app, bin_id, at_capture=True)
    second = sensitive_capture(client, bin_id)
    set_rules(app, bin_id, at_capture=False)
    third = sensitive_capture(client, bin_id)
    assert AUTH in stored_text(app, first["id"])
    assert AUTH not in stored_text(app, second["id"]) and second["redacted"] == ["header Authorization"]
    assert AUTH in stored_text(app, third["id"]) and third["redacted"] == []


@pytest.mark.postgres
@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_postgres_stores_under_changed_rules_with_one_more_statement(app, client, bin_id, monkeypatch):
    statements = []
    real = insert._run_postgres_capture
    monkeypatch.setattr(insert, "_run_postgres_capture", lambda *args: statements.append(1) or real(*args))
    sensitive_capture(client, bin_id)
    assert len(statements) == 1  # no rules: one statement, as before redaction existed
    set_rules(app, bin_id, at_capture=True)
    assert AUTH not in stored_text(app, sensitive_capture(client, bin_id)["id"])
    assert len(statements) == 3  # the rules this process knew were stale: refused, then redacted
    sensitive_capture(client, bin_id)
    assert len(statements) == 4


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_sqlite_insert_holds_only_under_the_rules_in_force(app, client, bin_id, monkeypatch):
    """A lookup that read older rules (they changed before the insert) does not store them."""
    set_rules(app, bin_id, at_capture=True)
    real = insert._target
    monkeypatch.setattr(insert, "_target", lambda *args: dataclasses.replace(real(*args), capture_redaction=None))
    shown = sensitive_capture(client, bin_id)
    assert shown["redacted"] == ["header Authorization"] and AUTH not in stored_text(app, shown["id"])


# --- verdicts ------------------------------------------------------------------------------------


def github_capture(client, bin_id: str, *, authorization: str | None = None) -> dict:
    sample = build_sample("github", secret=GITHUB_SECRET, at=datetime.now(UTC))
    headers = dict(sample.headers) | ({"Authorization": authorization} if authorization else {})
    response = client.post(f"/h/{bin_id}/github", data=sample.body, headers=headers)
    assert response.status_code == 200, response.text
    return client.get(f"/api/bins/{bin_id}/requests/{response.json['request_id']}").json


def add_secret(client, bin_id: str) -> None:
    secret = {"label": "main", "value": GITHUB_SECRET}
    assert client.post(f"/api/bins/{bin_id}/secrets", json=secret).status_code == 201


def test_a_signature_over_a_body_redacted_at_capture_is_unverifiable(app, client, bin_id):
    set_rules(app, bin_id, json_paths=["zen"], at_capture=True)
    unchecked = github_capture(client, bin_id)  # no secret yet: checked again when one is added
    add_secret(client, bin_id)
    shown = github_capture(client, bin_id)
    assert shown["redacted"] == ["body json zen"]
    assert shown["signature"]["status"] == "unverifiable"
    assert shown["signature"]["detail"] == (
        'Its signature cannot be checked: the body was replaced at capture by this bin\'s redaction ("never store").'
    )
    again = client.get(f"/api/bins/{bin_id}/requests/{unchecked['id']}").json
    assert again["signature"]["status"] == "unverifiable"
    now = client.get(f"/api/bins/{bin_id}/requests/{shown['id']}?at=now").json
    assert now["signature"]["status"] == "unverifiable"


def test_a_signature_that_does_not_cover_the_redacted_parts_stays_valid(app, client, bin_id):
    set_rules(app, bin_id, at_capture=True)
    add_secret(client, bin_id)
    shown = github_capture(client, bin_id, authorization=AUTH)
    assert shown["redacted"] == ["header Authorization"]
    assert shown["signature"]["status"] == "valid", shown["signature"]["detail"]


def test_blame_redaction_names_the_replaced_parts():
    invalid = Verification("invalid", scheme="hmac", detail="No secret matches.")
    entries = ["header X-Hub-Signature-256", "header X-Api-Key pattern #1", "query token", "body json a", "body form b"]
    blamed = blame_redaction(invalid, entries)
    assert blamed.status == "unverifiable" and blamed.scheme == "hmac"
    assert blamed.detail == (
        "Its signature cannot be checked: header X-Hub-Signature-256, header X-Api-Key, the query string and "
        'the body were replaced at capture by this bin\'s redaction ("never store").'
    )
    assert "As stored, it is invalid: No secret matches." in blamed.warnings
    assert blame_redaction(invalid, []) is invalid
    for status in ("valid", "expired", "no_secret", "none"):
        verdict = Verification(status)
        assert blame_redaction(verdict, entries) is verdict
    assert blame_redaction(Verification("unsigned"), ["body json a"]).status == "unverifiable"


def test_the_signed_bytes_of_a_redacted_body_are_really_gone(app, client, bin_id):
    """Sanity check of the test above: the GitHub signature no longer matches what is stored."""
    set_rules(app, bin_id, json_paths=["zen"], at_capture=True)
    shown = github_capture(client, bin_id)
    body = base64.b64decode(shown["body_base64"])
    signature = dict(shown["headers"])["X-Hub-Signature-256"]
    assert signature != "sha256=" + hmac.new(GITHUB_SECRET.encode(), body, hashlib.sha256).hexdigest()


def test_rules_are_set_and_refused_through_the_api(client, bin_id):
    answer = client.patch(f"/api/bins/{bin_id}", json={"redact": {"json_paths": ["$.card"], "at_capture": True}})
    assert answer.status_code == 200, answer.text
    assert answer.json["redact"] == parse_rules({"json_paths": ["card"], "at_capture": True})
    refused = client.patch(f"/api/bins/{bin_id}", json={"redact": {"patterns": ["(a+)+"]}})
    assert refused.status_code == 400 and "nests an unbounded repeat" in refused.json["error"]
    assert client.patch(f"/api/bins/{bin_id}", json={"redact": None}).json["redact"] == parse_rules(None)
