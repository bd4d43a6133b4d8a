"""Class conditioning (thesis §2.3 and ch. 9: "incorporation of prior information such as class label
can be expected to drastically improve the results").

* Generator: a learned class embedding, pixel-normalised like the latent and joined to it, feeds the
  first dense layer: ``dense([pn(z), pn(embed_G(y))])`` (the conditional form PGGAN's code offers).
* Critic: the projection discriminator of Miyato & Koyama (2018), ``score(x, y) = score(x) +
  <embed_D(y), E(x)>``, on the same feature E(x) the SWGAN head slices. It adds one term to the score
  and keeps every loss's form (WGAN-GP, SWGAN, NS, hinge), which an AC-GAN head does not.

Labels are the indices of one label factor of the store (``data.label``, e.g. the digit), so
``num_classes`` is that factor's size.
"""

from __future__ import annotations

import torch
from torch import nn

from provgan.nn.layers import pixel_norm


def check_labels(labels: torch.Tensor | None, num_classes: int, batch: int, what: str) -> torch.Tensor:
    """Labels (batch,) of ints in [0, num_classes), or a ValueError naming ``what``."""
    if labels is None:
        raise ValueError(f"{what} is class-conditional ({num_classes} classes): pass one label per sample")
    if labels.ndim != 1 or labels.shape[0] != batch:
        raise ValueError(f"{what}: expected {batch} labels, got shape {tuple(labels.shape)}")
    if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= num_classes):
        raise ValueError(f"{what}: labels must lie in [0, {num_classes}), got {int(labels.min())}..{int(labels.max())}")
    return labels.long()


class LatentConditioning(nn.Module):
    """``(z, y) -> [pn(z), pn(embed(y))]``: the latent the conditional generator's dense layer reads."""

    def __init__(self, num_classes: int, dim: int):
        super().__init__()
        self.num_classes = num_classes
        self.embed = nn.Parameter(torch.randn(num_classes, dim))

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        y = check_labels(labels, self.num_classes, z.shape[0], "the generator")
        return torch.cat([pixel_norm(z), pixel_norm(self.embed[y.to(z.device)].to(z.dtype))], dim=1)


def latent_code(z: torch.Tensor, num_codes: int) -> torch.Tensor:
    """(N,) the categorical code of model.latent_codes: the index of the largest of z's first
    ``num_codes`` entries. For z ~ N(0, I) it is uniform over them, so drawing z draws the code, and
    every caller that samples G (training, sample grids, metrics, generate) gets codes for free."""
    return z[:, :num_codes].argmax(dim=1)


class ProjectionTerm(nn.Module):
    """``<embed(y), E(x)>`` per sample (Miyato & Koyama 2018, eq. 3), added to the critic's score.

    The embedding starts at zero, so a conditional critic starts as the unconditional one.
    """

    def __init__(self, num_classes: int, feature_dim: int):
        super().__init__()
        self.num_classes = num_classes
        self.embed = nn.Parameter(torch.zeros(num_classes, feature_dim))

    def forward(self, features: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        y = check_labels(labels, self.num_classes, features.shape[0], "the critic")
        return (self.embed[y.to(features.device)].float() * features.float()).sum(dim=1)


class ConditionedSlicedHead:
    """The SWGAN head f bound to a batch's labels: ``f(E) + <embed(y), E>``.

    It answers to what the SWGAN losses ask of a head: calling it scores E(x) (the projection term
    included, so the gradient penalty at the interpolates constrains the whole conditional critic),
    while ``slices``, ``scale`` and ``theta`` are the unconditional head's, so the feature-projection
    penalty of the reference code and the Stiefel step see exactly the head they were written for.
    """

    def __init__(self, head: nn.Module, projection: ProjectionTerm, labels: torch.Tensor):
        self.head, self.projection, self.labels = head, projection, labels

    def __call__(self, features: torch.Tensor) -> torch.Tensor:
        return self.head(features) + self.projection(features, self.labels)

    def slices(self, features: torch.Tensor) -> torch.Tensor:
        return self.head.slices(features)

    @property
    def scale(self) -> torch.Tensor:
        return self.head.scale

    @property
    def theta(self) -> torch.Tensor:
        return self.head.theta
