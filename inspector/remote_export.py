"""`hookloupe export` and `hookloupe import`: one bin through a server's API, or the whole database (backup/).

    hookloupe export <bin URL> [--format ndjson|har] [--output FILE] [--match k=v …] [--redact] [--token T]
    hookloupe import <bin URL> FILE [--token T]
    hookloupe export --all [--output FILE]          the whole database (cli.export)
    hookloupe import FILE                            a whole-database export (cli.import_)

A bin URL (its page `…/bins/<b>` or capture URL `…/h/<b>`, a password may be in it) means the
API; otherwise the commands read or write the server's database directly. Exit codes: 0 done;
1 the server refused the file or the output could not be written; 2 a usage or connection
error (as remote.py). A password in a URL or a token is never printed.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from typing import BinaryIO
from urllib.parse import quote

import httpx

from inspector.client import Client, HookloupeError
from inspector.remote import parse_matches, token

Command = Callable[[argparse.Namespace], int]
# Bytes written at a time while an export streams in.
_CHUNK = 64 * 1024


def _fail(command: str, message: str, code: int = 2) -> int:
    print(f"hookloupe {command}: {message}", file=sys.stderr)
    return code


def export_bin(args: argparse.Namespace) -> int:
    """`hookloupe export <bin URL> …`: the bin's matching captures, newest first, to FILE or stdout."""
    from inspector.delivery.relay import RelayError, parse_bin_url

    try:
        matchers = parse_matches(args.match)
        base, bin_id = parse_bin_url(args.bin_url)
        client = Client(base, token(args.token))
    except (ValueError, RelayError, HookloupeError) as error:
        return _fail("export", str(error))
    params = [(name, value) for name, values in matchers.items() for value in values]
    params += [("format", args.format)] + ([("redact", "true")] if args.redact else [])
    path = f"/api/bins/{quote(bin_id, safe='')}/export"
    with client:
        try:
            written = _download(client, path, params, args.output)
        except HookloupeError as error:
            return _fail("export", str(error))
        except OSError as error:
            return _fail("export", f"cannot write {args.output}: {error.strerror or error}", 1)
    print(
        f"exported {written} bytes of {args.format.upper()} from bin {bin_id} to {args.output or 'stdout'}",
        file=sys.stderr,
    )
    return 0


def _download(client: Client, path: str, params: list[tuple[str, str]], output: str | None) -> int:
    """Stream the answer to `output` (None: stdout), written as `<output>.partial` and renamed
    once complete, so `output` never holds a cut-off export; returns the bytes written.
    HookloupeError when the server refuses or cannot be reached."""
    partial = None if output is None else output + ".partial"
    try:
        # The client has no streaming call: its httpx client (same base URL, same credentials) streams.
        with client._http.stream("GET", path, params=tuple(params)) as response:
            if not response.is_success:
                response.read()
                raise client._refusal(response)
            with _opened(partial) as out:
                written = 0
                for chunk in response.iter_bytes(_CHUNK):
                    out.write(chunk)
                    written += len(chunk)
        if output is not None and partial is not None:
            os.replace(partial, output)
        return written
    except httpx.HTTPError as error:
        raise HookloupeError(client.redact(f"cannot reach {client.url}: {type(error).__name__}: {error}")) from None
    finally:
        if partial is not None:
            with contextlib.suppress(FileNotFoundError):
                os.remove(partial)


@contextlib.contextmanager
def _opened(path: str | None) -> Iterator[BinaryIO]:
    """`path` opened for writing bytes; None: standard output (left open)."""
    if path is None:
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    with open(path, "wb") as out:
        yield out


def import_bin(args: argparse.Namespace, file: str) -> int:
    """`hookloupe import <bin URL> FILE`: a HAR or NDJSON file into the bin, all or nothing."""
    from inspector.delivery.relay import RelayError, parse_bin_url

    try:
        base, bin_id = parse_bin_url(args.first)
        client = Client(base, token(args.token))
    except (RelayError, HookloupeError) as error:
        return _fail("import", str(error))
    try:
        if file == "-":
            data = sys.stdin.buffer.read()
        else:
            with open(file, "rb") as handle:
                data = handle.read()
    except OSError as error:
        client.close()
        return _fail("import", f"cannot read {file}: {error.strerror or error}")
    is_har = data.lstrip()[:1] == b"{" and b'"log"' in data[:4096]
    content_type = "application/json" if is_har else "application/x-ndjson"
    path = f"/api/bins/{quote(bin_id, safe='')}/import"
    with client:
        try:
            answer = client.call_json("POST", path, content=data, headers={"Content-Type": content_type})
        except HookloupeError as error:
            hint = " (the server's HOOKLOUPE_MAX_API_BODY_BYTES: split the file)" if error.status == 413 else ""
            return _fail("import", f"{error}{hint}", 1 if error.status in (400, 413) else 2)
    print(f"imported {answer.get('imported')} captures into bin {bin_id}")
    return 0


def _looks_like_url(text: str) -> bool:
    return text.startswith(("http://", "https://"))


def add_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], *, export_all: Command, import_file: Command
) -> None:
    """Register `export` and `import` (cli.py); `export_all` and `import_file` are the
    whole-database commands, run when no bin URL is given."""
    bin_url_help = "the bin's page URL (…/bins/<bin>) or capture URL (…/h/<bin>); a password may be in it"
    token_help = "API token (default: HOOKLOUPE_TOKEN); never printed"

    def export(args: argparse.Namespace) -> int:
        if args.bin_url and args.all:
            return _fail("export", "give a bin URL or --all, not both")
        if args.all:
            if args.match or args.format or args.redact:
                return _fail("export", "--format, --match and --redact are for one bin (a bin URL), not --all")
            return export_all(args)
        if not args.bin_url:
            return _fail("export", "give a bin URL (one bin, through the API) or --all (the whole database)")
        args.format = args.format or "ndjson"
        return export_bin(args)

    export_cmd = commands.add_parser("export", help="export one bin (HAR or NDJSON) or back up the whole database")
    export_cmd.add_argument("bin_url", nargs="?", help=bin_url_help)
    export_cmd.add_argument(
        "--all",
        action="store_true",
        help="back up every bin, capture and secret of the server's database (secrets stay encrypted)",
    )
    export_cmd.add_argument("--format", choices=["ndjson", "har"], help="with a bin URL: ndjson (default) or har")
    export_cmd.add_argument("--output", metavar="FILE", help="write to FILE (default: standard output)")
    export_cmd.add_argument(
        "--match", action="append", metavar="NAME=VALUE", help="with a bin URL: only captures that match (repeatable)"
    )
    export_cmd.add_argument("--redact", action="store_true", help="with a bin URL: apply the bin's redaction rules")
    export_cmd.add_argument("--token", help=token_help)
    export_cmd.set_defaults(func=export)

    def import_(args: argparse.Namespace) -> int:
        if args.second is not None:
            return import_bin(args, args.second)
        if _looks_like_url(args.first):
            return _fail("import", "give the file to import after the bin URL: hookloupe import <bin URL> FILE")
        args.file = args.first
        return import_file(args)

    import_cmd = commands.add_parser(
        "import", help="import a HAR or NDJSON file into a bin, or restore a whole-database export"
    )
    import_cmd.add_argument(
        "first",
        metavar="BIN_URL_OR_FILE",
        help=f"{bin_url_help}; alone: a file made by `hookloupe export --all` (- for stdin)",
    )
    import_cmd.add_argument(
        "second", metavar="FILE", nargs="?", help="with a bin URL: a HAR or NDJSON file (- for stdin)"
    )
    import_cmd.add_argument("--token", help=token_help)
    import_cmd.set_defaults(func=import_)
