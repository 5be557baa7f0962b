"""Per-source budgets, charged before decoding: a flood is shed, registered sources are not."""

from controllers.settings import SiteConfig
from gateway.ops.admission import Admission, Budgets, Source, TokenBucket

ROOT = "luciole/town"
SMALL = Budgets(registered=(5.0, 20.0), unknown=(1.0, 3.0), pool=(10.0, 10.0))


def _site() -> SiteConfig:
    return SiteConfig.model_validate(
        {
            "site": {"id": "town", "latitude": 45.0, "longitude": 4.0},
            "segments": [
                {"id": "s1", "street": "main", "order": 0, "length_m": 30, "rated_power_w": 40}
            ],
            "devices": {
                "counter-1": {"kind": "pedestrian", "segment": "s1"},
                "bin-1": {"kind": "bin", "segment": "s1", "network_ids": ["24E124713B123456"]},
            },
        }
    )


def _admitted(admission: Admission, topic: str, count: int, now_s: float = 0.0) -> int:
    """How many of `count` messages on `topic` at `now_s` are decoded."""
    return sum(admission.shed(topic, now_s) is None for _ in range(count))


def test_a_bucket_refills_at_its_rate_up_to_its_burst() -> None:
    """Burst first, then one token per 1/rate seconds; a clock going back refills nothing."""
    bucket = TokenBucket(rate=2.0, burst=3.0, now_s=0.0)
    assert [bucket.take(0.0) for _ in range(4)] == [True, True, True, False]
    assert bucket.take(0.5) and not bucket.take(0.5)
    assert not bucket.take(0.1)
    assert sum(bucket.take(100.0) for _ in range(10)) == 3


def test_an_unregistered_flood_is_shed_past_its_small_budget() -> None:
    """An unknown device gets its burst decoded, then everything else is shed to its id."""
    admission = Admission(_site(), SMALL)
    topic = f"{ROOT}/sensor/pedestrian/intruder"
    assert _admitted(admission, topic, 1000) == 3
    assert admission.shed(topic, 0.0) == Source("intruder", registered=False)
    assert _admitted(admission, topic, 1000, now_s=2.0) == 2


def test_unregistered_sources_share_one_pool() -> None:
    """A flood spread over made-up device ids is held by the pool they all draw from."""
    admission = Admission(_site(), SMALL)
    decoded = sum(_admitted(admission, f"{ROOT}/sensor/pedestrian/fake-{n}", 3) for n in range(50))
    assert decoded == 10


def test_a_registered_device_keeps_its_own_budget_during_a_flood() -> None:
    """However much the unknown sources send, a registered device's messages are decoded."""
    admission = Admission(_site(), SMALL)
    _admitted(admission, f"{ROOT}/sensor/pedestrian/intruder", 10_000)
    assert _admitted(admission, f"{ROOT}/sensor/pedestrian/counter-1", 20) == 20
    assert admission.shed(f"{ROOT}/sensor/pedestrian/counter-1", 0.0) == Source(
        "counter-1", registered=True
    )


def test_third_party_topics_are_registered_by_network_id_or_by_their_readings() -> None:
    """A topic naming a registered network id (ChirpStack's devEUI, TTS's eui- id) has its
    own budget; another becomes registered once it has carried a registered device's reading."""
    admission = Admission(_site(), SMALL)
    assert admission.source("application/7/device/24e124713b123456/event/up").registered
    assert admission.source("v3/app@tenant/devices/eui-24e124713b123456/up").registered
    wmbus = "wmbusmeters/kitchen"
    assert not admission.source(wmbus).registered
    admission.learn(wmbus)
    assert admission.source(wmbus) == Source(wmbus, registered=True)


def test_lamp_and_override_topics_of_the_site_are_registered() -> None:
    """The site's lamps (state and commands) and the override topics are never in the pool."""
    admission = Admission(_site(), SMALL)
    assert admission.source(f"{ROOT}/lamp/s1/state").registered
    assert admission.source(f"{ROOT}/lamp/s1/set").registered
    assert not admission.source(f"{ROOT}/lamp/elsewhere/state").registered
    assert admission.source(f"{ROOT}/override/main") == Source("(overrides)", registered=True)
