"""Latent interpolations (thesis Appendix B): paths between the latents of consecutive seeds.

The generator pixel-normalises its latent first (eq. 4.1 applied to z, as in PGGAN), so G only sees
the direction of z: every z is projected onto the sphere of radius sqrt(latent_dim). A straight line
between two latents cuts through the inside of that sphere, and its midpoint has a smaller norm than
either end, which a Gaussian latent of high dimension almost never has; the projection hides the
norm, but the speed along the path is uneven. Spherical interpolation (slerp, Shoemake 1985; White
2016, "Sampling Generative Networks") moves along the great circle at constant angular speed. The
thesis' figures B.1-B.6 used linear interpolation, offered as ``lerp``.

Here slerp interpolates the *directions* on the unit sphere and the *norms* linearly, so the two
ends are exactly the seeds' latents (whatever their norms) and the norm stays constant along the
path when both ends have the same norm.
"""

from __future__ import annotations

from typing import Sequence

import torch

MODES = ("slerp", "lerp")


def lerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """(1 - t) a + t b for each t: (D,), (D,), (K,) -> (K, D)."""
    t = t.to(a.dtype)[:, None]
    return (1 - t) * a + t * b


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Great-circle interpolation of directions with linearly interpolated norms: (K, D).

    With u = a/|a|, v = b/|b| and omega = arccos(u.v), the direction at t is
    (sin((1-t) omega) u + sin(t omega) v) / sin(omega), a unit vector; its norm is
    (1-t)|a| + t|b|. Near-parallel ends (sin omega ~ 0) fall back to normalised lerp. The rows with
    t == 0 and t == 1 are set to ``a`` and ``b`` themselves, so the endpoints are exact.
    """
    a64, b64, t64 = a.double(), b.double(), t.double()[:, None]
    na, nb = a64.norm(), b64.norm()
    u, v = a64 / na, b64 / nb
    omega = torch.arccos((u @ v).clamp(-1.0, 1.0))
    if torch.sin(omega) < 1e-6:
        direction = (1 - t64) * u + t64 * v
        direction = direction / direction.norm(dim=1, keepdim=True).clamp_min(1e-12)
    else:
        direction = (torch.sin((1 - t64) * omega) * u + torch.sin(t64 * omega) * v) / torch.sin(omega)
    out = (((1 - t64) * na + t64 * nb) * direction).to(a.dtype)
    out[t == 0] = a
    out[t == 1] = b
    return out


def interpolate(a: torch.Tensor, b: torch.Tensor, steps: int, mode: str = "slerp") -> torch.Tensor:
    """``steps`` latents from ``a`` to ``b`` inclusive, evenly spaced in t: (steps, D)."""
    if mode not in MODES:
        raise ValueError(f"unknown interpolation mode {mode!r}; use one of {', '.join(MODES)}")
    if steps < 2:
        raise ValueError(f"an interpolation needs at least 2 steps, got {steps}")
    t = torch.linspace(0.0, 1.0, steps)
    return (slerp if mode == "slerp" else lerp)(a, b, t)


def chain_latents(latents: torch.Tensor, steps: int, mode: str = "slerp") -> torch.Tensor:
    """One interpolation row per consecutive pair of latents: (P+1, D) -> (P * steps, D), row-major.

    Row r goes from latent r to latent r+1, so a grid with P rows and ``steps`` columns shows the
    path A -> B on its first row, B -> C on the second, and so on (Appendix B's figure layout).
    """
    rows = [interpolate(latents[i], latents[i + 1], steps, mode) for i in range(latents.shape[0] - 1)]
    return torch.cat(rows)


def parse_seeds(text: str) -> list[int]:
    """``"3,7,11"`` -> [3, 7, 11]; ValueError with the offending item otherwise."""
    items = [s.strip() for s in text.split(",") if s.strip()]
    seeds: list[int] = []
    for item in items:
        try:
            seeds.append(int(item))
        except ValueError:
            raise ValueError(f"{item!r} is not an integer seed") from None
    return seeds


def pairs(seeds: Sequence[int]) -> list[tuple[int, int]]:
    """Consecutive seed pairs: the rows of an interpolation grid."""
    return list(zip(seeds[:-1], seeds[1:]))
