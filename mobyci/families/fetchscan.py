"""Where a moby tree reaches the network during its build: URLs, base images, frozen images, apt and Go modules.

Reads the files the build runs (the Dockerfile, everything under hack/dockerfile/, the frozen-image script) and
lists each upstream endpoint with the file and line it comes from. Comment lines are skipped: a URL in a
comment is never fetched; the Dockerfile's `# syntax=` parser directive is not a comment but the frontend image
BuildKit pulls before it reads the file (moby v20.10.27 and v28.5.2 `Dockerfile:1`: `# syntax=docker/dockerfile:1`).
Every `go install`/`go get` of `module@version` (moby v20.10.27 `hack/dockerfile/install/rootlesskit.installer:30`,
v28.5.2 `Dockerfile:160`) is a module fetch through GOPROXY, and its checksums come from GOSUMDB (`go help
module-auth`): one `go-sumdb` entry per file at its first such line. The same scan serves a real tree
(`mobyci patch --check DIR`) and, at development time, the stored lists of releases (fetches.json, written by
`python -m mobyci.families.fetchscan`, with each list's stage graph in stagegraph.json: stagegraph.py).

    MOBYCI_MOBY_GIT=/path/to/moby.git python -m mobyci.families.fetchscan v28.5.2 …   # rewrites both files
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
# A parser directive: only before the first instruction, comment or empty line (Dockerfile reference, "Parser
# directives"); BuildKit pulls the named frontend image.
_SYNTAX_RE = re.compile(r"^#\s*syntax\s*=\s*(\S+)\s*$", re.IGNORECASE)
_DIRECTIVE_RE = re.compile(r"^#\s*[A-Za-z]+\s*=")
# `go install [flags] "module/path@version"` (or `go get`): the argument with an `@` is the module query.
_GO_GET_RE = re.compile(r"\bgo (?:install|get)\b")
_GO_ARG_RE = re.compile(r"""["']?([A-Za-z0-9][A-Za-z0-9._~/${}-]*\.[A-Za-z0-9._~/${}-]*@[A-Za-z0-9._+${}-]+)["']?""")
# `: "${NAME:=default}"` (installers), `ARG NAME=default` (Dockerfile), `for f in a b; do`.
_SHELL_DEFAULT_RE = re.compile(r"""^\s*:\s*"?\$\{([A-Za-z_][A-Za-z0-9_]*):?=([^}"]*)\}"?""")
_FOR_RE = re.compile(r"\bfor\s+([A-Za-z_][A-Za-z0-9_]*)\s+in\s+([^;]+);")
_GOPROXY_SET_RE = re.compile(r"\bGOPROXY=")
GO_PROXY = "https://proxy.golang.org"
GO_SUMDB = "https://sum.golang.org"


class Fetch(NamedTuple):
    """One upstream endpoint: what kind, the URL or image as the tree writes it, and where."""

    # git | download | registry | image | frozen-image | apt | go-modules (a proxy URL) | go-module (`module@version`)
    # | go-sumdb
    kind: str
    endpoint: str
    file: str
    line: int
    # "builder": a Dockerfile `ADD <url>`, which BuildKit fetches itself, outside every stage's trust store;
    # "frontend": a `# syntax=` image, which the builder pulls before it reads the Dockerfile;
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
        found += _go_modules(path, text)
        if path == DOCKERFILE:
            found += _frontend(text)
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
            elif _GOPROXY_SET_RE.search(line):
                kind = "go-modules"  # the step sets its own GOPROXY (e.g. v20.10.8 rootlesskit.installer:38)
            elif _GIT_HINT_RE.search(line) or url.endswith(".git"):
                kind = "git"
            else:
                kind = "download"
            by = "builder" if path == DOCKERFILE and _ADD_RE.match(line) else ""
            out.append(Fetch(kind, url, path, number, by))
    return out


def _frontend(text: str) -> list[Fetch]:
    """The `# syntax=` directive among the Dockerfile's leading directives."""
    for number, line in enumerate(text.splitlines(), 1):
        found = _SYNTAX_RE.match(line.strip())
        if found:
            return [Fetch("image", found.group(1), DOCKERFILE, number, "frontend")]
        if not _DIRECTIVE_RE.match(line.strip()):
            return []
    return []


def _go_modules(path: str, text: str) -> list[Fetch]:
    """`go install`/`go get` of `module@version`, its variables expanded from the defaults the file sets before it
    (ARG in the Dockerfile, `: "${NAME:=default}"` in a script) and a `for` loop's words; plus the checksum
    database at the first one."""
    values: dict[str, str] = {}
    loops: dict[str, list[str]] = {}
    out: list[Fetch] = []
    for number, line in _code_lines(text):
        default = _ARG_RE.match(line) or _SHELL_DEFAULT_RE.match(line)
        if default:
            values[default.group(1)] = _expand(default.group(2), values)
        for loop in _FOR_RE.finditer(line):
            loops[loop.group(1)] = loop.group(2).split()
        command = _GO_GET_RE.search(line)
        if command is None:
            continue
        for arg in _GO_ARG_RE.finditer(line[command.end() :]):
            for module in _each_word(_expand(arg.group(1), values), loops):
                out.append(Fetch("go-module", module, path, number))
    if out:
        out.insert(0, Fetch("go-sumdb", GO_SUMDB, path, out[0].line))
    return out


def _each_word(query: str, loops: dict[str, list[str]]) -> list[str]:
    """`query` once per word of each loop variable it names."""
    for name, words in loops.items():
        if f"${{{name}}}" in query or re.search(rf"\${name}\b", query):
            return [q for word in words for q in _each_word(_expand(query, {name: word}), loops)]
    return [query]


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
        ("go-modules", "go install ", GO_PROXY),
    ):
        first = next((number for number, line in _code_lines(text) if needle in line), None)
        if first is not None:
            out.append(Fetch(kind, endpoint, path, first))
    return out


def _main(argv: list[str]) -> None:
    import json
    import os
    from pathlib import Path

    from mobyci.families import stagegraph
    from mobyci.families.generate import Git

    git = Git(Path(os.environ["MOBYCI_MOBY_GIT"]))
    data_file = Path(__file__).with_name("fetches.json")
    data = json.loads(data_file.read_text("utf-8")) if data_file.exists() else {}
    # The stage graph of each list's tree (stagegraph.py), written beside it: which stages run each fetch.
    graph_file = Path(__file__).with_name("stagegraph.json")
    graphs = {tag: stagegraph.stored(tag) for tag in data}
    for tag in argv:
        paths = git.run("ls-tree", "-r", "--name-only", tag).decode().splitlines()
        # The files the scan reads, in one `git cat-file --batch`.
        wanted = scanned(paths)
        blobs = git.blobs([f"{tag}:{path}" for path in wanted])
        texts = {path: (blobs[f"{tag}:{path}"] or b"").decode() for path in wanted}
        fetches = scan(paths, texts.__getitem__)
        data[tag] = [f.row() for f in fetches]
        graphs[tag] = stagegraph.graph(fetches, texts.get)
    text = json.dumps(dict(sorted(data.items())), separators=(",", ":"))
    data_file.write_text(text.replace("],[", "],\n[").replace(":[[", ":[\n[") + "\n", "utf-8")
    graph_file.write_text(stagegraph.render({t: g for t, g in graphs.items() if g is not None}), "utf-8")


if __name__ == "__main__":
    import sys

    _main(sys.argv[1:])
