"""The secrets a site names for its broker: present, set, and readable by the daemon alone.

`luciole run` refuses a password file or a private key that group or others may open, as
OpenSSH refuses such a key, and says what to run (`chmod 600 FILE`); `luciole check-config`
reports, at their keys, the files that are missing or open and a variable that is not set.
Certificates and certificate authorities are public: they only have to exist. A client
certificate without `key_file` carries its key, so it is held to the key's rule.
"""

import os
import stat
from pathlib import Path
from typing import NamedTuple

from controllers.settings.site import BrokerSettings

OPEN_TO_OTHERS = stat.S_IRWXG | stat.S_IRWXO


class Finding(NamedTuple):
    """A problem with a secret: where the site names it, what is wrong, and whether it is
    only a warning."""

    key: tuple[str, ...]
    message: str
    warning: bool = False


def private_problem(path: Path, what: str) -> str | None:
    """Why the secret at `path` must not be used (missing, unreadable, open to others)."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return f"{what} {path} not found"
    except OSError as error:
        return f"{what}: cannot read {path}: {error.strerror}"
    if mode & OPEN_TO_OTHERS:
        return (
            f"{what} {path} is open to group or others (mode {stat.S_IMODE(mode):04o}); "
            f"make it the daemon's user's alone: chmod 600 {path}"
        )
    return None


def broker_secrets(broker: BrokerSettings, base: Path) -> list[Finding]:
    """Every problem with the files and the variable `broker` names (paths from `base`)."""
    found: list[Finding] = []
    if broker.password_env and broker.password_env not in os.environ:
        message = (
            f"environment variable {broker.password_env} is not set here; `luciole run` "
            "needs it in its own environment (a systemd unit's Environment= or EnvironmentFile=)"
        )
        found.append(Finding(("broker", "password_env"), message, warning=True))
    if broker.password_file:
        problem = private_problem(base / broker.password_file, "password file")
        if problem:
            found.append(Finding(("broker", "password_file"), problem))
    tls = broker.tls
    if tls is None:
        return found
    secret = "key_file" if tls.key_file else "cert_file"  # the key, or the file carrying it
    for name, value in (
        ("ca_file", tls.ca_file),
        ("cert_file", tls.cert_file),
        ("key_file", tls.key_file),
    ):
        if not value:
            continue
        path = base / value
        if name == secret:
            problem = private_problem(path, "TLS private key")
        else:
            problem = None if path.exists() else f"file {path} not found"
        if problem:
            found.append(Finding(("broker", "tls", name), problem))
    return found
