"""Broken specs, each with the exact problem lines a user sees (test_spec_errors.py; test_compiled.py compares
the compiled schema with the models on them)."""

from __future__ import annotations

# (case id, spec text, expected problem lines in order). Messages are the user interface: they are written
# here by hand, not copied from output.
CASES: list[tuple[str, str, list[str]]] = [
    (
        "image-prefix-docker-hub-account",
        "version: 1\nmoby: {ref: v27.5.1}\ntargets: [binary]\nci:\n  gitlab: {image_prefix: mirror/dockerhub}\n",
        [
            "mobyci.yaml:5:26: ci.gitlab.image_prefix: 'mirror' would be read as a Docker Hub account: start with "
            "a registry host (a name with a dot, or host:port)"
        ],
    ),
    (
        "image-prefix-with-scheme",
        "version: 1\nmoby: {ref: v27.5.1}\ntargets: [binary]\nci:\n  gitlab: {image_prefix: 'https://r.example'}\n",
        [
            "mobyci.yaml:5:26: ci.gitlab.image_prefix: 'https://r.example' is not a registry path: write "
            "host[:port][/path] in lower case, without a scheme (registry.example.com/dockerhub), or a CI variable "
            "such as $CI_DEPENDENCY_PROXY_GROUP_IMAGE_PREFIX"
        ],
    ),
    (
        "buildkite-cache-with-a-tag",
        "version: 1\nmoby: {ref: v27.5.1}\ntargets: [binary]\nci:\n  buildkite: {cache: 'r.example/ci/cache:main'}\n",
        [
            "mobyci.yaml:5:22: ci.buildkite.cache: 'r.example/ci/cache:main' is not a registry repository: write "
            "host[:port]/path in lower case, without a scheme or a tag (registry.example.com/ci/moby-cache); mobyci "
            "adds one tag per family, target and architecture"
        ],
    ),
    (
        "buildkite-cache-a-host-only",
        "version: 1\nmoby: {ref: v27.5.1}\ntargets: [binary]\nci:\n  buildkite: {cache: r.example}\n",
        [
            "mobyci.yaml:5:22: ci.buildkite.cache: 'r.example' is not a registry repository: write "
            "host[:port]/path in lower case, without a scheme or a tag (registry.example.com/ci/moby-cache); mobyci "
            "adds one tag per family, target and architecture"
        ],
    ),
    (
        "pypi-plain-http",
        "version: 1\nmoby: {ref: v27.5.1}\nmirrors:\n  pypi: http://pypi.corp.example/simple\ntargets: [binary]\n",
        [
            "mobyci.yaml:4:9: mirrors.pypi: pip refuses a plain-http index unless the host is also trusted: "
            "use an https URL"
        ],
    ),
    (
        "alpine-without-scheme",
        "version: 1\nmoby: {ref: v27.5.1}\nmirrors: {alpine: mirrors.example.com/alpine}\ntargets: [binary]\n",
        [
            "mobyci.yaml:3:19: mirrors.alpine: 'mirrors.example.com/alpine' has no scheme: write it as a URL, "
            "e.g. https://mirrors.example.com/alpine"
        ],
    ),
    ("empty", "", ["mobyci.yaml:1:1: the file is empty: run `mobyci init` for a starter spec"]),
    ("comments-only", "# nothing\n\n", ["mobyci.yaml:1:1: the file is empty: run `mobyci init` for a starter spec"]),
    (
        "top-level-list",
        "- version: 1\n",
        ["mobyci.yaml:1:1: the top level must be a mapping of keys (version, moby, targets, …)"],
    ),
    (
        "top-level-scalar",
        "hello\n",
        ["mobyci.yaml:1:1: the top level must be a mapping of keys (version, moby, targets, …)"],
    ),
    (
        "syntax-error",
        "version: 1\nmoby:\n  ref: [v1\n",
        ["mobyci.yaml:4:1: the '[' at line 3, column 8 is never closed: add ']'"],
    ),
    (
        "duplicate-key",
        "version: 1\nmoby:\n  ref: v19.03.12\n  ref: v20.10.27\ntargets: [binary]\n",
        ["mobyci.yaml:4:3: moby.ref: duplicate key (first at line 3): keep one"],
    ),
    (
        "merge-key",
        "base: &b {ref: v19.03.12}\nversion: 1\nmoby:\n  <<: *b\ntargets: [binary]\n",
        ["mobyci.yaml:4:3: moby: merge keys (<<) are not supported: write the keys out"],
    ),
    (
        "python-tag",
        "version: 1\nmoby: !!python/object:os.system {ref: x}\ntargets: [binary]\n",
        ["mobyci.yaml:2:7: moby: custom YAML tag !!python/object:os.system is not allowed: remove it"],
    ),
    (
        "non-string-key",
        "version: 1\n1: x\nmoby: {ref: v19.03.12}\ntargets: [binary]\n",
        ["mobyci.yaml:2:1: keys must be strings, not 1: quote the key"],
    ),
    (
        "no-version",
        "moby: {ref: v19.03.12}\ntargets: [binary]\n",
        ["mobyci.yaml:1:1: version: required key is missing"],
    ),
    (
        "version-2",
        "version: 2\nmoby: {ref: v19.03.12}\ntargets: [binary]\n",
        ["mobyci.yaml:1:10: version: unsupported spec version 2: this mobyci reads version 1"],
    ),
    (
        "unknown-top-key",
        "version: 1\nmoby: {ref: v19.03.12}\ntarget: [binary]\n",
        [
            "mobyci.yaml:1:1: targets: required key is missing",
            "mobyci.yaml:3:1: target: unknown key 'target'; did you mean 'targets'?",
        ],
    ),
    (
        "unknown-key-no-suggestion",
        "version: 1\nmoby: {ref: v19.03.12, zzz: 1}\nmirrors: {apt: archive}\ntargets: [binary]\n",
        ["mobyci.yaml:2:24: moby.zzz: unknown key 'zzz'; allowed here: repo, ref, family"],
    ),
    (
        "ref-with-dotdot",
        "version: 1\nmoby: {ref: 'a..b', family: '29'}\ntargets: [binary]\n",
        ["mobyci.yaml:2:13: moby.ref: 'a..b' is not a valid git ref: it must not contain '..'"],
    ),
    (
        "ref-with-space",
        "version: 1\nmoby:\n  ref: 'my branch'\n  family: '29'\ntargets: [binary]\n",
        [
            "mobyci.yaml:3:8: moby.ref: 'my branch' is not a valid git ref: "
            "it must not contain spaces or any of ~ ^ : ? * [ \\"
        ],
    ),
    (
        "ref-option-like",
        "version: 1\nmoby:\n  ref: '--upload-pack=x'\n  family: '29'\ntargets: [binary]\n",
        ["mobyci.yaml:3:8: moby.ref: '--upload-pack=x' is not a valid git ref: it must not start with '-'"],
    ),
    (
        "branch-without-family",
        "version: 1\nmoby:\n  ref: master\ntargets: [binary]\n",
        [
            "mobyci.yaml:3:3: moby.family: required: the ref 'master' is a branch, so mobyci cannot tell which "
            "release it builds like. Add moby.family (one of 19.03, 20.10, 23.0, 24.0, 25-28, 29, or a version "
            "such as 26.1)"
        ],
    ),
    (
        "unknown-family",
        "version: 1\nmoby:\n  ref: master\n  family: '21.0'\ntargets: [binary]\n",
        [
            "mobyci.yaml:4:11: moby.family: unknown family '21.0': use one of 19.03, 20.10, 23.0, 24.0, 25-28, 29, "
            "or a version such as 26.1"
        ],
    ),
    (
        "family-as-number",
        "version: 1\nmoby:\n  ref: master\n  family: 19.03\ntargets: [binary]\n",
        ['mobyci.yaml:4:11: moby.family: expected a string, got a number (19.03): quote it ("19.03")'],
    ),
    (
        "family-mismatch",
        "version: 1\nmoby:\n  ref: v19.03.12\n  family: '20.10'\ntargets: [binary]\n",
        [
            "mobyci.yaml:4:11: moby.family: '20.10' does not match ref v19.03.12 (family 19.03): remove "
            "moby.family (it is derived from the tag) or correct it"
        ],
    ),
    (
        "tag-too-old",
        "version: 1\nmoby:\n  ref: v18.09.9\ntargets: [binary]\n",
        [
            "mobyci.yaml:3:8: moby.ref: v18.09.9 is not in a supported release family (supported: 19.03, 20.10, "
            "23.0, 24.0, 25-28, 29): pick a release from 19.03 on"
        ],
    ),
    (
        "repo-credentials",
        "version: 1\nmoby:\n  repo: https://bob:hunter2@github.com/moby/moby.git\n  ref: v19.03.12\n"
        "targets: [binary]\n",
        [
            "mobyci.yaml:3:9: moby.repo: credentials in a URL would be written into generated files: remove them; "
            "for a repository that needs a login, map it in mirrors.git (an exact entry) and name CI variables in "
            "mirrors.git_auth"
        ],
    ),
    (
        "repo-file-scheme",
        "version: 1\nmoby:\n  repo: file:///srv/moby\n  ref: v19.03.12\ntargets: [binary]\n",
        ["mobyci.yaml:3:9: moby.repo: scheme 'file' is not allowed here: use https or http or ssh or git"],
    ),
    (
        "registry-http",
        "version: 1\nmoby: {ref: v19.03.12}\nmirrors: {registry: 'http://mirror.example.com'}\ntargets: [binary]\n",
        [
            "mobyci.yaml:3:21: mirrors.registry: mobyci reaches the registry mirror over https only (BuildKit "
            "builders, the frozen-image script; plain http would need insecure-registry settings on each): use an "
            "https URL"
        ],
    ),
    (
        "registry-credentials",
        "version: 1\nmoby: {ref: v19.03.12}\nmirrors: {registry: 'https://u:p@mirror.example.com'}\n"
        "targets: [binary]\n",
        [
            "mobyci.yaml:3:21: mirrors.registry: credentials in a URL would be written into generated files: "
            "remove them and name CI variables in mirrors.registry_auth ({username: $HARBOR_USER, password: "
            "$HARBOR_PASSWORD})"
        ],
    ),
    (
        "registry-harbor-project-path",
        "version: 1\nmoby: {ref: v19.03.12}\nmirrors: {registry: 'https://harbor.corp.example/dockerhub'}\n"
        "targets: [binary]\n",
        [
            "mobyci.yaml:3:21: mirrors.registry: 'https://harbor.corp.example/dockerhub' has a path ('/dockerhub'): "
            "a Docker Hub mirror serves Docker Hub's repositories at its root (the engine's --registry-mirror, "
            "BuildKit's mirrors and the frozen-image script build /v2/... on it): give https://harbor.corp.example "
            "if that registry serves Docker Hub at its root; a Harbor proxy cache project serves them under its "
            "name, which fits ci.gitlab.image_prefix (harbor.corp.example/dockerhub/library), not mirrors.registry"
        ],
    ),
    (
        "registry-no-scheme",
        "version: 1\nmoby: {ref: v19.03.12}\nmirrors: {registry: mirror.example.com}\ntargets: [binary]\n",
        [
            "mobyci.yaml:3:21: mirrors.registry: 'mirror.example.com' has no scheme: write it as a URL, e.g. "
            "https://mirror.example.com"
        ],
    ),
    (
        "git-prefix-mismatch",
        "version: 1\nmoby: {ref: v19.03.12}\nmirrors:\n  git: {'https://github.com/': 'https://gitee.com'}\n"
        "targets: [binary]\n",
        [
            "mobyci.yaml:4:32: mirrors.git[\"https://github.com/\"]: 'https://github.com/' and 'https://gitee.com' "
            "must both end with '/' "
            "(a prefix rewrite) or both not (an exact repository)"
        ],
    ),
    (
        "lookalike-host",
        "version: 1\nmoby: {ref: v19.03.12}\nmirrors:\n  git: {'https://github.com/': 'https://g\u0456thub.com/'}\n"
        "targets: [binary]\n",
        [
            "mobyci.yaml:4:32: mirrors.git[\"https://github.com/\"]: host 'g\u0456thub.com' has non-ASCII "
            "characters (a look-alike of an ASCII "
            "name?): write its punycode form (xn--…) if you really mean it"
        ],
    ),
    (
        "proxy-literal-password",
        "version: 1\nmoby: {ref: v19.03.12}\nproxy: {http: 'http://bob:secret@proxy.corp:3128'}\ntargets: [binary]\n",
        [
            "mobyci.yaml:3:15: proxy.http: credentials in a URL would be written into generated files: remove them "
            "and put the URL in a masked CI variable, then write its name here ($NAME)"
        ],
    ),
    (
        "proxy-bad-variable",
        "version: 1\nmoby: {ref: v19.03.12}\nproxy: {http: '$1PROXY'}\ntargets: [binary]\n",
        [
            "mobyci.yaml:3:15: proxy.http: '$1PROXY' is not a valid CI variable reference: names are letters, "
            "digits and _ and do not start with a digit ($CORP_PROXY or ${CORP_PROXY})"
        ],
    ),
    (
        "proxy-command-substitution",
        "version: 1\nmoby: {ref: v19.03.12}\nproxy: {https: '$(curl evil)'}\ntargets: [binary]\n",
        [
            "mobyci.yaml:3:16: proxy.https: '$(curl evil)' is not a valid CI variable reference: names are letters, "
            "digits and _ and do not start with a digit ($CORP_PROXY or ${CORP_PROXY})"
        ],
    ),
    (
        "proxy-reserved-name",
        "version: 1\nmoby: {ref: v19.03.12}\nproxy: {http: $HTTP_PROXY}\ntargets: [binary]\n",
        [
            "mobyci.yaml:3:15: proxy.http: the CI variable must not be called HTTP_PROXY: GitLab passes YAML "
            "variables to the docker-in-docker service only under a different name. Rename it in your CI settings "
            "(e.g. CORP_HTTP_PROXY)"
        ],
    ),
    (
        "no-proxy-comma",
        "version: 1\nmoby: {ref: v19.03.12}\nproxy: {no_proxy: ['a.example,b.example']}\ntargets: [binary]\n",
        ["mobyci.yaml:3:20: proxy.no_proxy[0]: one host per list item: split it into several items"],
    ),
    (
        "targets-empty",
        "version: 1\nmoby: {ref: v19.03.12}\ntargets: []\n",
        ["mobyci.yaml:3:10: targets: must not be empty"],
    ),
    (
        "target-unknown",
        "version: 1\nmoby: {ref: v19.03.12}\ntargets: [binray]\n",
        [
            "mobyci.yaml:3:11: targets[0].name: 'binray' is not one of: binary, dynbinary, cross, rpm, deb; "
            "did you mean 'binary'?"
        ],
    ),
    (
        "target-duplicate",
        "version: 1\nmoby: {ref: v19.03.12}\ntargets:\n  - binary\n  - name: binary\n",
        ["mobyci.yaml:5:11: targets[1].name: target binary is listed twice: merge the two entries"],
    ),
    (
        "platforms-on-binary",
        "version: 1\nmoby: {ref: v19.03.12}\ntargets:\n  - name: binary\n    platforms: [linux/arm64]\n",
        ["mobyci.yaml:5:16: targets[0].platforms: only the cross target takes platforms, not binary"],
    ),
    (
        "distros-on-cross",
        "version: 1\nmoby: {ref: v28.5.2}\ntargets:\n  - name: cross\n    distros: [debian-bookworm]\n",
        ["mobyci.yaml:5:14: targets[0].distros: only the rpm and deb targets take distros, not cross"],
    ),
    (
        "platform-not-in-family",
        # 19.03 handles arm/v5 and arm/v7 (hack/make/cross sets GOARM, .binary a C toolchain) but not arm/v6.
        "version: 1\nmoby: {ref: v19.03.12}\ntargets:\n  - name: cross\n    platforms: [linux/arm/v6]\n",
        [
            "mobyci.yaml:5:17: targets[0].platforms[0]: 'linux/arm/v6' is not supported by v19.03.12 (its tree's "
            "cross build): use one of linux/amd64, linux/arm, linux/arm/v5, linux/arm/v7, linux/arm64, windows/amd64"
        ],
    ),
    (
        "rpm-without-distros",
        "version: 1\nmoby: {ref: v27.5.1}\ntargets:\n  - rpm\n",
        ["mobyci.yaml:4:5: targets[0].distros: required: list the distros to build rpm packages for"],
    ),
    (
        "distro-not-in-branch",
        "version: 1\nmoby: {ref: v27.5.1}\ntargets:\n  - name: rpm\n    distros: [centos-7]\n",
        [
            "mobyci.yaml:5:15: targets[0].distros[0]: 'centos-7' is not supported by docker-ce-packaging branch "
            "27.x (family 25-28): use one of centos-9, centos-10, rhel-8, rhel-9"
        ],
    ),
    (
        # A heredoc delimiter mobyci ends an embedded script with would end it early inside a job.
        "embed-delimiter-in-a-value",
        "version: 1\nmoby: {ref: v28.5.2}\nmirrors: {apt: 'https://deb.example.com/MOBYCI_PKG_PATCH_EOF'}\n"
        "targets: [binary]\n",
        [
            "mobyci.yaml:3:16: mirrors.apt: contains MOBYCI_PKG_PATCH_EOF, which ends a text mobyci embeds in the "
            "pipeline: remove it"
        ],
    ),
    (
        # Only distros that still have package repositories are offered (the tests' day is 2026-12-01): the
        # branch (deb/ on docker-ce-packaging 20.10) also lists debian-buster, raspbian-buster and ubuntu-kinetic,
        # whose repositories are gone.
        "distro-hint-offers-live-distros-only",
        "version: 1\nmoby: {ref: v20.10.27}\ntargets:\n  - name: deb\n    distros: [debian-busterx]\n",
        [
            "mobyci.yaml:5:15: targets[0].distros[0]: 'debian-busterx' is not supported by docker-ce-packaging "
            "branch 20.10 (family 20.10): did you mean 'debian-bullseye'? Supported: debian-bullseye, "
            "raspbian-bullseye, ubuntu-bionic, ubuntu-focal, ubuntu-jammy"
        ],
    ),
    (
        "timeout-garbage",
        "version: 1\nmoby: {ref: v19.03.12}\ntargets: [binary]\nci: {timeout: soon}\n",
        [
            "mobyci.yaml:4:15: ci.timeout: 'soon' is not a duration: write a number and a unit, e.g. '2h', "
            "'1h 30m', '90m', '1 week'"
        ],
    ),
    (
        "retry-too-high",
        "version: 1\nmoby: {ref: v19.03.12}\ntargets: [binary]\nci: {retry: 3}\n",
        ["mobyci.yaml:4:13: ci.retry: must be between 0 and 2, got 3"],
    ),
    (
        "retry-string",
        "version: 1\nmoby: {ref: v19.03.12}\ntargets: [binary]\nci: {retry: 'two'}\n",
        ["mobyci.yaml:4:13: ci.retry: expected a whole number, got a string ('two')"],
    ),
    (
        "runner-typo",
        "version: 1\nmoby: {ref: v19.03.12}\ntargets: [binary]\nci: {gitlab: {runner: shel}}\n",
        ["mobyci.yaml:4:23: ci.gitlab.runner: 'shel' is not one of: dind, shell; did you mean 'shell'?"],
    ),
    (
        "docker-version-number",
        "version: 1\nmoby: {ref: v19.03.12}\ntargets: [binary]\nci: {gitlab: {docker_version: 27.5}}\n",
        # Quoted, 27.5 is no version either: the message says what the field needs instead of "quote it".
        [
            "mobyci.yaml:4:31: ci.gitlab.docker_version: expected a string, got a number (27.5); '27.5' is not a "
            "version like 27.5.1"
        ],
    ),
    (
        "yes-is-a-string",
        "version: 1\nmoby: {ref: v19.03.12}\ntargets: [binary]\nci: {gitlab: {runner: yes}}\n",
        ["mobyci.yaml:4:23: ci.gitlab.runner: 'yes' is not one of: dind, shell"],
    ),
    (
        "mirrors-not-mapping",
        "version: 1\nmoby: {ref: v19.03.12}\nmirrors: [apt]\ntargets: [binary]\n",
        ["mobyci.yaml:3:10: mirrors: expected a mapping of keys, got a list"],
    ),
    (
        "apt-archive-wrong-family",
        "version: 1\nmoby: {ref: v27.5.1}\nmirrors: {apt: archive}\ntargets: [binary]\n",
        [
            "mobyci.yaml:3:16: mirrors.apt: 'archive' serves archived Debian releases, but family 25-28 builds on "
            "Debian bookworm, which is still on the regular mirrors: give a mirror host or URL instead"
        ],
    ),
    (
        "apt-host-for-archived-debian",
        "version: 1\nmoby: {ref: v19.03.12}\nmirrors: {apt: mirrors.example.com}\ntargets: [binary]\n",
        [
            "mobyci.yaml:3:16: mirrors.apt: 'mirrors.example.com' mirrors deb.debian.org, but family 19.03 builds on "
            "Debian buster, which is archived there: write `apt: archive` (archive.debian.org) or `apt: {archive: "
            "URL}` with a mirror of archive.debian.org, e.g. https://mirrors.tuna.tsinghua.edu.cn/debian-archive"
        ],
    ),
    (
        "apt-missing-for-archived-debian",
        "version: 1\nmoby: {ref: v19.03.12}\ntargets: [binary]\n",
        [
            "mobyci.yaml:1:1: mirrors.apt: required: family 19.03 builds on Debian buster, which is archived "
            "(deb.debian.org answers 404 for it): write `apt: archive` (archive.debian.org) or `apt: {archive: URL}` "
            "with a mirror of archive.debian.org, e.g. https://mirrors.tuna.tsinghua.edu.cn/debian-archive"
        ],
    ),
    (
        "apt-mapping-without-archive-for-archived-debian",
        "version: 1\nmoby: {ref: v19.03.12}\nmirrors:\n  apt: {debian: 'https://m.example/debian'}\n"
        "targets: [binary]\n",
        [
            "mobyci.yaml:4:8: mirrors.apt: family 19.03 builds on Debian buster, which is archived: debian and "
            "security mirrors no longer serve it; add archive: URL, a mirror of archive.debian.org (e.g. "
            "https://mirrors.tuna.tsinghua.edu.cn/debian-archive)"
        ],
    ),
    (
        "apt-mapping-unknown-key",
        "version: 1\nmoby: {ref: v24.0.9}\nmirrors:\n  apt: {debian: 'https://m.example/debian', updates: x}\n"
        "targets: [binary]\n",
        ["mobyci.yaml:4:45: mirrors.apt.updates: unknown key 'updates'; allowed here: debian, security, archive"],
    ),
    (
        "apt-mapping-without-debian",
        "version: 1\nmoby: {ref: v24.0.9}\nmirrors:\n  apt: {security: 'https://m.example/debian-security'}\n"
        "targets: [binary]\n",
        [
            "mobyci.yaml:4:8: mirrors.apt: debian: URL is required (the root of a Debian archive, serving "
            "dists/<release>)"
        ],
    ),
    (
        "registry-tokens-without-registry",
        "version: 1\nmoby: {ref: v19.03.12}\nmirrors: {registry_tokens: false}\ntargets: [binary]\n",
        [
            "mobyci.yaml:3:28: mirrors.registry_tokens: only applies with mirrors.registry: set the mirror or "
            "remove this key"
        ],
    ),
    (
        "command-substitution-in-repo",
        "version: 1\nmoby: {ref: v19.03.12, repo: 'https://x.example/$(id).git'}\ntargets: [binary]\n",
        [
            "mobyci.yaml:2:30: moby.repo: 'https://x.example/$(id).git' has a quote, backslash, $ or other shell "
            "character: remove it"
        ],
    ),
    (
        "output-absolute",
        "version: 1\nmoby: {ref: v19.03.12}\ntargets: [binary]\noutputs: {patch: /etc/cron.d/x}\n",
        [
            "mobyci.yaml:4:18: outputs.patch: '/etc/cron.d/x' must be a file path relative to the repository "
            "root, inside it (no '..', not absolute)"
        ],
    ),
    (
        "end-of-life-distro",
        "version: 1\nmoby: {ref: v19.03.12}\ntargets:\n  - name: rpm\n    distros: [centos-8]\n",
        [
            "mobyci.yaml:5:15: targets[0].distros[0]: 'centos-8' cannot be built as of 2026-12-01: CentOS Stream 8: "
            "end of life on 2024-05-31; its repositories moved to vault.centos.org "
            "(https://www.centos.org/centos-stream/); choose a supported release of the distribution"
        ],
    ),
    (
        "newline-cannot-forge-a-problem-line",
        'version: 1\nmoby: {ref: v19.03.12}\ntargets: ["bin\\nmobyci.yaml:1:1: fake"]\n',
        [
            "mobyci.yaml:3:11: targets[0].name: 'bin\\nmobyci.yaml:1:1: fake' is not one of: binary, dynbinary, "
            "cross, rpm, deb"
        ],
    ),
    (
        "bad-mirror-source-points-at-the-key",
        "version: 1\nmoby: {ref: v19.03.12}\nmirrors:\n  git:\n    'ftp://x.example/': 'https://gitee.com/'\n"
        "targets: [binary]\n",
        [
            "mobyci.yaml:5:5: mirrors.git[\"ftp://x.example/\"]: scheme 'ftp' is not allowed here: use https or "
            "http or ssh or git"
        ],
    ),
    (
        "several-problems-at-once",
        "version: 1\nmoby: {ref: v19.03.12, repo: 'ftp://x'}\nproxy: {http: 'x y'}\ntargets: [binary, rpmm]\n",
        [
            "mobyci.yaml:2:30: moby.repo: scheme 'ftp' is not allowed here: use https or http or ssh or git",
            "mobyci.yaml:3:15: proxy.http: must not contain spaces, newlines or control characters",
            "mobyci.yaml:4:19: targets[1].name: 'rpmm' is not one of: binary, dynbinary, cross, rpm, deb; "
            "did you mean 'rpm'?",
        ],
    ),
    # Everyday mistakes that used to pass validate and fail in CI, or came out as parser jargon.
    (
        "git-host-root-without-slash",
        "version: 1\nmoby: {ref: v27.5.1}\nmirrors:\n  git: {'https://github.com': 'https://gitee.com'}\n"
        "targets: [binary]\n",
        [
            "mobyci.yaml:4:31: mirrors.git[\"https://github.com\"]: 'https://github.com' is a whole host, not one "
            'repository: write the prefix rewrite with a trailing \'/\' ("https://github.com/": "https://gitee.com/")'
        ],
    ),
    (
        "proxy-variable-without-dollar",
        "version: 1\nmoby: {ref: v27.5.1}\nproxy:\n  http: CORP_HTTP_PROXY\ntargets: [binary]\n",
        [
            "mobyci.yaml:4:9: proxy.http: 'CORP_HTTP_PROXY' reads as a CI variable name without its '$': write "
            "$CORP_HTTP_PROXY (or a URL such as http://proxy.example.com:3128)"
        ],
    ),
    (
        "seed-registry-placeholder",
        "version: 1\nmoby: {ref: v19.03.12}\nmirrors:\n  registry: https://YOUR-ID.mirror.aliyuncs.com\n"
        "targets: [binary]\n",
        [
            "mobyci.yaml:4:13: mirrors.registry: YOUR-ID is the starter spec's placeholder: put your own address "
            "here (or remove the key)"
        ],
    ),
    (
        "key-of-another-section",
        "version: 1\nmoby: {ref: v27.5.1}\nmirrors:\n  http: $CORP_HTTP_PROXY\ntargets: [binary]\n",
        ["mobyci.yaml:4:3: mirrors.http: unknown key 'http' here; it belongs under proxy (proxy.http): move it there"],
    ),
    (
        "key-of-two-sections",
        "version: 1\nmoby: {ref: v27.5.1}\ngitlab: {runner: shell}\ntargets: [binary]\n",
        [
            "mobyci.yaml:3:1: gitlab: unknown key 'gitlab' here; it belongs under ci (ci.gitlab) or outputs "
            "(outputs.gitlab): move it there"
        ],
    ),
    (
        "key-of-a-nested-section",
        "version: 1\nmoby: {ref: v27.5.1}\nci:\n  tags: [saas-linux-small-amd64]\ntargets: [binary]\n",
        [
            "mobyci.yaml:4:3: ci.tags: unknown key 'tags' here; it belongs under ci.gitlab (ci.gitlab.tags): "
            "move it there"
        ],
    ),
    (
        "unknown-key-no-far-fetched-match",
        "version: 1\nmoby: {ref: v27.5.1}\npermissions: {contents: read}\ntargets: [binary]\n",
        [
            "mobyci.yaml:3:1: permissions: unknown key 'permissions'; allowed here: version, moby, mirrors, proxy, "
            "targets, tls, ci, outputs"
        ],
    ),
    (
        "platform-typo",
        "version: 1\nmoby: {ref: v27.5.1}\ntargets:\n  - {name: cross, platforms: [linux/arm46]}\n",
        [
            "mobyci.yaml:4:31: targets[0].platforms[0]: 'linux/arm46' is not supported by v27.5.1 (its tree's cross "
            "build): did you mean 'linux/arm64'? Supported: linux/amd64, linux/arm/v5, linux/arm/v6, linux/arm/v7, "
            "linux/arm64, linux/ppc64le, linux/s390x, windows/amd64"
        ],
    ),
    (
        "distro-typo",
        "version: 1\nmoby: {ref: v27.5.1}\ntargets:\n  - {name: deb, distros: [ubuntu-jamy]}\n",
        [
            "mobyci.yaml:4:27: targets[0].distros[0]: 'ubuntu-jamy' is not supported by docker-ce-packaging branch "
            "27.x (family 25-28): did you mean 'ubuntu-jammy'? Supported: debian-bookworm, debian-bullseye, "
            "raspbian-bookworm, raspbian-bullseye, ubuntu-focal, ubuntu-jammy, ubuntu-noble"
        ],
    ),
    (
        "target-typo",
        "version: 1\nmoby: {ref: v27.5.1}\ntargets: [dynbinray]\n",
        [
            "mobyci.yaml:3:11: targets[0].name: 'dynbinray' is not one of: binary, dynbinary, cross, rpm, deb; "
            "did you mean 'dynbinary'?"
        ],
    ),
    (
        "family-float-still-needs-quotes",
        "version: 1\nmoby: {ref: master, family: 20.10}\ntargets: [binary]\n",
        ['mobyci.yaml:2:29: moby.family: expected a string, got a number (20.1): quote it ("20.10")'],
    ),
    (
        "yaml-tab-after-colon",
        "version: 1\nmoby:\n  ref:\tv27.5.1\ntargets: [binary]\n",
        ["mobyci.yaml:3:7: a tab separates this value: replace the tab with a space"],
    ),
    (
        "yaml-key-indented-deeper",
        "version: 1\nmoby:\n  ref: v27.5.1\n   repo: https://github.com/moby/moby.git\ntargets: [binary]\n",
        [
            "mobyci.yaml:4:4: this line is indented deeper than line 3 above it: keys of one mapping line up at "
            "the same column"
        ],
    ),
    (
        "yaml-key-indented-between",
        "version: 1\nmoby:\n    ref: v27.5.1\n  repo: https://github.com/moby/moby.git\ntargets: [binary]\n",
        [
            "mobyci.yaml:4:3: this key's indentation (column 3) matches no mapping above it (line 3 starts at "
            "column 5): line keys of one mapping up at the same column"
        ],
    ),
    (
        "yaml-colon-in-value",
        "version: 1\nmoby:\n  ref: v27.5.1\n  repo: see: https://github.com/moby/moby.git\ntargets: [binary]\n",
        ["mobyci.yaml:4:12: a ': ' inside a value: quote the value, or put the key on its own line"],
    ),
    (
        "yaml-list-item-in-mapping",
        "version: 1\nmoby:\n  ref: v27.5.1\n  - binary\ntargets: [binary]\n",
        ["mobyci.yaml:4:3: a list item ('- ') in the middle of a mapping: indent the list under a key of its own"],
    ),
    (
        "yaml-flow-mapping-unclosed",
        "version: 1\nmoby: {ref: v27.5.1\ntargets: [binary]\n",
        [
            "mobyci.yaml:3:8: the '{' at line 2, column 7 is not closed where expected: separate items with ', ' "
            "and close it with '}' (quote values that contain ':', ',', '[', ']', '{' or '}')"
        ],
    ),
    (
        "yaml-quote-unclosed",
        "version: 1\nmoby: {ref: 'v27.5.1}\ntargets: [binary]\n",
        ["mobyci.yaml:4:1: the quote at line 2, column 13 is never closed: add the closing quote"],
    ),
    (
        "yaml-value-starts-with-at",
        "version: 1\nmoby: {ref: @v27.5.1}\ntargets: [binary]\n",
        ["mobyci.yaml:2:13: a plain value cannot start with '@': quote the value ('@…')"],
    ),
    (
        "yaml-undefined-alias",
        "version: 1\nmoby: {ref: *latest}\ntargets: [binary]\n",
        ["mobyci.yaml:2:13: a value starting with '*' reads as an alias that is not defined: quote the value"],
    ),
    (
        "yaml-unknown-escape",
        'version: 1\nmoby: {ref: v27.5.1, repo: "C:\\moby"}\ntargets: [binary]\n',
        [
            "mobyci.yaml:2:32: a backslash in double quotes starts an escape: write '\\\\' for a backslash, or use "
            "single quotes"
        ],
    ),
    # Logins: named CI variables only, and only where a mirror takes them.
    (
        "login-literal-password",
        "version: 1\nmoby: {ref: v27.5.1}\nmirrors:\n  registry: https://harbor.example.com\n"
        "  registry_auth: {username: robot, password: hunter2}\ntargets: [binary]\n",
        [
            "mobyci.yaml:5:46: mirrors.registry_auth.password: a password in the spec would be written into "
            "generated files: put it in a masked CI variable and write its name here ($NAME)"
        ],
    ),
    (
        "login-bad-user-name",
        "version: 1\nmoby: {ref: v27.5.1}\nmirrors:\n  registry: https://harbor.example.com\n"
        "  registry_auth: {username: 'ro bot', password: $P}\ntargets: [binary]\n",
        [
            "mobyci.yaml:5:29: mirrors.registry_auth.username: 'ro bot' is not a user name: letters, digits, "
            ". _ - @, or a $CI_VARIABLE"
        ],
    ),
    (
        "git-login-without-https-mirror",
        "version: 1\nmoby: {ref: v27.5.1}\nmirrors:\n  git: {'https://github.com/': 'git@git.example.com:gh/'}\n"
        "  git_auth: {username: ci-bot, password: $GIT_MIRROR_TOKEN}\ntargets: [binary]\n",
        [
            "mobyci.yaml:5:13: mirrors.git_auth: only applies to https git mirrors: add one to mirrors.git, or "
            "remove this key (an ssh mirror logs in with the runner's own key)"
        ],
    ),
    (
        "registry-login-without-registry",
        "version: 1\nmoby: {ref: v27.5.1}\nmirrors:\n  registry_auth: {username: $U, password: $P}\n"
        "targets: [binary]\n",
        [
            "mobyci.yaml:4:18: mirrors.registry_auth: only applies with mirrors.registry: set the mirror or remove "
            "this key"
        ],
    ),
    # Every "did you mean" and "quote it" is pasted by tests/test_spec_errors.py: these make the ones that failed
    # pasted (a corrected tag that is no release, a quoted number that is no duration).
    (
        "ref-misspelled-known",
        "version: 1\nmoby: {ref: v29.7.2}\ntargets: [binary]\n",
        [
            "mobyci.yaml:2:13: moby.ref: 'v29.7.2' is not a moby tag (from 29.0 the engine's tags are "
            "docker-vX.Y.Z); did you mean docker-v29.7.2?"
        ],
    ),
    (
        "ref-misspelled-prerelease",
        "version: 1\nmoby: {ref: v29.0.0-rc.1}\ntargets: [binary]\n",
        [
            "mobyci.yaml:2:13: moby.ref: 'v29.0.0-rc.1' is not a moby tag (from 29.0 the engine's tags are "
            "docker-vX.Y.Z); did you mean docker-v29.0.0-rc.1?"
        ],
    ),
    (
        "ref-misspelled-prerelease-never-tagged",
        "version: 1\nmoby: {ref: 29.0.0-rc.9}\ntargets: [binary]\n",
        [
            "mobyci.yaml:2:13: moby.ref: '29.0.0-rc.9' is not a moby tag (from 29.0 the engine's tags are "
            "docker-vX.Y.Z), and docker-v29.0.0-rc.9 is not a moby tag (facts table of 2026-12-01); did you mean "
            "docker-v29.0.0-rc.3? (29.0.0's pre-releases: docker-v29.0.0-rc.1, docker-v29.0.0-rc.2, "
            "docker-v29.0.0-rc.3)"
        ],
    ),
    (
        "ref-misspelled-unknown",
        "version: 1\nmoby: {ref: v30.0.0}\ntargets: [binary]\n",
        [
            "mobyci.yaml:2:13: moby.ref: 'v30.0.0' is not a moby tag (from 29.0 the engine's tags are "
            "docker-vX.Y.Z), and docker-v30.0.0 is not a release mobyci knows; the nearest releases mobyci knows: "
            "docker-v29.7.2"
        ],
    ),
    (
        "ref-not-a-release",
        "version: 1\nmoby: {ref: v27.5.99}\nmirrors: {apt: mirrors.example.com}\ntargets: [binary]\n",
        [
            "mobyci.yaml:2:13: moby.ref: v27.5.99 is not a moby release: the 27 line's newest is v27.5.1 of "
            "2025-01-22, and it had no release in the year before the facts table was made (2026-12-01); did you "
            "mean v27.5.1?"
        ],
    ),
    (
        "timeout-number",
        "version: 1\nmoby: {ref: v27.5.1}\ntargets: [binary]\nci: {timeout: 90}\n",
        [
            "mobyci.yaml:4:15: ci.timeout: expected a string, got a number (90); '90' is not a duration: write a "
            "number and a unit, e.g. '2h', '1h 30m', '90m', '1 week'"
        ],
    ),
]
