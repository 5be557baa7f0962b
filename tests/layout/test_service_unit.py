"""The shipped systemd unit is valid for systemd, keeps the promises the daemon relies on
(notify, watchdog, reload by SIGHUP, a writable state directory), and its hardening does not
break the daemon."""

import configparser
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "config" / "systemd" / "luciole.service"
SHIPPED_LUCIOLE = "/usr/local/bin/luciole"
# systemd-analyze's output, whatever the caller's environment: to the console (not to the
# journal, where a test run under systemd would send it), in English, without colours.
ANALYZE_ENV = {
    "SYSTEMD_LOG_TARGET": "console",
    "SYSTEMD_LOG_LEVEL": "info",
    "SYSTEMD_LOG_COLOR": "0",
    "SYSTEMD_PAGER": "",
    "LC_ALL": "C",
}
# PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN (Linux 6.3): what MemoryDenyWriteExecute= refuses,
# set on a process that then starts the daemon's modules afresh (it survives execve).
DAEMON_UNDER_MDWE = """
import ctypes, os, sys
if ctypes.CDLL(None, use_errno=True).prctl(65, 1, 0, 0, 0) != 0:
    sys.exit(77)
os.execv(sys.executable, [sys.executable, "-c", sys.argv[1]])
"""
DAEMON = """
import mmap, sys
try:
    mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
    sys.exit(78)
except OSError:
    pass
import gateway.daemon
from luciole.main import main
sys.exit(main(["check-config", "config/site.yaml"]))
"""


def _service() -> configparser.SectionProxy:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys keep their case
    parser.read_string(UNIT.read_text(encoding="utf-8"))
    return parser["Service"]


def test_the_unit_keeps_the_daemons_promises() -> None:
    service = _service()
    assert service["Type"] == "notify"
    assert service["NotifyAccess"] == "main"
    assert int(service["WatchdogSec"]) > 2  # the daemon pings at half, after each tick
    assert service["ExecReload"] == "/bin/kill -HUP $MAINPID"
    assert service["ExecStart"].split()[:2] == [SHIPPED_LUCIOLE, "run"]
    assert service["Restart"] == "on-failure"
    assert service["StateDirectory"] == "luciole"
    assert service["ProtectSystem"] == "strict"
    assert service["NoNewPrivileges"] == "yes"
    assert service["CapabilityBoundingSet"] == ""
    assert service["User"] and service["User"] != "root"
    # the daemon's last drain into the database (gateway/daemon.py) fits before the kill
    assert int(service["TimeoutStopSec"]) > 10


def _installable_copy(folder: Path) -> Path:
    """The unit with executables that exist here (systemd-analyze checks them): the venv's
    `luciole` (or this Python), and `kill` wherever this system has it."""
    luciole = Path(sys.executable).parent / "luciole"
    start = str(luciole) if luciole.exists() else sys.executable
    text = UNIT.read_text(encoding="utf-8").replace(SHIPPED_LUCIOLE, start)
    kill = shutil.which("kill")
    if not Path("/bin/kill").exists() and kill:
        text = text.replace("/bin/kill", kill)
    copy = folder / UNIT.name
    copy.write_text(text, encoding="utf-8")
    return copy


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze absent")
def test_systemd_analyze_verifies_the_unit(tmp_path: Path) -> None:
    """Works offline, with or without systemd as PID 1. An unknown key or a bad value is only
    a warning (exit 0), so any line about the unit's own file fails the test; lines about
    other units of this host are not ours to judge."""
    copy = _installable_copy(tmp_path)
    done = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", "--generators=no", str(copy)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **ANALYZE_ENV},
        timeout=60,
    )
    ours = [line for line in (done.stdout + done.stderr).splitlines() if UNIT.name in line]
    assert done.returncode == 0, done.stdout + done.stderr
    assert not ours, "\n".join(ours)


def test_the_daemon_loads_without_writable_executable_memory() -> None:
    """MemoryDenyWriteExecute=yes: CPython (no JIT) and the daemon's dependencies never map
    memory writable and executable, or the service would die at start."""
    done = subprocess.run(
        [sys.executable, "-c", DAEMON_UNDER_MDWE, DAEMON],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
        timeout=120,
    )
    if done.returncode == 77:
        pytest.skip("this kernel has no PR_SET_MDWE (Linux >= 6.3) or refuses it")
    assert done.returncode != 78, "PR_SET_MDWE set but writable executable memory allowed"
    assert done.returncode == 0, done.stdout + done.stderr
