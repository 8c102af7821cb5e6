"""System-on-chip readings that cover several parts at once, one module per chip family:
Apple silicon through ``powermetrics`` (:mod:`.apple`); what they share in :mod:`.common`."""
