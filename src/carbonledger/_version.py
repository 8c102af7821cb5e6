"""The package version, in a module of its own so that nothing imports the package root
from below (``carbonledger/__init__.py`` re-exports it)."""

__version__ = "0.1.0"
