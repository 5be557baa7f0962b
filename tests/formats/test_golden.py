"""Golden cases: every folder `tests/formats/<format>/<case>/` decodes to what it says.

A case holds `payload.json` or `payload.bin` (the raw message bytes), an optional `meta.json`
(`topic`, `received_s`, `codec` — a name in `gateway.codecs.CODECS` —, `topics` — prefix and
site, for native payloads) and either `expected.jsonl` (one Decoded per line: network_id,
kind, ts_s, values, dedup_key) or `expected_error.txt` (the rejection reason on line one).
"""

import json
import math
from pathlib import Path

import pytest

from gateway.codecs.base import Codec
from gateway.formats import FORMATS, Message
from gateway.formats.base import Decoded, DecodeError
from gateway.wire.topics import Topics

HERE = Path(__file__).parent
DEFAULT_RECEIVED_S = 1_700_000_000.0
CASES = sorted(
    path.parent
    for pattern in ("*/*/payload.json", "*/*/payload.bin")
    for path in HERE.glob(pattern)
)


def _codec(name: str | None) -> Codec | None:
    """The named codec from the codec table, or a skip while it is not registered yet."""
    if name is None:
        return None
    from gateway import codecs

    table: dict[str, Codec] = getattr(codecs, "CODECS", {})
    if name not in table:
        pytest.skip(f"codec {name!r} is not in gateway.codecs.CODECS yet")
    return table[name]


def _message(case: Path) -> Message:
    meta_path = case / "meta.json"
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
    payload_path = next(case.glob("payload.*"))
    topics = meta.get("topics")
    return Message(
        topic=meta.get("topic", ""),
        payload=payload_path.read_bytes(),
        received_s=meta.get("received_s", DEFAULT_RECEIVED_S),
        codec=_codec(meta.get("codec")),
        topics=Topics(**topics) if topics else None,
    )


def as_json(decoded: Decoded) -> dict[str, object]:
    """A Decoded as the plain JSON of an expected.jsonl line."""
    fields = {
        "network_id": decoded.network_id,
        "kind": decoded.kind,
        "ts_s": decoded.ts_s,
        "values": dict(decoded.values),
        "dedup_key": decoded.dedup_key,
    }
    plain: dict[str, object] = json.loads(json.dumps(fields))
    return plain


def _same(got: object, want: object) -> bool:
    """Equal, numbers within a relative 1e-9 (times and unit conversions are floats)."""
    if isinstance(got, dict) and isinstance(want, dict):
        return got.keys() == want.keys() and all(_same(got[k], want[k]) for k in got)
    if isinstance(got, list) and isinstance(want, list):
        return len(got) == len(want) and all(map(_same, got, want))
    numbers = (int, float)
    if (
        isinstance(got, numbers)
        and isinstance(want, numbers)
        and bool not in (type(got), type(want))
    ):
        return math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-9)
    return got == want and type(got) is type(want)


@pytest.mark.parametrize("case", CASES, ids=lambda case: f"{case.parent.name}/{case.name}")
def test_golden_case(case: Path) -> None:
    """The case's payload decodes to its expected readings, or is refused for its reason."""
    decode = FORMATS[case.parent.name]
    message = _message(case)
    expected_error = case / "expected_error.txt"
    if expected_error.exists():
        with pytest.raises(DecodeError) as refused:
            decode(message)
        assert refused.value.reason == expected_error.read_text().splitlines()[0].strip()
        return
    lines = (case / "expected.jsonl").read_text().splitlines()
    want = [json.loads(line) for line in lines if line.strip()]
    got = [as_json(decoded) for decoded in decode(message)]
    assert _same(got, want), f"got:\n{json.dumps(got, indent=1)}"


def test_every_case_has_one_outcome() -> None:
    """Each case folder says either what it decodes to or why it is refused, not both."""
    for case in CASES:
        outcomes = [(case / name).exists() for name in ("expected.jsonl", "expected_error.txt")]
        assert outcomes.count(True) == 1, case


def test_every_format_has_cases_and_every_folder_a_format() -> None:
    """Every registered format has golden cases, and no case folder names an unknown format."""
    folders = {case.parent.name for case in CASES}
    assert folders == set(FORMATS)


def test_refusing_cases_cover_every_format() -> None:
    """Every format has at least one refused case and at least one decoded case."""
    for name in FORMATS:
        cases = [case for case in CASES if case.parent.name == name]
        assert any((case / "expected_error.txt").exists() for case in cases), name
        assert any((case / "expected.jsonl").exists() for case in cases), name


THIRD_PARTY = HERE.parent / "fixtures" / "third_party"
COPY_NOTE = "A copy of the third-party fixture "


def test_copied_payloads_match_their_third_party_fixture() -> None:
    """A payload whose source.txt says it is a copy is byte for byte that fixture."""
    copies = 0
    for case in CASES:
        note = case / "source.txt"
        text = note.read_text() if note.exists() else ""
        if text.startswith(COPY_NOTE):
            fixture = text.removeprefix(COPY_NOTE).split()[0]
            assert (case / "payload.json").read_bytes() == (THIRD_PARTY / fixture).read_bytes(), (
                case
            )
            copies += 1
    assert copies > 0


def test_every_case_says_where_its_payload_comes_from() -> None:
    """Each case folder has a source.txt (a fixture copy, or written for Luciole)."""
    assert [case for case in CASES if not (case / "source.txt").exists()] == []
