"""The signature of an override: the canonical bytes a CMS must produce, and their HMAC."""

import hashlib
import hmac
from pathlib import Path

import pytest

from gateway.wire.signing import canonical, sign, signature, verify

README = Path(__file__).resolve().parents[2] / "README.md"
EXAMPLE_KEY = b"example-key-not-for-production"
EXAMPLE_TOPIC = "luciole/angers-centre/override/rue-des-lices"
EXAMPLE = {
    "level": 0.8,
    "duration_s": 1800,
    "sender": "alice",
    "id": "7f0c2a9e-0001",
    "ts": 1795313326.5,
}


def test_the_readme_example_signs_as_the_readme_says() -> None:
    """The canonical bytes and the sig printed in README.md are what the daemon computes,
    and a plain HMAC-SHA256 over those bytes gives the same sig."""
    text = README.read_text(encoding="utf-8")
    body = canonical(EXAMPLE_TOPIC, EXAMPLE)
    assert body.decode().replace("\n", "\\n") in text
    sig = signature(EXAMPLE_KEY, EXAMPLE_TOPIC, EXAMPLE)
    assert f"`sig` is `{sig}`" in text
    assert sig == hmac.new(EXAMPLE_KEY, body, hashlib.sha256).hexdigest()


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1800.0, "1800"),
        (1800, "1800"),
        (0.8, "0.8"),
        (-0.5, "-0.5"),
        (1e-7, "1e-7"),
        (0.000001, "0.000001"),
        (1e21, "1e+21"),
        (1e20, "100000000000000000000"),
        (1.5e22, "1.5e+22"),
        (0.1 + 0.2, "0.30000000000000004"),
        (1795313326.612, "1795313326.612"),
        (0.0, "0"),
    ],
)
def test_numbers_are_written_as_ecmascript_writes_them(value: float, text: str) -> None:
    """RFC 8785 numbers: the shortest round-trip digits, in JavaScript's layout."""
    assert canonical("t", {"n": value}).endswith(f'{{"n":{text}}}'.encode())


def test_keys_are_sorted_and_sig_is_left_out() -> None:
    """Keys in UTF-16 order, no whitespace, strings with minimal escapes, no `sig`."""
    fields = {"b": "é\n", "a": [True, None], "sig": "ignored", "A": {"z": 1}}
    assert (
        canonical("t", fields)
        == b'luciole-override-v1\nt\n{"A":{"z":1},"a":[true,null],"b":"\xc3\xa9\\n"}'
    )


def test_a_signed_message_verifies_and_a_changed_one_does_not() -> None:
    """`sign` then `verify` holds; a changed field, another topic or another key fails."""
    message = sign(EXAMPLE_KEY, EXAMPLE_TOPIC, EXAMPLE)
    assert verify(EXAMPLE_KEY, EXAMPLE_TOPIC, message)
    assert not verify(EXAMPLE_KEY, EXAMPLE_TOPIC, {**message, "level": 0.0})
    assert not verify(EXAMPLE_KEY, f"{EXAMPLE_TOPIC}-x", message)
    assert not verify(b"another-key-0123456789", EXAMPLE_TOPIC, message)


@pytest.mark.parametrize(
    "fields",
    [
        {"sig": "é" * 64},
        {"sig": "ab"},
        {"sig": 12},
        {"n": float("nan"), "sig": "0" * 64},
        {"n": 2**60, "sig": "0" * 64},
        {"s": "\ud800", "sig": "0" * 64},
    ],
)
def test_what_cannot_be_signed_fails_verification_without_an_exception(
    fields: dict[str, object],
) -> None:
    """A non-ASCII or short sig, NaN, an inexact integer, a lone surrogate: False, no crash."""
    assert not verify(EXAMPLE_KEY, "t", fields)
