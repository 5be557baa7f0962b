"""The policy reference in README.md, generated from the models' field descriptions.

`policy_reference()` renders one table per section; a test checks that README.md holds exactly
this text between its markers, and `make reference` writes it there. Text in, text out.
"""

from collections.abc import Iterator
from datetime import time

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from controllers.settings.policy import (
    Alerts,
    Commands,
    Energy,
    Failsafe,
    Group,
    Limits,
    Overrides,
    Presence,
    Speeds,
    Traffic,
)
from controllers.settings.schedule import CalendarException, Schedule, TimeStep
from controllers.settings.services import Bins, Water

BEGIN = "<!-- policy reference: generated from controllers/settings by `make reference` -->"
END = "<!-- end of the policy reference -->"

SECTIONS: tuple[tuple[str, type[BaseModel]], ...] = (
    ("schedule", Schedule),
    ("schedule.steps[]", TimeStep),
    ("schedule.exceptions[]", CalendarException),
    ("traffic", Traffic),
    ("presence", Presence),
    ("speeds", Speeds),
    ("limits", Limits),
    ("failsafe", Failsafe),
    ("commands", Commands),
    ("alerts", Alerts),
    ("energy", Energy),
    ("overrides", Overrides),
    ("bins", Bins),
    ("water", Water),
    ("groups.NAME", Group),
)
_OWN_GROUP_KEYS = ("streets", "segments")


def policy_reference() -> str:
    """The Markdown of every section, between the README markers."""
    parts = [BEGIN, ""]
    for name, model in SECTIONS:
        parts += [f"**`{name}`**: {_summary(model)}", "", *_table(name, model), ""]
    parts += [
        f"`streets.NAME` and `segments.ID`: {_layer_keys()} of their own, as in `groups`.",
        "",
        END,
    ]
    return "\n".join(parts)


def _summary(model: type[BaseModel]) -> str:
    return " ".join((model.__doc__ or "").split())


def _table(name: str, model: type[BaseModel]) -> list[str]:
    rows = ["| key | default | meaning |", "|---|---|---|"]
    for key, field in _fields(name, model):
        rows.append(f"| `{key}` | {_default(field)} | {field.description or ''} |")
    if name == "groups.NAME":
        rows.append(f"| {_layer_keys()} | | as above, for the group's segments |")
    return rows


def _fields(name: str, model: type[BaseModel]) -> Iterator[tuple[str, FieldInfo]]:
    for key, field in model.model_fields.items():
        if name == "groups.NAME" and key not in _OWN_GROUP_KEYS:
            continue  # the sections, listed once above
        yield key, field


def _layer_keys() -> str:
    return ", ".join(f"`{s}`" for s in ("schedule", "presence", "traffic", "limits", "failsafe"))


def _default(field: FieldInfo) -> str:
    if field.is_required():
        return "required"
    value = field.get_default(call_default_factory=True)
    return "none" if value is None else f"`{_text(value)}`"


def _text(value: object) -> str:
    """A default as an operator would write it in YAML."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, time):
        return f"{value:%H:%M}"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_text(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_text(v) for v in value) + "]"
    return str(value)


def check_policy_model_documented() -> list[str]:
    """Fields without a description (the reference would have a hole)."""
    missing = []
    for name, model in SECTIONS:
        for key, field in _fields(name, model):
            if not field.description:
                missing.append(f"{name}.{key}")
    return missing
