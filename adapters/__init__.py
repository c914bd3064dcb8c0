"""Platform adapters, loaded by name so an unused platform's library is never imported.

The composition root asks for adapters by name; each adapter package exposes
`build(config) -> Platform`. Adapters translate between a platform and the core's events and
actions; they hold no business rules and never touch storage.
"""

from __future__ import annotations

import importlib
from typing import Any

KNOWN = ("console", "telegram", "discord")


def build_platform(name: str, config: Any) -> Any:
    """Import `adapters.<name>` and build its platform from `config`."""
    if name not in KNOWN:
        raise ValueError(f"unknown platform {name!r}")
    module = importlib.import_module(f"adapters.{name}")
    return module.build(config)
