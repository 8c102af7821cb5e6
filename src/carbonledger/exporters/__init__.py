"""Live metrics: :mod:`~carbonledger.exporters.prometheus` (no dependency) and
:mod:`~carbonledger.exporters.otel` (``pip install carbonledger[otel]``).

Nothing is imported here: each exporter loads only when used.
"""
