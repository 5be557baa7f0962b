"""The daemon's side of the city services: readings in, alerts and lists out, state that a
restart (a `kill -9` between publishing and storing included) neither forgets nor repeats."""

import json
from pathlib import Path

import pytest

from controllers.settings import Policy, SiteConfig
from gateway.ingest.readings import BinReading, WaterReading
from gateway.services.city import ALERTS_ROOM, CityServices
from gateway.store.spool import Spool

START_S = 1_740_960_000.0  # 2025-03-03T00:00:00Z, a Monday
QUARTER_S = 900.0


def _site(collection_days: tuple[str, ...] = ()) -> SiteConfig:
    return SiteConfig.model_validate(
        {
            "site": {"id": "t", "latitude": 47.47, "longitude": -0.55, "timezone": "UTC"},
            "segments": [{"id": "s1", "street": "main", "order": 1, "length_m": 30,
                          "rated_power_w": 40}],
            "water": {"price_per_m3": 4.0},
            "devices": {
                "meter-1": {"kind": "water", "segment": "s1"},
                "meter-2": {"kind": "water", "segment": "s1", "continuous_flow_expected": True},
                "bin-1": {"kind": "bin", "segment": "s1", "empty_distance_mm": 1000,
                          "full_distance_mm": 0, "collection_days": list(collection_days)},
            },
        }
    )  # fmt: skip


def _meter(device: str, k: int, rate_m3h: float) -> WaterReading:
    """The k-th quarter-hour reading of a meter flowing at `rate_m3h` since START_S."""
    return WaterReading(
        device_id=device,
        segment="s1",
        ts_s=START_S + k * QUARTER_S,
        total_m3=100.0 + k * rate_m3h / 4,
        delta_m3=None if k == 0 else rate_m3h / 4,
    )


def _bin(k: int, fill: float) -> BinReading:
    return BinReading(
        device_id="bin-1",
        segment="s1",
        ts_s=START_S + k * 3600.0,
        distance_mm=1000.0 * (1 - fill),
        fill_ratio=fill,
    )


def _feed(city: CityServices, readings: list[WaterReading], now_s: float) -> list[str]:
    for reading in readings:
        city.accept(reading)
    return [m.topic for m in city.step(now_s).messages]


def test_a_day_without_a_dry_hour_raises_a_leak_once_with_its_cost() -> None:
    """20 L/h for 26 h: `water_leak` on its topic, retained, with rate, volume and cost; the
    exempt meter with the same flow says nothing."""
    city = CityServices(_site(), Policy())
    raised: list[str] = []
    for k in range(26 * 4):
        now_s = START_S + k * QUARTER_S
        raised += _feed(city, [_meter("meter-1", k, 0.02), _meter("meter-2", k, 0.02)], now_s)
    assert raised.count("luciole/t/alert/water_leak/meter-1") == 1
    assert not [t for t in raised if "meter-2" in t]
    (message,) = city.active.values()
    body = json.loads(message.payload)
    assert message.retain and body["active"] is True and body["since"] == START_S
    assert body["rate_m3h"] == pytest.approx(0.02)
    assert body["cost"] == pytest.approx(body["volume_m3"] * 4.0, abs=1e-3)
    (leak,) = city.leaks(START_S + 26 * 3600)
    assert leak.volume_m3 == pytest.approx(0.02 * 26, rel=0.05)
    assert leak.cost == pytest.approx(leak.volume_m3 * 4.0)


def test_killed_before_the_batch_was_stored_the_replayed_batch_raises_the_same_alert(
    tmp_path: Path,
) -> None:
    """State rows go with the batch: a daemon killed after publishing an alert but before
    storing its batch restarts from the state before it, takes the redelivered readings
    again and publishes the very same message; after a stored batch, the restart knows the
    leak and does not raise it again."""
    spool = Spool(tmp_path / "spool.db")
    city = CityServices(_site(), Policy())
    first = None
    for k in range(30 * 4):
        reading = _meter("meter-1", k, 0.02)
        city.accept(reading)
        served = city.step(reading.ts_s)
        alerts = [m for m in served.messages if "/alert/" in m.topic]
        if alerts:
            first, lost = alerts[0], reading  # published; then killed: not stored
            break
        spool.append_rows(served.rows)
    assert first is not None and "water_leak" in first.topic
    again = CityServices(_site(), Policy())
    again.restore({room: spool.state(room) for room in ("bins", "water", ALERTS_ROOM)})
    assert not again.active
    again.accept(lost)  # the broker redelivers what was not acked
    replayed = again.step(lost.ts_s)
    assert [m for m in replayed.messages if "/alert/" in m.topic] == [first]
    spool.append_rows(replayed.rows)
    third = CityServices(_site(), Policy())
    third.restore({room: spool.state(room) for room in ("bins", "water", ALERTS_ROOM)})
    assert list(third.active.values()) == [first]
    assert third.startup_messages(lost.ts_s)[0] == first
    third.accept(lost)  # redelivered once more: no newer than the state, ignored
    third.accept(_meter("meter-1", 30 * 4, 0.02))
    assert not [m for m in third.step(lost.ts_s + QUARTER_S).messages if "alert" in m.topic]
    spool.close()


def test_the_collection_list_is_published_when_its_members_change() -> None:
    """A bin filling up: on the list once forecast full within the horizon, urgent when
    full, off it once emptied; unchanged membership publishes nothing."""
    city = CityServices(_site(), Policy())
    lists: list[dict[str, object]] = []
    for k in range(60):  # 1.5 % an hour: full after 60 h
        city.accept(_bin(k, min(0.05 + 0.015 * k, 1.0)))
        lists += [json.loads(m.payload) for m in city.step(START_S + k * 3600).messages
                  if m.topic == "luciole/t/bins/due"]  # fmt: skip
    urgencies = [_urgencies(d) for d in lists]
    assert urgencies == [[], ["on_the_way"], ["urgent"]], "published when it changed, only"
    (due,) = city.due(START_S + 60 * 3600)
    assert due.reason == "full" and due.fill == pytest.approx(0.935)
    city.accept(_bin(61, 0.02))
    emptied = city.step(START_S + 61 * 3600)
    assert ("bin-1", START_S + 61 * 3600) in emptied.emptyings
    assert city.due(START_S + 61 * 3600) == []


def test_a_bin_that_would_overflow_before_its_next_round_is_urgent_on_this_one() -> None:
    """Filling 10 % a day from 40 %: full on Saturday. Collected on Mondays and Thursdays it
    can wait for Thursday; collected on Mondays only, it is urgent on Monday, and the reason
    says why."""
    city = CityServices(_site(("mon", "thu")), Policy())
    for k in range(12):  # Monday 00:00 to 11:00
        city.accept(_bin(k, 0.4 + 0.1 * k / 24))
        city.step(START_S + k * 3600)
    assert city.due(START_S + 11 * 3600) == []  # full on Saturday, after Thursday's round
    weekly = CityServices(_site(("mon",)), Policy())
    for k in range(12):
        weekly.accept(_bin(k, 0.4 + 0.1 * k / 24))
        weekly.step(START_S + k * 3600)
    (due,) = weekly.due(START_S + 11 * 3600)
    assert due.urgency == "urgent" and due.reason.endswith("before its next round")


def _urgencies(listed: dict[str, object]) -> list[object]:
    bins = [*listed["urgent"], *listed["on_the_way"]]  # type: ignore[misc]
    return [b["urgency"] for b in bins]


def test_a_reload_keeps_every_device_still_registered() -> None:
    """A new site file: a meter still there keeps its hours and its leak."""
    city = CityServices(_site(), Policy())
    for k in range(26 * 4):
        _feed(city, [_meter("meter-1", k, 0.02)], START_S + k * QUARTER_S)
    reloaded = city.carried_into(_site(), Policy())
    assert reloaded.active == city.active
    assert reloaded.leaks(START_S + 26 * 3600) == city.leaks(START_S + 26 * 3600)


def test_a_state_row_of_another_layout_starts_that_device_afresh(
    caplog: pytest.LogCaptureFixture,
) -> None:
    city = CityServices(_site(), Policy())
    assert city.restore({"water": {"meter-1": "3:AAAA"}}) == 0
    assert "another version" in caplog.text


def test_readings_of_one_meter_at_one_instant_count_once_with_all_their_water() -> None:
    """A backlog delivered at once, without times of its own: three readings at the same
    arrival time are one reading of the three volumes (and a batch of one round)."""
    city = CityServices(_site(), Policy())
    base = WaterReading(device_id="meter-1", segment="s1", ts_s=START_S, total_m3=100.0)
    _feed(city, [base], START_S)
    at_s = START_S + 600
    same = [
        WaterReading(
            device_id="meter-1", segment="s1", ts_s=at_s, total_m3=100 + k / 100, delta_m3=0.01
        )
        for k in (1, 2, 3)
    ]
    _feed(city, same, START_S + 600)
    later = WaterReading(
        device_id="meter-1", segment="s1", ts_s=START_S + 3660, total_m3=100.03, delta_m3=0.0
    )
    _feed(city, [later], START_S + 3660)
    meter = city.meters.positions["meter-1"]
    assert city.water_state.hourly_m3(1)[meter, 0] == pytest.approx(0.03)
