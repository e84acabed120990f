"""Checks of single values (URLs, CI variable references, durations, git refs).

Each check returns the value or raises PydanticCustomError with a message that says how to fix it;
the loader adds file:line:col and the key path.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from mobyci.specmodel.core import PydanticCustomError, ValidationError

if TYPE_CHECKING:
    from pydantic_core.core_schema import ValidatorFunctionWrapHandler

from mobyci.errors import one_line
from mobyci.families.versions import COMMIT_RE

SUPPORTED_VERSIONS = (1,)  # spec format versions this mobyci reads
# Longer values are mistakes or attacks: a URL or a ref this long is refused before it reaches any output.
MAX_URL_LENGTH = 2048
MAX_REF_LENGTH = 256
# What a ref may contain beyond git's own rules: it reaches shell lines (quoted), Buildkite strings (interpolated
# at upload), GitHub workflows (`${{ }}` expressions) and file names; none of those need anything else.
_REF_SAFE_RE = re.compile(r"^[A-Za-z0-9._/+@,=-]*$")
_SHELL_CHARS = "\"'`$\\<>{}^"
# Unicode categories that print as nothing or as whitespace: control, format (zero-width, bidi overrides),
# separators, private use, surrogates, unassigned.
_INVISIBLE = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zs", "Zl", "Zp"})
_NAME_RE = re.compile(r"^[A-Za-z0-9._:/=+@-]+$")  # check_name
VAR_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_VAR_REF_RE = re.compile(r"^\$(?:\{(?P<braced>[^}]*)\}|(?P<bare>.*))$")
_HOST_LABEL_RE = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
# The lines that end the texts a job writes through a heredoc (the patch scripts, buildkitd.toml): every
# delimiter mobyci uses has this form (plan/shell.write_heredoc insists), and no spec value may hold one.
EMBED_DELIMITER_RE = re.compile(r"MOBYCI_[A-Z_]*EOF")
_DURATION_PART_RE = re.compile(r"(\d+)\s*([a-z]+)")
_DURATION_UNITS = {
    "s": 1, "sec": 1, "secs": 1, "second": 1, "seconds": 1,
    "m": 60, "min": 60, "mins": 60, "minute": 60, "minutes": 60,
    "h": 3600, "hr": 3600, "hrs": 3600, "hour": 3600, "hours": 3600,
    "d": 86400, "day": 86400, "days": 86400,
    "w": 604800, "week": 604800, "weeks": 604800,
    "mo": 2592000, "month": 2592000, "months": 2592000,
    "y": 31536000, "yr": 31536000, "year": 31536000, "years": 31536000,
}  # fmt: skip


def fail(kind: str, message: str, **context: object) -> PydanticCustomError:
    # Messages quote the user's value: a newline in it must not start a line that reads like another problem.
    return PydanticCustomError(kind, one_line(message), dict(context) if context else None)


# The wrap validators below sit next to a constraint model.py declares (Field(pattern=…), Field(ge=…, le=…)), which
# also goes into the JSON Schema for editors; each says in our words what that one constraint asks for.

MAX_RETRY = 2  # GitLab's `retry:` takes 0 to 2; Buildkite and GitHub get the same count
_BOUNDS = ("greater_than_equal", "less_than_equal")
_PATTERN = ("string_pattern_mismatch",)


def _worded(
    value: object, handler: ValidatorFunctionWrapHandler, refused_by: tuple[str, ...], kind: str, message: str
) -> object:
    """The declared constraints (`handler`) applied to `value`; when `refused_by` one of them, our message."""
    try:
        return handler(value)
    except ValidationError as exc:
        if exc.error_count() == 1 and exc.errors()[0]["type"] in refused_by:
            raise fail(kind, message) from None
        raise


def retries(value: object, handler: ValidatorFunctionWrapHandler) -> object:
    return _worded(value, handler, _BOUNDS, "mobyci_range", f"must be between 0 and {MAX_RETRY}, got {value}")


def one_word(value: object, handler: ValidatorFunctionWrapHandler) -> object:
    return _worded(value, handler, _PATTERN, "mobyci_word", "must be one word: not empty, no spaces")


def release_version(value: object, handler: ValidatorFunctionWrapHandler) -> object:
    return _worded(value, handler, _PATTERN, "mobyci_version", f"'{value}' is not a version like 27.5.1")


def check_printable(value: str) -> None:
    if any(c.isspace() or unicodedata.category(c) in _INVISIBLE for c in value):
        raise fail("mobyci_whitespace", "must not contain spaces, newlines or control characters")


def check_length(value: str, limit: int) -> None:
    if len(value) > limit:
        raise fail("mobyci_too_long", f"is too long (at most {limit} characters)")


def _check_host(host: str, *, what: str) -> None:
    if not host:
        raise fail("mobyci_host", f"{what} has no host name")
    if ":" in host:
        # urlsplit takes the brackets off an IPv6 literal ([2001:db8::1]); a zone (%eth0) has no place in a mirror.
        try:
            address = ipaddress.IPv6Address(host)
        except ValueError:
            address = None
        if address is None or address.scope_id is not None:
            raise fail("mobyci_host", f"'{host}' is not a valid IPv6 address (without a %zone)")
        return
    if not host.isascii():
        raise fail(
            "mobyci_host",
            f"host '{host}' has non-ASCII characters (a look-alike of an ASCII name?): "
            "write its punycode form (xn--…) if you really mean it",
        )
    labels = host.rstrip(".").split(".")
    if not all(_HOST_LABEL_RE.match(label) for label in labels):
        raise fail("mobyci_host", f"'{host}' is not a valid host name")
    if all(label.isdigit() for label in labels):
        try:
            ipaddress.IPv4Address(host)
        except ValueError:
            raise fail("mobyci_host", f"'{host}' is not a valid IPv4 address") from None


def check_url(
    value: str,
    *,
    schemes: tuple[str, ...] = ("https", "http"),
    allow_path: bool = True,
    allow_user: bool = False,
    credentials_hint: str = "serve this mirror without a login (mobyci has no login for it), or reach the "
    "upstream through the proxy",
) -> str:
    """A literal URL: a scheme from `schemes`, a valid host, and never a password or token in it."""
    check_length(value, MAX_URL_LENGTH)
    check_printable(value)
    _check_shell_chars(value)
    try:
        parts = urlsplit(value)
    except ValueError as exc:  # unbalanced [ ] around an IPv6 literal
        raise fail("mobyci_url", f"'{value}' is not a valid URL ({exc})") from None
    if not parts.scheme or "://" not in value:
        raise fail(
            "mobyci_url",
            f"'{value}' has no scheme: write it as a URL, e.g. {schemes[0]}://{value.lstrip('/')}",
        )
    if parts.scheme not in schemes:
        raise fail(
            "mobyci_url",
            f"scheme '{parts.scheme}' is not allowed here: use {' or '.join(schemes)}",
        )
    if parts.password is not None or (parts.username is not None and not allow_user):
        raise fail(
            "mobyci_credentials",
            f"credentials in a URL would be written into generated files: remove them and {credentials_hint}",
        )
    try:
        parts.port  # noqa: B018  (property access validates the port)
    except ValueError:
        raise fail("mobyci_url", f"'{value}' has an invalid port") from None
    _check_host(parts.hostname or "", what=f"'{value}'")
    if not allow_path and parts.path not in ("", "/"):
        raise fail("mobyci_url", f"'{value}' has a path ('{parts.path}'): give only scheme://host[:port]")
    if parts.query or parts.fragment:
        raise fail("mobyci_url", f"'{value}' has a query or fragment: remove it")
    return value


def _check_shell_chars(value: str) -> None:
    if any(c in value for c in _SHELL_CHARS):
        # URLs reach shell scripts, Dockerfiles and YAML: none of these belong in a mirror URL.
        raise fail("mobyci_url", f"'{value}' has a quote, backslash, $ or other shell character: remove it")


def check_git_url(value: str) -> str:
    """A repository URL: https/http/ssh/git URLs, or scp-like `git@host:path`."""
    if re.match(r"^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:.", value) and "://" not in value:
        check_length(value, MAX_URL_LENGTH)
        check_printable(value)
        _check_shell_chars(value)
        user, rest = value.split("@", 1)
        host = rest.split(":", 1)[0]
        path = rest.split(":", 1)[1]
        if user.startswith("-") or host.startswith("-") or path.startswith("-"):
            # ssh and git would read `-oProxyCommand=…` as an option (CVE-2017-1000117).
            raise fail("mobyci_url", f"'{value}': the user, host and path must not start with '-'")
        _check_host(host, what=f"'{value}'")
        return value
    return check_url(
        value,
        schemes=("https", "http", "ssh", "git"),
        allow_user=value.startswith("ssh://"),
        credentials_hint="name CI variables in mirrors.git_auth ({username: ci-bot, password: $GIT_MIRROR_TOKEN})",
    )


def var_ref_name(value: str) -> str | None:
    """The CI variable a `$NAME` / `${NAME}` value refers to, or None when the value is not a reference."""
    match = _VAR_REF_RE.match(value)
    if match is None:
        return None
    name = match.group("braced") if match.group("braced") is not None else match.group("bare")
    if not VAR_NAME_RE.match(name):
        raise fail(
            "mobyci_variable",
            f"'{value}' is not a valid CI variable reference: names are letters, digits and _ and do not "
            "start with a digit ($CORP_PROXY or ${CORP_PROXY})",
        )
    return name


def check_proxy(value: str) -> str:
    """A proxy: a CI variable reference, or a URL without credentials."""
    if var_ref_name(value) is not None:
        return value
    if VAR_NAME_RE.match(value) and value == value.upper():
        # CORP_HTTP_PROXY is a variable's name with its `$` forgotten, not a host called CORP_HTTP_PROXY.
        raise fail(
            "mobyci_variable",
            f"'{value}' reads as a CI variable name without its '$': write ${value} (or a URL such as "
            "http://proxy.example.com:3128)",
        )
    return check_url(
        value,
        schemes=("http", "https", "socks5", "socks5h"),
        allow_path=False,
        credentials_hint="put the URL in a masked CI variable, then write its name here ($NAME)",
    )


def check_no_proxy_entry(value: str) -> str:
    check_length(value, 255)
    check_printable(value)
    if "," in value:
        raise fail("mobyci_no_proxy", "one host per list item: split it into several items")
    if value.startswith("$"):
        var_ref_name(value)
        return value
    if not value.isascii():
        raise fail("mobyci_no_proxy", f"'{value}' has non-ASCII characters: write its punycode form")
    if not re.match(r"^(\*|\.?[A-Za-z0-9.-]+(:\d+)?|[0-9.]+/\d+|\[?[0-9A-Fa-f:]+\]?(/\d+)?)$", value):
        raise fail(
            "mobyci_no_proxy",
            f"'{value}' is not a host, .domain, IP address or CIDR range",
        )
    return value


def duration_seconds(value: str) -> int:
    """Seconds in a human duration ('2h', '1h 30m', '90 minutes', '1 week')."""
    text = value.strip().lower()
    parts = _DURATION_PART_RE.findall(text)
    leftover = _DURATION_PART_RE.sub("", text).replace(" ", "").replace(",", "").replace("and", "")
    if not parts or leftover or any(unit not in _DURATION_UNITS for _, unit in parts):
        raise fail(
            "mobyci_duration",
            f"'{value}' is not a duration: write a number and a unit, e.g. '2h', '1h 30m', '90m', '1 week'",
        )
    return sum(int(n) * _DURATION_UNITS[unit] for n, unit in parts)


def check_duration(value: str) -> str:
    if duration_seconds(value) <= 0:
        raise fail("mobyci_duration", "must be longer than zero")
    return value


def check_git_ref(value: str) -> str:
    """git check-ref-format rules for a branch or tag name (plus: not an option, not blank)."""
    check_length(value, MAX_REF_LENGTH)
    why = _ref_problem(value)
    if why:
        raise fail("mobyci_ref", f"'{value}' is not a valid git ref: {why}")
    if not _REF_SAFE_RE.match(value):
        odd = next(c for c in value if not _REF_SAFE_RE.match(c))
        raise fail(
            "mobyci_ref",
            f"'{value}' has {odd!r}: mobyci accepts only ASCII letters, digits and . _ - / + @ , = in a ref "
            "(git allows more, but shells and CI systems read those, and a look-alike can pass for a tag)",
        )
    return value


def _ref_problem(ref: str) -> str | None:
    checks: list[tuple[bool, str]] = [
        (not ref, "it is empty"),
        (ref.startswith("-"), "it must not start with '-'"),
        (ref.startswith("/") or ref.endswith("/") or "//" in ref, "slashes must separate non-empty parts"),
        (any(part.startswith(".") for part in ref.split("/")), "no part may start with '.'"),
        (".." in ref, "it must not contain '..'"),
        (
            ref.endswith(".") or any(p.endswith(".lock") for p in ref.split("/")),
            "it must not end with '.' or '.lock'",
        ),
        ("@{" in ref or ref == "@", "it must not contain '@{' or be '@'"),
        (any(ord(c) < 0x20 or ord(c) == 0x7F for c in ref), "it contains a control character"),
        (any(c in " ~^:?*[\\" for c in ref), "it must not contain spaces or any of ~ ^ : ? * [ \\"),
    ]
    return next((why for failed, why in checks if failed), None)


# Checks model.py attaches to single fields. They live here, free of pydantic, because the compiled validator
# (compiled.py) calls them without importing the models.


def check_repo_url(value: str) -> str:
    """moby.repo: a git URL; a login reaches it only as a git mirror's (mirrors.git_auth)."""
    try:
        return check_git_url(value)
    except PydanticCustomError as exc:
        if exc.type != "mobyci_credentials":
            raise
        raise fail(
            "mobyci_credentials",
            "credentials in a URL would be written into generated files: remove them; for a repository that needs "
            "a login, map it in mirrors.git (an exact entry) and name CI variables in mirrors.git_auth",
        ) from None


def check_ref(value: str) -> str:
    if COMMIT_RE.match(value):
        return value
    return check_git_ref(value)


def check_apt(value: str) -> str:
    if value == "archive":
        return value
    if "://" in value:
        return check_apt_url(value)
    check_url(f"http://{value}", allow_path=False)
    return value


def check_apt_url(value: str) -> str:
    """An apt repository URL: apt and the rewrite's sed read it, so no query, fragment or '#'."""
    check_url(value)
    return value.rstrip("/") or value


def _check_https(value: str, kind: str, why_not_http: str) -> str:
    """An https URL; a plain-http one is refused with the reason the tool that uses it would refuse it."""
    if value.startswith("http://"):
        raise fail(kind, f"{why_not_http}: use an https URL")
    return check_url(value, schemes=("https",))


def check_registry(value: str) -> str:
    if value.startswith("http://"):
        raise fail(
            "mobyci_registry",
            "mobyci reaches the registry mirror over https only (BuildKit builders, the frozen-image script; plain "
            "http would need insecure-registry settings on each): use an https URL",
        )
    checked = check_url(
        value,
        schemes=("https",),
        credentials_hint="name CI variables in mirrors.registry_auth ({username: $HARBOR_USER, password: "
        "$HARBOR_PASSWORD})",
    )
    path = urlsplit(checked).path
    if path.strip("/"):
        # Three consumers build URLs from it, each its own way: the frozen-image script appends /v2/<image>/…
        # (moby v28.5.2 contrib/download-frozen-image-v2.sh:59,77,287 `"$registryBase/v2/$image/manifests/…"`),
        # BuildKit's mirrors take a host (emit/builder.py), the daemon's --registry-mirror a registry root. A
        # Harbor proxy cache project serves /v2/<project>/<image>: none of the three would reach it. The registry's
        # docs: "The URL of a pull-through registry mirror must be the root of a domain. No path components other
        # than an optional trailing slash (/) are allowed" (distribution.github.io/distribution/recipes/mirror).
        host = checked[: len(checked) - len(path)]
        raise fail(
            "mobyci_registry",
            f"'{value}' has a path ('{path}'): a Docker Hub mirror serves Docker Hub's repositories at its root "
            f"(the engine's --registry-mirror, BuildKit's mirrors and the frozen-image script build /v2/... on it): "
            f"give {host} if that registry serves Docker Hub at its root; a Harbor proxy cache project serves them "
            f"under its name, which fits ci.gitlab.image_prefix ({host.removeprefix('https://')}{path.rstrip('/')}"
            "/library), not mirrors.registry",
        )
    return checked


def check_login_username(value: str) -> str:
    if value.startswith("$"):
        var_ref_name(value)
        return value
    if not VAR_NAME_RE.match(value.replace("-", "_").replace(".", "_").replace("@", "_")):
        raise fail("mobyci_login", f"'{value}' is not a user name: letters, digits, . _ - @, or a $CI_VARIABLE")
    return value


def check_secret_ref(value: str) -> str:
    name = var_ref_name(value) if value.startswith("$") else None
    if name is None:
        raise fail(
            "mobyci_credentials",
            "a password in the spec would be written into generated files: put it in a masked CI variable and "
            "write its name here ($NAME)",
        )
    return value


def check_goproxy(value: str) -> str:
    for entry in value.replace("|", ",").split(","):
        if entry in ("direct", "off"):
            continue
        check_url(entry)
    return value


# GOSUMDB is `off` or a checksum database's name, optionally `+<publickey>` and then, after one space, its URL
# (`go help module-auth`: GOSUMDB="sum.golang.org+<publickey> https://sum.golang.org"; the URL defaults to
# "https://" followed by the name). A key is the name, a hash and base64: letters, digits, + / =.
_GOSUMDB_RE = re.compile(r"^([A-Za-z0-9.-]+)(\+[A-Za-z0-9+/=]+)?(?: (\S+))?$")


def check_gosumdb(value: str) -> str:
    if value == "off":
        return value
    # Shell or CI syntax in the name is refused as in every plain name, before the form is judged; the URL part
    # goes through check_url, which refuses it there.
    check_name(value.split(" ", 1)[0])
    found = _GOSUMDB_RE.match(value)
    if found is None:
        raise fail(
            "mobyci_gosumdb",
            f"'{value}' is not a GOSUMDB: write off, a checksum database's name (sum.golang.org), or "
            "name+publickey followed by one space and its https URL (go help module-auth)",
        )
    _check_host(found.group(1), what=f"'{value}'")
    if found.group(3) is not None:
        check_url(found.group(3))
    return value


def gosumdb_url(value: str) -> str | None:
    """The URL Go reaches for checksums under GOSUMDB=`value` (None for off): its URL part, else https://name."""
    if value == "off":
        return None
    name, _, url = value.partition(" ")
    return url or "https://" + name.split("+", 1)[0]


def check_name(value: str) -> str:
    """Runner tags, queues, runner labels and GOSUMDB are plain names: they reach YAML, Buildkite strings that
    the agent interpolates at upload, and GitHub expressions. Nothing else belongs in them."""
    if not _NAME_RE.match(value):
        odd = next(c for c in value if not _NAME_RE.match(c))
        raise fail(
            "mobyci_name",
            f"'{value}' has {odd!r}: write a plain name (letters, digits and . _ - : / = + @), no shell or CI syntax",
        )
    return value


def check_alpine(value: str) -> str:
    return check_url(value).rstrip("/")


def check_pypi(value: str) -> str:
    return _check_https(value, "mobyci_pypi", "pip refuses a plain-http index unless the host is also trusted")


# `mobyci` with PEP 440 version clauses: mobyci==0.1.0, mobyci~=0.1, mobyci>=0.1,<0.2.
_VERSION_CLAUSE = r"(?:~=|===?|!=|<=|>=|<|>)[A-Za-z0-9.*+!_-]+"
_NAMED_REQUIREMENT_RE = re.compile(rf"^mobyci(?:{_VERSION_CLAUSE}(?:,{_VERSION_CLAUSE})*)?$")
_ARCHIVE_SUFFIXES = (".whl", ".tar.gz", ".zip")


def check_mobyci_requirement(value: str) -> str:
    """What pip installs mobyci from: `mobyci` with a version, a VCS URL, the URL of a wheel or sdist, or a wheel
    committed in the repository."""
    check_printable(value)
    if _NAMED_REQUIREMENT_RE.match(value):
        return value
    if value.startswith(("git+https://", "git+ssh://")):
        check_url(value.removeprefix("git+"), schemes=("https", "ssh"), allow_user=value.startswith("git+ssh://"))
        return value
    if "://" in value:
        _check_https(value, "mobyci_requirement", "pip refuses a plain-http download unless the host is trusted")
        if not value.endswith(_ARCHIVE_SUFFIXES):
            raise fail(
                "mobyci_requirement",
                f"'{value}' is not a wheel or source archive: the URL must end in .whl, .tar.gz or .zip",
            )
        return value
    if value.endswith(".whl"):
        # A wheel committed in the repository, relative to its root (where CI jobs start).
        parts = value.split("/")
        if value.startswith(("/", "-", "~")) or ".." in parts or "\\" in value:
            raise fail(
                "mobyci_requirement",
                f"'{value}' is not a path inside the repository: name the committed wheel relative to the "
                "repository root, e.g. tools/mobyci-0.1.0-py3-none-any.whl",
            )
        return value
    raise fail(
        "mobyci_requirement",
        f"'{value}' is not a pip requirement for mobyci: write mobyci==VERSION (from the index, mirrors.pypi "
        "when set), git+https://HOST/PATH.git@TAG, the https URL of a wheel, or the path of a wheel committed in "
        "the repository (tools/mobyci-0.1.0-py3-none-any.whl)",
    )


# A registry host (a dot, a port or localhost: otherwise Docker reads it as a Docker Hub account), then
# repository path components as Docker's reference grammar allows them.
_IMAGE_PREFIX_RE = re.compile(
    r"^(?P<host>[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?(?::[0-9]{1,5})?)(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$"
)


def check_image_prefix(value: str) -> str:
    check_printable(value)
    if value.startswith("$"):
        var_ref_name(value)  # raises unless the whole value is one valid $NAME or ${NAME}
        return value
    found = _IMAGE_PREFIX_RE.match(value.rstrip("/"))
    if found is None:
        raise fail(
            "mobyci_image_prefix",
            f"'{value}' is not a registry path: write host[:port][/path] in lower case, without a scheme "
            "(registry.example.com/dockerhub), or a CI variable such as $CI_DEPENDENCY_PROXY_GROUP_IMAGE_PREFIX",
        )
    host = found.group("host")
    if "." not in host and ":" not in host and host != "localhost":
        raise fail(
            "mobyci_image_prefix",
            f"'{host}' would be read as a Docker Hub account: start with a registry host (a name with a dot, "
            "or host:port)",
        )
    return value.rstrip("/")


def check_cache_repository(value: str) -> str:
    """A registry repository for the BuildKit cache (host[:port]/path), or a CI variable holding one."""
    if value.startswith("$"):
        return check_image_prefix(value)
    if "/" not in value.rstrip("/") or ":" in value.rstrip("/").rsplit("/", 1)[-1] or "@" in value:
        raise fail(
            "mobyci_cache_repository",
            f"'{value}' is not a registry repository: write host[:port]/path in lower case, without a scheme or a "
            "tag (registry.example.com/ci/moby-cache); mobyci adds one tag per family, target and architecture",
        )
    return check_image_prefix(value)


def check_expire(value: str) -> str:
    return value if value == "never" else check_duration(value)


def family_number(value: Any) -> Any:
    """`family: 29` unquoted is the family "29"; a float is refused by the strict str check (20.10 reads 20.1)."""
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


def target_shorthand(value: Any) -> Any:
    return {"name": value} if isinstance(value, str) else value


def version_first(value: Any) -> Any:
    if value not in SUPPORTED_VERSIONS:
        raise fail(
            "mobyci_version",
            f"unsupported spec version {value!r}: this mobyci reads version "
            + ", ".join(str(v) for v in SUPPORTED_VERSIONS),
        )
    return value


def check_output_path(value: str) -> str:
    check_printable(value)
    parts = value.replace("\\", "/").split("/")
    if value.startswith("/") or ".." in parts or not value or value.endswith("/"):
        raise fail(
            "mobyci_output",
            f"'{value}' must be a file path relative to the repository root, inside it (no '..', not absolute)",
        )
    return value


_CA_PATH_RE = re.compile(r"^[A-Za-z0-9._/-]+$")


def check_ca_cert(value: str) -> str:
    """A CA certificate: a CI variable reference, or a plain relative path inside the repository."""
    if value.startswith("$"):
        var_ref_name(value)
        return value
    check_printable(value)
    check_length(value, 256)
    parts = value.split("/")
    if value.startswith("/") or ".." in parts or value.endswith("/") or not _CA_PATH_RE.match(value):
        raise fail(
            "mobyci_ca_cert",
            f"'{value}' is neither a CI variable reference ($CORP_CA_CERT) nor a file path inside the repository "
            "(relative to the spec's directory; letters, digits, '.', '_', '-' and '/', no '..'): give the CA "
            "through a CI variable, or commit a public CA and name its path",
        )
    return value
