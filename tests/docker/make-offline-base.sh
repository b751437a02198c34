#!/usr/bin/env bash
# Build the local base image fleet-sshd-base:local from a debootstrap rootfs,
# for machines with a Docker engine but no container registry (docker pull and
# "FROM debian:bookworm-slim" fail there). Run as root. Takes about 4 minutes.
#
# Idempotent: exits at once if the image already exists.
# The apt mirror is read from this machine's apt sources at run time.
#
# Environment: IMAGE (default fleet-sshd-base:local),
#              ROOT  (scratch rootfs dir, default /var/tmp/fleet-sshroot).
set -euo pipefail

IMAGE=${IMAGE:-fleet-sshd-base:local}
ROOT=${ROOT:-/var/tmp/fleet-sshroot}

if docker image inspect "$IMAGE" >/dev/null 2>&1; then
    echo "$IMAGE already present"
    exit 0
fi

MIRROR=""
SUITE=""
# this machine's mirror and suite, as apt-mirror.sh reads them for every image
read -r MIRROR SUITE < <("$(dirname "${BASH_SOURCE[0]}")/apt-mirror.sh") || true
: "${MIRROR:?no apt mirror found in the apt sources}"
: "${SUITE:=bookworm}"

if ! command -v debootstrap >/dev/null; then
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y debootstrap
fi

rm -rf "$ROOT"
trap 'rm -rf "$ROOT"' EXIT
echo "debootstrap $SUITE from $MIRROR into $ROOT"
debootstrap --variant=minbase --include=openssh-server,sudo,python3,procps \
    "$SUITE" "$ROOT" "$MIRROR"

# Trim, and keep host-specific things out of the image (host keys, mirror name).
rm -rf "$ROOT"/var/cache/apt/archives/*.deb "$ROOT"/var/cache/apt/*.bin \
       "$ROOT"/var/lib/apt/lists/* "$ROOT"/etc/ssh/ssh_host_* \
       "$ROOT"/etc/apt/sources.list "$ROOT"/var/log/bootstrap.log

tar -C "$ROOT" -c . | docker import -c 'CMD ["/bin/bash"]' - "$IMAGE"
echo "$IMAGE built"
