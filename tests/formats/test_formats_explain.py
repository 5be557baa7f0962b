"""What a message said, for an operator when no reading came of it; and formats by shape."""

import base64
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.codecs import CODECS
from gateway.formats import FORMATS, Message
from gateway.formats.explain import said
from gateway.formats.shape import guess_format
from gateway.wire.topics import Topics

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "third_party"
RECEIVED_S = 1_714_630_200.0


def _message(payload: bytes, codec: str | None = None) -> Message:
    chosen = CODECS[codec] if codec else None
    return Message("x", payload, RECEIVED_S, chosen, Topics("luciole", "decode"))


def _tts(frame_hex: str) -> bytes:
    up = {"f_port": 85, "frm_payload": base64.b64encode(bytes.fromhex(frame_hex)).decode()}
    return json.dumps(
        {"end_device_ids": {"dev_eui": "24E1641092176759"}, "uplink_message": up}
    ).encode()


def test_a_lorawan_frame_without_readings_is_described_by_its_codec() -> None:
    """A VS350 battery and temperature frame makes no reading; said gives its vendor fields."""
    got = said("tts", _message(_tts("01756403670c01"), "milesight-vs350"))
    assert got == {
        "dev_eui": "24e1641092176759",
        "f_port": 85,
        "bytes": "01756403670c01",
        "fields": {"battery": 100, "temperature": 26.8},
    }


def test_without_a_codec_the_bytes_are_given_as_they_are() -> None:
    """No codec named: the bytes in hex, and what is missing to read them."""
    got = said("tts", _message(_tts("017564")))
    assert (got["bytes"], got["unreadable"]) == (
        "017564",
        "no codec named: give one to read the bytes",
    )


def test_a_network_servers_object_is_what_the_device_said() -> None:
    """An uplink with the server's decoded object is said as that object."""
    payload = (FIXTURES / "ttn_v3_up_docs_example_fixed.json").read_bytes()
    obj = json.loads(payload)["uplink_message"]["decoded_payload"]
    assert said("tts", _message(payload))["object"] == obj


def test_a_senml_pack_is_said_as_its_resolved_records() -> None:
    """Base name and base time applied: the records as the decoder reads them."""
    pack = [
        {"bn": "urn:dev:mac:0024befffe804ff1:", "bt": 1.7e9, "n": "humidity", "u": "%RH", "v": 48}
    ]
    got = said("senml", _message(json.dumps(pack).encode()))
    assert got == {
        "records": [
            {"n": "urn:dev:mac:0024befffe804ff1:humidity", "t": 1.7e9, "u": "%RH", "v": 48.0}
        ]
    }


def test_what_cannot_be_read_is_said_so() -> None:
    """A payload that is not JSON, or a format that does not exist, is said as unreadable."""
    assert str(said("wmbusmeters", _message(b"\xff"))["unreadable"]).startswith("not_utf8: ")
    assert said("morse", _message(b"{}")) == {"unreadable": "unknown format 'morse'"}


@pytest.mark.parametrize(
    ("fixture", "format_name"),
    [
        ("chirpstack_v4_up_people_counter_milesight_vs133.json", "chirpstack"),
        ("chirpstack_v3_up_docs_jsonv3_legacy.json", "chirpstack"),
        ("ttn_v3_up_bin_ultrasonic_milesight_em400udl.json", "tts"),
        ("senml_2_base_name_two_points.json", "senml"),
        ("wmbusmeters_kamwater_multical21_ok.json", "wmbusmeters"),
        ("wmbusmeters_iperl_readme.json", "wmbusmeters"),
    ],
)
def test_third_party_envelopes_are_recognised_by_their_shape(
    fixture: str, format_name: str
) -> None:
    """ChirpStack v3 and v4, The Things Stack, SenML and wmbusmeters payloads name their format."""
    guessed = guess_format((FIXTURES / fixture).read_bytes())
    assert guessed is not None and guessed.format == format_name and guessed.why


@pytest.mark.parametrize(
    ("payload", "format_name"),
    [
        (b'{"count": 3, "period_s": 60}', "native"),
        (b'{"ts": 1714630200, "total_m3": 12.5, "alarms": []}', "native"),
        (b'{"meter": "iperl", "id": "33225544", "total_m3": 1}', "wmbusmeters"),
        (b'{"temperature": 21}', None),
        (b"{}", None),
        (b"not json", None),
        (b'"a string"', None),
    ],
)
def test_our_own_payloads_and_shapeless_ones(payload: bytes, format_name: str | None) -> None:
    """Our value names make a native payload; anything unknown has no shape at all."""
    guessed = guess_format(payload)
    assert (guessed.format if guessed else None) == format_name


@settings(max_examples=500)
@given(
    payload=st.binary(max_size=200) | st.text(max_size=200).map(str.encode),
    format_name=st.sampled_from(sorted(FORMATS)),
    codec=st.none() | st.sampled_from(sorted(CODECS)),
)
def test_said_and_the_shape_never_raise(
    payload: bytes, format_name: str, codec: str | None
) -> None:
    """Any payload in any format: said gives a JSON object, the shape a guess or None."""
    json.dumps(said(format_name, _message(payload, codec)), allow_nan=False)
    guessed = guess_format(payload)
    assert guessed is None or guessed.format in FORMATS


def test_every_format_can_say_what_a_message_held() -> None:
    """A format added to the table without a reader here would answer "unknown format"."""
    for name in FORMATS:
        assert said(name, _message(b"{}")) != {"unreadable": f"unknown format {name!r}"}
