"""Windows over sensors and the background sampler.

Public: :class:`Meter` (windows over a set of sensors; ``tick()`` returns the events of
each sampling interval), :class:`WindowBlock` (the ``with`` block a window is) and
:class:`Sampler` (the background thread that ticks it). The modules are internal.
"""

from carbonledger.meter.core import Meter, WindowBlock
from carbonledger.meter.sampler import Sampler

__all__ = ["Meter", "Sampler", "WindowBlock"]
