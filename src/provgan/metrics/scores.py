"""Scores on feature arrays: Inception Score, Fréchet distance (FID/FVD) and kernel distance (KID/KVD).

Every function here is a pure function of NumPy arrays: the feature networks (C3D, I3D, the offline
classifier) live in their own modules, so a score can be checked against a closed form without any
network. Conventions follow the papers the thesis cites (ch. 6):

* Inception Score, thesis eq. 6.2 (Salimans et al. 2016): ``IS = exp(E_x KL(p(y|x) || p(y)))``,
  computed on ``splits`` disjoint chunks and reported as mean and standard deviation over chunks.
* Fréchet distance, thesis eq. 6.4 (Heusel et al. 2017): ``||mu_1 - mu_2||^2 + tr(S_1 + S_2 -
  2 (S_1 S_2)^(1/2))`` of Gaussians fitted to two feature sets. With I3D features it is FVD
  (Unterthiner et al. 2018).
* Kernel distance (KID, Binkowski et al. 2018; KVD for video): the unbiased MMD^2 estimate with the
  polynomial kernel ``k(x, y) = (x.y / d + 1)^3``, averaged over random subsets as StyleGAN2-ADA does.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass

import numpy as np
import scipy.linalg

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GaussianStats:
    """Mean and covariance (unbiased, N - 1) of a feature set: what the Fréchet distance compares."""

    mu: np.ndarray
    sigma: np.ndarray
    count: int


def _as_matrix(x: np.ndarray, what: str) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 2:
        raise ValueError(f"{what}: expected a 2-D array (N >= 2, D), got shape {x.shape}")
    return x


def inception_score(probs: np.ndarray, splits: int = 10) -> tuple[float, float]:
    """Inception Score (thesis eq. 6.2) of class probabilities ``probs`` (N, K): (mean, std) over splits.

    The N rows are cut into ``splits`` consecutive chunks whose sizes differ by at most one
    (``np.array_split``), so every clip is scored: N = 1001 with 10 splits gives one chunk of 101 and
    nine of 100, not ten of 100 and a silently dropped remainder. Each chunk gets its own marginal
    p(y) (Salimans et al. 2016 score each split on its own), and the std is the population std over
    chunks, as the reference code reports it. ``0 log 0`` is taken as 0, so one-hot predictions are
    exact. Rows are renormalised to sum to 1 (softmax round-off).
    """
    p = _as_matrix(probs, "inception_score")
    if np.any(p < 0):
        raise ValueError("inception_score: probabilities must be non-negative")
    if isinstance(splits, bool) or not isinstance(splits, (int, np.integer)) or not 1 <= splits <= p.shape[0]:
        raise ValueError(f"inception_score: splits must be an integer in [1, N={p.shape[0]}], got {splits!r}")
    p = p / p.sum(axis=1, keepdims=True)
    scores = [_split_score(part) for part in np.array_split(p, int(splits), axis=0)]
    return float(np.mean(scores)), float(np.std(scores))


def _split_score(part: np.ndarray) -> float:
    """exp(mean_x KL(p(y|x) || p(y))) with p(y) the marginal of this chunk alone."""
    marginal = part.mean(axis=0, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(part > 0, part * (np.log(part) - np.log(marginal)), 0.0)
    return float(np.exp(terms.sum(axis=1).mean()))


def gaussian_stats(features: np.ndarray) -> GaussianStats:
    """Fit the Gaussian of eq. 6.4 to features (N, D): sample mean and unbiased covariance."""
    x = _as_matrix(features, "gaussian_stats")
    return GaussianStats(mu=x.mean(axis=0), sigma=np.atleast_2d(np.cov(x, rowvar=False)), count=x.shape[0])


def frechet_distance(a: GaussianStats, b: GaussianStats, eps: float = 1e-6,
                     imag_tol: float = 1e-3) -> float:
    """Fréchet distance between two Gaussians (thesis eq. 6.4).

    ``scipy.linalg.sqrtm(S_1 S_2)`` is the only delicate step:

    * Near-singular covariances (fewer samples than dimensions, constant features) can make the
      product's square root non-finite: then ``eps * I`` is added to both covariances and the root is
      taken again (the fix of the reference FID code), and a warning is logged.
    * ``S_1 S_2`` is not symmetric, so ``sqrtm`` may return tiny imaginary parts from round-off. They
      are dropped; if the imaginary part of the diagonal is larger than ``imag_tol`` relative to the
      real trace, the result is not trustworthy and a ``ValueError`` says so.
    """
    if a.mu.shape != b.mu.shape:
        raise ValueError(f"frechet_distance: feature sizes differ ({a.mu.shape[0]} vs {b.mu.shape[0]})")
    diff = a.mu - b.mu
    covmean = _sqrtm(a.sigma @ b.sigma)
    if not np.all(np.isfinite(covmean)):
        log.warning("frechet_distance: sqrtm is not finite; adding %g to the covariance diagonals", eps)
        offset = np.eye(a.sigma.shape[0]) * eps
        covmean = _sqrtm((a.sigma + offset) @ (b.sigma + offset))
    if np.iscomplexobj(covmean):
        imag = np.abs(np.diagonal(covmean).imag).max()
        scale = max(abs(np.trace(covmean.real)), 1.0)
        if imag > imag_tol * scale:
            raise ValueError(f"frechet_distance: sqrtm has an imaginary component {imag:.3g} on the "
                             "diagonal; use more samples than feature dimensions")
        covmean = covmean.real
    value = diff @ diff + np.trace(a.sigma) + np.trace(b.sigma) - 2.0 * np.trace(covmean)
    return float(max(value, 0.0))


def _sqrtm(m: np.ndarray) -> np.ndarray:
    """scipy's sqrtm; its 'singular matrix' warning is expected for rank-deficient covariances."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", scipy.linalg.LinAlgWarning)
        return scipy.linalg.sqrtm(m)


def frechet_distance_of(x: np.ndarray, y: np.ndarray) -> float:
    """Fréchet distance between the Gaussians fitted to two feature sets (FID / FVD)."""
    return frechet_distance(gaussian_stats(x), gaussian_stats(y))


def polynomial_mmd2(x: np.ndarray, y: np.ndarray, degree: int = 3, coef: float = 1.0,
                    gamma: float | None = None) -> float:
    """Unbiased MMD^2 between two sets with ``k(a, b) = (gamma a.b + coef)^degree`` (gamma = 1/d).

    Unbiased: the diagonal terms k(x_i, x_i) are left out of the within-set means (Gretton et al.
    2012, eq. 3), so the expectation is exactly MMD^2 and a set against itself scores ~0.
    """
    x, y = _as_matrix(x, "polynomial_mmd2 x"), _as_matrix(y, "polynomial_mmd2 y")
    gamma = 1.0 / x.shape[1] if gamma is None else gamma
    kxx = (gamma * x @ x.T + coef) ** degree
    kyy = (gamma * y @ y.T + coef) ** degree
    kxy = (gamma * x @ y.T + coef) ** degree
    m, n = x.shape[0], y.shape[0]
    within_x = (kxx.sum() - np.trace(kxx)) / (m * (m - 1))
    within_y = (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
    return float(within_x + within_y - 2.0 * kxy.mean())


def kernel_distance(x: np.ndarray, y: np.ndarray, num_subsets: int = 100, max_subset_size: int = 1000,
                    seed: int = 0) -> float:
    """KID / KVD: the mean of :func:`polynomial_mmd2` over random subsets (StyleGAN2-ADA's protocol).

    When both sets fit in one subset the whole sets are compared once (no sampling noise).
    """
    x, y = _as_matrix(x, "kernel_distance x"), _as_matrix(y, "kernel_distance y")
    size = min(x.shape[0], y.shape[0], max_subset_size)
    if size == x.shape[0] == y.shape[0]:
        return polynomial_mmd2(x, y)
    rng = np.random.default_rng(seed)
    values = [polynomial_mmd2(x[rng.choice(x.shape[0], size, replace=False)],
                              y[rng.choice(y.shape[0], size, replace=False)]) for _ in range(num_subsets)]
    return float(np.mean(values))
