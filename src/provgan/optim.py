"""Optimisation on the Stiefel manifold for the SWGAN projection matrix Theta, and optimizer helpers.

Theta must stay orthonormal (thesis ch. 5: the slices are orthogonal projections). Each step:
1. project the Euclidean gradient G onto the tangent space at W: ``G - W sym(W^T G)``;
2. take the ordinary Adam step with it;
3. retract to the manifold with a QR decomposition, multiplying Q's columns by sign(diag(R)).
Without the sign fix in 3, QR may return -q for a column and the slicing directions flip between steps.
"""

from __future__ import annotations

import torch


def stiefel_project(w: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """Project ``g`` onto the tangent space of the Stiefel manifold at ``w``: ``g - w sym(w^T g)``."""
    wtg = w.transpose(-2, -1) @ g
    return g - w @ (0.5 * (wtg + wtg.transpose(-2, -1)))


def qr_retract(w: torch.Tensor) -> torch.Tensor:
    """Nearest-in-spirit orthonormal matrix: Q of ``w = QR`` with the signs chosen so diag(R) > 0."""
    q, r = torch.linalg.qr(w)
    signs = torch.sign(torch.diagonal(r, dim1=-2, dim2=-1))
    signs = torch.where(signs == 0, torch.ones_like(signs), signs)
    return q * signs.unsqueeze(-2)


def make_adam(params, lr: float, beta1: float, beta2: float, eps: float) -> torch.optim.Adam:
    """Adam with float betas (torch 2.13 rejects ``betas=(0, 0.99)`` with an int 0)."""
    return torch.optim.Adam(params, lr=lr, betas=(float(beta1), float(beta2)), eps=float(eps))


def make_optimizer(params, name: str, lr: float, betas: tuple[float, float] = (0.0, 0.99), eps: float = 1e-8,
                   weight_decay: float = 0.0, alpha: float = 0.99) -> torch.optim.Optimizer:
    """Adam (PGGAN, VGAN, MoCoGAN) or RMSprop (TGAN: Chainer's RMSprop equals torch's with alpha 0.99,
    eps 1e-8; BASELINES.md §2.3). ``weight_decay`` is coupled L2, as MoCoGAN's Adam uses it."""
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, betas=(float(betas[0]), float(betas[1])), eps=float(eps),
                                weight_decay=float(weight_decay))
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, alpha=float(alpha), eps=float(eps),
                                   weight_decay=float(weight_decay))
    raise ValueError(f"unknown optimizer '{name}'; choose adam or rmsprop")


def stiefel_step(optimizer: torch.optim.Optimizer, theta: torch.nn.Parameter) -> None:
    """One optimizer step that keeps ``theta`` on the Stiefel manifold (steps 1-3 above).

    The optimizer may hold other parameters too; they get their ordinary step.
    """
    if theta.grad is not None:
        with torch.no_grad():
            theta.grad.copy_(stiefel_project(theta.detach(), theta.grad))
    optimizer.step()
    with torch.no_grad():
        theta.copy_(qr_retract(theta.detach()))


def reset_adam_state(optimizer: torch.optim.Optimizer) -> None:
    """Forget moments and step counts (PGGAN resets Adam when a fade starts and when it ends)."""
    optimizer.state.clear()


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr
