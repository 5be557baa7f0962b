"""What a policy sweep will run, checked before any run starts: the `--grid` axes and the
`--seeds` list parsed, every combination applied to each policy file's own YAML data and
validated by the project's policy loader, and the scenarios loaded once.

A grid key is a dotted path into the policy file (`presence.hold_s`, `schedule.steps[0].level`)
and its values are written as in the file ("40s", "40%", "P5"): each value is read as a YAML
scalar, so the loader sees exactly what it would see had the operator typed it. Errors are
ConfigError (a bad key or value, with the loader's did-you-mean) or ValueError (a bad option).
"""

import copy
import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from controllers.settings import ConfigError, Policy, Problem
from controllers.settings.errors import dotted
from controllers.settings.loader import load_model, parse_yaml
from sim.runs.run import load
from sim.world.services import scenario_kind

# A key part is a mapping key (letters, digits, `_`, `-`: group and street ids have hyphens)
# or a list index in brackets, as the loader prints them: `schedule.steps[0].level`.
_KEY = re.compile(r"[A-Za-z0-9_-]+(\[\d+\])*(\.[A-Za-z0-9_-]+(\[\d+\])*)*")
_PART = re.compile(r"[A-Za-z0-9_-]+|\[\d+\]")
_SEED_RANGE = re.compile(r"(\d+)\s*-\s*(\d+)")


@dataclass(frozen=True)
class Axis:
    """One `--grid` argument: a dotted key and its values as the user wrote them."""

    key: str
    values: tuple[str, ...]


@dataclass(frozen=True)
class Task:
    """One run of the sweep, in plain data so that it travels to any Dask worker."""

    index: int
    scenario: str  # the scenario file as given (workers must see the same path)
    policy: str  # the policy file as given
    grid: tuple[tuple[str, str], ...]  # (key, value as written) for each axis
    policy_data: dict[str, Any]  # the policy file's data with this grid point applied
    seed: int

    @property
    def label(self) -> str:
        """The policy file and grid point, as summary.json's `policy`."""
        point = " ".join(f"{k}={v}" for k, v in self.grid)
        return f"{self.policy} {point}".strip()


def parse_axis(text: str) -> Axis:
    """`presence.hold_s=40s,60s` → Axis("presence.hold_s", ("40s", "60s"))."""
    key, equals, listed = text.partition("=")
    key = key.strip()
    if not equals:
        raise ValueError(
            f"--grid {text!r}: expected KEY=VALUE,VALUE (e.g. presence.hold_s=40s,60s)"
        )
    if not _KEY.fullmatch(key):
        raise ValueError(f"--grid {text!r}: {key!r} is not a dotted key such as presence.hold_s")
    values = tuple(v.strip() for v in listed.split(","))
    if not listed.strip() or "" in values:
        raise ValueError(f"--grid {text!r}: a value is empty")
    if len(set(values)) != len(values):
        raise ValueError(f"--grid {text!r}: a value is listed twice")
    return Axis(key, values)


def parse_grid(texts: Sequence[str]) -> tuple[Axis, ...]:
    """Every `--grid` argument; a key given twice is an error (which values would win?)."""
    axes = tuple(parse_axis(t) for t in texts)
    keys = [a.key for a in axes]
    twice = sorted({k for k in keys if keys.count(k) > 1})
    if twice:
        raise ValueError(f"--grid: {', '.join(twice)} given more than once")
    return axes


def parse_seeds(text: str) -> tuple[int, ...]:
    """`1-5`, `1,3,7`, `3` or a mix (`1-3,7`) → the seeds in order, each once."""
    seeds: list[int] = []
    for part in (p.strip() for p in text.split(",")):
        if part.isdigit():
            seeds.append(int(part))
            continue
        matched = _SEED_RANGE.fullmatch(part)
        if matched is None:
            raise ValueError(f"--seeds {text!r}: {part!r} is not a seed or a range like 1-5")
        first, last = int(matched[1]), int(matched[2])
        if last < first:
            raise ValueError(f"--seeds {text!r}: the range {part} runs backwards")
        seeds.extend(range(first, last + 1))
    return tuple(dict.fromkeys(seeds))


def grid_points(axes: Sequence[Axis]) -> list[tuple[tuple[str, str], ...]]:
    """Every combination of the axes' values (one empty point when there is no grid)."""
    choices = [[(a.key, v) for v in a.values] for a in axes]
    return [tuple(point) for point in itertools.product(*choices)]


def key_path(key: str) -> tuple[str | int, ...]:
    """`schedule.steps[0].level` → ("schedule", "steps", 0, "level")."""
    return tuple(int(p[1:-1]) if p.startswith("[") else p for p in _PART.findall(key))


def scalar(value: str) -> Any:
    """A grid value as YAML reads it in the policy file: `40s` stays text, `3` is a number."""
    try:
        data = yaml.safe_load(value)
    except yaml.YAMLError:
        return value  # not YAML at all: the loader will say why the text is wrong
    return data if not isinstance(data, dict | list) else value


def applied(data: dict[str, Any], point: Sequence[tuple[str, str]]) -> dict[str, Any]:
    """A copy of the policy data with each grid key set; missing sections are created, so an
    unknown section is left to the loader to name (with its did-you-mean)."""
    result = copy.deepcopy(data)
    for key, value in point:
        *parents, last = key_path(key)
        node: Any = result
        for depth, part in enumerate(parents):
            node = _child(node, part, key, parents[: depth + 1])
        _set(node, last, scalar(value), key)
    return result


def _child(node: Any, part: str | int, key: str, path: Sequence[str | int]) -> Any:
    if isinstance(node, dict):
        if not isinstance(node.get(part), dict | list):
            if part in node:
                raise ValueError(f"--grid {key}: {dotted(tuple(path))} is a value, not a section")
            node[part] = {}
        return node[part]
    if isinstance(node, list) and isinstance(part, int) and part < len(node):
        return node[part]
    raise ValueError(f"--grid {key}: {dotted(tuple(path))} is not in the policy file")


def _set(node: Any, last: str | int, value: Any, key: str) -> None:
    in_mapping = isinstance(node, dict) and isinstance(last, str)
    in_list = isinstance(node, list) and isinstance(last, int) and last < len(node)
    if not (in_mapping or in_list):
        raise ValueError(f"--grid {key}: the policy file has no such place")
    node[last] = value


def validated(path: Path, text: str, point: Sequence[tuple[str, str]]) -> dict[str, Any]:
    """The policy file's data (`text`) with `point` applied, checked by the policy loader.
    The file alone must be valid (its problems keep their lines); what the point breaks is
    reported under the file and the point, with the loader's message and did-you-mean."""
    load_model(Policy, text, str(path))
    data, _ = parse_yaml(text, str(path))
    result = applied(data if isinstance(data, dict) else {}, point)
    # The loader reads text: a YAML dump of the data round-trips every value PyYAML built.
    try:
        load_model(Policy, yaml.safe_dump(result, sort_keys=False), str(path))
    except ConfigError as error:
        where = f"{path} with --grid {' '.join(f'{k}={v}' for k, v in point)}"
        raise ConfigError(
            [Problem(where, None, p.path, p.message) for p in error.problems]
        ) from None
    return result


@dataclass(frozen=True)
class Plan:
    """The runs of a sweep and its grid's keys (the table's columns), in order."""

    tasks: list[Task]
    keys: tuple[str, ...]


def plan(
    scenarios: Sequence[Path], policies: Sequence[Path], grid: Sequence[str], seeds: str
) -> Plan:
    """Every (scenario, policy, grid point, seed), each input checked first: a scenario that
    does not load or a grid point a policy refuses stops the sweep before it starts."""
    axes = parse_grid(grid)
    seed_list = parse_seeds(seeds)
    for scenario in scenarios:
        if scenario_kind(scenario) == "services":
            raise ValueError(f"{scenario}: a services scenario; a sweep runs lighting nights")
        load(scenario)  # tens of milliseconds: cheap enough to check every file up front
    points = grid_points(axes)
    texts = {p: p.read_text(encoding="utf-8") for p in policies}
    policy_data = {(p, pt): validated(p, texts[p], pt) for p in policies for pt in points}
    combos = itertools.product(scenarios, policies, points, seed_list)
    tasks = [
        Task(i, str(s), str(p), point, policy_data[p, point], seed)
        for i, (s, p, point, seed) in enumerate(combos)
    ]
    return Plan(tasks, tuple(a.key for a in axes))
