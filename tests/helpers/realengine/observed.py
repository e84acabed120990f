"""What the corp servers served, read from their logs, as a list of fetches; and its comparison with the fetch
inventory (`mobyci plan --fetches --format json`).

Each `Fetch` says what kind of thing was fetched, its upstream identity (`key`: the URL or image the build
asked for, with the spec's mirror rewrite undone), and which server answered, i.e. the route it took:

- `registry`: Debian's docker-registry (the Docker Hub mirror), its access log: `image` (a manifest by tag);
- `git`/`http` (corp_http.py's `mirror` and `mirror-http` servers): `clone` (git smart-HTTP `info/refs`),
  `module` (a `.zip` of the Go proxy tree: the module was downloaded), `download` (any other file);
- `apt` (apt-cacher-ng's transfer log): `apt`, one per archive (main, security);
- `proxy` (tinyproxy's log): `proxy`, the URL or host:port it was asked for.

Read the logs from a mark (`Marks`) so that one test's fetches are not another's.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from tests.helpers.realengine import corp as corpmod
from tests.helpers.realengine import netns

_ACCESS = re.compile(r'"(?P<method>[A-Z]+) (?P<uri>\S+) HTTP/[\d.]+" (?P<status>\d{3}) \S+ "[^"]*" "(?P<agent>[^"]*)"')
_MANIFEST = re.compile(r"^/v2/(?P<name>.+)/manifests/(?P<ref>[^?]+)")
_HTTP = re.compile(r"^(?P<server>\S+) (?P<client>\S+) (?P<method>[A-Z]+) (?P<path>\S+) (?P<status>\d{3})$")
_GOPROXY = re.compile(r"^/goproxy/(?P<module>.+)/@v/(?P<version>.+)\.zip$")
_PROXY = re.compile(r"Request \(file descriptor \d+\): (?P<method>\S+) (?P<target>\S+)")
_APT = re.compile(r"^\d+\|O\|\d+\|[^|]*\|(?P<path>\S+)$")


@dataclass(frozen=True, order=True)
class Fetch:
    kind: str  # image, clone, module, download, apt, proxy
    key: str  # the upstream identity: image name:tag, URL, module@version, apt archive URL
    server: str  # registry, git, http, apt, proxy: which corp server answered
    # mirror, proxy, or internal: a corp URL the source names as it is (a host inside the firewall, reached
    # without a mirror rule; the inventory says `internal` for a host proxy.no_proxy names).
    route: str = "mirror"
    status: int = 200
    detail: str = ""  # what the log said (the path or target), for messages


Marks = dict[Path, int]


def logs(corp: corpmod.Corp) -> list[Path]:
    return [corp.registry_log, corp.http_log, corp.apt_log, corp.proxy_log]


def mark(corp: corpmod.Corp) -> Marks:
    """The current length (lines) of every corp log: read fetches after it."""
    return {path: len(_lines(path)) for path in logs(corp)}


def fetches(corp: corpmod.Corp, since: Marks | None = None, *, unmirror: Callable[[str], str] = str) -> list[Fetch]:
    """Every fetch the corp servers logged since `since` (all when None), deduplicated and sorted.

    `unmirror` maps a URL as the build asked the corp host for it back to the upstream URL the build's
    source names (the spec's mirror rewrite undone); URLs it leaves unchanged were written as corp URLs."""
    start = since or {}

    def new(path: Path) -> list[str]:
        return _lines(path)[start.get(path, 0) :]

    found: set[Fetch] = set()
    found |= set(registry_fetches(new(corp.registry_log)))
    found |= set(http_fetches(new(corp.http_log), unmirror))
    found |= set(apt_fetches(new(corp.apt_log)))
    found |= set(proxy_fetches(new(corp.proxy_log)))
    return sorted(found)


def registry_fetches(lines: Iterable[str]) -> list[Fetch]:
    """Manifests pulled by tag (pushes and blob reads are not fetches of their own)."""
    out = []
    for line in lines:
        m = _ACCESS.search(line)
        if not m or m["method"] not in ("GET", "HEAD"):
            continue
        manifest = _MANIFEST.match(m["uri"])
        if not manifest or manifest["ref"].startswith("sha256:"):
            continue
        name = manifest["name"].removeprefix("library/")
        out.append(Fetch("image", f"{name}:{manifest['ref']}", "registry", "mirror", int(m["status"]), m["uri"]))
    return out


def http_fetches(lines: Iterable[str], unmirror: Callable[[str], str] = str) -> list[Fetch]:
    out = []
    for line in lines:
        m = _HTTP.match(line.strip())
        if not m:
            continue
        server = {"mirror": "git", "mirror-http": "http", "upstream": "upstream"}.get(m["server"], m["server"])
        scheme = "http" if m["server"] == "mirror-http" else "https"
        path, _, query = m["path"].partition("?")
        path = unquote(path)
        url = f"{scheme}://{netns.CORP}{path}"
        if path.endswith(".git/info/refs") and "service=git-upload-pack" in query:
            repo = url.removesuffix("/info/refs")
            route = "internal" if unmirror(repo) == repo else "mirror"
            out.append(Fetch("clone", unmirror(repo), server, route, int(m["status"]), m["path"]))
        elif "/git-upload-pack" in path or ".git/" in path:
            continue  # the same clone's negotiation
        elif goproxy := _GOPROXY.match(path):
            module = f"{_unescape(goproxy['module'])}@{goproxy['version']}"
            out.append(Fetch("module", module, server, "mirror", int(m["status"]), m["path"]))
        elif path.startswith("/goproxy/"):
            continue  # .info/.mod/list lookups of the same module downloads (and prefix probes answered 404)
        elif m["server"] == "upstream":
            continue  # reached through the corporate proxy: proxy_fetches has it
        else:
            route = "internal" if unmirror(url) == url else "mirror"
            out.append(Fetch("download", unmirror(url), server, route, int(m["status"]), m["path"]))
    return out


def apt_fetches(lines: Iterable[str]) -> list[Fetch]:
    """One fetch per Debian archive apt-cacher-ng delivered from (its `debrep`/`secdeb` remaps, corp.py)."""
    archives = {"debrep": "http://deb.debian.org/debian", "secdeb": "http://deb.debian.org/debian-security"}
    out = []
    for line in lines:
        m = _APT.match(line.strip())
        if m:
            head = m["path"].split("/", 1)[0]
            out.append(Fetch("apt", archives.get(head, head), "apt"))
    return sorted(set(out))


def proxy_fetches(lines: Iterable[str]) -> list[Fetch]:
    out = []
    for line in lines:
        m = _PROXY.search(line)
        if m:
            out.append(Fetch("proxy", m["target"], "proxy", "proxy", 200, f"{m['method']} {m['target']}"))
    return out


def _unescape(module: str) -> str:
    """The module path of a proxy path: `!x` is an upper-case X (https://go.dev/ref/mod#goproxy-protocol)."""
    return re.sub(r"!([a-z])", lambda m: m[1].upper(), module)


def _lines(path: Path) -> list[str]:
    return path.read_text(errors="replace").splitlines() if path.exists() else []


def as_json(found: Iterable[Fetch]) -> list[dict[str, Any]]:
    return [{"kind": f.kind, "key": f.key, "server": f.server, "route": f.route, "status": f.status} for f in found]
