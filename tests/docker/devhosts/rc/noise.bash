# rc-01: what conda, nvm and prompt frameworks print, on stdout and on stderr,
# put before Debian's "not interactive? return" guard: sshd's bash sources
# ~/.bashrc for every command, so every SSH exec prints it. Each stream gets a
# multi-line banner, a NUL byte, terminal-title escapes, and last a text with
# no trailing newline (it glues onto whatever is printed next).
printf '%s\n' '+------------------------------+' '|  rc-01: welcome, developer   |' '+------------------------------+'
printf 'nul:\000:byte\n'
printf '\033]0;tester@rc-01: ~\007\033[1;32m'
printf '(base) conda activated\033[0m'
printf '%s\n' '*** rc-01 stderr banner ***' 'line two of the banner' >&2
printf 'err-nul:\000:byte\n' >&2
printf '\033]2;stderr title\007nvm: now using node v20.11.0' >&2
