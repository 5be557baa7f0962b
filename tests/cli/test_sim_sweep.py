"""`luciole sim sweep` without the simulator extra: it says what to install instead of failing
on an import."""

import importlib.util
from importlib.machinery import ModuleSpec
from pathlib import Path

import pytest

from luciole.main import main


def test_sim_sweep_names_the_missing_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without distributed installed, the command exits 2 and names luciole[sim] and the module."""
    real = importlib.util.find_spec

    def without_distributed(name: str, package: str | None = None) -> ModuleSpec | None:
        return None if name == "distributed" else real(name, package)

    monkeypatch.setattr(importlib.util, "find_spec", without_distributed)
    args = ["sim", "sweep", "--scenario", "s.yaml", "--policy", "p.yaml", "--out", str(tmp_path)]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "pip install 'luciole[sim]'" in err and "missing: distributed" in err
