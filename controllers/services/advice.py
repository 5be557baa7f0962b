"""City-service settings that are legal but unwise, for `luciole check-config` to warn about.

They need the registry (each meter's Q3 and resolution, each bin's collection days), so they
are checked with both files. Each warning names the policy key to change:
- a leak sensitivity whose hour of flow is finer than a meter's resolution: the meter's hours
  read 0 or one step, so a leak below one step an hour is never seen, and one just above it
  looks like an hour without flow every other hour;
- a burst threshold at or below the leak threshold: every leak would also be a burst;
- a leak window shorter than a day: a household that uses water all afternoon would leak;
- an emptying drop within the ultrasonic noise (about 1 % of a bin's depth, 3 σ ≈ 3 %);
- a collection-late threshold shorter than a bin's own gap between collection days: that bin
  would be late every week by its schedule;
- a consumption period shorter than a day: the usual consumption of an hour is no usage.
"""

from controllers.settings.policy import Policy
from controllers.settings.schedule import WEEKDAYS
from controllers.settings.site import Device, SiteConfig
from controllers.settings.types import KeyPath

NOISE_DROP = 0.03
_EXAMPLES = 3
_DAY_S = 86400.0


def services_advice(policy: Policy, site: SiteConfig) -> list[tuple[KeyPath, str]]:
    """(policy key path, warning) pairs."""
    found = _coarse_meters(policy, site)
    water, bins = policy.water, policy.bins
    if water.burst_share <= water.leak_sensitivity:
        found.append(
            (
                ("water", "burst_share"),
                "at or below leak_sensitivity: every leak would also be a burst",
            )
        )
    if water.leak_window_h < 24:
        found.append(
            (
                ("water", "leak_window_h"),
                f"{water.leak_window_h} h is shorter than a "
                "day: a household that uses water all afternoon would count as leaking "
                "(the meters' own rule is 24 h)",
            )
        )
    if water.consumption_period_s < _DAY_S:
        found.append(
            (
                ("water", "consumption_period_s"),
                "shorter than a day: an hour's "
                "consumption says nothing about a household's usual use",
            )
        )
    if bins.emptying_drop < NOISE_DROP:
        found.append(
            (
                ("bins", "emptying_drop"),
                f"{bins.emptying_drop:.0%} is within the "
                "sensors' noise (about 1 % of the depth): noise would count as emptyings",
            )
        )
    found += _late_by_schedule(policy, site)
    return found


def _coarse_meters(policy: Policy, site: SiteConfig) -> list[tuple[KeyPath, str]]:
    water = policy.water
    coarse: list[str] = []
    for device_id, device in sorted(site.devices.items()):
        if device.kind != "water":
            continue
        q3 = device.q3_m3h if device.q3_m3h is not None else water.q3_m3h
        step = device.resolution_m3 if device.resolution_m3 is not None else water.resolution_m3
        if water.leak_threshold_m3h(q3) < step:
            coarse.append(f"{device_id} ({step * 1000:g} L)")
    if not coarse:
        return []
    litres = water.leak_threshold_m3h(water.q3_m3h) * 1000
    message = (
        f"{water.leak_sensitivity:.2%} of Q3 ({litres:g} L/h at Q3 {water.q3_m3h:g} m³/h) is "
        f"finer than the index resolution of {len(coarse)} meter(s), e.g. "
        f"{', '.join(coarse[:_EXAMPLES])}: their hours read 0 or one step, so a slower leak "
        "is never seen; raise the sensitivity or read those meters' finer register"
    )
    return [(("water", "leak_sensitivity"), message)]


def _late_by_schedule(policy: Policy, site: SiteConfig) -> list[tuple[KeyPath, str]]:
    late_s = policy.bins.collection_late_s
    bins = sorted(
        (device_id, _longest_gap_days(d))
        for device_id, d in site.devices.items()
        if d.kind == "bin" and d.collection_days
    )
    early = [f"{device_id} ({gap} days)" for device_id, gap in bins if gap * _DAY_S > late_s]
    if not early:
        return []
    message = (
        f"{late_s / _DAY_S:g} days is shorter than the gap between the scheduled collections "
        f"of {len(early)} bin(s), e.g. {', '.join(early[:_EXAMPLES])}: they would be late "
        "every week by their own schedule"
    )
    return [(("bins", "collection_late_s"), message)]


def _longest_gap_days(device: Device) -> int:
    days = sorted(WEEKDAYS.index(day) for day in set(device.collection_days))
    gaps = [(b - a) for a, b in zip(days, [*days[1:], days[0] + 7], strict=True)]
    return max(gaps)
