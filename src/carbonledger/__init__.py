"""carbonledger: measure, predict and report the energy and carbon footprint of ML work."""

__version__ = "0.1.0"
__all__ = ["__version__"]
