#!/bin/sh
# Build step of the mac-01 image (tests/docker/devhosts/Dockerfile, target mac):
# a userland that behaves like macOS's for every tool fleet's remote scripts
# use, on PATH=/opt/macos/bin (sshd's SetEnv; sudo's secure_path), and nothing
# else on that PATH. Run from the folder it is in.
set -eu
D=/opt/macos/bin
install -d "$D"
# The shims (see each file's head): BSD stat -f, date without %N, df, ps,
# sed (-i SUFFIX), mktemp (-t PREFIX), find (no -printf), sleep (fractions),
# dd (BSD operands), uname (Darwin), sw_vers, kill.
for f in bin/*; do install -m 0755 "$f" "$D/${f#bin/}"; done
# GNU tools behind a BSD command line (bsdopt: BSD options only, no --long).
for t in basename cat chgrp chmod chown cmp comm cp cut dirname du env grep head \
         hostname id ln ls mkdir mv nohup od paste readlink rm rmdir seq sort tail \
         tee touch tr uniq wc which whoami xargs; do
    ln -s bsdopt "$D/$t"
done
# Tools that are the same program as on macOS, or whose use here is the same:
# bsdtar is macOS's tar, BWK awk its awk, perl's shasum its shasum (no
# sha256sum, no md5sum, no timeout, no realpath, no GNU stat/date/ps/df).
ln -s /usr/bin/bsdtar "$D/tar"
ln -s /usr/bin/original-awk "$D/awk"
ln -s /usr/bin/shasum "$D/shasum"
for t in bash zsh perl sudo ssh echo printf test [ true false pwd expr; do
    [ -e "/usr/bin/$t" ] && ln -s "/usr/bin/$t" "$D/$t"
done
ln -s /usr/bin/bash "$D/sh"
# /bin/sh is bash, as macOS's /bin/sh (bash in POSIX mode when called sh).
ln -sf bash /usr/bin/sh
# tester as on a Mac: home /Users/tester, login shell zsh (macOS's default),
# TMPDIR a private folder under /var/folders.
mkdir -p /Users
usermod --home /Users/tester --move-home --shell /usr/bin/zsh tester
install -d -m 0700 -o tester -g tester /var/folders/fl/tester/T
install -m 0755 start-sshd /usr/local/sbin/mac-start-sshd
printf '%s\n' 'SetEnv PATH=/opt/macos/bin TMPDIR=/var/folders/fl/tester/T/' \
    > /etc/ssh/sshd_config.d/20-macos.conf
printf 'Defaults secure_path="%s"\n' "$D" > /etc/sudoers.d/macos
chmod 0440 /etc/sudoers.d/macos
visudo -c >/dev/null
