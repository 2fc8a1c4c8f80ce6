"""One registry pattern for pluggable parts (encoders, generators).

Built-ins are registered as ``"module:attribute"`` strings so nothing heavy is imported
until a part is asked for; third parties plug in through an entry-point group.
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points
from typing import Any, Callable

from xqg_pyserini.errors import InputError


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

    def in_order(self) -> list[str]:
        """Built-ins in registration order, then plug-ins by name (the order of ``--help``)."""
        return [*self._builtins, *sorted(set(self._plugins()) - set(self._builtins))]

    def is_builtin(self, name: str) -> bool:
        return name in self._builtins

    def get(self, name: str) -> Callable[..., Any]:
        """The registered class or factory; an unknown name is an InputError listing the known ones."""
        target = self._builtins.get(name)
        if target is None:
            plugin = self._plugins().get(name)
            if plugin is None:
                raise InputError(f"unknown {self.kind} {name!r}; known: {', '.join(self.names())}")
            return plugin.load()
        if isinstance(target, str):
            module, _, attribute = target.partition(":")
            return getattr(importlib.import_module(module), attribute)
        return target

    def create(self, name: str, **options: Any) -> Any:
        return self.get(name)(**options)
