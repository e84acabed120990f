#!/bin/sh
# STAND-IN for docker:dind's dockerd-entrypoint.sh (docker-library/docker), installed as
# /usr/local/bin/dockerd-entrypoint.sh in mobyci-standin/dind images (dind_standin.py says what it leaves out).
# What it keeps: given no arguments or options only (a GitLab service `command:` such as
# --registry-mirror=...), run dockerd as root on the default unix socket and on tcp 2375 with those options
# after its own; delete stale docker pid files first; run any other command as given.
set -eu

if [ "$#" -eq 0 ] || [ "${1#-}" != "$1" ]; then
	set -- dockerd --host=unix:///var/run/docker.sock --host=tcp://0.0.0.0:2375 "$@"
fi
if [ "$1" = dockerd ]; then
	find /run /var/run -iname 'docker*.pid' -delete || :
fi
exec "$@"
