"""Read hardware, nothing else: one module per vendor (``cpu/``, ``gpu/``, ``soc/``,
``memory.py``), the Sensor protocol and probe contract (``base.py``), and the registry that
tries each vendor in order (``registry.py``)."""
