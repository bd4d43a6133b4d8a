"""provgan: progressive growing of sliced Wasserstein video GANs (PG-SWGAN-3D) in PyTorch."""

__version__ = "0.1.0"
