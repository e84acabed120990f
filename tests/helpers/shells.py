"""The patch script run as a user runs it: under dash, and under busybox with only busybox's tools on PATH."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

DASH = shutil.which("dash")
BUSYBOX = shutil.which("busybox")
# The CI variables the scripts read; the HTTPS one holds a quote, a $ and a backslash on purpose.
ENV = {"CORP_HTTP_PROXY": "http://proxy.corp.example:3128", "CORP_HTTPS_PROXY": 'http://p"x$y\\z.example:1'}


@dataclass
class Outcome:
    code: int
    stdout: list[str]
    errors: list[str]  # messages without the "mobyci-patch: " prefix


def make_busybox_bin(factory: pytest.TempPathFactory) -> Path:
    """A directory of busybox applets (sh, sed, grep, awk, cp, mv…) to use as the only PATH."""
    if BUSYBOX is None:
        pytest.skip("busybox is not installed (.ci/run installs it)")
    directory = factory.mktemp("busybox-bin")
    subprocess.run([BUSYBOX, "--install", "-s", str(directory)], check=True)
    return directory


def shells(busybox: Path | None) -> list[tuple[str, list[str], dict[str, str]]]:
    """(name, argv prefix, extra env) of every shell to run the script with."""
    found: list[tuple[str, list[str], dict[str, str]]] = []
    if DASH is not None:
        found.append(("dash", [DASH], {}))
    if busybox is not None:
        # Only busybox on PATH: its ash, and its sed, grep, awk, cp and mv.
        found.append(("busybox", [str(busybox / "sh")], {"PATH": str(busybox)}))
    return found


def run_script(script: str, tree: Path, argv: list[str], extra: Mapping[str, str], *, check: bool = False) -> Outcome:
    path = tree.parent / f"{tree.name}-patch.sh"
    path.write_text(script, encoding="utf-8")
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **ENV, **extra}
    args = [*argv, str(path), *(["--check"] if check else []), str(tree)]
    done = subprocess.run(args, capture_output=True, env=env, check=False)
    errors = [line.removeprefix("mobyci-patch: ") for line in lines_of(done.stderr.decode())]
    return Outcome(done.returncode, lines_of(done.stdout.decode()), errors)


def lines_of(text: str) -> list[str]:
    """Lines split on newlines only (a carriage return is part of a line here)."""
    return text.split("\n")[:-1] if text.endswith("\n") else text.split("\n") if text else []
