"""Modules imported on first use.

Every run's process loads the whole code location; google-cloud-bigquery alone (it pulls in
pandas) costs seconds there, and local runs never call it. Modules that only some paths use
hold a `lazy(...)` stand-in at runtime and the real import under TYPE_CHECKING.
"""

import importlib
from types import ModuleType
from typing import Any


class LazyModule:
    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attribute: str) -> Any:
        module: ModuleType = importlib.import_module(self._name)  # a dict lookup once imported
        return getattr(module, attribute)

    def __repr__(self) -> str:
        return f"<lazy module {self._name!r}>"


def lazy(name: str) -> Any:
    return LazyModule(name)
