"""Normalisation: counters to deltas, distance to fill, meter indexes through rollovers."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from controllers.settings.site import Device
from gateway.formats.base import Decoded
from gateway.ingest.readings import BinReading, Normaliser, PedestrianReading, WaterReading
from gateway.wire.payloads import Kind

COUNTER = Device(kind="pedestrian", segment="s1")
BIN = Device(kind="bin", segment="s2", empty_distance_mm=1200, full_distance_mm=200)
METER = Device(kind="water", segment="s3")


def _decoded(kind: Kind, **values: object) -> Decoded:
    return Decoded(network_id="n", kind=kind, ts_s=1000.0, values=values)


def _counts(normaliser: Normaliser, **values: object) -> list[tuple[int, str | None, bool]]:
    out = normaliser.readings("c", COUNTER, _decoded("pedestrian", **values), 0.0)
    assert all(isinstance(r, PedestrianReading) for r in out)
    return [(r.count, r.direction, r.counter_reset) for r in out]  # type: ignore[union-attr]


def test_period_counts_by_direction_become_readings() -> None:
    """count_in/count_out are walkers forward and backward in the period."""
    got = _counts(Normaliser(), count_in=3, count_out=1, period_s=60)
    assert got == [(3, "forward", False), (1, "backward", False)]


def test_first_total_is_a_baseline_then_deltas() -> None:
    """A cumulative total yields nothing the first time, then the difference."""
    normaliser = Normaliser()
    assert _counts(normaliser, total_in=100) == []
    assert _counts(normaliser, total_in=107) == [(7, "forward", False)]
    assert _counts(normaliser, total_in=107) == [(0, "forward", False)]


def test_total_that_wraps_at_16_bits_counts_across_the_wrap() -> None:
    """65530 then 4 on a 16-bit counter is 10 walkers, not a reset."""
    normaliser = Normaliser()
    _counts(normaliser, total=65_530)
    assert _counts(normaliser, total=4) == [(10, None, False)]


def test_total_that_drops_mid_range_is_a_reset() -> None:
    """A counter that restarts (power cycle) counts from zero: its new total is new walkers."""
    normaliser = Normaliser()
    _counts(normaliser, total=5_000)
    assert _counts(normaliser, total=3) == [(3, None, True)]


def test_bin_fill_comes_from_geometry() -> None:
    """Half-way between the empty and full distances is half full; beyond is clamped."""
    normaliser = Normaliser()
    (half,) = normaliser.readings("b", BIN, _decoded("bin", distance_mm=700), 0.0)
    (over,) = normaliser.readings("b", BIN, _decoded("bin", distance_mm=50), 0.0)
    assert isinstance(half, BinReading) and half.fill_ratio == pytest.approx(0.5)
    assert isinstance(over, BinReading) and over.fill_ratio == 1.0


def _water(normaliser: Normaliser, total_m3: float) -> WaterReading:
    (reading,) = normaliser.readings("w", METER, _decoded("water", total_m3=total_m3), 0.0)
    assert isinstance(reading, WaterReading)
    return reading


def test_meter_index_rollover_keeps_the_delta() -> None:
    """99 999.5 m³ then 0.5 m³ on a five-digit register is 1 m³ used, flagged as a rollover."""
    normaliser = Normaliser()
    _water(normaliser, 99_999.5)
    after = _water(normaliser, 0.5)
    assert after.event == "rollover"
    assert after.delta_m3 == pytest.approx(1.0)


def test_meter_replacement_starts_a_new_baseline() -> None:
    """An index that falls mid-range is a new meter: no delta, flagged for the operator."""
    normaliser = Normaliser()
    _water(normaliser, 1234.5)
    replaced = _water(normaliser, 3.2)
    assert replaced.event == "meter_replaced" and replaced.delta_m3 is None
    assert _water(normaliser, 3.7).delta_m3 == pytest.approx(0.5)


@given(st.lists(st.integers(min_value=0, max_value=2**32 - 1), min_size=1, max_size=30))
def test_counter_deltas_are_never_negative(totals: list[int]) -> None:
    """Whatever a counter reports, the walkers it yields are never negative."""
    normaliser = Normaliser()
    for total in totals:
        for count, _, _ in _counts(normaliser, total=total):
            assert count >= 0


def test_totals_win_over_period_counts_in_the_same_frame() -> None:
    """Once a total is known, a frame with totals and period counts yields the delta only."""
    normaliser = Normaliser()
    _counts(normaliser, total_in=10, count_in=3)
    assert _counts(normaliser, total_in=13, count_in=3) == [(3, "forward", False)]


def test_a_first_total_counts_the_period_counts_of_its_frame() -> None:
    """With no earlier total, the frame's period counts are the walkers it saw (VS350, VS133)."""
    normaliser = Normaliser()
    first = _counts(normaliser, total_in=18, total_out=22, count_in=19, count_out=20)
    assert first == [(19, "forward", False), (20, "backward", False)]
    later = _counts(normaliser, total_in=25, total_out=22, count_in=7, count_out=0)
    assert later == [(7, "forward", False), (0, "backward", False)]


def test_a_first_total_with_zero_period_counts_makes_no_reading() -> None:
    """A zero proves nobody walked: a baseline frame of zeros yields nothing, not empty rows."""
    assert _counts(Normaliser(), total_in=72, total_out=200, count_in=0, count_out=0) == []


def test_each_direction_pairs_its_count_with_its_own_total() -> None:
    """A period count whose own total is absent is counted, whatever the other direction has."""
    normaliser = Normaliser()
    _counts(normaliser, total_in=10)
    assert _counts(normaliser, total_in=12, count_out=4) == [
        (2, "forward", False),
        (4, "backward", False),
    ]


def test_lines_of_one_counter_keep_their_own_totals() -> None:
    """Readings of different lines (a VS133's four) are separate counters."""
    normaliser = Normaliser()
    for line, total in ((1, 72), (4, 5300)):
        decoded = _decoded("pedestrian", line=line, total_in=total)
        assert normaliser.readings("c", COUNTER, decoded, 0.0) == []
    line_4 = normaliser.readings("c", COUNTER, _decoded("pedestrian", line=4, total_in=5301), 0.0)
    assert [r.count for r in line_4] == [1]  # type: ignore[union-attr]


def _at(ts_s: float, **values: object) -> Decoded:
    return Decoded(network_id="n", kind="pedestrian", ts_s=ts_s, values=values)


def _walkers(normaliser: Normaliser, decoded: Decoded) -> list[tuple[int, str | None, bool]]:
    out = normaliser.readings("c", COUNTER, decoded, 0.0)
    return [(r.count, r.direction, r.counter_reset) for r in out]  # type: ignore[union-attr]


def test_a_logged_total_older_than_the_last_is_not_a_reset() -> None:
    """A VS350 history record resent late, with smaller totals, counts nothing and resets
    nothing: its walkers are in the deltas already made."""
    normaliser = Normaliser()
    _walkers(normaliser, _at(2000.0, total_in=300))
    assert _walkers(normaliser, _at(1000.0, total_in=250)) == []
    assert _walkers(normaliser, _at(3000.0, total_in=310)) == [(10, "forward", False)]


def test_a_logged_period_inside_a_known_total_is_not_counted_twice() -> None:
    """A period count at or before the last total is inside a delta; after it, it counts."""
    normaliser = Normaliser()
    _walkers(normaliser, _at(1000.0, total_in=100))
    _walkers(normaliser, _at(3000.0, total_in=130))
    assert _walkers(normaliser, _at(2000.0, count_in=11)) == []
    assert _walkers(normaliser, _at(4000.0, count_in=5)) == [(5, "forward", False)]


def test_a_negative_flow_keeps_the_meter_index() -> None:
    """Water running backwards (-0.002 m³/h) is stored with its sign, beside the index."""
    (got,) = Normaliser().readings(
        "w", METER, _decoded("water", total_m3=296.789, flow_m3h=-0.002), 0.0
    )
    assert isinstance(got, WaterReading) and (got.total_m3, got.flow_m3h) == (296.789, -0.002)


def test_back_dated_meter_readings_are_not_a_replacement() -> None:
    """An hourly log older than the last index is stored without a delta or an event."""
    normaliser = Normaliser()
    now = Decoded(network_id="n", kind="water", ts_s=10_000.0, values={"total_m3": 6.054})
    earlier = Decoded(network_id="n", kind="water", ts_s=6_400.0, values={"total_m3": 6.0})
    normaliser.readings("w", METER, now, 0.0)
    (old,) = normaliser.readings("w", METER, earlier, 0.0)
    assert isinstance(old, WaterReading) and (old.event, old.delta_m3) == (None, None)
    later = Decoded(network_id="n", kind="water", ts_s=13_600.0, values={"total_m3": 6.1})
    (new,) = normaliser.readings("w", METER, later, 0.0)
    assert isinstance(new, WaterReading) and new.delta_m3 == pytest.approx(0.046)


def test_an_index_a_little_lower_is_water_run_back_not_a_new_meter() -> None:
    """12 L back through the meter: a backflow of 0.012 m³, and the index goes on from there."""
    normaliser = Normaliser()
    _water(normaliser, 1234.5)
    back = _water(normaliser, 1234.488)
    assert back.event == "backflow" and back.delta_m3 is None
    assert back.decrease_m3 == pytest.approx(0.012)
    assert _water(normaliser, 1234.5).delta_m3 == pytest.approx(0.012)
