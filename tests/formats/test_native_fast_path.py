"""Native payloads validated straight from bytes give what the shared JSON reader gives."""

import json
from collections.abc import Callable

from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from gateway.formats.base import DecodeError
from gateway.formats.native import _validated, careful
from gateway.wire.payloads import PAYLOAD_BY_KIND, SensorPayload
from tests.conftest import DECODER_EXAMPLES

FIELDS = sorted({name for model in PAYLOAD_BY_KIND.values() for name in model.model_fields})
VALUES = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=10**39, max_value=10**45)
    | st.floats()
    | st.floats(min_value=-1, max_value=1e6)
    | st.text(max_size=25)
    | st.sampled_from(["2026-11-22T21:04:05Z", "1.5", "forward", "leak", "true", "1e999"])
    | st.lists(st.sampled_from(["leak", "tamper", "x", 3]), max_size=3)
)
PAYLOADS = st.dictionaries(st.sampled_from([*FIELDS, "extra"]), VALUES, max_size=6)


def _slow(model: type[SensorPayload], payload: bytes) -> BaseModel:
    """The way every other format goes: the shared strict reader, then the model."""
    return careful(model, payload)


# A way to read a payload as its model: the fast path, or the way every other format goes.
Way = Callable[[type[SensorPayload], bytes], BaseModel]


def _outcome(model: type[SensorPayload], payload: bytes, way: Way) -> object:
    try:
        return way(model, payload)
    except DecodeError as error:
        return (error.reason, error.detail)


@settings(max_examples=DECODER_EXAMPLES, deadline=None)
@given(
    st.sampled_from(sorted(PAYLOAD_BY_KIND)),
    PAYLOADS,
    st.sampled_from(["json", "bom", "spaced", "truncated"]),
)
def test_fast_and_careful_ways_agree_on_every_payload(
    kind: str, body: dict[str, object], shape: str
) -> None:
    """Same model and values when accepted, same reason and words when refused."""
    text = json.dumps(body)  # NaN and Infinity come out as the bare words senders use
    payload = {
        "json": text.encode(),
        "bom": "\ufeff".encode() + text.encode(),
        "spaced": f" {text}\n".encode(),
        "truncated": text.encode()[:-1],
    }[shape]
    model = PAYLOAD_BY_KIND[kind]
    assert _outcome(model, payload, _validated) == _outcome(model, payload, _slow)
