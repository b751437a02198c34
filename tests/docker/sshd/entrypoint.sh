#!/bin/sh
# Start-up of an SSH test host.
set -eu
# Public key(s) for user "tester" come from $AUTHORIZED_KEYS (key text) at
# start-up, so nothing secret or host-specific is baked into the image.
if [ -n "${AUTHORIZED_KEYS:-}" ]; then
    printf '%s\n' "$AUTHORIZED_KEYS" > /home/tester/.ssh/authorized_keys
    chown tester:tester /home/tester/.ssh/authorized_keys
    chmod 0600 /home/tester/.ssh/authorized_keys
fi
# Each container gets its own host key, made on first start (ed25519 only:
# a few milliseconds). It survives "docker stop/start" of the same container.
if [ ! -s /etc/ssh/ssh_host_ed25519_key ]; then
    ssh-keygen -q -t ed25519 -N '' -C "$(hostname)" -f /etc/ssh/ssh_host_ed25519_key
fi
mkdir -p /run/sshd
exec "$@"
