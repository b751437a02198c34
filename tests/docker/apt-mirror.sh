#!/bin/sh
# Print this machine's Debian mirror and suite, "MIRROR SUITE", read from its
# apt sources at run time (never written into the repo or an image): the
# offline base is bootstrapped from it (make-offline-base.sh), and images that
# add packages to that base (which keeps no apt sources) get it as a build
# argument (scripts/test-fleet.sh). Prints nothing if no Debian source is found.
set -eu
SRC=/etc/apt/sources.list.d/debian.sources
MIRROR=""
SUITE=""
if [ -r "$SRC" ]; then
    # deb822 format: the first URIs:/Suites: stanza is the main archive.
    MIRROR=$(awk '/^URIs:/{print $2; exit}' "$SRC")
    SUITE=$(awk '/^Suites:/{print $2; exit}' "$SRC")
elif [ -r /etc/apt/sources.list ]; then
    # One-line format.
    set -- $(awk '$1=="deb"{print $2, $3; exit}' /etc/apt/sources.list)
    MIRROR=${1:-}
    SUITE=${2:-}
fi
[ -n "$MIRROR" ] || exit 0
printf '%s %s\n' "$MIRROR" "${SUITE:-bookworm}"
