"""Reading configuration files: the only place the daemon touches its YAML on disk."""

from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel

from controllers.settings import ConfigError, Policy, Problem, SiteConfig
from controllers.settings.loader import load_model, parse_yaml

ModelT = TypeVar("ModelT", bound=BaseModel)


@dataclass(frozen=True)
class Settings:
    """A validated site and its policy, with where they came from (for reloads)."""

    site: SiteConfig
    policy: Policy
    site_path: Path
    policy_path: Path

    @property
    def spool_path(self) -> Path:
        """The spool file, relative to the site file unless absolute."""
        return self.site_path.parent / self.site.spool_path

    @property
    def deadletter_path(self) -> Path:
        return self.site_path.parent / self.site.deadletter_path


def load_settings(site_path: Path) -> Settings:
    """The site file and the policy file it names; ConfigError says what is wrong and where."""
    site = _load(SiteConfig, site_path)
    policy_path = site_path.parent / site.policy
    if not policy_path.is_file():
        raise ConfigError([_missing_policy(site_path, site.policy)])
    return Settings(site, _load(Policy, policy_path), site_path, policy_path)


def check_file(path: Path) -> list[Problem]:
    """Every problem in one site or policy file (empty when it is valid)."""
    try:
        text = _read(path)
        data, _ = parse_yaml(text, str(path))
        if isinstance(data, dict) and ("segments" in data or "site" in data):
            site = load_model(SiteConfig, text, str(path))
            if not (path.parent / site.policy).is_file():
                return [_missing_policy(path, site.policy)]
        else:
            load_model(Policy, text, str(path))
    except ConfigError as error:
        return error.problems
    return []


def _load(model: type[ModelT], path: Path) -> ModelT:
    return load_model(model, _read(path), str(path))


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([Problem(str(path), None, "", "file not found")]) from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError([Problem(str(path), None, "", f"cannot read: {error}")]) from None


def _missing_policy(site_path: Path, policy: str) -> Problem:
    text = site_path.read_text(encoding="utf-8")
    _, lines = parse_yaml(text, str(site_path))
    return Problem(
        str(site_path),
        lines.get(("policy",)),
        "policy",
        f"policy file {policy!r} not found next to {site_path.name}; create it or fix the path",
    )
