"""The daemon's install stays lean: the embedded broker (amqtt) is an extra `luciole run` never
needs, and a command that needs it says which extra to install."""

import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from gateway.mqtt import broker
from gateway.mqtt.broker import EmbeddedBroker, MissingExtraError

ROOT = Path(__file__).resolve().parents[2]
# `luciole run`'s modules, then check-config on the shipped site, with amqtt made unimportable.
WITHOUT_AMQTT = (
    "import sys; sys.modules['amqtt'] = None; "
    "import gateway.daemon; from luciole.main import main; "
    "sys.exit(main(['check-config', 'config/site.yaml']))"
)


def _project() -> dict[str, Any]:
    project: dict[str, Any] = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return project


def test_amqtt_is_in_the_sim_extra_not_in_the_dependencies() -> None:
    """A gateway installs `luciole` without the embedded broker; `make` installs `[sim]`."""
    project = _project()
    assert not any(d.startswith("amqtt") for d in project["dependencies"])
    assert any(d.startswith("amqtt") for d in project["optional-dependencies"]["sim"])
    assert "[sim," in (ROOT / "Makefile").read_text()


def test_the_daemon_runs_without_amqtt() -> None:
    """The daemon's modules load, and the command line works, when amqtt cannot be imported."""
    done = subprocess.run(
        [sys.executable, "-c", WITHOUT_AMQTT], capture_output=True, text=True, check=False, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr


def test_the_embedded_broker_without_amqtt_names_the_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without amqtt, starting the embedded broker says `pip install 'luciole[sim]'` at once,
    instead of a child process failing out of sight."""
    monkeypatch.setattr(broker, "find_spec", lambda _name: None)
    with pytest.raises(MissingExtraError, match=r"pip install 'luciole\[sim\]'"):
        EmbeddedBroker().start()
