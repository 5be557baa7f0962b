"""Readings and overrides in, lamp commands out: what goes on the wire and when."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from controllers.schedule import AstronomicalClock
from controllers.settings import Policy, SiteConfig
from gateway.ingest.readings import BinReading, PedestrianReading
from gateway.lighting.control import Applied, Lighting, Outgoing
from gateway.wire.payloads import Direction, OverrideMessage

PARIS = ZoneInfo("Europe/Paris")
NIGHT = datetime(2026, 11, 10, 23, 0, tzinfo=PARIS).timestamp()
NOON = datetime(2026, 11, 10, 12, 0, tzinfo=PARIS).timestamp()
SEGMENTS = [("a", n) for n in range(1, 6)] + [("b", n) for n in range(1, 4)]
ALL = {f"{street}-{n}" for street, n in SEGMENTS}
SITE = SiteConfig.model_validate(
    {
        "site": {
            "id": "test-site",
            "latitude": 47.4712,
            "longitude": -0.5518,
            "timezone": "Europe/Paris",
        },
        "segments": [
            {
                "id": f"{street}-{n}",
                "street": street,
                "order": n,
                "length_m": 30,
                "rated_power_w": 36,
            }
            for street, n in SEGMENTS
        ],
        "devices": {
            "ped-1": {"kind": "pedestrian", "segment": "a-2"},
            "bin-1": {"kind": "bin", "segment": "b-1"},
        },
    }
)
POLICY = Policy.model_validate(
    {
        "schedule": {"night_level": 0.3},
        "presence": {
            "level": 1.0,
            "hold_s": 60,
            "ramp_up_s": 1,
            "ramp_down_s": 10,
            "lookahead_segments": 2,
        },
        "commands": {"deadband": 0.02, "refresh_s": 300},
    }
)


@pytest.fixture
def lighting() -> Lighting:
    clock = AstronomicalClock(47.4712, -0.5518, "Europe/Paris")
    assert clock.is_lit(NIGHT, 0, 0)
    assert not clock.is_lit(NOON, 0, 0)
    return Lighting(SITE, POLICY, NIGHT)


def by_segment(out: list[Outgoing]) -> dict[str, Outgoing]:
    return {o.segment: o for o in out}


def walker(count: int = 1, direction: Direction | None = "forward") -> PedestrianReading:
    return PedestrianReading(
        device_id="ped-1",
        segment="a-2",
        ts_s=NIGHT,
        count=count,
        period_s=0,
        direction=direction,
    )


def test_first_commands_send_every_segment(lighting: Lighting) -> None:
    """The first call tells every lamp its scheduled level, numbered and timestamped."""
    out = lighting.commands(NIGHT)
    assert set(by_segment(out)) == ALL
    assert [o.command.seq for o in out] == list(range(1, len(ALL) + 1))
    for o in out:
        assert o.topic == f"luciole/test-site/lamp/{o.segment}/set"
        assert (o.command.level, o.command.reason, o.command.ts) == (0.3, "schedule", NIGHT)
        assert o.command.ramp_s == 1.0


def test_unchanged_levels_wait_for_the_refresh(lighting: Lighting) -> None:
    """Nothing is resent within refresh_s; everything is resent once it has passed."""
    lighting.commands(NIGHT)
    assert lighting.commands(NIGHT + 1) == []
    assert lighting.commands(NIGHT + 299) == []
    assert set(by_segment(lighting.commands(NIGHT + 300))) == ALL


def test_presence_reading_raises_segments_with_reason_presence(lighting: Lighting) -> None:
    """A walker returns True and the next commands raise their segment and the two ahead."""
    lighting.commands(NIGHT)
    assert lighting.accept(walker(), NIGHT + 5) is True
    out = by_segment(lighting.commands(NIGHT + 5))
    assert set(out) == {"a-2", "a-3", "a-4"}
    for o in out.values():
        assert (o.command.level, o.command.reason, o.command.ramp_s) == (1.0, "presence", 1.0)


def test_presence_ends_with_a_slow_fall_to_the_night_level(lighting: Lighting) -> None:
    """After hold_s the raised segments get the night level with ramp_down_s."""
    lighting.commands(NIGHT)
    lighting.accept(walker(direction="backward"), NIGHT)
    assert set(by_segment(lighting.commands(NIGHT))) == {"a-1", "a-2"}
    assert lighting.commands(NIGHT + 59) == []
    out = by_segment(lighting.commands(NIGHT + 60))
    assert set(out) == {"a-1", "a-2"}
    for o in out.values():
        assert (o.command.level, o.command.reason, o.command.ramp_s) == (0.3, "schedule", 10.0)


def test_reading_without_presence_returns_false(lighting: Lighting) -> None:
    """A zero count or a bin reading does not raise anything."""
    lighting.commands(NIGHT)
    assert lighting.accept(walker(count=0), NIGHT) is False
    bin_reading = BinReading(device_id="bin-1", segment="b-1", ts_s=NIGHT, fill_ratio=0.5)
    assert lighting.accept(bin_reading, NIGHT) is False
    assert lighting.commands(NIGHT + 1) == []


def test_presence_by_day_sends_nothing(lighting: Lighting) -> None:
    """A walker at noon returns True but every lamp stays off."""
    first = lighting.commands(NOON)
    assert {o.command.level for o in first} == {0.0}
    assert lighting.accept(walker(), NOON) is True
    assert lighting.commands(NOON) == []


@pytest.mark.parametrize(
    ("target", "segments"),
    [("a-4", {"a-4"}), ("b", {"b-1", "b-2", "b-3"}), ("all", ALL)],
)
def test_override_targets(lighting: Lighting, target: str, segments: set[str]) -> None:
    """An override reaches a segment, a whole street, or every segment."""
    lighting.commands(NIGHT)
    message = OverrideMessage(level=0.8, duration_s=600)
    assert isinstance(lighting.override(target, message, NIGHT), Applied)
    out = by_segment(lighting.commands(NIGHT + 1))
    assert set(out) == segments
    assert {(o.command.level, o.command.reason) for o in out.values()} == {(0.8, "override")}


def test_override_expires_and_can_be_cleared(lighting: Lighting) -> None:
    """A timed override ends by itself; one without a duration lasts the policy's maximum
    (4 h by default) unless cleared first."""
    lighting.commands(NIGHT)
    lighting.override("a-1", OverrideMessage(level=0.0, duration_s=60), NIGHT)
    lighting.override("b-1", OverrideMessage(level=0.6), NIGHT)
    assert {o.segment: o.command.level for o in lighting.commands(NIGHT)} == {
        "a-1": 0.0,
        "b-1": 0.6,
    }
    assert {o.segment: o.command.level for o in lighting.commands(NIGHT + 60)} == {"a-1": 0.3}
    later = NIGHT + 3600 * 3  # still night; every lamp is due for its refresh
    refreshed = by_segment(lighting.commands(later))
    assert (refreshed["b-1"].command.level, refreshed["b-1"].command.reason) == (0.6, "override")
    assert isinstance(lighting.override("b-1", OverrideMessage(clear=True), later), Applied)
    out = by_segment(lighting.commands(later + 1))
    assert set(out) == {"b-1"}
    assert (out["b-1"].command.level, out["b-1"].command.reason) == (0.3, "schedule")


def test_unknown_override_target_is_an_error_text(lighting: Lighting) -> None:
    """A target that is no segment, street or `all` returns an explanation and changes nothing."""
    lighting.commands(NIGHT)
    error = lighting.override("nowhere", OverrideMessage(level=1.0), NIGHT)
    assert isinstance(error, str)
    assert "unknown override target 'nowhere'" in error
    assert lighting.commands(NIGHT + 1) == []


def test_override_without_level_or_clear_is_an_error_text(lighting: Lighting) -> None:
    """An override must carry a level or clear: true."""
    error = lighting.override("a-1", OverrideMessage(duration_s=60), NIGHT)
    assert isinstance(error, str)
    assert "needs a level" in error


def test_resend_all_sends_every_segment_again(lighting: Lighting) -> None:
    """After a reconnect every lamp is told its level again, with fresh sequence numbers."""
    first = lighting.commands(NIGHT)
    lighting.resend_all()
    again = lighting.commands(NIGHT + 1)
    assert set(by_segment(again)) == ALL
    assert min(o.command.seq for o in again) > max(o.command.seq for o in first)


def test_replace_policy_applies_to_the_next_commands(lighting: Lighting) -> None:
    """A reloaded policy's night level goes out on the next call."""
    lighting.commands(NIGHT)
    lighting.replace_policy(Policy.model_validate({"schedule": {"night_level": 0.5}}))
    assert lighting.policy.schedule.night_level == 0.5
    assert {o.command.level for o in lighting.commands(NIGHT + 1)} == {0.5}


def test_override_reaches_a_group_of_the_policy() -> None:
    """A group named in the policy is an override target covering its streets and segments."""
    policy = Policy.model_validate(
        {"groups": {"old-town": {"streets": ["b"], "segments": ["a-1"]}}}
    )
    lighting = Lighting(SITE, policy, NIGHT)
    lighting.commands(NIGHT)
    message = OverrideMessage(level=0.9, duration_s=60)
    assert isinstance(lighting.override("old-town", message, NIGHT), Applied)
    assert set(by_segment(lighting.commands(NIGHT + 1))) == {"a-1", "b-1", "b-2", "b-3"}


def test_unknown_override_target_suggests_a_close_name(lighting: Lighting) -> None:
    """A misspelt segment id gets a did-you-mean."""
    error = lighting.override("a-11", OverrideMessage(level=1.0), NIGHT)
    assert isinstance(error, str)
    assert "did you mean" in error


def test_dali_arc_power_goes_with_the_level_only_when_asked() -> None:
    """With commands.dali_arc_power the command carries the arc power level; without, the
    payload has no such key."""
    plain = Lighting(SITE, POLICY, NIGHT).commands(NIGHT)[0].command
    assert "arc_power" not in plain.model_dump_json()
    dali = POLICY.model_copy(
        update={"commands": POLICY.commands.model_copy(update={"dali_arc_power": True})}
    )
    command = Lighting(SITE, dali, NIGHT).commands(NIGHT)[0].command
    assert (command.level, command.arc_power) == (0.3, 210)


def test_explain_names_each_layer_of_the_last_step(lighting: Lighting) -> None:
    """After a presence raise the explanation of the segment says presence and the schedule."""
    lighting.accept(walker(), NIGHT)
    lighting.commands(NIGHT)
    why = lighting.explain("a-3")
    assert why["presence"] is True
    assert why["override"] is False
    assert why["schedule"] == "0.3 (night_level)"
    assert lighting.explain("b-2")["presence"] is False


def test_a_quiet_reading_keeps_its_segment_out_of_failsafe() -> None:
    """A bin reading, told to the engine only at the next step, still counts as its sensor
    speaking: b-1 stays at the night level while silent a-2 falls back to fail-safe."""
    policy = POLICY.model_copy(
        update={
            "failsafe": POLICY.failsafe.model_copy(update={"stale_after_s": 600.0, "level": 0.9})
        }
    )
    lighting = Lighting(SITE, policy, NIGHT)
    lighting.commands(NIGHT)
    bin_reading = BinReading(device_id="bin-1", segment="b-1", ts_s=NIGHT, fill_ratio=0.5)
    assert lighting.accept(bin_reading, NIGHT + 500) is False
    out = by_segment(lighting.commands(NIGHT + 700))
    assert (out["a-2"].command.reason, out["a-2"].command.level) == ("failsafe", 0.9)
    assert out["b-1"].command.reason == "schedule"  # refreshed, not fallen back
