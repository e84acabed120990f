#!/bin/sh
# Runs the generated patch script against real moby trees and lists what still points at an original host.
# This is how docs/families.md was made. It holds no moby content: the trees come from your own copy of
# the public moby/moby repository, e.g. `git --git-dir=moby.git archive v27.5.1 | tar -x -C trees/v27.5.1`.
#
# Usage: sh docs/families-check.sh TREES_DIR TAG...
#   TREES_DIR/TAG is an extracted moby tree; it is copied, never changed. Needs mobyci on PATH.
set -eu

[ "$#" -ge 2 ] || {
	echo "usage: sh $0 TREES_DIR TAG..." >&2
	exit 2
}
trees=$1
shift
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The proxies are CI variables; any value does here.
CORP_HTTP_PROXY=http://proxy.corp.example:3128
CORP_HTTPS_PROXY=http://proxy.corp.example:3128
export CORP_HTTP_PROXY CORP_HTTPS_PROXY

for tag in "$@"; do
	apt=mirrors.example.com
	case $tag in v19.03.*) apt=archive ;; esac
	cat >"$work/spec.yaml" <<EOF
version: 1
moby:
  ref: $tag
mirrors:
  apt: $apt
  git:
    "https://github.com/": "https://git.mirror.example.com/github/"
    "https://github.com/opencontainers/runc.git": "https://git.mirror.example.com/mirrors/runc.git"
  downloads:
    "https://download.docker.com/linux/static": "https://mirrors.example.com/docker-ce/linux/static"
  registry: https://hub.mirror.example.com
  registry_tokens: false
  goproxy: https://goproxy.example.com,direct
  gosumdb: sum.golang.google.cn
proxy:
  http: \$CORP_HTTP_PROXY
  https: \${CORP_HTTPS_PROXY}
  no_proxy: [localhost]
  mode: dockerfile-env
targets: [binary]
EOF
	mobyci patch "$work/spec.yaml" -o "$work/patch.sh" 2>/dev/null
	rm -rf "$work/tree"
	cp -a "$trees/$tag" "$work/tree"
	echo "## $tag (apt: $apt)"
	echo '```'
	sh "$work/patch.sh" "$work/tree"
	echo "second run: $(sh "$work/patch.sh" "$work/tree" | tail -n 1)"
	echo '```'
	echo "Lines still fetching from an original host (comments left out):"
	echo '```'
	(
		cd "$work/tree"
		for f in Dockerfile* Makefile docker-bake.hcl contrib/download-frozen-image-v2.sh hack/dockerfile/cli.sh \
			hack/dockerfile/install/*.installer; do
			[ -f "$f" ] || continue
			grep -nE 'https?://(github\.com|raw\.githubusercontent\.com|download\.docker\.com|registry-1\.docker\.io|auth\.docker\.io|([a-z]+\.)?debian\.org|download\.opensuse\.org|golang\.org|go\.dev|proxy\.golang\.org|www\.nuget\.org)' "$f" \
				| grep -vE '^[0-9]+:[[:space:]]*#' | sed "s|^|$f:|" || true
		done
	)
	echo '```'
	echo
done
