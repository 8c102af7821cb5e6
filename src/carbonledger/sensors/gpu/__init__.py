"""GPU sensors, one module per vendor: NVIDIA through NVML (:mod:`.nvidia`), AMD through
amdsmi (:mod:`.amd`); what they share in :mod:`.common`."""
