"""Where Hookloupe keeps its data (the instance folder), and how that is said.

The rule: `HOOKLOUPE_INSTANCE_PATH` when set and not blank (a relative value is taken from the
working directory, like any path on a command line), else `./instance` of the working
directory — the default DESIGN §6 and the README's Quick start name. Issue 13 asked that the
data "not silently depend on the working directory": the dependency stays (it is the documented
default, and a checkout's `instance/` is where its users look), but it is never silent:
`hookloupe serve` prints the absolute folder, the database and the reason (serve.py), and
HOOKLOUPE_INSTANCE_PATH chooses another. (A per-user data directory was considered
and left: it would contradict DESIGN §6 and the Quick start; see the closing note.)

`serve` decides once, in the master, and hands the folder to its workers in
HOOKLOUPE_INSTANCE_PATH; every command that reads the server's data (`db`, `doctor`,
`export`/`import`) uses `instance_path()` too.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class InstancePath:
    """The chosen folder (absolute) and why it was chosen, in words for the user."""

    path: str
    reason: str


def instance_path(environ: Mapping[str, str] | None = None) -> str:
    """The absolute instance folder by the rule above (it may not exist yet)."""
    return choose_instance_path(os.environ if environ is None else environ).path


def choose_instance_path(environ: Mapping[str, str], *, cwd: str | None = None) -> InstancePath:
    """The instance folder and the reason for it; `cwd` defaults to the process's own (a seam
    for tests). Creates nothing."""
    cwd = cwd or os.getcwd()
    configured = environ.get("HOOKLOUPE_INSTANCE_PATH", "").strip()
    if configured:
        return InstancePath(os.path.abspath(os.path.join(cwd, configured)), "HOOKLOUPE_INSTANCE_PATH")
    default = os.path.join(os.path.abspath(cwd), "instance")
    return InstancePath(
        default, "the default: ./instance of the directory it was started in; HOOKLOUPE_INSTANCE_PATH chooses another"
    )
