"""Distro lifecycle: when each distro docker-ce-packaging offers reaches end of life, and when the repositories
its package image installs from stop serving it.

Every row names where its dates come from. `gone` is the day from which the package image's
`apt-get update` / `dnf install` / `yum install` can no longer work against the distro's regular repositories
(docker-ce-packaging has no knob to point them elsewhere); None where they still serve it. The day mobyci runs
comes from MOBYCI_TODAY (YYYY-MM-DD, for tests and reproducible checks) or the clock; only messages depend on
it, never generated files.
"""

from __future__ import annotations

import datetime
import os
from typing import NamedTuple

from mobyci.errors import MobyciError

WARN_DAYS = 90
TODAY_VAR = "MOBYCI_TODAY"

_DEBIAN = "https://wiki.debian.org/DebianReleases"
_DEBIAN_LTS = "https://wiki.debian.org/LTS"
_UBUNTU = "https://wiki.ubuntu.com/Releases"
_FEDORA = "https://docs.fedoraproject.org/en-US/releases/eol/"
_FEDORA_SCHEDULE = "https://fedorapeople.org/groups/schedule/"
_CENTOS = "https://www.centos.org/centos-linux-eol/"
_CENTOS_STREAM = "https://www.centos.org/centos-stream/"
_RHEL = "https://access.redhat.com/support/policy/updates/errata"

_DEBIAN_ARCHIVED = "its suites moved to archive.debian.org (deb.debian.org no longer serves them)"
_UBUNTU_INTERIM = (
    "end-of-life interim releases move to old-releases.ubuntu.com, where the image's archive.ubuntu.com "
    "sources do not reach"
)
_FEDORA_GONE = "end-of-life releases leave the Fedora mirrors the image's dnf metalink points at"


class Lifecycle(NamedTuple):
    distro: str
    name: str
    eol: datetime.date  # end of the support the repositories follow (Debian: LTS; Ubuntu: standard support)
    gone: datetime.date | None  # from this day the image's repositories no longer serve it
    why: str  # what happens from `gone` on (or what `eol` means when gone is None)
    source: str  # where the dates come from


def _d(text: str) -> datetime.date:
    return datetime.date.fromisoformat(text)


def _debian(release: str, name: str, eol: str, gone: bool, source: str = _DEBIAN_LTS) -> Lifecycle:
    why = f"Debian LTS ended on {eol}; {_DEBIAN_ARCHIVED}" if gone else "end of Debian LTS"
    return Lifecycle(f"debian-{release}", name, _d(eol), _d(eol) if gone else None, why, source)


def _raspbian(debian: Lifecycle) -> Lifecycle:
    release = debian.distro.removeprefix("debian-")
    why = f"Raspbian rebuilds Debian {release} and ends with it: Debian LTS ended on {debian.eol.isoformat()}"
    return debian._replace(
        distro=f"raspbian-{release}",
        name=debian.name.replace("Debian", "Raspbian"),
        why=why if debian.gone else debian.why,
    )


def _ubuntu(release: str, name: str, eol: str, *, lts: bool) -> Lifecycle:
    if lts:
        # LTS releases stay on archive.ubuntu.com through Expanded Security Maintenance.
        return Lifecycle(f"ubuntu-{release}", name, _d(eol), None, "end of standard support", _UBUNTU)
    return Lifecycle(f"ubuntu-{release}", name, _d(eol), _d(eol), f"end of life on {eol}; {_UBUNTU_INTERIM}", _UBUNTU)


def _fedora(number: int, eol: str, source: str = _FEDORA) -> Lifecycle:
    return Lifecycle(
        f"fedora-{number}", f"Fedora {number}", _d(eol), _d(eol), f"end of life on {eol}; {_FEDORA_GONE}", source
    )


_DEBIANS = (
    _debian("stretch", "Debian 9 stretch", "2022-06-30", gone=True),
    _debian("buster", "Debian 10 buster", "2024-06-30", gone=True),
    _debian("bullseye", "Debian 11 bullseye", "2026-08-31", gone=False),
    _debian("bookworm", "Debian 12 bookworm", "2028-06-30", gone=False),
    _debian("trixie", "Debian 13 trixie", "2030-06-30", gone=False, source=_DEBIAN),
)

LIFECYCLE: dict[str, Lifecycle] = {
    row.distro: row
    for row in (
        *_DEBIANS,
        *(_raspbian(d) for d in _DEBIANS if d.distro != "debian-trixie"),
        _ubuntu("xenial", "Ubuntu 16.04 LTS xenial", "2021-04-30", lts=True),
        _ubuntu("bionic", "Ubuntu 18.04 LTS bionic", "2023-05-31", lts=True),
        _ubuntu("focal", "Ubuntu 20.04 LTS focal", "2025-05-29", lts=True),
        _ubuntu("jammy", "Ubuntu 22.04 LTS jammy", "2027-06-01", lts=True),
        _ubuntu("kinetic", "Ubuntu 22.10 kinetic", "2023-07-20", lts=False),
        _ubuntu("lunar", "Ubuntu 23.04 lunar", "2024-01-25", lts=False),
        _ubuntu("mantic", "Ubuntu 23.10 mantic", "2024-07-11", lts=False),
        _ubuntu("noble", "Ubuntu 24.04 LTS noble", "2029-05-31", lts=True),
        _ubuntu("oracular", "Ubuntu 24.10 oracular", "2025-07-10", lts=False),
        _ubuntu("plucky", "Ubuntu 25.04 plucky", "2026-01-15", lts=False),
        _ubuntu("questing", "Ubuntu 25.10 questing", "2026-07-09", lts=False),
        _ubuntu("resolute", "Ubuntu 26.04 LTS resolute", "2031-05-31", lts=True),
        _fedora(32, "2021-05-25"),
        _fedora(36, "2023-05-16"),
        _fedora(37, "2023-12-05"),
        _fedora(38, "2024-05-21"),
        _fedora(39, "2024-11-26"),
        _fedora(40, "2025-05-13"),
        _fedora(41, "2025-12-15"),
        _fedora(42, "2026-05-13"),
        # Planned: four weeks after the release of Fedora 45 and 46 (the Fedora schedule).
        _fedora(43, "2026-12-09", source=_FEDORA_SCHEDULE),
        _fedora(44, "2027-05-19", source=_FEDORA_SCHEDULE),
        Lifecycle(
            "centos-7",
            "CentOS Linux 7",
            _d("2024-06-30"),
            _d("2024-06-30"),
            "end of life on 2024-06-30; mirrorlist.centos.org is shut down and the packages survive only on "
            "vault.centos.org, which the docker-ce-packaging Dockerfile cannot be pointed at",
            _CENTOS,
        ),
        Lifecycle(
            "centos-8",
            "CentOS Stream 8",
            _d("2024-05-31"),
            _d("2024-05-31"),
            "end of life on 2024-05-31; its repositories moved to vault.centos.org",
            _CENTOS_STREAM,
        ),
        Lifecycle("centos-9", "CentOS Stream 9", _d("2027-05-31"), None, "end of life", _CENTOS_STREAM),
        Lifecycle("centos-10", "CentOS Stream 10", _d("2030-01-01"), None, "end of life", _CENTOS_STREAM),
        Lifecycle(
            "rhel-7",
            "RHEL 7",
            _d("2024-06-30"),
            _d("2024-06-30"),
            "left maintenance on 2024-06-30; its packages come only with an Extended Life Cycle Support "
            "subscription, and the rhel-7 image (dockereng/rhel:7-s390x) is s390x-only",
            _RHEL,
        ),
        Lifecycle("rhel-8", "RHEL 8", _d("2029-05-31"), None, "end of maintenance support", _RHEL),
        Lifecycle("rhel-9", "RHEL 9", _d("2032-05-31"), None, "end of maintenance support", _RHEL),
        Lifecycle("rhel-10", "RHEL 10", _d("2035-05-31"), None, "end of maintenance support", _RHEL),
    )
}


class TodayError(MobyciError):
    """MOBYCI_TODAY is set to something that is not a date."""


def today() -> datetime.date:
    """The day mobyci runs: MOBYCI_TODAY when set, else the local date."""
    text = os.environ.get(TODAY_VAR)
    if not text:
        return datetime.date.today()
    try:
        return datetime.date.fromisoformat(text)
    except ValueError:
        raise TodayError(f"{TODAY_VAR}={text!r} is not a date: write it as YYYY-MM-DD") from None


def problem(distro: str, day: datetime.date) -> str | None:
    """Why packages for `distro` cannot be built on `day`, or None when they can."""
    row = LIFECYCLE.get(distro)
    if row is None or row.gone is None or day < row.gone:
        return None
    return (
        f"'{distro}' cannot be built as of {day.isoformat()}: {row.name}: {row.why} ({row.source}); "
        "choose a supported release of the distribution"
    )


def warning(distro: str, day: datetime.date) -> str | None:
    """A heads-up when `distro` is within WARN_DAYS of its end of life, or past it while still served."""
    row = LIFECYCLE.get(distro)
    if row is None or problem(distro, day) is not None:
        return None
    left = (row.eol - day).days
    if left > WARN_DAYS:
        return None
    if left < 0:
        return f"'{distro}': {row.name} reached {row.why} on {row.eol.isoformat()} ({row.source})"
    ending = f"{row.why} on {row.eol.isoformat()}" if row.gone is None else f"end of life on {row.eol.isoformat()}"
    return f"'{distro}': {row.name} reaches {ending}, in {left} days ({row.source}); plan to move on"
