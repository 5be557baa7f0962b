"""`luciole override` refuses what it cannot send, before touching the broker."""

from pathlib import Path

import pytest

from luciole.main import main

CONFIG = Path(__file__).resolve().parents[2] / "config" / "site.yaml"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["rue-des-lices-13", "80%"], "did you mean 'rue-des-lices-12'"),
        (["quai-du-prot", "80%"], "did you mean 'quai-du-port'"),
        (["all", "180%"], "between 0 and 100%"),
        (["all", "bright"], "expected a level such as 0.4 or 40%"),
        (["all", "80%", "--for", "soon"], "expected a duration"),
        (["all", "80%", "--for", "0s"], "positive duration"),
        (["all"], "give a LEVEL"),
        (["all", "80%", "--clear"], "--clear takes no LEVEL"),
    ],
)
def test_bad_override_is_refused_with_exit_2(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each mistake gets its own explanation on stderr and exit status 2."""
    assert main(["override", *args, "--config", str(CONFIG)]) == 2
    assert message in capsys.readouterr().err


def test_unreachable_broker_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A valid override to a broker nobody listens on fails with exit 1 and says which broker."""
    from gateway.mqtt.broker import free_port

    site = CONFIG.read_text().replace("mqtt://127.0.0.1:1883", f"mqtt://127.0.0.1:{free_port()}")
    (tmp_path / "site.yaml").write_text(site)
    (tmp_path / "policy.yaml").write_text((CONFIG.parent / "policy.yaml").read_text())
    code = main(["override", "all", "50%", "--config", str(tmp_path / "site.yaml")])
    assert code == 1
    assert "luciole override: broker mqtt://127.0.0.1:" in capsys.readouterr().err
