"""The site's `overrides` (who may override) and the policy's (how long), as check-config and
the daemon read them; the senders' keys, read like the broker's password."""

from pathlib import Path

import pytest

from controllers.settings.site import OverrideSender
from gateway.config import check_file, load_settings
from gateway.daemon import Daemon
from gateway.lighting.authority import KeyUnavailableError, check_keys, read_key
from gateway.wire.clock import SystemClock

SITE = """\
site: {{id: keys, latitude: 47.47, longitude: -0.55, timezone: Europe/Paris}}
segments:
  - {{id: a-1, street: a, order: 1, length_m: 30, rated_power_w: 36}}
{extra}"""


def write(folder: Path, site_extra: str, policy: str = "") -> Path:
    (folder / "site.yaml").write_text(SITE.format(extra=site_extra), encoding="utf-8")
    (folder / "policy.yaml").write_text(policy, encoding="utf-8")
    return folder / "site.yaml"


def private(path: Path, text: str) -> None:
    """A file its owner alone may read, as a key file must be."""
    path.write_text(text)
    path.chmod(0o600)


def test_senders_and_limits_are_read_with_human_units(tmp_path: Path) -> None:
    """`senders`, `max_clock_skew_s: 2m` and the policy's `max_duration_s: 2h` load."""
    site = write(
        tmp_path,
        "overrides:\n  senders: {alice: {key_env: K_ALICE}, cms: {key_file: keys/cms}}\n"
        "  max_clock_skew_s: 2m\n",
        "overrides: {max_duration_s: 2h}\n",
    )
    settings = load_settings(site)
    assert set(settings.site.overrides.senders) == {"alice", "cms"}
    assert settings.site.overrides.max_clock_skew_s == 120
    assert settings.policy.overrides.max_duration_s == 7200


@pytest.mark.parametrize(
    ("site_extra", "policy", "message"),
    [
        (
            "overrides: {senders: {alice: {key_evn: K}}}\n",
            "",
            "did you mean 'key_env'",
        ),
        ("overrides: {sender: {}}\n", "", "did you mean 'senders'"),
        ("overrides: {senders: {alice: {}}}\n", "", "give the key's key_env or its key_file"),
        (
            "overrides: {senders: {alice: {key_env: K, key_file: k}}}\n",
            "",
            "give the key's key_env or its key_file",
        ),
        ("", "overrides: {max_duraton_s: 1h}\n", "did you mean 'max_duration_s'"),
        ("", "overrides: {max_duration_s: 0s}\n", "must be > 0"),
    ],
)
def test_check_config_explains_a_bad_overrides_section(
    tmp_path: Path, site_extra: str, policy: str, message: str
) -> None:
    """A misspelt key gets its did-you-mean, a sender needs exactly one key source, and a
    maximum duration must be positive; each with its file and line."""
    problems = check_file(write(tmp_path, site_extra, policy))
    assert any(message in str(p) for p in problems), problems
    assert all(p.line is not None for p in problems)


def test_a_key_comes_from_its_variable_or_its_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """key_env reads the variable; key_file the file beside the site, whitespace removed."""
    monkeypatch.setenv("LUCIOLE_TEST_KEY", "  0123456789abcdef0123  ")
    private(tmp_path / "cms", "fedcba9876543210fedc\n")
    assert read_key("a", OverrideSender(key_env="LUCIOLE_TEST_KEY"), tmp_path) == (
        b"0123456789abcdef0123"
    )
    assert read_key("c", OverrideSender(key_file="cms"), tmp_path) == b"fedcba9876543210fedc"


@pytest.mark.parametrize(
    ("sender", "message"),
    [
        (OverrideSender(key_env="LUCIOLE_TEST_UNSET"), "LUCIOLE_TEST_UNSET is not set"),
        (OverrideSender(key_file="missing"), "key file .*missing not found"),
        (OverrideSender(key_file="short"), "fewer than 16"),
        (OverrideSender(key_file="open"), "open to group or others .* chmod 600"),
    ],
)
def test_an_unusable_key_is_explained_without_showing_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sender: OverrideSender, message: str
) -> None:
    """A variable not set, a file not there, a key too short, a key file others may read:
    the reason and where, never the key itself."""
    monkeypatch.delenv("LUCIOLE_TEST_UNSET", raising=False)
    private(tmp_path / "short", "tiny-key")
    (tmp_path / "open").write_text("0123456789abcdef0123")
    (tmp_path / "open").chmod(0o644)
    with pytest.raises(KeyUnavailableError, match=message) as error:
        read_key("alice", sender, tmp_path)
    assert "tiny-key" not in str(error.value)


def test_luciole_run_refuses_to_start_without_a_senders_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`luciole run` on a site whose sender's key is missing exits 2 at once, saying which."""
    from luciole.main import main

    monkeypatch.delenv("LUCIOLE_TEST_UNSET", raising=False)
    site = write(tmp_path, "overrides: {senders: {alice: {key_env: LUCIOLE_TEST_UNSET}}}\n")
    settings = load_settings(site)
    assert check_keys(settings.site.overrides, tmp_path) is not None
    assert main(["run", "--config", str(site)]) == 2
    assert (
        "override sender alice: environment variable LUCIOLE_TEST_UNSET" in capsys.readouterr().err
    )


def test_a_reload_naming_an_unusable_key_keeps_the_running_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A site saved with a sender whose key is not there is refused on reload, with the
    reason; the running site, and who may override, stay as they were."""
    monkeypatch.delenv("LUCIOLE_TEST_UNSET", raising=False)
    site = write(tmp_path, "")
    first = load_settings(site)
    daemon = Daemon(first, SystemClock(), reload=lambda: load_settings(site))
    try:
        write(tmp_path, "overrides: {senders: {alice: {key_env: LUCIOLE_TEST_UNSET}}}\n")
        daemon.reload()
        assert daemon.settings is first
        assert not daemon.authority.enforced
        assert "reload refused, keeping the running config" in caplog.text
    finally:
        daemon.spool.close()
