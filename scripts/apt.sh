# Sourced (not run) by scripts/setup.sh and scripts/test-fleet.sh, which define
# log and die first: root for a command, and apt packages installed only when
# they are missing.

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"
    elif command -v sudo >/dev/null; then sudo "$@"
    else die "need root for: $*"
    fi
}

# Install apt packages that are missing; apt-get update only when apt does not
# know a package yet (fresh machine with empty lists).
apt_install() {
    local pkg need_update=0
    for pkg in "$@"; do
        apt-cache show "$pkg" >/dev/null 2>&1 || need_update=1
    done
    if [ "$need_update" -eq 1 ]; then as_root apt-get update; fi
    log "apt-get install $*"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@"
}
