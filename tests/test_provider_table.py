"""The README's provider table has one row per registry entry, and its "checked against"
column says what the registry and tests/vectors/ say: the SDK, an official vector, inferred or
docs only. Read at run time, so a new entry fails here until its row is added."""

import json
import re
import tomllib
from pathlib import Path

import pytest

from inspector.signing import providers

ROOT = Path(__file__).resolve().parent.parent
VECTORS = ROOT / "tests" / "vectors"
CATEGORIES = ("official vector", "docs only", "inferred")


def table() -> tuple[list[str], dict[str, list[dict[str, str]]]]:
    """The columns of the table under "## Supported providers" and its rows by provider id
    (the id in backticks in the first cell; a list, so a duplicated row shows)."""
    text = (ROOT / "README.md").read_text()
    section = text.split("\n## Supported providers\n", 1)[1].split("\n## ", 1)[0]
    lines = [line for line in section.splitlines() if line.startswith("|")]
    columns = _cells(lines[0])
    rows: dict[str, list[dict[str, str]]] = {}
    for line in lines[2:]:
        row = dict(zip(columns, _cells(line), strict=False))
        found = re.search(r"\(`([^`]+)`\)", row[columns[0]])
        rows.setdefault(found.group(1) if found else row[columns[0]], []).append(row)
    return columns, rows


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def oracle_sdks() -> set[str]:
    """The packages of pyproject's test extra (the SDKs tests/test_sdk_oracles.py runs)."""
    extra = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["test"]
    return {re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0] for requirement in extra}


def vector_sources(provider_id: str) -> set[str]:
    path = VECTORS / f"{provider_id}.json"
    return {case["source"] for case in json.loads(path.read_text())["vectors"]} if path.exists() else set()


def expected_category(entry) -> str:
    """The column's value, derived without reading the README: the SDK when the scheme was
    checked against one, else `official vector` when tests/vectors/ holds a vector from the
    provider's docs, else `inferred` when the registry marks the scheme unconfirmed, else
    `docs only`."""
    if entry.sdk:
        return entry.sdk
    if "official" in vector_sources(entry.id):
        return "official vector"
    return "inferred" if entry.known == "inferred" else "docs only"


def test_table_has_a_checked_against_column():
    columns, _ = table()
    assert columns[0] == "provider" and "checked against" in columns


@pytest.mark.parametrize("entry", providers.REGISTRY, ids=lambda e: e.id)
def test_every_entry_has_one_row(entry):
    _, rows = table()
    assert len(rows.get(entry.id, [])) == 1, f"README 'Supported providers' needs one row for `{entry.id}`"


@pytest.mark.parametrize("entry", providers.REGISTRY, ids=lambda e: e.id)
def test_checked_against_matches_the_registry_and_vectors(entry):
    _, rows = table()
    if entry.id not in rows:
        pytest.fail(f"README 'Supported providers' has no row for `{entry.id}`")
    cell = rows[entry.id][0]["checked against"]
    assert cell == expected_category(entry), f"{entry.id}: write {expected_category(entry)!r}, not {cell!r}"


def test_no_row_names_an_unknown_provider():
    _, rows = table()
    assert set(rows) - {entry.id for entry in providers.REGISTRY} == set()


@pytest.mark.parametrize("entry", providers.REGISTRY, ids=lambda e: e.id)
def test_sdk_and_known_agree_with_the_vectors(entry):
    sources = vector_sources(entry.id)
    sdk_sources = {source.removeprefix("sdk:") for source in sources if source.startswith("sdk:")}
    if entry.sdk:
        assert entry.sdk in oracle_sdks(), f"{entry.id}: {entry.sdk} is not in pyproject's test extra"
    assert sdk_sources <= {entry.sdk}, f"{entry.id}: vectors made with {sdk_sources}, registry sdk {entry.sdk!r}"
    if entry.known == "official vector":
        assert "official" in sources, f"{entry.id}: known='official vector' but no official vector"
    if entry.known == "SDK oracle":
        assert entry.sdk


def test_each_sdk_run_as_an_oracle_is_credited_to_an_entry():
    wanted = {
        "stripe",
        "slack_sdk",
        "standardwebhooks",
        "svix",
        "twilio",
        "razorpay",
        "squareup",
        "sendgrid",
        "paddle-python-sdk",
        "Adyen",
        "box-sdk-gen",
        "hubspot-api-client",
        "coinbase-commerce",
        "mailgun",
    }
    assert wanted <= {entry.sdk for entry in providers.REGISTRY}


def test_categories_are_the_four_kinds():
    _, rows = table()
    allowed = set(CATEGORIES) | oracle_sdks()
    assert {row["checked against"] for found in rows.values() for row in found} <= allowed
