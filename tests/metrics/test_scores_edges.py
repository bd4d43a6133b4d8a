"""The scores' edges: exact error lines, default arguments, float64 inputs, warning handling, and
KID's subset protocol written out (tests/metrics/test_scores.py checks the closed forms).

Written to kill the mutants a mutation run left alive (README "Mutation testing"): each test states
a behaviour a user of the score relies on.
"""

import logging
import warnings

import numpy as np
import pytest
import scipy.linalg

import provgan.metrics.scores as scores
from provgan.metrics.scores import (GaussianStats, frechet_distance, gaussian_stats, inception_score,
                                    kernel_distance, polynomial_mmd2)


@pytest.mark.parametrize("call, message", [
    (lambda: inception_score(np.ones(3)), r"^inception_score: expected a 2-D array \(N >= 2, D\), got shape \(3,\)$"),
    (lambda: gaussian_stats(np.ones((1, 4))), r"^gaussian_stats: expected a 2-D array \(N >= 2, D\), got shape \(1, 4\)$"),
    (lambda: polynomial_mmd2(np.ones(2), np.ones((3, 2))), r"^polynomial_mmd2 x: expected"),
    (lambda: polynomial_mmd2(np.ones((3, 2)), np.ones(2)), r"^polynomial_mmd2 y: expected"),
    (lambda: kernel_distance(np.ones(2), np.ones((3, 2))), r"^kernel_distance x: expected"),
    (lambda: kernel_distance(np.ones((3, 2)), np.ones(2)), r"^kernel_distance y: expected"),
    (lambda: inception_score(-np.eye(3)), r"^inception_score: probabilities must be non-negative$"),
    (lambda: inception_score(np.full((3, 5), 0.2), 4), r"^inception_score: splits must be an integer in \[1, N=3\], got 4$"),
    (lambda: frechet_distance(GaussianStats(np.zeros(3), np.eye(3), 5), GaussianStats(np.zeros(2), np.eye(2), 5)),
     r"^frechet_distance: feature sizes differ \(3 vs 2\)$"),
])
def test_bad_input_is_one_exact_line(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_inception_score_defaults_to_ten_splits_and_allows_one_row_per_split():
    p = np.random.default_rng(0).dirichlet(np.ones(3), size=23)
    assert inception_score(p) == inception_score(p, 10)
    assert inception_score(p, 23)[0] == pytest.approx(1.0)  # a one-row split's marginal is that row


def test_inception_score_of_one_hot_rows_raises_no_floating_point_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # log(0) and 0 * -inf would warn without the errstate
        assert inception_score(np.eye(4)[[0, 1, 2, 3, 0, 1]], 2)[0] > 1.0


def test_features_are_read_as_float64():
    x = np.random.default_rng(1).standard_normal((50, 3)).astype(np.float32)
    stats = gaussian_stats(x)
    assert stats.mu.dtype == np.float64 and stats.sigma.dtype == np.float64 and stats.count == 50
    assert np.allclose(stats.sigma, np.cov(x.astype(np.float64), rowvar=False), atol=1e-12, rtol=0)


def test_only_scipys_linalg_warning_is_silenced(monkeypatch):
    real_sqrtm = scipy.linalg.sqrtm

    def noisy(m):
        warnings.warn("singular", scipy.linalg.LinAlgWarning)
        warnings.warn("something else", UserWarning)
        return real_sqrtm(m)

    monkeypatch.setattr(scores.scipy.linalg, "sqrtm", noisy)
    a = GaussianStats(np.zeros(2), np.eye(2), 5)
    with pytest.warns(UserWarning, match="something else") as record:
        frechet_distance(a, a)
    assert not any(issubclass(w.category, scipy.linalg.LinAlgWarning) for w in record)


def test_the_default_eps_is_one_in_a_million_and_the_warning_names_it(monkeypatch, caplog):
    seen, real_sqrtm = [], scipy.linalg.sqrtm

    def flaky(m):
        seen.append(m.copy())
        return np.full_like(m, np.inf) if len(seen) == 1 else real_sqrtm(m)

    monkeypatch.setattr(scores.scipy.linalg, "sqrtm", flaky)
    s = np.diag([2.0, 3.0, 5.0])
    with caplog.at_level(logging.WARNING, logger="provgan.metrics.scores"):
        frechet_distance(GaussianStats(np.zeros(3), s, 5), GaussianStats(np.zeros(3), s, 5))
    assert np.allclose(seen[1], (s + 1e-6 * np.eye(3)) @ (s + 1e-6 * np.eye(3)), rtol=0, atol=1e-12)
    assert caplog.messages == ["frechet_distance: sqrtm is not finite; adding 1e-06 to the covariance diagonals"]


@pytest.mark.parametrize("trace, imag, refused", [
    (0.2, 1.0e-3, False),   # small trace: the scale is 1, and imag == tol * 1 is still accepted
    (0.2, 1.5e-3, True),    # above tol * 1
    (100.0, 0.05, False),   # large trace: the bound is tol * trace = 0.1
    (100.0, 0.2, True),
])
def test_the_imaginary_part_is_judged_relative_to_the_trace_but_never_below_one(monkeypatch, trace, imag, refused):
    root = np.diag([trace / 2, trace / 2]).astype(complex) + imag * 1j * np.eye(2)
    monkeypatch.setattr(scores.scipy.linalg, "sqrtm", lambda m: root)
    a = GaussianStats(np.zeros(2), np.eye(2), 5)
    if refused:
        with pytest.raises(ValueError, match=r"^frechet_distance: sqrtm has an imaginary component .* on the "
                                             r"diagonal; use more samples than feature dimensions$"):
            frechet_distance(a, a)
    else:
        assert np.isfinite(frechet_distance(a, a))


def test_polynomial_mmd_takes_an_explicit_gamma():
    rng = np.random.default_rng(2)
    x, y = rng.standard_normal((6, 3)), rng.standard_normal((5, 3))
    k = lambda a, b: (0.5 * a @ b.T + 1.0) ** 3  # noqa: E731
    kxx, kyy = k(x, x), k(y, y)
    expected = ((kxx.sum() - np.trace(kxx)) / 30 + (kyy.sum() - np.trace(kyy)) / 20 - 2 * k(x, y).mean())
    assert polynomial_mmd2(x, y, gamma=0.5) == pytest.approx(expected, rel=1e-12)


def _kid_by_hand(x, y, num_subsets, size, seed):
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(num_subsets):
        xi = rng.choice(len(x), size, replace=False)
        yi = rng.choice(len(y), size, replace=False)
        values.append(polynomial_mmd2(x[xi], y[yi]))
    return float(np.mean(values))


@pytest.mark.parametrize("nx, ny, max_size", [(50, 30, 1000), (30, 50, 1000), (60, 60, 20), (40, 70, 25)])
def test_kid_averages_mmd_over_subsets_of_the_smaller_set_drawn_without_replacement(nx, ny, max_size):
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((nx, 7)), rng.standard_normal((ny, 7)) + 0.3
    size = min(nx, ny, max_size)
    got = kernel_distance(x, y, num_subsets=6, max_subset_size=max_size, seed=4)
    assert got == pytest.approx(_kid_by_hand(x, y, 6, size, 4), rel=1e-12)


def test_kid_compares_whole_sets_once_only_when_both_fit_in_one_subset():
    rng = np.random.default_rng(5)
    x, y = rng.standard_normal((40, 9)), rng.standard_normal((40, 9)) + 0.2
    assert kernel_distance(x, y, num_subsets=3, max_subset_size=40) == polynomial_mmd2(x, y)
    assert kernel_distance(x, y, num_subsets=3, max_subset_size=39) == pytest.approx(_kid_by_hand(x, y, 3, 39, 0))


def test_kid_defaults_are_stylegan2_adas_100_subsets_of_1000_with_seed_0(monkeypatch):
    calls = []
    monkeypatch.setattr(scores, "polynomial_mmd2", lambda a, b: calls.append((a, b)) or float(len(calls)))
    x = np.arange(1001.0)[:, None] * np.ones((1, 2))  # row i holds i: the subsets show which rows were drawn
    assert kernel_distance(x, x + 0.5) == pytest.approx(np.mean(np.arange(1, 101)))
    rng = np.random.default_rng(0)
    assert len(calls) == 100
    for a, b in calls:
        assert np.array_equal(a[:, 0], rng.choice(1001, 1000, replace=False))
        assert np.array_equal(b[:, 0] - 0.5, rng.choice(1001, 1000, replace=False))
