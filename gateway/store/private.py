"""Files for the daemon's user alone: the spool and the dead-letter file hold raw payloads.

What is created here is 0600 (files) or 0700 (folders) whatever the umask: the mode is set
again after creation, since `open` and `mkdir` apply the umask to the mode they are given.
A file that exists already keeps its mode (an operator may have a reason, such as a log
shipper's group), but one open to group or others is named in a warning, once per process.
SQLite makes a database's `-wal` and `-shm` files with the database file's own mode, so a
spool created here is private with them.
"""

import functools
import logging
import os
import stat
from pathlib import Path

from gateway.logs import event

FILE_MODE = 0o600
FOLDER_MODE = 0o700
OPEN_TO_OTHERS = stat.S_IRWXG | stat.S_IRWXO

log = logging.getLogger("luciole.store")


def private_folder(folder: Path) -> None:
    """`folder` and its missing parents; those created here are 0700."""
    missing = [p for p in (folder, *folder.parents) if not p.exists()]
    folder.mkdir(parents=True, exist_ok=True)
    for created in missing:
        os.chmod(created, FOLDER_MODE)


def open_private(path: Path, flags: int = os.O_WRONLY | os.O_APPEND) -> int:
    """A descriptor on `path`, created 0600 (in a private folder) if it did not exist."""
    private_folder(path.parent)
    fd = os.open(path, flags | os.O_CREAT, FILE_MODE)
    found = os.fstat(fd)
    if found.st_size == 0:  # new (or empty): 0600, not what the umask left of it
        if stat.S_IMODE(found.st_mode) != FILE_MODE:
            os.fchmod(fd, FILE_MODE)
    elif found.st_mode & OPEN_TO_OTHERS:
        _warn_open(str(path), stat.S_IMODE(found.st_mode))
    return fd


def private_file(path: Path) -> None:
    """Make sure `path` exists, 0600 if created now (before SQLite opens it, say)."""
    os.close(open_private(path, os.O_RDONLY))  # what SQLite may open read-only, too


@functools.cache  # once per file and process: the dead-letter file is opened at every write
def _warn_open(path: str, mode: int) -> None:
    event(
        log,
        logging.WARNING,
        "file with raw payloads is open to group or others",
        file=path,
        mode=f"{mode:04o}",
        fix=f"chmod 600 {path}",
    )
