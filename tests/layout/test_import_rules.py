"""The import rules of DESIGN.md hold, and the linter's configuration cannot fall behind them."""

import ast
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SIM_MAY_IMPORT = {"gateway.wire", "gateway.pipeline", "gateway.config"}


def _gateway_rooms() -> set[str]:
    """Every package and top-level module of gateway/, as a dotted name."""
    found = {
        f"gateway.{p.name}" for p in (ROOT / "gateway").iterdir() if (p / "__init__.py").exists()
    }
    found |= {f"gateway.{p.stem}" for p in (ROOT / "gateway").glob("*.py") if p.stem != "__init__"}
    return found


def _banned(config: Path) -> set[str]:
    data = tomllib.loads(config.read_text())
    return set(data["lint"]["flake8-tidy-imports"]["banned-api"])


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_sim_config_bans_every_gateway_room_it_may_not_import() -> None:
    """A new room of gateway/ is banned for sim until DESIGN.md lets sim import it."""
    assert _gateway_rooms() - SIM_MAY_IMPORT <= _banned(ROOT / "sim" / "ruff.toml")


@pytest.mark.parametrize(
    ("folder", "forbidden"),
    [
        ("controllers", ("gateway", "sim", "luciole", "asyncio", "socket", "sqlite3", "time")),
        ("gateway", ("sim", "luciole")),
        ("sim", ("luciole", "paho", "amqtt")),
    ],
)
def test_no_module_breaks_the_import_rules(folder: str, forbidden: tuple[str, ...]) -> None:
    """No module of a folder imports what DESIGN.md forbids it (the linter's rule, checked
    here too so that a nested config deleted by mistake fails the suite)."""
    broken = [
        f"{path.relative_to(ROOT)}: {name}"
        for path in (ROOT / folder).rglob("*.py")
        for name in _imports(path)
        if name.split(".")[0] in forbidden or name in forbidden
    ]
    assert broken == []


def test_only_gateway_mqtt_imports_the_mqtt_libraries() -> None:
    """aiomqtt and paho are imported by gateway/mqtt/ alone among the daemon's modules."""
    outside = [
        f"{path.relative_to(ROOT)}: {name}"
        for folder in ("gateway", "luciole", "controllers")
        for path in (ROOT / folder).rglob("*.py")
        if "gateway/mqtt" not in path.as_posix()
        for name in _imports(path)
        if name.split(".")[0] in {"aiomqtt", "paho", "amqtt"}
    ]
    assert outside == []


def test_codecs_load_without_the_formats() -> None:
    """The byte codecs import nothing of the wire formats: the formats <-> codecs cycle is gone."""
    code = "import sys, gateway.codecs; print('gateway.formats' in sys.modules)"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, cwd=ROOT
    )
    assert done.stdout.strip() == "False", done.stderr


def test_the_daemon_does_not_load_the_simulator() -> None:
    """Starting the daemon's modules loads no module of sim (the command line loads it lazily)."""
    code = (
        "import sys, gateway.daemon, luciole.main; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'sim'))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, cwd=ROOT
    )
    assert done.stdout.strip() == "[]", done.stderr
