"""Windows over sensors and the background sampler."""

from carbonledger.meter.core import Meter
from carbonledger.meter.sampler import Sampler

__all__ = ["Meter", "Sampler"]
