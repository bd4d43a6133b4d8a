"""The SWGAN head f (thesis ch. 5, eq. 5.2 and the reference code).

``f(y) = (1/K) sum_k phi(lambda_k * theta_k^T y + b_k)`` with an orthonormal K x K matrix
Theta = [theta_1 .. theta_K] (the slicing directions), a scale lambda_k (init 1) and bias b_k (init 0)
per slice, and phi = LReLU(0.2). The mean over K approximates the integral over directions of eq. 5.1.
Theta stays on the Stiefel manifold through :mod:`provgan.optim`, not through a penalty.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from provgan.nn.layers import LRELU_SLOPE, assert_shape


def random_orthonormal(k: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """A K x K orthonormal matrix from the QR decomposition of a Gaussian matrix (signs fixed)."""
    q, r = torch.linalg.qr(torch.randn(k, k, generator=generator))
    return q * torch.sign(torch.diagonal(r)).unsqueeze(0)


class SlicedHead(nn.Module):
    """f: R^K -> R, and the per-slice values phi(lambda_k theta_k^T y + b_k) the penalties need."""

    def __init__(self, num_slices: int = 128):
        super().__init__()
        self.theta = nn.Parameter(random_orthonormal(num_slices))
        self.scale = nn.Parameter(torch.ones(num_slices))
        self.bias = nn.Parameter(torch.zeros(num_slices))

    @property
    def num_slices(self) -> int:
        return self.theta.shape[1]

    def slices(self, y: torch.Tensor) -> torch.Tensor:
        """(N, K) -> (N, K): ``phi(lambda_k * theta_k^T y + b_k)`` for every slice k."""
        assert_shape(y, [None, self.theta.shape[0]], "sliced head input E(x)")
        y = y.float()
        return F.leaky_relu(y @ self.theta * self.scale + self.bias, LRELU_SLOPE)

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        """(N, K) -> (N,): f(y), the mean over slices."""
        return self.slices(y).mean(dim=1)
