"""Scores against closed forms: IS of one-hot sets, the Fréchet distance of Gaussians, unbiased MMD."""

import numpy as np
import pytest
import scipy.linalg

from provgan.metrics.scores import (GaussianStats, frechet_distance, frechet_distance_of, gaussian_stats,
                                    inception_score, kernel_distance, polynomial_mmd2)


@pytest.mark.parametrize("k, splits", [(1, 1), (7, 1), (10, 5), (40, 4)])
def test_inception_score_of_evenly_spread_one_hot_predictions_is_k(k, splits):
    labels = np.tile(np.arange(k), 3 * splits)  # every split holds every class equally often
    probs = np.eye(k)[labels]
    mean, std = inception_score(probs, splits)
    assert mean == pytest.approx(k, rel=1e-12)
    assert std == pytest.approx(0.0, abs=1e-12)


def test_inception_score_of_identical_predictions_is_one():
    row = np.random.default_rng(0).dirichlet(np.ones(12))
    mean, std = inception_score(np.tile(row, (50, 1)), splits=5)
    assert mean == pytest.approx(1.0, abs=1e-12) and std == pytest.approx(0.0, abs=1e-12)


def test_inception_score_matches_direct_kl_formula():
    p = np.random.default_rng(1).dirichlet(np.ones(6) * 0.3, size=40)
    marginal = p.mean(axis=0)
    kl = sum(sum(pi * np.log(pi / mi) for pi, mi in zip(row, marginal)) for row in p) / len(p)
    assert inception_score(p, 1)[0] == pytest.approx(np.exp(kl), rel=1e-10)


def test_inception_score_rejects_bad_splits():
    with pytest.raises(ValueError, match="splits"):
        inception_score(np.eye(3), splits=4)


def _closed_form(mu1, s1, mu2, s2) -> float:
    """||mu1-mu2||^2 + tr(S1 + S2 - 2 (S1^1/2 S2 S1^1/2)^1/2) via symmetric eigendecompositions."""
    w, v = np.linalg.eigh(s1)
    root1 = v @ np.diag(np.sqrt(w)) @ v.T
    inner = np.linalg.eigvalsh(root1 @ s2 @ root1)
    return float(np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * np.sum(np.sqrt(np.clip(inner, 0, None))))


def _random_spd(d, rng):
    a = rng.standard_normal((d, d))
    return a @ a.T / d + 0.1 * np.eye(d)


def test_frechet_distance_of_gaussians_equals_closed_form():
    rng = np.random.default_rng(2)
    mu1, mu2 = rng.standard_normal(8), rng.standard_normal(8)
    s1, s2 = _random_spd(8, rng), _random_spd(8, rng)
    value = frechet_distance(GaussianStats(mu1, s1, 100), GaussianStats(mu2, s2, 100))
    assert value == pytest.approx(_closed_form(mu1, s1, mu2, s2), rel=1e-8)


def test_frechet_distance_of_diagonal_gaussians_is_mean_gap_plus_std_gaps():
    mu1, mu2 = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, 0.0])
    sd1, sd2 = np.array([1.0, 2.0, 0.5]), np.array([3.0, 2.0, 1.5])
    value = frechet_distance(GaussianStats(mu1, np.diag(sd1 ** 2), 10), GaussianStats(mu2, np.diag(sd2 ** 2), 10))
    assert value == pytest.approx(np.sum((mu1 - mu2) ** 2) + np.sum((sd1 - sd2) ** 2), rel=1e-10)


def test_frechet_distance_from_samples_converges_to_closed_form():
    rng = np.random.default_rng(3)
    s1, s2 = _random_spd(4, rng), _random_spd(4, rng)
    mu2 = np.array([0.5, -0.5, 0.0, 1.0])
    x = rng.multivariate_normal(np.zeros(4), s1, size=100_000)
    y = rng.multivariate_normal(mu2, s2, size=100_000)
    assert frechet_distance_of(x, y) == pytest.approx(_closed_form(np.zeros(4), s1, mu2, s2), abs=0.03)


def test_frechet_distance_of_a_set_with_itself_is_zero_and_singular_covariances_stay_finite():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((6, 20))  # 6 samples in 20-d: rank-5 covariance
    assert frechet_distance_of(x, x) == pytest.approx(0.0, abs=1e-6)
    const = np.zeros((5, 3))  # zero covariance: sqrtm of the zero matrix
    assert frechet_distance_of(const, const + 1.0) == pytest.approx(3.0, abs=1e-6)
    assert np.isfinite(frechet_distance_of(x, rng.standard_normal((6, 20)) + 1.0))


def test_gaussian_stats_uses_the_unbiased_covariance():
    x = np.array([[0.0], [2.0]])
    stats = gaussian_stats(x)
    assert stats.mu[0] == 1.0 and stats.sigma[0, 0] == 2.0


def _mmd_brute_force(x, y):
    d = x.shape[1]
    k = lambda a, b: (a @ b / d + 1.0) ** 3  # noqa: E731
    m, n = len(x), len(y)
    kxx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    kyy = sum(k(y[i], y[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    kxy = sum(k(x[i], y[j]) for i in range(m) for j in range(n)) / (m * n)
    return kxx + kyy - 2 * kxy


def test_polynomial_mmd_matches_the_unbiased_estimator_written_out():
    rng = np.random.default_rng(5)
    x, y = rng.standard_normal((9, 4)), rng.standard_normal((7, 4)) + 0.3
    assert polynomial_mmd2(x, y) == pytest.approx(_mmd_brute_force(x, y), rel=1e-10)


def test_kernel_distance_is_near_zero_for_one_distribution_and_grows_with_a_shift():
    rng = np.random.default_rng(6)
    x = rng.standard_normal((600, 16))
    same = kernel_distance(x, rng.standard_normal((600, 16)))
    shifts = [kernel_distance(x, rng.standard_normal((600, 16)) + s) for s in (0.25, 0.5, 1.0)]
    assert abs(same) < 0.01
    assert same < shifts[0] < shifts[1] < shifts[2]
    assert shifts[0] > 0.02


def test_kernel_distance_with_subsets_is_deterministic_for_a_seed():
    rng = np.random.default_rng(7)
    x, y = rng.standard_normal((300, 8)), rng.standard_normal((300, 8)) + 0.5
    a = kernel_distance(x, y, num_subsets=5, max_subset_size=100, seed=3)
    b = kernel_distance(x, y, num_subsets=5, max_subset_size=100, seed=3)
    assert a == b and a == pytest.approx(polynomial_mmd2(x, y), rel=0.3)


def test_non_finite_square_root_is_retried_with_eps_on_the_diagonal(monkeypatch, caplog):
    import provgan.metrics.scores as scores

    seen = []
    real_sqrtm = scipy.linalg.sqrtm

    def flaky(m):
        seen.append(m.copy())
        return np.full_like(m, np.nan) if len(seen) == 1 else real_sqrtm(m)

    monkeypatch.setattr(scores.scipy.linalg, "sqrtm", flaky)
    s = np.diag([1.0, 4.0])
    value = frechet_distance(GaussianStats(np.zeros(2), s, 5), GaussianStats(np.zeros(2), s, 5), eps=1e-3)
    assert np.allclose(seen[1], (s + 1e-3 * np.eye(2)) @ (s + 1e-3 * np.eye(2)))
    assert value == pytest.approx(0.0, abs=1e-2) and "not finite" in caplog.text


def test_imaginary_parts_are_dropped_when_tiny_and_refused_when_large(monkeypatch):
    import provgan.metrics.scores as scores

    s = np.diag([1.0, 4.0])
    root = np.diag([1.0, 4.0]).astype(complex)
    a = GaussianStats(np.zeros(2), s, 5)
    monkeypatch.setattr(scores.scipy.linalg, "sqrtm", lambda m: root + 1e-9j)
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-8)
    monkeypatch.setattr(scores.scipy.linalg, "sqrtm", lambda m: root + 0.5j)
    with pytest.raises(ValueError, match="imaginary"):
        frechet_distance(a, a)


def _one_hot(labels, k=4):
    return np.eye(k)[np.asarray(labels)]


def test_inception_score_gives_each_unequal_split_its_own_marginal():
    # 10 rows in 3 splits: sizes 4, 3, 3. Per split: 4 classes evenly (IS 4), one class (IS 1),
    # 3 classes evenly (IS 3). A whole-set marginal would score the one-class split far above 1.
    probs = _one_hot([0, 1, 2, 3] + [0, 0, 0] + [1, 2, 3])
    mean, std = inception_score(probs, splits=3)
    assert mean == pytest.approx(8 / 3, rel=1e-12)
    assert std == pytest.approx(np.std([4.0, 1.0, 3.0]), rel=1e-12)  # population std, non-zero
    assert std == pytest.approx(np.sqrt(14 / 9), rel=1e-12)


def test_inception_score_keeps_the_remainder_clips():
    # 7 rows in 2 splits: sizes 4 and 3. The last row is the only one of class 3; dropping it would
    # leave the second split with 2 classes in 2 rows (IS 2) instead of 3 classes in 3 rows (IS 3).
    probs = _one_hot([0, 1, 2, 3] + [1, 2, 3])
    mean, std = inception_score(probs, splits=2)
    assert (mean, std) == (pytest.approx(3.5, rel=1e-12), pytest.approx(0.5, rel=1e-12))


def test_inception_score_one_split_equals_the_whole_set_and_ten_splits_average_the_chunks():
    rng = np.random.default_rng(8)
    p = rng.dirichlet(np.ones(5) * 0.5, size=53)
    whole = inception_score(p, splits=1)
    assert whole[1] == 0.0
    chunks = [inception_score(c, 1)[0] for c in (p[:6], p[6:12], p[12:18]) + tuple(
        p[18 + 5 * i:23 + 5 * i] for i in range(7))]  # 53 = 3 * 6 + 7 * 5
    mean, std = inception_score(p, splits=10)
    assert mean == pytest.approx(np.mean(chunks), rel=1e-12)
    assert std == pytest.approx(np.std(chunks), rel=1e-12) and std > 0


def test_inception_score_renormalises_rows_and_rejects_negative_or_non_integer_input():
    rng = np.random.default_rng(9)
    p = rng.dirichlet(np.ones(4), size=12)
    scaled = p * rng.uniform(0.5, 2.0, size=(12, 1))
    assert inception_score(scaled, 3) == pytest.approx(inception_score(p, 3), rel=1e-12)
    bad = p.copy()
    bad[0, 0] = -0.1
    with pytest.raises(ValueError, match="non-negative"):
        inception_score(bad, 1)
    for splits in (0, 13, 2.5, True):
        with pytest.raises(ValueError, match="splits"):
            inception_score(p, splits)
    with pytest.raises(ValueError, match="2-D"):
        inception_score(p[0], 1)
