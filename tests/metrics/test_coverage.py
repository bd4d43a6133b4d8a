"""Class coverage: sure share, effective number of classes, factor marginals (closed forms)."""

import numpy as np
import pytest

from provgan.metrics.coverage import (coverage, effective_count, factor_coverage, factor_probabilities,
                                      label_factor)


def test_effective_count_is_the_perplexity_of_the_histogram():
    assert effective_count(np.array([5, 5, 5, 5])) == pytest.approx(4.0)
    assert effective_count(np.array([0, 7, 0])) == pytest.approx(1.0)
    assert effective_count(np.zeros(3)) == 0.0
    p = np.array([0.5, 0.25, 0.25])
    assert effective_count(np.array([2, 1, 1])) == pytest.approx(np.exp(-(p * np.log(p)).sum()))


def test_coverage_counts_only_sure_clips():
    probs = np.array([[0.9, 0.05, 0.05],   # sure of class 0
                      [0.1, 0.85, 0.05],   # sure of class 1
                      [0.5, 0.3, 0.2],     # not sure
                      [0.81, 0.1, 0.09]])  # sure of class 0
    cov = coverage(probs, sure=0.8)
    assert cov.sure == pytest.approx(0.75)
    assert cov.counts == (2, 1, 0)
    assert cov.effective == pytest.approx(effective_count(np.array([2, 1, 0])))
    assert coverage(probs, sure=0.95).sure == 0.0 and coverage(probs, sure=0.95).effective == 0.0


def test_factor_probabilities_marginalise_the_mixed_radix_label():
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(40), size=7)  # label = digit * 4 + motion
    digits = factor_probabilities(probs, [10, 4], 0)
    motions = factor_probabilities(probs, [10, 4], 1)
    for d in range(10):
        np.testing.assert_allclose(digits[:, d], probs[:, [d * 4 + m for m in range(4)]].sum(axis=1))
    for m in range(4):
        np.testing.assert_allclose(motions[:, m], probs[:, [d * 4 + m for d in range(10)]].sum(axis=1))
    with pytest.raises(ValueError, match="do not factor"):
        factor_probabilities(probs, [10, 3], 0)


def test_factor_coverage_sums_motions_before_judging():
    probs = np.zeros((1, 40))
    probs[0, 3 * 4:3 * 4 + 4] = 0.25  # digit 3 in any of the four motions: unsure class, sure digit
    assert coverage(probs).sure == 0.0
    cov = factor_coverage(probs, [10, 4], 0)
    assert cov.sure == 1.0 and cov.counts[3] == 1


def test_label_factor_names_the_factor_or_fails_in_one_line():
    names = {"digit": [str(d) for d in range(10)], "motion": ["a", "b", "c", "d"]}
    assert label_factor(names, "digit") == ([10, 4], 0)
    assert label_factor(names, "motion") == ([10, 4], 1)
    assert label_factor(names, "") == ([10, 4], -1)
    with pytest.raises(ValueError, match="not one of the store's factors"):
        label_factor(names, "colour")
