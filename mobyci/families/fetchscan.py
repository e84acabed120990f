"""Where a moby tree reaches the network during its build: URLs, base images, frozen images, apt and Go modules.

Reads the files the build runs (the Dockerfile, everything under hack/dockerfile/, the frozen-image script) and
lists each upstream endpoint with the file and line it comes from. Comment lines are skipped: a URL in a
comment is never fetched. The same scan serves a real tree (`mobyci patch --check DIR`) and, at development time,
the stored lists of releases (fetches.json, written by `python -m mobyci.families.fetchscan`).

    MOBYCI_MOBY_GIT=/path/to/moby.git python -m mobyci.families.fetchscan v28.5.2 …   # rewrites fetches.json
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import NamedTuple

FROZEN_SCRIPT = "contrib/download-frozen-image-v2.sh"
DOCKERFILE = "Dockerfile"
SCANNED_DIRS = ("hack/dockerfile/",)

_URL_RE = re.compile(r"(?:https?|git)://[^\s\"'<>\\)`$]+")
_ARG_RE = re.compile(r"^\s*ARG\s+([A-Za-z_][A-Za-z0-9_]*)=\"?([^\"\s]*)\"?\s*$")
_FROM_RE = re.compile(r"^\s*FROM\s+(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?", re.IGNORECASE)
_FROZEN_RE = re.compile(r"\b([a-z0-9][a-z0-9./_-]*:[A-Za-z0-9._-]+)@sha256:[0-9a-f]{64}")
_VAR_RE = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?")
_ADD_RE = re.compile(r"^\s*ADD\s", re.IGNORECASE)
_GIT_HINT_RE = re.compile(r"git (?:clone|remote add|fetch)|_REPO(?:SITORY)?=|\.git\b")


class Fetch(NamedTuple):
    """One upstream endpoint: what kind, the URL or image as the tree writes it, and where."""

    kind: str  # git | download | registry | image | frozen-image | apt | go-modules
    endpoint: str
    file: str
    line: int
    # "builder": a Dockerfile `ADD <url>`, which BuildKit fetches itself, outside every stage's trust store;
    # "": the build step's own program (git, curl, apt, go) or, for images, the image pull.
    by: str = ""

    def row(self) -> list[object]:
        """As fetches.json stores it: `by` only when set."""
        return [self.kind, self.endpoint, self.file, self.line, *([self.by] if self.by else [])]


def scanned(paths: Iterable[str]) -> list[str]:
    """The files of a tree that the scan reads, sorted."""
    return sorted(p for p in paths if p in (DOCKERFILE, FROZEN_SCRIPT) or p.startswith(SCANNED_DIRS))


def scan(paths: Iterable[str], read: Callable[[str], str]) -> list[Fetch]:
    """Every upstream endpoint of the files in `paths` (a tree's file list), in file and line order."""
    found: list[Fetch] = []
    for path in scanned(paths):
        text = read(path)
        found += _urls(path, text)
        if path == DOCKERFILE:
            found += _images(text)
            found += _implicit(path, text)
    return sorted(dict.fromkeys(found), key=lambda f: (f.file, f.line, f.kind, f.endpoint))


def _code_lines(text: str) -> Iterable[tuple[int, str]]:
    for number, line in enumerate(text.splitlines(), 1):
        if not line.lstrip().startswith("#"):
            yield number, line


def _urls(path: str, text: str) -> list[Fetch]:
    out = []
    for number, line in _code_lines(text):
        for match in _URL_RE.finditer(line):
            url = match.group().split("?", 1)[0].rstrip(".,;:")
            if path == FROZEN_SCRIPT:
                kind = "registry"
            elif _GIT_HINT_RE.search(line) or url.endswith(".git"):
                kind = "git"
            else:
                kind = "download"
            by = "builder" if path == DOCKERFILE and _ADD_RE.match(line) else ""
            out.append(Fetch(kind, url, path, number, by))
    return out


def _images(text: str) -> list[Fetch]:
    args: dict[str, str] = {}
    stages: set[str] = set()
    out = []
    for number, line in _code_lines(text):
        arg = _ARG_RE.match(line)
        if arg:
            args.setdefault(arg.group(1), _expand(arg.group(2), args))
            continue
        found = _FROM_RE.match(line)
        if found:
            image = _expand(found.group(1), args)
            if image != "scratch" and image not in stages and "$" not in image:
                out.append(Fetch("image", image, DOCKERFILE, number))
            if found.group(2):
                stages.add(found.group(2))
        for frozen in _FROZEN_RE.finditer(line):
            out.append(Fetch("frozen-image", frozen.group(1), DOCKERFILE, number))
    return out


def _expand(value: str, args: dict[str, str]) -> str:
    """`${NAME}` and `$NAME` replaced by the defaults of earlier ARG lines (which are expanded already)."""
    return _VAR_RE.sub(lambda m: args.get(m.group(1), m.group(0)), value)


def _implicit(path: str, text: str) -> list[Fetch]:
    """Fetches no URL names: apt's Debian archive and Go's module proxy, at their first use."""
    out = []
    for kind, needle, endpoint in (
        ("apt", "apt-get ", "http://deb.debian.org/debian"),
        ("go-modules", "go install ", "https://proxy.golang.org"),
    ):
        first = next((number for number, line in _code_lines(text) if needle in line), None)
        if first is not None:
            out.append(Fetch(kind, endpoint, path, first))
    return out


def _main(argv: list[str]) -> None:
    import json
    import os
    from pathlib import Path

    from mobyci.families.generate import Git

    git = Git(Path(os.environ["MOBYCI_MOBY_GIT"]))
    data_file = Path(__file__).with_name("fetches.json")
    data = json.loads(data_file.read_text("utf-8")) if data_file.exists() else {}
    for tag in argv:
        paths = git.run("ls-tree", "-r", "--name-only", tag).decode().splitlines()
        # The files the scan reads, in one `git cat-file --batch`.
        wanted = scanned(paths)
        blobs = git.blobs([f"{tag}:{path}" for path in wanted])
        texts = {path: (blobs[f"{tag}:{path}"] or b"").decode() for path in wanted}
        fetches = scan(paths, texts.__getitem__)
        data[tag] = [f.row() for f in fetches]
    text = json.dumps(dict(sorted(data.items())), separators=(",", ":"))
    data_file.write_text(text.replace("],[", "],\n[").replace(":[[", ":[\n[") + "\n", "utf-8")


if __name__ == "__main__":
    import sys

    _main(sys.argv[1:])
