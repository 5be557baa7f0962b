"""Who may override: the senders the site names, their keys, and the replay rules.

MQTT tells a subscriber nothing trustworthy about who published, so a site that names senders
(`overrides.senders`) takes an override only when it is signed by one of them
(`gateway.wire.signing`), and only once: a message id already seen from that sender, a `ts`
older than that sender's last accepted override, or a `ts` further than `max_clock_skew_s`
from the daemon's clock is a replay. The ids are kept for as long as their `ts` is within the
skew, after which the clock rule refuses them anyway; `restore()` brings them back from the
spool at start, so a restart does not reopen the window. A site that names no senders leaves
the decision to the broker's ACL (the daemon warns at start).

Keys are read like the broker's password: from an environment variable or a file beside the
site file, never from the site file itself, and never logged.
"""

import logging
import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from controllers.settings.site import OverrideAuthority, OverrideSender
from gateway.logs import event
from gateway.secrets import private_problem
from gateway.wire.signing import SIGNATURE_FIELD, SIGNATURE_HEX_DIGITS, verify

log = logging.getLogger("luciole.gateway")

MIN_KEY_BYTES = 16  # below this an HMAC key can be guessed; `openssl rand -hex 32` gives 64
UNAUTHENTICATED = "unauthenticated_override"
REPLAYED = "replayed_override"
MAX_ID_CHARS = 128


class KeyUnavailableError(Exception):
    """A sender's key could not be read; says where it was looked for, never what it is."""


@dataclass(frozen=True)
class Refusal:
    """Why an override is not taken: a rejection reason and a sentence for the operator."""

    reason: str
    detail: str


@dataclass(frozen=True)
class Signed:
    """The signed parts of an accepted override."""

    sender: str
    id: str
    ts: float


def read_keys(overrides: OverrideAuthority, base: Path) -> dict[str, bytes]:
    """Every named sender's key; KeyUnavailableError for the first that cannot be read."""
    return {name: read_key(name, sender, base) for name, sender in overrides.senders.items()}


def read_key(name: str, sender: OverrideSender, base: Path) -> bytes:
    """One sender's key: the text of its variable or file, surrounding whitespace removed. A
    key file must be its owner's alone, as the broker's password file (`gateway.secrets`)."""
    if sender.key_env is not None:
        value = os.environ.get(sender.key_env)
        if value is None:
            raise KeyUnavailableError(
                f"override sender {name}: environment variable {sender.key_env} is not set"
            )
    else:
        assert sender.key_file is not None  # the model wants one of the two
        value = _key_file(name, base / sender.key_file)
    key = value.strip().encode("utf-8")
    if len(key) < MIN_KEY_BYTES:
        raise KeyUnavailableError(
            f"override sender {name}: the key has {len(key)} bytes, fewer than "
            f"{MIN_KEY_BYTES}; make one with `openssl rand -hex 32`"
        )
    return key


def _key_file(name: str, path: Path) -> str:
    problem = private_problem(path, "key file")
    if problem is not None:
        raise KeyUnavailableError(f"override sender {name}: {problem}")
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        why = error.strerror if isinstance(error, OSError) else "not UTF-8 text"
        raise KeyUnavailableError(f"override sender {name}: cannot read {path}: {why}") from None


def check_keys(overrides: OverrideAuthority, base: Path) -> str | None:
    """Why a sender's key cannot be used, or None: checked before the daemon starts."""
    try:
        read_keys(overrides, base)
    except KeyUnavailableError as error:
        return str(error)
    return None


class Authority:
    """The senders' keys and what each has sent lately; kept across reloads."""

    def __init__(self, keys: Mapping[str, bytes], max_skew_s: float) -> None:
        self._keys = dict(keys)
        self._max_skew_s = max_skew_s
        self._last_ts: dict[str, float] = {}
        self._seen: dict[tuple[str, str], float] = {}  # (sender, id) -> its ts

    @property
    def enforced(self) -> bool:
        """Whether overrides must be signed (the site names senders)."""
        return bool(self._keys)

    @property
    def senders(self) -> list[str]:
        return sorted(self._keys)

    @property
    def max_skew_s(self) -> float:
        return self._max_skew_s

    def replace_keys(self, keys: Mapping[str, bytes], max_skew_s: float) -> None:
        """A reloaded site's senders; what was seen stays seen."""
        self._keys = dict(keys)
        self._max_skew_s = max_skew_s

    def announce(self, overrides_topic: str) -> None:
        """Say at start who may override: never a silent default."""
        if self.enforced:
            event(log, logging.INFO, "overrides must be signed", senders=",".join(self.senders))
            return
        event(
            log,
            logging.WARNING,
            "overrides are not authenticated: the site names no overrides.senders, so the "
            "broker's ACL alone must decide who may publish on the override topics",
            topics=overrides_topic,
        )

    def check(self, topic: str, fields: Mapping[str, object], now_s: float) -> Refusal | None:
        """None when the message may be applied (it is then remembered), else why not."""
        if not self._keys:
            return None
        signed = self._signed(topic, fields)
        if isinstance(signed, Refusal):
            return signed
        refusal = self._replayed(signed, now_s)
        if refusal is None:
            self.remember(signed, now_s)
        return refusal

    def remember(self, signed: Signed, now_s: float) -> None:
        """Take note of an accepted override; forget the ids the clock rule now refuses."""
        self._last_ts[signed.sender] = max(signed.ts, self._last_ts.get(signed.sender, signed.ts))
        self._seen[signed.sender, signed.id] = signed.ts
        oldest_s = now_s - self._max_skew_s
        if len(self._seen) > 1 and min(self._seen.values()) < oldest_s:
            self._seen = {key: ts for key, ts in self._seen.items() if ts >= oldest_s}

    def restore(self, accepted: Iterable[Signed], now_s: float) -> None:
        """What was accepted before a restart (from the spool's `override` rows)."""
        for signed in accepted:
            self.remember(signed, now_s)

    def _signed(self, topic: str, fields: Mapping[str, object]) -> Signed | Refusal:
        sender, message_id, ts = fields.get("sender"), fields.get("id"), fields.get("ts")
        problem = _unsigned(sender, fields.get(SIGNATURE_FIELD), message_id, ts, self._keys)
        if problem is not None:
            return Refusal(UNAUTHENTICATED, problem)
        assert isinstance(sender, str) and isinstance(message_id, str)
        assert isinstance(ts, int | float)
        if not verify(self._keys[sender], topic, fields):
            return Refusal(UNAUTHENTICATED, f"bad signature for sender {sender!r}")
        return Signed(sender, message_id, float(ts))

    def _replayed(self, signed: Signed, now_s: float) -> Refusal | None:
        """Checked after the signature, so that no forged message can touch this state."""
        off_s = signed.ts - now_s
        if abs(off_s) > self._max_skew_s:
            return Refusal(
                REPLAYED,
                f"ts is {off_s:+.0f} s from the daemon's clock, more than the "
                f"{self._max_skew_s:g} s allowed (overrides.max_clock_skew_s)",
            )
        if (signed.sender, signed.id) in self._seen:
            return Refusal(REPLAYED, f"id {signed.id!r} from {signed.sender} was already taken")
        last_s = self._last_ts.get(signed.sender)
        if last_s is not None and signed.ts < last_s:
            return Refusal(
                REPLAYED,
                f"ts {signed.ts:.3f} is older than {signed.sender}'s last accepted override "
                f"({last_s:.3f})",
            )
        return None


def _unsigned(
    sender: object, sig: object, message_id: object, ts: object, known: Mapping[str, bytes]
) -> str | None:
    """What is missing for the message to be a signed override of a known sender, if anything."""
    if sender is None and sig is None:
        return "unsigned; this site takes only signed overrides"
    if not isinstance(sender, str) or sender not in known:
        return f"unknown sender {str(sender)[:64]!r}"
    if not isinstance(sig, str) or len(sig) != SIGNATURE_HEX_DIGITS:
        return "sig must be 64 hex digits (HMAC-SHA256)"
    if not isinstance(message_id, str) or not 0 < len(message_id) <= MAX_ID_CHARS:
        return f"a signed override needs an id of 1 to {MAX_ID_CHARS} characters"
    if isinstance(ts, bool) or not isinstance(ts, int | float) or not _finite(ts):
        return "a signed override needs ts, in epoch seconds"
    return None


def _finite(number: float) -> bool:
    """Whether a JSON number is a finite float (an integer may be past a float's range)."""
    try:
        return math.isfinite(number)
    except OverflowError:
        return False
