#!/usr/bin/env bash
# The containerized SSH test fleet: 6 sshd containers dev-01..dev-06 on
# 127.0.0.1:2201..2206 (docker-compose.test.yml), user "tester", key-only,
# plus four extra hosts (not in inventory/testfleet.yml): tmpfs-01 on
# 127.0.0.1:2207 for the disk-full tests, whose ~/.claude is an 8 MiB tmpfs,
# jump-01 on 127.0.0.1:2210, a jump host that reaches the dev hosts by
# name inside the docker network (dev-01:22 ...), and, from images of their
# own (tests/docker/sudo/Dockerfile) with a second, unprivileged local user
# "mallory": sudo-01 on 127.0.0.1:2211, whose sudo asks tester for a password
# (sudo's stock defaults), and links-01 on 127.0.0.1:2212 (sudo without a
# password) for the link-attack tests.
# Six more extra hosts behave like developers' machines (issue 11,
# inventory/devhosts.yml), from the targets of tests/docker/devhosts/Dockerfile:
# zsh-01 (127.0.0.1:2213), fish-01 (2214) and tcsh-01 (2215), tester's login
# shell zsh, fish, tcsh with an rc file that prints; rc-01 (2216), bash whose
# ~/.bashrc prints banners, escapes, a NUL and text without a newline; busybox-01
# (2217), only busybox applets on PATH and /bin/sh busybox ash; mac-01 (2218), a
# macOS-like BSD userland (BSD stat, date, df, ps, sed ...; shasum, bsdtar), no
# /proc for SSH sessions, HOME /Users/tester.
#
# "up" on a running fleet starts only what is missing or changed: compose
# leaves a container whose configuration and image are unchanged running as
# it is (the images rebuild from the build cache to the same ids), so adding a
# host never restarts the others.
#
#   scripts/test-fleet.sh up      # idempotent: engine, tools, image, key, containers, known_hosts
#   scripts/test-fleet.sh status  # containers, health, SSH banners
#   scripts/test-fleet.sh down    # remove containers and network
#
# Files it makes (repo-relative, git-ignored):
#   .testfleet/id_ed25519{,.pub}  client key pair used by tests and inventory/testfleet.yml
#   .testfleet/known_hosts        each dev container's real host key, "[127.0.0.1]:220N ssh-ed25519 ..."
#   .testfleet/known_hosts_extra  the same for the extra hosts (tmpfs-01, jump-01, sudo-01, links-01,
#                                 zsh-01, fish-01, tcsh-01, rc-01, busybox-01, mac-01)
#   .testfleet/known_hosts_jump   for rollouts through jump-01: its line "[127.0.0.1]:2210 ..."
#                                 and each dev host's key under its name there, "dev-01 ssh-ed25519 ..."
#   .env                          BASE_IMAGE=fleet-sshd-base:local on registry-less machines
#
# Environment: BASE_IMAGE (overrides the base image choice), READY_TIMEOUT (s, default 60).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."   # repo root, from any cwd

COMPOSE_FILE=docker-compose.test.yml
PROJECT=fleet-test
HOSTS=(dev-01 dev-02 dev-03 dev-04 dev-05 dev-06)
EXTRA_HOSTS=(tmpfs-01 jump-01 sudo-01 links-01 zsh-01 fish-01 tcsh-01 rc-01 busybox-01 mac-01)
JUMP_HOST=jump-01
KEY=.testfleet/id_ed25519
KNOWN_HOSTS=.testfleet/known_hosts
KNOWN_HOSTS_EXTRA=.testfleet/known_hosts_extra
KNOWN_HOSTS_JUMP=.testfleet/known_hosts_jump
READY_TIMEOUT=${READY_TIMEOUT:-60}

log() { printf 'test-fleet: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

port_of() {   # dev-03 -> 2203, tmpfs-01 -> 2207, jump-01 -> 2210, sudo-01 -> 2211, ...
    case $1 in
        tmpfs-01) printf '2207' ;;
        jump-01) printf '2210' ;;
        sudo-01) printf '2211' ;;
        links-01) printf '2212' ;;
        zsh-01) printf '2213' ;;
        fish-01) printf '2214' ;;
        tcsh-01) printf '2215' ;;
        rc-01) printf '2216' ;;
        busybox-01) printf '2217' ;;
        mac-01) printf '2218' ;;
        *) printf '22%s' "${1#dev-}" ;;
    esac
}

# as_root, apt_install
. scripts/apt.sh

ensure_engine() {
    if docker info >/dev/null 2>&1; then return; fi
    command -v dockerd >/dev/null || apt_install docker.io
    log "starting dockerd (log: /tmp/dockerd.log)"
    # No systemd here: start the daemon by hand, as in docs/offline-images.md.
    as_root sh -c '/usr/sbin/dockerd >/tmp/dockerd.log 2>&1 & echo $! >/tmp/dockerd.pid'
    local deadline=$((SECONDS + 30))
    until docker info >/dev/null 2>&1; do
        [ "$SECONDS" -lt "$deadline" ] || die "dockerd did not come up; see /tmp/dockerd.log"
        sleep 0.5
    done
}

COMPOSE=()
pick_compose() {
    if docker compose version >/dev/null 2>&1; then
        COMPOSE=(docker compose)
    else
        command -v docker-compose >/dev/null || apt_install docker-compose
        COMPOSE=(docker-compose)
    fi
    COMPOSE+=(-p "$PROJECT" -f "$COMPOSE_FILE")
}

ensure_tools() {
    command -v ssh-keygen >/dev/null || apt_install openssh-client
}

# Set .env's BASE_IMAGE line (compose reads .env next to the compose file).
set_env_base_image() {
    local value=$1 tmp
    tmp=$(mktemp .env.XXXXXX)
    if [ -f .env ]; then grep -v '^BASE_IMAGE=' .env >"$tmp" || true; fi
    printf 'BASE_IMAGE=%s\n' "$value" >>"$tmp"
    mv "$tmp" .env
}

ensure_base_image() {
    if [ -n "${BASE_IMAGE:-}" ]; then
        log "using BASE_IMAGE=$BASE_IMAGE from the environment"
        return
    fi
    if docker image inspect debian:bookworm-slim >/dev/null 2>&1; then
        # The compose default; drop a stale override from .env if any.
        if [ -f .env ] && grep -q '^BASE_IMAGE=' .env; then
            local tmp; tmp=$(mktemp .env.XXXXXX)
            grep -v '^BASE_IMAGE=' .env >"$tmp" || true
            mv "$tmp" .env
        fi
        return
    fi
    if ! docker image inspect fleet-sshd-base:local >/dev/null 2>&1; then
        command -v debootstrap >/dev/null || apt_install debootstrap
        log "no debian:bookworm-slim here: building fleet-sshd-base:local (debootstrap, a few minutes)"
        as_root tests/docker/make-offline-base.sh
    fi
    set_env_base_image fleet-sshd-base:local
}

ensure_key() {
    mkdir -p .testfleet
    chmod 0700 .testfleet
    if [ ! -s "$KEY" ] || [ ! -s "$KEY.pub" ]; then
        rm -f "$KEY" "$KEY.pub"
        ssh-keygen -q -t ed25519 -N '' -C fleet-testfleet -f "$KEY"
        log "made client key $KEY"
    fi
    chmod 0600 "$KEY"
}

# APT_MIRROR/APT_SUITE: this machine's Debian mirror, for the images that add
# packages to a base without apt sources (tests/docker/devhosts/apt-install.sh).
export_apt_mirror() {
    local line
    line=$(tests/docker/apt-mirror.sh)
    if [ -n "$line" ] && [ -z "${APT_MIRROR:-}" ]; then
        APT_MIRROR=${line%% *}
        APT_SUITE=${line#* }
    fi
    export APT_MIRROR="${APT_MIRROR:-}" APT_SUITE="${APT_SUITE:-bookworm}"
}

export_pubkey() {
    if [ -s "$KEY.pub" ]; then
        TEST_SSH_PUBKEY=$(cat "$KEY.pub")
    else
        TEST_SSH_PUBKEY=none   # only for "down"/"status" before any "up"
    fi
    export TEST_SSH_PUBKEY
}

# True once 127.0.0.1:PORT sends an SSH banner (a bare TCP connect is not
# enough: docker-proxy accepts connections before sshd listens).
banner_ok() {
    timeout 3 bash -c '
        exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
        IFS= read -r -t 2 line <&3 || exit 1
        exec 3<&-
        [[ $line == SSH-* ]]' _ "$1" 2>/dev/null
}

wait_ready() {
    local host port deadline=$((SECONDS + READY_TIMEOUT))
    for host in "${HOSTS[@]}" "${EXTRA_HOSTS[@]}"; do
        port=$(port_of "$host")
        until banner_ok "$port"; do
            [ "$SECONDS" -lt "$deadline" ] || die "$host (127.0.0.1:$port) sent no SSH banner in ${READY_TIMEOUT}s"
            sleep 0.2
        done
    done
}

# host_key HOST: "ssh-ed25519 KEY", the host key of container fleet-HOST.
host_key() {
    local keytype keydata
    read -r keytype keydata _ < <(docker exec "fleet-$1" cat /etc/ssh/ssh_host_ed25519_key.pub) \
        || die "cannot read the host key of fleet-$1"
    [ "$keytype" = ssh-ed25519 ] || die "fleet-$1: unexpected host key type $keytype"
    printf '%s %s' "$keytype" "$keydata"
}

# write_known_hosts FILE HOST...: one "[127.0.0.1]:PORT ssh-ed25519 KEY" line per host.
write_known_hosts() {
    local file=$1 host key tmp
    shift
    tmp=$(mktemp "$file.XXXXXX")
    for host in "$@"; do
        key=$(host_key "$host")
        printf '[127.0.0.1]:%s %s\n' "$(port_of "$host")" "$key" >>"$tmp"
    done
    chmod 0644 "$tmp"
    mv "$tmp" "$file"
}

# write_known_hosts_jump FILE: the jump host as the controller reaches it, then
# every dev host under the name the jump host reaches it by ("dev-01 ssh-ed25519 KEY").
write_known_hosts_jump() {
    local file=$1 host key tmp
    tmp=$(mktemp "$file.XXXXXX")
    key=$(host_key "$JUMP_HOST")
    printf '[127.0.0.1]:%s %s\n' "$(port_of "$JUMP_HOST")" "$key" >>"$tmp"
    for host in "${HOSTS[@]}"; do
        key=$(host_key "$host")
        printf '%s %s\n' "$host" "$key" >>"$tmp"
    done
    chmod 0644 "$tmp"
    mv "$tmp" "$file"
}

# compose "up" leaves paused containers paused (e.g. after an interrupted test).
unpause_paused() {
    local host
    for host in "${HOSTS[@]}" "${EXTRA_HOSTS[@]}"; do
        if [ "$(docker inspect -f '{{.State.Paused}}' "fleet-$host" 2>/dev/null)" = true ]; then
            log "unpausing fleet-$host"
            docker unpause "fleet-$host" >/dev/null
        fi
    done
}

cmd_up() {
    local t0=$SECONDS
    ensure_engine
    ensure_tools
    pick_compose
    ensure_base_image
    ensure_key
    export_pubkey
    export_apt_mirror
    unpause_paused
    # The dev hosts' image first: tests/docker/devhosts builds FROM it, and
    # compose does not order the builds of services.
    "${COMPOSE[@]}" build dev-01
    "${COMPOSE[@]}" up -d --build
    wait_ready
    write_known_hosts "$KNOWN_HOSTS" "${HOSTS[@]}"
    write_known_hosts "$KNOWN_HOSTS_EXTRA" "${EXTRA_HOSTS[@]}"
    write_known_hosts_jump "$KNOWN_HOSTS_JUMP"
    log "fleet up in $((SECONDS - t0))s: ${HOSTS[*]} on 127.0.0.1:2201-2206, tmpfs-01 on 127.0.0.1:2207, jump-01 on 127.0.0.1:2210, sudo-01 on 127.0.0.1:2211, links-01 on 127.0.0.1:2212, zsh-01 fish-01 tcsh-01 rc-01 busybox-01 mac-01 on 127.0.0.1:2213-2218; key $KEY, known hosts $KNOWN_HOSTS (+ $KNOWN_HOSTS_EXTRA, $KNOWN_HOSTS_JUMP)"
}

cmd_down() {
    docker info >/dev/null 2>&1 || die "docker engine not running"
    pick_compose
    export_pubkey
    "${COMPOSE[@]}" down -v --remove-orphans
    rm -f "$KNOWN_HOSTS" "$KNOWN_HOSTS_EXTRA" "$KNOWN_HOSTS_JUMP"
}

cmd_status() {
    docker info >/dev/null 2>&1 || die "docker engine not running"
    local host port state rc=0
    for host in "${HOSTS[@]}" "${EXTRA_HOSTS[@]}"; do
        port=$(port_of "$host")
        state=$(docker inspect -f '{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{end}}' \
            "fleet-$host" 2>/dev/null) || state="missing"
        if banner_ok "$port"; then
            printf '%s 127.0.0.1:%s %s ssh=ok\n' "$host" "$port" "$state"
        else
            printf '%s 127.0.0.1:%s %s ssh=DOWN\n' "$host" "$port" "$state"
            rc=1
        fi
    done
    return "$rc"
}

case "${1:-}" in
    up) cmd_up ;;
    down) cmd_down ;;
    status) cmd_status ;;
    *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
