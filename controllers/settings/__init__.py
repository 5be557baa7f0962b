"""Validated settings models (pydantic v2) and the YAML loader that explains errors."""

from controllers.settings.errors import ConfigError, Problem
from controllers.settings.policy import Policy
from controllers.settings.site import SiteConfig

__all__ = ["ConfigError", "Policy", "Problem", "SiteConfig"]
