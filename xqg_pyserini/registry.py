"""One registry pattern for pluggable parts (encoders, generators).

Built-ins are registered as ``"module:attribute"`` strings so nothing heavy is imported
until a part is asked for; third parties plug in through an entry-point group.
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points
from typing import Any, Callable


class Registry:
    def __init__(self, kind: str, group: str):
        self.kind = kind
        self.group = group
        self._builtins: dict[str, str | Callable[..., Any]] = {}

    def register(self, name: str, target: str | Callable[..., Any]) -> None:
        self._builtins[name] = target

    def _plugins(self) -> dict[str, Any]:
        return {ep.name: ep for ep in entry_points(group=self.group)}

    def names(self) -> list[str]:
        return sorted(set(self._builtins) | set(self._plugins()))

    def get(self, name: str) -> Callable[..., Any]:
        target = self._builtins.get(name)
        if target is None:
            plugin = self._plugins().get(name)
            if plugin is None:
                raise KeyError(f"unknown {self.kind} {name!r}; known: {', '.join(self.names())}")
            return plugin.load()
        if isinstance(target, str):
            module, _, attribute = target.partition(":")
            return getattr(importlib.import_module(module), attribute)
        return target

    def create(self, name: str, **options: Any) -> Any:
        return self.get(name)(**options)
