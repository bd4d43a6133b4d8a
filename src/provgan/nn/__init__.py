"""Networks: layers, the progressive generator and discriminator, and the SWGAN sliced head."""

from provgan.nn.discriminator import Discriminator
from provgan.nn.generator import Generator
from provgan.nn.sliced_head import SlicedHead

__all__ = ["Discriminator", "Generator", "SlicedHead"]
