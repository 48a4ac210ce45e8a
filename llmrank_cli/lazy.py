"""Package exports loaded on first use (PEP 562): importing one light submodule (the measure
parser, the atomic writer) must not load its package's Arrow- and numpy-based siblings."""
import sys
from importlib import import_module


def exports(package: str, where: dict[str, str], home: str | None = None):
    """A module ``__getattr__`` that imports ``home.where[name]`` (``home``: the package itself
    unless given) when ``name`` is first used, and keeps the value in the package."""
    def __getattr__(name: str):
        if name not in where:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(import_module(f"{home or package}.{where[name]}"), name)
        setattr(sys.modules[package], name, value)
        return value
    return __getattr__
