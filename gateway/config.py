"""Reading configuration files: the only place the daemon touches its YAML on disk."""

from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TypeVar

from pydantic import BaseModel

from controllers.advice import advice
from controllers.resolve import unknown_names
from controllers.services.advice import services_advice
from controllers.settings import ConfigError, Policy, Problem, SiteConfig
from controllers.settings.districts import DistrictView, district_site, suffixed, unknown_district
from controllers.settings.errors import dotted
from controllers.settings.loader import line_of, load_model, parse_yaml
from controllers.topology import topology_from_site
from gateway.ingest.intake import check_sources
from gateway.secrets import broker_secrets

ModelT = TypeVar("ModelT", bound=BaseModel)

# What one daemon does (README, "Past one machine"): `all` stores and lights; `ingest` only
# stores, on a shared subscription with other workers; `control` lights and runs the city
# services, leaving the storing of readings to the ingest workers.
Role = Literal["all", "ingest", "control"]
ROLES: tuple[Role, ...] = ("all", "ingest", "control")


@dataclass(frozen=True)
class Settings:
    """A validated site and its policy, with where they came from (for reloads)."""

    site: SiteConfig
    policy: Policy
    site_path: Path
    policy_path: Path
    role: Role = "all"
    district: DistrictView | None = None  # set when serving one district of the site

    @property
    def spool_path(self) -> Path:
        """The spool file, relative to the site file unless absolute."""
        return self.site_path.parent / self.site.spool_path

    @property
    def files(self) -> list[Path]:
        """The files this configuration was read from (watched for changes)."""
        return [self.site_path, self.policy_path]

    @property
    def deadletter_path(self) -> Path:
        return self.site_path.parent / self.site.deadletter_path


def load_settings(
    site_path: Path, role: Role = "all", district: str | None = None, worker: int = 1
) -> Settings:
    """The site file and the policy file it names; ConfigError says what is wrong and where
    (warnings about unwise policies are not errors: `check_file` reports them). The policy is
    checked against the whole site, then the site is cut to `district` or to ingest `worker`."""
    site = _load_site(site_path, _read(site_path))
    policy_path = site_path.parent / site.policy
    text = _read(policy_path)
    policy = load_model(Policy, text, str(policy_path))
    errors = [p for p in cross_check(site, policy, text, policy_path) if not p.warning]
    if errors:
        raise ConfigError(errors)
    view = None
    if district is not None:
        problem = unknown_district(site, district)
        if role == "ingest":
            problem = "an ingest worker stores the whole site's readings: drop --district"
        if problem is not None:
            raise ConfigError([Problem(str(site_path), None, "districts", problem)])
        site, view = district_site(site, district)
    elif role == "ingest":
        site = worker_site(site, worker)
    return Settings(site, policy, site_path, policy_path, role, view)


def worker_site(site: SiteConfig, worker: int) -> SiteConfig:
    """The site as ingest worker `worker` serves it: its own client id (its own persistent
    session in the shared group), spool and dead-letter file, metrics port `metrics_port +
    worker` when the site has one, and no console (the console belongs to the lighting)."""
    tag = f"ingest-{worker}"
    metrics = None if site.metrics_port is None else site.metrics_port + worker
    return site.model_copy(
        update={
            "broker": site.broker.model_copy(
                update={"client_id": f"{site.broker.client_id}-{tag}"}
            ),
            "spool_path": suffixed(site.spool_path, tag),
            "deadletter_path": suffixed(site.deadletter_path, tag),
            "metrics_port": metrics,
            "console": None,
        }
    )


def cross_check(site: SiteConfig, policy: Policy, text: str, path: Path) -> list[Problem]:
    """The policy against the site: names it uses that the site lacks (errors), and values
    that are legal but unwise there (warnings), with the policy file's lines."""
    topology = topology_from_site(site)
    _, lines = parse_yaml(text, str(path))
    errors = [
        Problem(str(path), line_of(lines, p), dotted(p), m)
        for p, m in unknown_names(policy, topology)
    ]
    warnings = [
        Problem(str(path), line_of(lines, p), dotted(p), m, warning=True)
        for p, m in [*advice(policy, topology), *services_advice(policy, site)]
    ]
    return errors + warnings


def check_file(path: Path) -> list[Problem]:
    """Every problem in one site or policy file (empty when it is valid). A site file is
    checked with its policy file: that one's problems, and the policy against the site; and
    with the secrets it names (files there and private, the password variable set)."""
    found: list[Problem] = []
    try:
        text = _read(path)
        data, _ = parse_yaml(text, str(path))
        if isinstance(data, dict) and ("segments" in data or "site" in data):
            site = _load_site(path, text)
            found = _secrets(site, path, text)
            policy_path = path.parent / site.policy
            policy_text = _read(policy_path)
            policy = load_model(Policy, policy_text, str(policy_path))
            return found + cross_check(site, policy, policy_text, policy_path)
        load_model(Policy, text, str(path))
    except ConfigError as error:
        return found + error.problems
    return []


def _secrets(site: SiteConfig, path: Path, text: str) -> list[Problem]:
    """The broker's password and TLS files and variable, at their keys (I/O: check-config
    only; `luciole run` checks the same before connecting)."""
    _, lines = parse_yaml(text, str(path))
    return [
        Problem(str(path), _line(lines, f.key), dotted(f.key), f.message, warning=f.warning)
        for f in broker_secrets(site.broker, path.parent)
    ]


def _load_site(path: Path, text: str) -> SiteConfig:
    """The site model, its sources' format and codec names, and its policy file's presence."""
    site = load_model(SiteConfig, text, str(path))
    found = check_sources(site)
    lines = parse_yaml(text, str(path))[1] if found else {}  # for the lines of what is wrong
    problems = [Problem(str(path), _line(lines, p), dotted(p), m) for p, m in found]
    if not (path.parent / site.policy).is_file():
        problems.append(_missing_policy(path, site.policy))
    if problems:
        raise ConfigError(problems)
    return site


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([Problem(str(path), None, "", "file not found")]) from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError([Problem(str(path), None, "", f"cannot read: {error}")]) from None


def _line(lines: dict[tuple[str | int, ...], int], path: tuple[str | int, ...]) -> int | None:
    return lines.get(path) or lines.get(path[:-1])


def _missing_policy(site_path: Path, policy: str) -> Problem:
    text = site_path.read_text(encoding="utf-8")
    _, lines = parse_yaml(text, str(site_path))
    return Problem(
        str(site_path),
        lines.get(("policy",)),
        "policy",
        f"policy file {policy!r} not found next to {site_path.name}; create it or fix the path",
    )
