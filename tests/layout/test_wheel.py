"""`pip install .` gives a working `luciole`: the wheel carries every package, the example
site and policy that `luciole init` writes, the systemd unit, the console's page and the
console script.

The wheel is built from a copy of the project's packaging files and packages (so the work
tree gets no build/ or egg-info), without dependencies. With the build backend that
[build-system] asks for installed beside the tests, it is built without isolation and needs
no network; otherwise pip fetches the backend into an isolated build environment (from its
cache after the first time).
"""

import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
BUILD_TIMEOUT_S = 300
# Run from the unpacked wheel, not from the work tree: init, then check what it wrote.
FROM_THE_WHEEL = """
import sys
from pathlib import Path
import luciole
from luciole.main import main
assert Path(luciole.__file__).is_relative_to(sys.argv[1]), luciole.__file__
assert main(["init", sys.argv[2]]) == 0
assert main(["check-config", sys.argv[2] + "/site.yaml"]) == 0
"""


def _backend_installed() -> bool:
    """Whether every requirement of [build-system] is met by what this Python has."""
    for text in PYPROJECT["build-system"]["requires"]:
        requirement = Requirement(text)
        try:
            found = metadata.version(requirement.name)
        except metadata.PackageNotFoundError:
            return False
        if not requirement.specifier.contains(found, prereleases=True):
            return False
    return True


def _packages() -> list[str]:
    """The top-level packages setuptools is told to find (`gateway*` -> gateway)."""
    include = PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"]
    return sorted({pattern.split(".")[0].rstrip("*") for pattern in include})


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    ignore = shutil.ignore_patterns("__pycache__", ".*_cache", "*.egg-info")
    for package in _packages():
        shutil.copytree(ROOT / package, source / package, ignore=ignore)
    offline = ["--no-build-isolation"] if _backend_installed() else []
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", *offline]
    command += ["--wheel-dir", str(work / "dist"), str(source)]
    done = subprocess.run(
        command, capture_output=True, text=True, check=False, timeout=BUILD_TIMEOUT_S, cwd=work
    )
    assert done.returncode == 0, done.stdout + done.stderr
    (built,) = (work / "dist").glob("luciole-*.whl")
    yield built


def test_the_wheel_carries_the_packages_and_the_examples(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for expected in (
        "luciole/main.py",
        "luciole/examples/site.yaml",
        "luciole/examples/policy.yaml",
        "luciole/examples/luciole.service",
        "gateway/console/assets/index.html",
        "gateway/console/assets/console.js",
        "gateway/console/assets/console.css",
    ):
        assert expected in names
    for package in ("gateway", "controllers", "sim"):
        assert f"{package}/__init__.py" in names
    assert not any(name.startswith("tests/") for name in names)
    assert not any("_cache/" in name or "__pycache__" in name for name in names)


def test_the_wheel_declares_the_console_script(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        (entry_points,) = [
            n for n in archive.namelist() if n.endswith(".dist-info/entry_points.txt")
        ]
        text = archive.read(entry_points).decode()
    assert "[console_scripts]" in text
    assert "luciole = luciole.main:main" in text


def test_the_unpacked_wheel_runs_init_from_its_own_examples(wheel: Path, tmp_path: Path) -> None:
    """Imported from the wheel alone (not from the work tree), `luciole init` finds the
    examples inside the package and writes a site that check-config accepts."""
    unpacked = tmp_path / "site-packages"
    zipfile.ZipFile(wheel).extractall(unpacked)
    env = {**os.environ, "PYTHONPATH": str(unpacked)}
    done = subprocess.run(
        [sys.executable, "-c", FROM_THE_WHEEL, str(unpacked), str(tmp_path / "etc")],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
        env=env,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / "etc" / "site.yaml").read_bytes() == (ROOT / "config/site.yaml").read_bytes()
