"""Adversarial losses as pure functions of a critic and a batch.

Every loss takes a :class:`Critic` (the discriminator bound to the current level and fade weight),
real and fake clips, and a :class:`~provgan.config.LossConfig`; it returns a :class:`LossOut` with the
scalar to minimise and its named terms for logging. Losses never step an optimizer.

* ``wgan-gp`` (PGGAN; thesis eq. 2.7): D: D(fake) - D(real) + 10 (||grad D(xhat)|| - 1)^2 + 0.001 D(real)^2.
* ``swgan`` (thesis ch. 5 in the form of the reference code): D minimises f(E(real)) - f(E(fake))
  + lambda1 ||(1 - t) grad_xhat f(E(xhat))||^2 + lambda2 mean_k (lambda_k h(o_k) - 0.01)^2 where
  xhat = real + t (fake - real), o_k = phi(lambda_k theta_k^T yhat + b_k) at the feature interpolate
  yhat = (1 - t') E(real) + t' E(fake), and h(o) = relu(o) + 0.2 relu(-o). G minimises f(E(fake)).
* ``swgan-eq53``: the thesis' eq. 5.3 itself: lambda1 E ||J_E(xhat)||_F^2 (one-backward estimate with a
  Gaussian probe v: E_v ||J^T v||^2 = ||J||_F^2) + lambda2 E (||grad_y f(yhat)|| - k)^2.
* ``wgan`` (Arjovsky et al. 2017; TGAN's loss, BASELINES.md §2.3): D: D(fake) - D(real), G: -D(fake),
  no penalty and no drift (TGAN constrains D by singular value clipping after its step instead).
* ``ns`` (non-saturating logistic, optional R1) and ``hinge``, used by the baselines. For a patch
  critic (N, P) the softplus/relu acts per patch and the patches are averaged, as MoCoGAN's BCE does.

Lazy regularisation (StyleGAN2, Karras et al. 2020, §B): every D loss takes ``reg_weight``, the factor
on its input-gradient penalty, the one term that needs a double backward through D (``gp``, ``jac``,
``r1``). The step passes ``reg_interval`` every ``reg_interval``-th D step and 0 otherwise, so the
penalty costs 1/k of its time while its expected weight is unchanged; at 0 it is not computed at
all. The cheap penalties (the drift, the feature-projection and ``lip`` terms) stay on every step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F

from provgan.config import LossConfig
from provgan.nn.sliced_head import SlicedHead
from provgan.shard import SINGLE, Shard

Tensor = torch.Tensor


@dataclass(frozen=True)
class Critic:
    """The discriminator at a fixed level and alpha: ``features`` x -> E(x), ``head`` E(x) -> score."""

    features: Callable[[Tensor], Tensor]
    head: Callable[[Tensor], Tensor]
    sliced: SlicedHead | None = None

    def patches(self, x: Tensor) -> Tensor:
        """(N, P) scores: P = 1 for a scalar critic, one per patch for a patch critic (MoCoGAN's D_I)."""
        return self.head(self.features(x)).float().reshape(x.shape[0], -1)

    def __call__(self, x: Tensor) -> Tensor:
        """(N,) scores: a patch critic's mean over its patches (exact for P = 1)."""
        return self.patches(x).mean(dim=1)


@dataclass
class LossOut:
    loss: Tensor  # scalar to minimise
    terms: dict[str, Tensor]  # detached scalars, named for logging ("Loss/D/gp", ...)
    per_sample: Tensor | None = None  # (N,) the values ``loss`` averages (top-k training keeps some)


def _per_sample(shape_like: Tensor, shard: Shard) -> Tensor:
    """Uniform t in [0, 1), one per sample, broadcastable against ``shape_like``.

    Drawn for the global batch on the CPU generator and sharded, so runs on 1 or K processes, CPU or
    CUDA, draw the same numbers.
    """
    t = shard.take(torch.rand(shape_like.shape[0] * shard.world))
    return t.reshape([-1] + [1] * (shape_like.ndim - 1)).to(shape_like.device)


def _interpolate(reals: Tensor, fakes: Tensor, shard: Shard) -> tuple[Tensor, Tensor]:
    t = _per_sample(reals, shard)
    xhat = torch.lerp(reals.detach().float(), fakes.detach().float(), t).to(reals.dtype)
    return xhat.requires_grad_(True), t


def _input_grad(outputs: Tensor, inputs: Tensor) -> Tensor:
    (grad,) = torch.autograd.grad(outputs.sum(), inputs, create_graph=True)
    return grad.float()


def _out(loss_per_sample: Tensor, **terms: Tensor) -> LossOut:
    return LossOut(loss_per_sample.mean(), {k: v.detach().float().mean() for k, v in terms.items()},
                   loss_per_sample)


def top_k_mean(per_sample: Tensor, share: float) -> Tensor:
    """The mean of the ``ceil(share * N)`` smallest per-sample G losses (top-k training, Sinha et al.
    2020): G learns from the fakes the critic finds most real, and not from its worst ones, whose
    gradient points between the modes; share 1 is the plain mean."""
    if share >= 1.0:
        return per_sample.mean()
    k = max(1, math.ceil(share * per_sample.shape[0]))
    return per_sample.topk(k, largest=False).values.mean()


# ---------------------------------------------------------------------------------------------
# WGAN-GP


def wgan_gp_penalty(critic: Callable[[Tensor], Tensor], xhat: Tensor) -> Tensor:
    """Per-sample (||grad_xhat D(xhat)||_2 - 1)^2 (Gulrajani et al. 2017)."""
    grad = _input_grad(critic(xhat), xhat)
    return (grad.flatten(1).norm(dim=1) - 1.0).square()


def wgan_gp_d(critic: Critic, reals: Tensor, fakes: Tensor, cfg: LossConfig,
              shard: Shard = SINGLE, reg_weight: float = 1.0) -> LossOut:
    real, fake = critic(reals), critic(fakes)
    drift = real.square()
    total = fake - real + cfg.drift_weight * drift
    terms = dict(real=real, fake=fake, drift=drift, wdist=real - fake)
    if reg_weight > 0:
        xhat, _ = _interpolate(reals, fakes, shard)
        gp = wgan_gp_penalty(critic, xhat)
        total = total + reg_weight * cfg.gp_weight * gp
        terms["gp"] = gp
    return _out(total, **terms)


def wgan_g(critic: Critic, fakes: Tensor, cfg: LossConfig) -> LossOut:
    fake = critic(fakes)
    return _out(-fake, fake=fake)


def wgan_d(critic: Critic, reals: Tensor, fakes: Tensor, cfg: LossConfig,
           shard: Shard = SINGLE, reg_weight: float = 1.0) -> LossOut:
    """Plain WGAN: no gradient penalty and no drift, so no double backward at any ``reg_weight``."""
    real, fake = critic(reals), critic(fakes)
    return _out(fake - real, real=real, fake=fake, wdist=real - fake)


# ---------------------------------------------------------------------------------------------
# SWGAN


def feature_projection_penalty(head: SlicedHead, yhat: Tensor, target: float) -> Tensor:
    """Per-sample mean_k (lambda_k h(o_k) - target)^2, h(o) = relu(o) + 0.2 relu(-o) (reference code)."""
    o = head.slices(yhat)
    h = F.relu(o) + 0.2 * F.relu(-o)
    return (head.scale * h - target).square().mean(dim=1)


def swgan_gradient_penalty(critic: Critic, reals: Tensor, fakes: Tensor, shard: Shard) -> Tensor:
    """Per-sample ||(1 - t) grad_xhat f(E(xhat))||^2 at xhat = real + t (fake - real) (reference code)."""
    xhat, t = _interpolate(reals, fakes, shard)
    grad = _input_grad(_sliced(critic)(critic.features(xhat).float()), xhat)
    return ((1.0 - t) * grad).flatten(1).square().sum(dim=1)


def swgan_d(critic: Critic, reals: Tensor, fakes: Tensor, cfg: LossConfig,
            shard: Shard = SINGLE, reg_weight: float = 1.0) -> LossOut:
    head = _sliced(critic)
    e_real, e_fake = critic.features(reals).float(), critic.features(fakes).float()
    f_real, f_fake = head(e_real), head(e_fake)
    terms = {}
    total = f_real - f_fake
    if reg_weight > 0:
        gp = swgan_gradient_penalty(critic, reals, fakes, shard)
        total = total + reg_weight * cfg.swgan_lambda1 * gp
        terms["gp"] = gp
    t2 = _per_sample(e_real, shard)
    yhat = (1.0 - t2) * e_real + t2 * e_fake
    proj = feature_projection_penalty(head, yhat, cfg.swgan_target)
    total = total + cfg.swgan_lambda2 * proj
    return _out(total, real=f_real, fake=f_fake, proj=proj, swdist=f_fake - f_real, **terms)


def swgan_g(critic: Critic, fakes: Tensor, cfg: LossConfig) -> LossOut:
    fake = _sliced(critic)(critic.features(fakes).float())
    return _out(fake, fake=fake)


def jacobian_frobenius_sq(features: Callable[[Tensor], Tensor], xhat: Tensor) -> Tensor:
    """Per-sample unbiased estimate of ||dE/dx||_F^2: ||J^T v||^2 with v ~ N(0, I) (one backward)."""
    e = features(xhat).float()
    v = torch.randn_like(e)
    jv = _input_grad(e * v, xhat)
    return jv.flatten(1).square().sum(dim=1)


def swgan_eq53_d(critic: Critic, reals: Tensor, fakes: Tensor, cfg: LossConfig,
                 shard: Shard = SINGLE, reg_weight: float = 1.0) -> LossOut:
    """Eq. 5.3 with the reference code's sign: D *minimises* f(E(real)) - f(E(fake)) + penalties.

    Eq. 5.3 as printed is ``max_D E[D(X)] - E[D(G(Z))] + lambda1 ... + lambda2 ...``; maximising the
    penalties cannot be meant, so the penalties are minimised, and the critic term keeps the sign
    of ``swgan`` (real clips score low, G minimises f(E(fake))). The feature interpolates yhat are
    detached so the second penalty constrains f alone.
    """
    head = _sliced(critic)
    e_real, e_fake = critic.features(reals).float(), critic.features(fakes).float()
    f_real, f_fake = head(e_real), head(e_fake)
    terms = {}
    total = f_real - f_fake
    if reg_weight > 0:
        xhat, _ = _interpolate(reals, fakes, shard)
        jac = jacobian_frobenius_sq(critic.features, xhat)
        total = total + reg_weight * cfg.swgan_lambda1 * jac
        terms["jac"] = jac
    t2 = _per_sample(e_real, shard)
    yhat = torch.lerp(e_real.detach(), e_fake.detach(), t2).requires_grad_(True)
    gy = _input_grad(head(yhat), yhat)
    lip = (gy.norm(dim=1) - cfg.eq53_k).square()
    total = total + cfg.swgan_lambda2 * lip
    return _out(total, real=f_real, fake=f_fake, lip=lip, swdist=f_fake - f_real, **terms)


def _sliced(critic: Critic) -> SlicedHead:
    if critic.sliced is None:
        raise ValueError("the swgan losses need a critic with a sliced head")
    return critic.sliced


# ---------------------------------------------------------------------------------------------
# non-saturating logistic and hinge


def r1_penalty(critic: Critic, reals: Tensor) -> Tensor:
    x = reals.detach().requires_grad_(True)
    return _input_grad(critic(x), x).flatten(1).square().sum(dim=1)


def _with_r1(total: Tensor, terms: dict[str, Tensor], critic: Critic, reals: Tensor, cfg: LossConfig,
             reg_weight: float) -> LossOut:
    if cfg.r1_gamma > 0 and reg_weight > 0:
        r1 = r1_penalty(critic, reals)
        total = total + reg_weight * 0.5 * cfg.r1_gamma * r1
        terms["r1"] = r1
    return _out(total, **terms)


def ns_d(critic: Critic, reals: Tensor, fakes: Tensor, cfg: LossConfig,
         shard: Shard = SINGLE, reg_weight: float = 1.0) -> LossOut:
    real, fake = critic.patches(reals), critic.patches(fakes)
    total = F.softplus(fake).mean(dim=1) + F.softplus(-real).mean(dim=1)
    return _with_r1(total, dict(real=real.mean(dim=1), fake=fake.mean(dim=1)), critic, reals, cfg, reg_weight)


def ns_g(critic: Critic, fakes: Tensor, cfg: LossConfig) -> LossOut:
    fake = critic.patches(fakes)
    return _out(F.softplus(-fake).mean(dim=1), fake=fake.mean(dim=1))


def hinge_d(critic: Critic, reals: Tensor, fakes: Tensor, cfg: LossConfig,
            shard: Shard = SINGLE, reg_weight: float = 1.0) -> LossOut:
    real, fake = critic.patches(reals), critic.patches(fakes)
    total = F.relu(1.0 - real).mean(dim=1) + F.relu(1.0 + fake).mean(dim=1)
    return _with_r1(total, dict(real=real.mean(dim=1), fake=fake.mean(dim=1)), critic, reals, cfg, reg_weight)


def rotate_frames(clips: Tensor, quarter_turns: Tensor) -> Tensor:
    """(N, C, T, H, W) square clips with every frame of clip i turned ``quarter_turns[i]`` times by 90
    degrees (counter-clockwise in (H, W), as ``torch.rot90``)."""
    turns = quarter_turns.to(clips.device).view(-1, 1, 1, 1, 1)
    out = clips
    for k in range(1, 4):  # k = 0 is the clip as it is
        out = torch.where(turns == k, torch.rot90(clips, k, dims=(3, 4)), out)
    return out


def rotation_task_loss(features: Callable[[Tensor], Tensor], head: Callable[[Tensor], Tensor], reals: Tensor,
                       quarter_turns: Tensor) -> Tensor:
    """Per-sample cross-entropy of predicting ``quarter_turns`` from ``head(features(rotated reals))``.

    The auxiliary task of Chen et al. 2019 (SS-GAN), D's half: telling an upright 7 from one on its
    side needs the shape features an unconditional critic otherwise learns only from G's mistakes.
    Computed on real clips only, so the adversarial game itself is unchanged. On the demo's digits it
    lowered the sure share (README, "An 8x32x32 top level"), so it is off by default.
    """
    logits = head(features(rotate_frames(reals, quarter_turns))).float()
    return F.cross_entropy(logits, quarter_turns.to(logits.device), reduction="none")


@dataclass(frozen=True)
class LossPair:
    d: Callable[..., LossOut]  # (critic, reals, fakes, cfg, shard=SINGLE, reg_weight=1.0)
    g: Callable[[Critic, Tensor, LossConfig], LossOut]
    sliced: bool  # needs the SWGAN head rather than D's scalar output


LOSSES: dict[str, LossPair] = {
    "wgan-gp": LossPair(wgan_gp_d, wgan_g, sliced=False),
    "wgan": LossPair(wgan_d, wgan_g, sliced=False),
    "swgan": LossPair(swgan_d, swgan_g, sliced=True),
    "swgan-eq53": LossPair(swgan_eq53_d, swgan_g, sliced=True),
    "ns": LossPair(ns_d, ns_g, sliced=False),
    "hinge": LossPair(hinge_d, wgan_g, sliced=False),
}


def info_loss(logits: Tensor, codes: Tensor) -> Tensor:
    """Per-sample cross-entropy of InfoGAN's Q (Chen et al. 2016, the term L_I for a categorical code): the
    lower bound on the mutual information I(c; G(z, c)) is H(c) minus its mean, so minimising it with
    respect to Q and G maximises the bound. Q's logits come from the critic's E(x) of G's clips."""
    return F.cross_entropy(logits.float(), codes.to(logits.device), reduction="none")


def get_loss(name: str) -> LossPair:
    try:
        return LOSSES[name]
    except KeyError:
        raise ValueError(f"unknown loss '{name}'; choose from {', '.join(LOSSES)}") from None
