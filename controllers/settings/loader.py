"""Turn YAML text into a validated settings model, or into problems with lines and fixes.

PyYAML's node graph keeps each key's line, so a pydantic error location such as
`("presence", "hold_s")` can be traced back to `policy.yaml:17`. Duplicate keys, which YAML
silently overwrites, are reported. Unknown keys get a did-you-mean from the model's own fields.
Text in, model out: the caller reads the file.
"""

import difflib
import types
import typing
from typing import Any, Protocol, TypeVar, runtime_checkable

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from controllers.settings.errors import ConfigError, Problem, dotted

Path = tuple[str | int, ...]


@runtime_checkable
class _Checked(Protocol):
    def problems(self) -> list[tuple[Path, str]]: ...


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
    found: list[tuple[Path, str]] = value.problems() if isinstance(value, _Checked) else []
    if found:
        raise ConfigError([Problem(filename, _line(lines, p), dotted(p), m) for p, m in found])
    return value


def parse_yaml(text: str, filename: str) -> tuple[Any, dict[Path, int]]:
    """Python data plus the 1-based line of every key and list item, by key path."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        lines: dict[Path, int] = {}
        data = _construct(loader, node, (), lines, filename) if node is not None else None
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark is not None else None
        reason = error.problem or error.context or "invalid YAML"
        raise ConfigError([Problem(filename, line, "", f"YAML syntax error: {reason}")]) from None
    except yaml.YAMLError as error:
        raise ConfigError([Problem(filename, None, "", f"YAML error: {error}")]) from None
    finally:
        loader.dispose()
    return data, lines


def _construct(
    loader: yaml.SafeLoader, node: yaml.Node, path: Path, lines: dict[Path, int], filename: str
) -> Any:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if not isinstance(key, str | int) or isinstance(key, bool):
                key = str(key)
            child = (*path, key)
            if key in result:
                first = lines[child]
                raise ConfigError(
                    [
                        Problem(
                            filename,
                            key_node.start_mark.line + 1,
                            dotted(child),
                            f"duplicate key (first set on line {first}); keep one",
                        )
                    ]
                )
            lines[child] = key_node.start_mark.line + 1
            result[key] = _construct(loader, value_node, child, lines, filename)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [
            _construct(loader, item, (*path, i), lines, filename)
            for i, item in enumerate(node.value)
        ]
    return loader.construct_object(node, deep=True)


def _line(lines: dict[Path, int], path: Path) -> int | None:
    """The line of the deepest part of `path` that exists in the file."""
    for end in range(len(path), -1, -1):
        if path[:end] in lines:
            return lines[path[:end]]
    return None


def _problem(
    model: type[BaseModel], error: ErrorDetails, lines: dict[Path, int], filename: str
) -> Problem:
    path: Path = tuple(p for p in error["loc"] if isinstance(p, str | int))
    # Annotated validators add their function name to the location; drop such tails.
    path = tuple(p for p in path if not (isinstance(p, str) and p.startswith("function-")))
    return Problem(filename, _line(lines, path), dotted(path), _message(model, error, path))


def _message(model: type[BaseModel], error: ErrorDetails, path: Path) -> str:
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


def _unknown_key(model: type[BaseModel], path: Path) -> str:
    key = str(path[-1])
    allowed = _fields_at(model, path[:-1])
    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    listing = f" (known keys: {', '.join(sorted(allowed))})" if allowed and not close else ""
    return f"unknown key {key!r}{hint}{listing}"


def _fields_at(model: type[BaseModel], path: Path) -> list[str]:
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
