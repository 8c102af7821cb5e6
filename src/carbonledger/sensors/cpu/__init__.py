"""CPU sensors: RAPL powercap counters (:mod:`.rapl`), the TDP table (:mod:`.tdp`), the
per-vCPU table of virtual machines (:mod:`.vcpu`) and the utilisation models (:mod:`.model`)."""
