"""Hookloupe's capture benchmark (`python bench/run.py`); see bench/README.md."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any


def parse_with_quick(
    parser: argparse.ArgumentParser, quick: Mapping[str, Any], argv: list[str] | None
) -> argparse.Namespace:
    """Parse `argv`; with `--quick`, `quick` replaces the defaults (options given still win)."""
    if parser.parse_known_args(argv)[0].quick:
        parser.set_defaults(**quick)
    return parser.parse_args(argv)
