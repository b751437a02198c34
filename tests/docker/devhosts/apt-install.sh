#!/bin/sh
# apt-install.sh PACKAGE...: install the Debian packages that are missing, at
# image build time, then leave no apt lists behind.
#
# The offline base (tests/docker/make-offline-base.sh) has no apt sources: it
# keeps no mirror name. scripts/test-fleet.sh passes the machine's own mirror
# and suite as APT_MIRROR and APT_SUITE (read from its apt sources at run time),
# and this script lists them for the one apt-get run only. On a base that has
# sources (debian:bookworm-slim on a laptop) they are used as they are.
set -eu
missing=
for pkg in "$@"; do
    dpkg-query -W -f '${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed' \
        || missing="$missing $pkg"
done
[ -n "$missing" ] || exit 0
tmp_sources=
if ! ls /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list >/dev/null 2>&1 \
        && ! grep -qs '^deb ' /etc/apt/sources.list; then
    : "${APT_MIRROR:?the base has no apt sources: set APT_MIRROR (scripts/test-fleet.sh does)}"
    tmp_sources=/etc/apt/sources.list.d/build-only.list
    printf 'deb %s %s main\n' "$APT_MIRROR" "${APT_SUITE:-bookworm}" > "$tmp_sources"
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086  # one word per package
apt-get install -y -qq --no-install-recommends $missing >/dev/null
apt-get clean
rm -rf /var/lib/apt/lists/* ${tmp_sources:+"$tmp_sources"}
# Documentation nobody reads in a test container.
rm -rf /usr/share/doc/* /usr/share/man/* /usr/share/info/*
