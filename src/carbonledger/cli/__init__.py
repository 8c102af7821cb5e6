"""The command line (``carbonledger ...``, entry point ``carbonledger.cli.main:main``).

Not API: thin modules that parse arguments, call the public API of the other packages and
print. Nothing outside this package imports it (``python -m carbonledger`` runs
``carbonledger.__main__``, which belongs here).
"""

__all__: list[str] = []
