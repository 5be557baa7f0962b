"""Turn YAML text into a validated settings model, or into problems with lines and fixes.

PyYAML's node graph keeps each key's line, so a pydantic error location such as
`("presence", "hold_s")` can be traced back to `policy.yaml:17`. Duplicate keys, which YAML
silently overwrites, are reported. Unknown keys get a did-you-mean from the model's own fields.
Text in, model out: the caller reads the file.
"""

import difflib
import types
import typing
from typing import Any, NoReturn, Protocol, TypeVar, runtime_checkable

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from controllers.settings.errors import ConfigError, Problem, dotted
from controllers.settings.types import KeyPath

_MAX_DEPTH = 64
# libyaml's parser when PyYAML was built with it (its wheels are): the same nodes and marks,
# about ten times faster than the pure-Python one on a site file of 10,000 segments.
_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@runtime_checkable
class _Checked(Protocol):
    def problems(self) -> list[tuple[KeyPath, str]]: ...


ModelT = TypeVar("ModelT", bound=BaseModel)


def load_model(model: type[ModelT], text: str, filename: str) -> ModelT:
    """Parse and validate `text`; raise ConfigError listing every problem found."""
    data, lines = parse_yaml(text, filename)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError([Problem(filename, 1, "", "expected a mapping of keys at the top")])
    try:
        value = model.model_validate(data)
    except ValidationError as error:
        problems = [_problem(model, e, lines, filename) for e in error.errors()]
        raise ConfigError(problems) from None
    found: list[tuple[KeyPath, str]] = value.problems() if isinstance(value, _Checked) else []
    if found:
        raise ConfigError([Problem(filename, line_of(lines, p), dotted(p), m) for p, m in found])
    return value


def parse_yaml(text: str, filename: str) -> tuple[Any, dict[KeyPath, int]]:
    """Python data plus the 1-based line of every key and list item, by key path."""
    loader: Any = None
    try:
        loader = _Loader(text)  # control characters are refused as it reads (ReaderError)
        builder = _Builder(loader, filename)
        node = loader.get_single_node()
        data = builder.build(node, (), frozenset()) if node is not None else None
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark is not None else None
        reason = error.problem or error.context or "invalid YAML"
        raise ConfigError([Problem(filename, line, "", f"YAML syntax error: {reason}")]) from None
    except yaml.YAMLError as error:
        raise ConfigError([Problem(filename, None, "", f"YAML error: {error}")]) from None
    finally:
        if loader is not None:
            loader.dispose()
    return data, builder.lines


class _Builder:
    """Builds Python data from YAML nodes, noting each key's line and refusing what YAML cannot
    build (impossible dates, bad tags) or should not (aliases that contain themselves)."""

    def __init__(self, loader: yaml.SafeLoader, filename: str) -> None:
        self.loader = loader
        self.filename = filename
        self.lines: dict[KeyPath, int] = {}

    def build(self, node: yaml.Node, path: KeyPath, ancestors: frozenset[int]) -> Any:
        line = node.start_mark.line + 1
        self.lines.setdefault(path, line)
        if id(node) in ancestors or len(ancestors) > _MAX_DEPTH:
            self._fail(line, path, "an alias refers to itself, or the nesting is too deep")
        inner = ancestors | {id(node)}
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path, inner)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, i), inner) for i, item in enumerate(node.value)]
        return self._scalar(node, path)

    def _scalar(self, node: yaml.Node, path: KeyPath) -> Any:
        try:
            return self.loader.construct_object(node, deep=True)
        except (yaml.YAMLError, ValueError, TypeError, AttributeError, OverflowError) as error:
            # A scalar YAML recognises but cannot build: the date 2026-13-45, `!!int abc`.
            self._fail(node.start_mark.line + 1, path, f"unreadable value: {error}")

    def _mapping(self, node: yaml.MappingNode, path: KeyPath, ancestors: frozenset[int]) -> Any:
        self.loader.flatten_mapping(node)
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = self._scalar(key_node, path)
            if not isinstance(key, str | int) or isinstance(key, bool):
                key = str(key)
            child = (*path, key)
            key_line = key_node.start_mark.line + 1
            if key in result:
                first = self.lines[child]
                self._fail(key_line, child, f"duplicate key (first set on line {first}); keep one")
            self.lines[child] = key_line
            result[key] = self.build(value_node, child, ancestors)
        return result

    def _fail(self, line: int, path: KeyPath, message: str) -> NoReturn:
        raise ConfigError([Problem(self.filename, line, dotted(path), message)])


def line_of(lines: dict[KeyPath, int], path: KeyPath) -> int | None:
    """The line of the deepest part of `path` that exists in the file."""
    for end in range(len(path), -1, -1):
        if path[:end] in lines:
            return lines[path[:end]]
    return None


def _problem(
    model: type[BaseModel], error: ErrorDetails, lines: dict[KeyPath, int], filename: str
) -> Problem:
    path: KeyPath = tuple(p for p in error["loc"] if isinstance(p, str | int))
    # Annotated validators add their function name to the location; drop such tails.
    path = tuple(p for p in path if not (isinstance(p, str) and p.startswith("function-")))
    return Problem(filename, line_of(lines, path), dotted(path), _message(model, error, path))


def _message(model: type[BaseModel], error: ErrorDetails, path: KeyPath) -> str:
    kind, ctx, got = error["type"], error.get("ctx", {}), error.get("input")
    if kind == "extra_forbidden":
        return _unknown_key(model, path)
    if kind == "missing":
        return "is required but missing"
    bounds = {
        "greater_than_equal": ("≥", "ge"),
        "greater_than": (">", "gt"),
        "less_than_equal": ("≤", "le"),
        "less_than": ("<", "lt"),
    }
    if kind in bounds:
        sign, key = bounds[kind]
        bound = ctx.get(key)
        shown = f"{bound:g}" if isinstance(bound, int | float) else bound
        return f"must be {sign} {shown} (got {got!r})"
    if kind == "value_error":
        return str(ctx.get("error", error["msg"]))
    if kind == "literal_error":
        return f"must be one of {ctx.get('expected')} (got {got!r})"
    return f"{error['msg'][:1].lower()}{error['msg'][1:]} (got {got!r})"


def _unknown_key(model: type[BaseModel], path: KeyPath) -> str:
    key = str(path[-1])
    allowed = _fields_at(model, path[:-1])
    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    listing = f" (known keys: {', '.join(sorted(allowed))})" if allowed and not close else ""
    return f"unknown key {key!r}{hint}{listing}"


def _fields_at(model: type[BaseModel], path: KeyPath) -> list[str]:
    """Field names of the model found by following `path` through the annotations."""
    current: Any = model
    for part in path:
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(str(part))
            if field is None:
                return []
            current = field.annotation
        else:
            args = typing.get_args(current)
            current = args[-1] if args else None  # list[X] → X, dict[K, V] → V
    current = _unwrap(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def _unwrap(annotation: Any) -> Any:
    """`X | None` → X; Annotated and other wrappers are left to get_args."""
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        options = [a for a in typing.get_args(annotation) if a is not type(None)]
        return options[0] if len(options) == 1 else annotation
    return annotation
