"""An override from its topic to the lamps: parsed, authenticated, applied, and recorded.

Every override, taken or refused, becomes an `OverrideRecord`: the daemon logs it (target,
level, duration, sender) and stores it as an `override` row, so who changed a street's light,
or tried to, is known afterwards. The payload is parsed once, strictly (no NaN, no repeated
key), and that one parse is what is authenticated and applied: no second parser may read it
differently from the one that checked the signature.
"""

import hashlib
import json
import logging
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Literal

from pydantic import ValidationError

from gateway.ingest.intake import Rejection
from gateway.lighting.authority import Authority, Signed
from gateway.lighting.control import Applied, Lighting, Outgoing
from gateway.logs import event
from gateway.store.records import controller_row
from gateway.store.spool import Spool, SpoolRow
from gateway.wire.payloads import OverrideMessage

log = logging.getLogger("luciole.gateway")

INVALID = "invalid_override"
RESTORE_PAGE_ROWS = 1000
SHOWN_CHARS = 64  # of a sender name or id in logs and rows: a refused one may be anything


@dataclass(frozen=True)
class OverrideRecord:
    """What one override asked and what became of it. For a refused one, the level and
    duration are what it claimed; `signed_ts` is there when its signature was checked."""

    target: str
    verdict: Literal["applied", "refused"]
    sender: str | None
    message_id: str | None
    level: float | None
    clear: bool
    duration_s: float | None
    asked_s: float | None = None
    capped: bool = False
    below_floor: tuple[str, ...] = ()
    reason: str | None = None
    detail: str | None = None
    signed_ts: float | None = None

    def fields(self) -> dict[str, object]:
        """The facts, for the log line and the stored row."""
        facts: dict[str, object] = {
            "target": self.target,
            "level": self.level,
            "duration_s": self.duration_s,
            "sender": self.sender,
            "id": self.message_id,
            "verdict": self.verdict,
        }
        if self.clear:
            facts["clear"] = True
        if self.capped:
            facts["asked_s"] = self.asked_s
        if self.below_floor:
            facts["below_floor"] = list(self.below_floor)
        if self.reason is not None:
            facts |= {"reason": self.reason, "detail": self.detail}
        if self.signed_ts is not None:
            facts["signed_ts"] = self.signed_ts
        return facts


@dataclass(frozen=True)
class OverrideResult:
    """The record, the rejection for the dead-letter (None: applied), the commands to send."""

    record: OverrideRecord
    rejection: Rejection | None = None
    commands: list[Outgoing] = field(default_factory=list)


class OverrideDesk:
    """Takes override messages for one site's lighting; `authority` None: nobody is checked
    (the offline replay, whose recorded overrides were checked when they were recorded)."""

    def __init__(self, lighting: Lighting, authority: Authority | None = None) -> None:
        self._lighting = lighting
        self._authority = authority

    def message(self, topic: str, target: str, payload: bytes, now_s: float) -> OverrideResult:
        """Act on one message received on `topic` (for `target`) at `now_s`."""
        fields = _parse(payload)
        if isinstance(fields, str):
            return _refused(_claimed(target, {}), Rejection(INVALID, fields))
        claimed = _claimed(target, fields)
        refusal = self._authority.check(topic, fields, now_s) if self._authority else None
        if refusal is not None:
            return _refused(claimed, Rejection(refusal.reason, refusal.detail))
        if self._authority is not None and self._authority.enforced:
            claimed = replace(claimed, signed_ts=_number(fields.get("ts")))
        try:
            message = OverrideMessage.model_validate(fields)
        except ValidationError as error:
            return _refused(claimed, Rejection(INVALID, _explain(error)))
        applied = self._lighting.override(target, message, now_s)
        if isinstance(applied, str):
            return _refused(claimed, Rejection(INVALID, applied))
        commands = self._lighting.commands(now_s)
        return OverrideResult(self._record(claimed, applied), None, commands)

    def _record(self, claimed: OverrideRecord, applied: Applied) -> OverrideRecord:
        return replace(
            claimed,
            verdict="applied",
            duration_s=applied.duration_s,
            asked_s=applied.asked_s,
            capped=applied.capped,
            below_floor=tuple(self._lighting.below_floor(applied)),
        )


def override_row(record: OverrideRecord, payload: bytes, now_s: float) -> SpoolRow:
    """The stored `override` row; keyed by the payload too, since the messages of one batch
    share a receive time (and a flood of refused ones, no sender nor id)."""
    digest = hashlib.sha256(payload).hexdigest()[:16]
    key = f"{record.sender}:{record.message_id}:{digest}:{now_s!r}"
    return controller_row("override", now_s, record.target, key, record.fields())


def log_override(record: OverrideRecord) -> None:
    """The log line of every override, taken or refused; a WARNING naming the sender when it
    leaves a lit street below its floor."""
    if record.verdict == "refused":
        event(log, logging.WARNING, "override refused", **record.fields())
        return
    message = "override applied"
    if record.capped and record.asked_s is None:
        message = "override applied for the policy's maximum duration (it gave none)"
    elif record.capped:
        message = "override applied; its duration is cut to the policy's maximum"
    event(log, logging.INFO, message, **record.fields())
    if record.below_floor:
        event(
            log,
            logging.WARNING,
            "override below the class floor at night",
            sender=record.sender,
            target=record.target,
            level=record.level,
            segments=",".join(record.below_floor),
        )


def restore(authority: Authority, spool: Spool, now_s: float) -> int:
    """Give `authority` the signed overrides the spool holds from within the replay window
    (blocking: run it in a worker thread); how many. A signed `ts` may lead the clock by the
    skew and the clock rule looks back as far, so rows received since twice the skew hold
    every id that could still be replayed."""
    since_s, after_id = now_s - 2 * authority.max_skew_s, None
    found: list[Signed] = []
    while True:
        page = spool.between(since_s, math.inf, RESTORE_PAGE_ROWS, after_id=after_id)
        found += signed_of(row for _, row in page)
        if len(page) < RESTORE_PAGE_ROWS:
            break
        last_id, last = page[-1]
        since_s, after_id = _number(last.get("ts_s")) or since_s, last_id
    authority.restore(found, now_s)
    return len(found)


def signed_of(rows: Iterable[Mapping[str, object]]) -> list[Signed]:
    """The authenticated overrides among stored rows (for `Authority.restore`)."""
    found = []
    for row in rows:
        sender, message_id, ts = row.get("sender"), row.get("id"), row.get("signed_ts")
        if row.get("kind") != "override" or not isinstance(ts, int | float):
            continue
        if isinstance(sender, str) and isinstance(message_id, str):
            found.append(Signed(sender, message_id, float(ts)))
    return found


def _parse(payload: bytes) -> dict[str, object] | str:
    try:
        value = json.loads(payload, parse_constant=_no_constant, object_pairs_hook=_no_repeats)
    except (ValueError, RecursionError) as error:
        return f"payload is not JSON: {error}"
    if not isinstance(value, dict):
        return "an override is a JSON object"
    return value


def _no_constant(name: str) -> object:
    raise ValueError(f"{name} is not a JSON number")


def _no_repeats(pairs: list[tuple[str, object]]) -> dict[str, object]:
    found = dict(pairs)
    if len(found) != len(pairs):
        raise ValueError("a key is repeated")
    return found


def _claimed(target: str, fields: Mapping[str, object]) -> OverrideRecord:
    """What the message says of itself, before anything is checked."""
    return OverrideRecord(
        target=target,
        verdict="refused",
        sender=_shown(fields.get("sender")),
        message_id=_shown(fields.get("id")),
        level=_number(fields.get("level")),
        clear=fields.get("clear") is True,
        duration_s=_number(fields.get("duration_s")),
    )


def _refused(claimed: OverrideRecord, rejection: Rejection) -> OverrideResult:
    record = replace(claimed, reason=rejection.reason, detail=rejection.detail)
    return OverrideResult(record, rejection)


def _shown(value: object) -> str | None:
    """A name as it may go into a log line: cut short, and escaped unless printable (a
    newline in a forged sender must not start a line of its own)."""
    if value is None:
        return None
    text = str(value)[:SHOWN_CHARS]
    return text if text.isprintable() else ascii(text)


def _number(value: object) -> float | None:
    """A JSON number as a float; None for anything else, and for what no stored row may
    hold: 1e400 (read as infinity) or an integer past a float's range."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def _explain(error: ValidationError) -> str:
    return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
