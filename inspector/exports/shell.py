"""POSIX shell text for captured values: quoted words and a `printf` that writes exact bytes.

Captured data is hostile. Every captured value reaches the shell inside single quotes, where
POSIX sh, bash, dash and zsh interpret nothing (no `$(…)`, backticks, `$VAR` or escapes) but
the closing quote, which `quote` spells `'"'"'`. Bytes that are not printable ASCII go through
`printf_bytes`, whose format string is printable ASCII only: each other byte (and `'`, `\\`,
`%`) is a three-digit octal escape, which POSIX printf (bash's and dash's builtins, coreutils)
writes back as that byte, NUL included.
"""

from __future__ import annotations

import shlex

# Bytes written as themselves in a printf format: printable ASCII but the quote, the escape
# character and the conversion character.
_LITERAL = frozenset(range(0x20, 0x7F)) - {ord("'"), ord("\\"), ord("%")}


def quote(text: str) -> str:
    """`text` as one shell word that the shell passes on unchanged (NUL cannot be passed: the
    callers remove it first)."""
    return shlex.quote(text)


def printf_bytes(data: bytes) -> str:
    """A `printf` command that writes exactly `data` to standard output."""
    escaped = "".join(chr(byte) if byte in _LITERAL else f"\\{byte:03o}" for byte in data)
    return f"printf '{escaped}'"


def printf_text(text: str) -> str:
    """A `printf` command that writes `text` (no NUL) as UTF-8, readable: `printf '%s' '…'`."""
    return f"printf '%s' {quote(text)}"


def is_plain_text(data: bytes) -> bool:
    """Whether `data` is UTF-8 text of printable characters, newlines and tabs only: such a
    body can be written inside single quotes and still reads (and pastes) as itself. A CR,
    other control or format characters (bidi overrides), or bytes that are not UTF-8: no."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return all(char.isprintable() or char in "\n\t" for char in text)


def command(lines: list[str], *, stdin: str | None = None) -> str:
    """Lines of already quoted words as one command, continued with backslash-newline; `stdin`
    is a command whose output is piped into it."""
    text = " \\\n  ".join(lines)
    return f"{stdin} | {text}" if stdin else text
