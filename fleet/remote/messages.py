"""Turn a script's ``ERR kind args`` line into a sentence a person can act on."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from fleet.results import CommandResult

Namer = Callable[[int], str]

_MESSAGES: dict[str, str] = {
    "state-dir": "cannot write fleet's state folder ~/.local/state/fleet on the host",
    "target-link": "the target is a symbolic link; fleet does not write through links",
    "target-not-dir": "the target exists and is not a folder",
    "target-perm": "no write permission on the target folder (or its nearest existing parent)",
    "target-mkdir": "cannot create the target folder",
    "space": "not enough free space: {0} KiB free, {1} KiB needed",
    "dir-link": "folder {dir} in the target is a symbolic link; fleet does not write through it",
    "dir-not-dir": "{dir} in the target is not a folder",
    "file-link": "{file} in the target is a symbolic link; fleet does not write through it",
    "not-a-file": "{file} in the target is not a regular file",
    "file-perm": "cannot read {file} in the target to back it up (permission denied)",
    "backup": "cannot back up {file}",
    "backup-verify": "the backup copy of {file} does not match its sha256",
    "lost-lock": "the deployment lock is no longer ours (held by {0})",
    "stage-dir": "cannot create the staging folder",
    "stage-place": "the target is a mount point (or on a filesystem whose only folder is the "
                   "target): fleet stages beside the target on its own filesystem so that "
                   "activation is an atomic rename, and there is no such place; deploy to a "
                   "folder inside the mount point",
    "no-backup": "no backup of that run on the host",
    "untar": "unpacking the release on the host failed (disk full?)",
    "stage-verify": "staged {file} does not match its sha256 (upload corrupted or disk full)",
    "mkdir": "cannot create folder {dir} in the target",
    "activate": "cannot move {file} into the target",
    "target-moved": "the target folder was replaced (e.g. by a symbolic link) since preflight; "
                    "nothing is written through it — check the host by hand",
    "drift": "{0} deployed file(s) were changed on the host since the rollout; "
             "use --force to overwrite those changes",
    "restore": "{0} file(s) could not be restored",
}


def describe(words: Sequence[str], name_of: Namer, dir_of: Namer | None = None) -> str:
    """Render ``ERR kind args…`` (without ``ERR``) as a sentence.

    ``name_of``/``dir_of`` map an index argument to a file or folder name.
    """
    kind, args = (words[0], list(words[1:])) if words else ("unknown", [])
    template = _MESSAGES.get(kind, kind + " failed")
    index = int(args[0]) if args and args[0].isdigit() else -1
    return template.format(
        *args, "", "", file=repr(name_of(index)),
        dir=repr(dir_of(index) if dir_of else f"#{index}"),
    )


def failure_text(result: CommandResult, name_of: Namer, dir_of: Namer | None = None) -> str:
    """Explain why a step script failed, from its ``ERR`` line or its stderr."""
    for words in result.lines():
        if words[0] == "ERR":
            text = describe(words[1:], name_of, dir_of)
            said = [line[len("untar: "):] for line in result.stderr.splitlines()
                    if line.startswith("untar: ")]
            return f"{text}: {said[-1]}" if said and words[1] == "untar" else text
    tail = result.stderr.strip().splitlines()[-1:] or [f"exit code {result.exit_code}"]
    return f"remote shell failed: {tail[0]}"
