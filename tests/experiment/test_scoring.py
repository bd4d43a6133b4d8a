"""The adapters that fit evaluate to an experiment: score shape, real-data ceiling, protocol card."""

import numpy as np
import pytest
import torch

from provgan.data.store import open_store
from provgan.experiment.scoring import RealClips, ScoredGenerator, card_hash, ceiling_rows
from provgan.metrics.classifier import to_tensor
from provgan.metrics.evaluate import real_indices
from provgan.metrics.resize import resize_clips


def test_ceiling_rows_are_the_clips_after_the_reference_ones_in_the_same_permutation():
    rows, held_out = ceiling_rows(100, 30, seed=7)
    reference = real_indices(100, 30, 7)
    assert held_out and len(rows) == 30 and len(set(rows)) == 30 and not set(rows) & set(reference)
    assert set(rows) | set(reference) == set(real_indices(100, 60, 7))  # the next 30 of that permutation
    same, held_out = ceiling_rows(50, 30, seed=7)
    assert not held_out and np.array_equal(same, real_indices(50, 30, 7))


def test_real_clips_play_a_generator_of_store_clips_at_their_own_resolution(exp_store):
    store = open_store(exp_store)
    rows = np.array([5, 2, 40])
    real = RealClips(store, (4, 8, 8), (8, 16, 16), rows, first_seed=10)
    z = real.latents(range(11, 13))  # seeds 11, 12 -> rows[1], rows[2]
    clips = real.sample(z)
    want = resize_clips(to_tensor(store.level((4, 8, 8))[[2, 40]]), (8, 16, 16))
    assert real.clip_shape == (8, 16, 16) and torch.equal(clips, want)


def test_a_scored_generator_resizes_samples_and_keeps_latents():
    class Trained:
        path, kimg = "run", 1.0

        def latents(self, seeds):
            return torch.tensor([[float(s)] for s in seeds])

        def sample(self, z):
            return z.view(-1, 1, 1, 1, 1).expand(-1, 3, 4, 8, 8) / 10

    g = ScoredGenerator(Trained(), (8, 16, 16))
    z = g.latents([1, 2])
    out = g.sample(z)
    assert out.shape == (2, 3, 8, 16, 16) and torch.allclose(out[1], torch.full((3, 8, 16, 16), 0.2))


def test_card_hash_changes_with_the_card_and_the_shape():
    card = {"clips_per_side": 128, "feature_networks": {"is": "clf"}}
    assert card_hash(card, (16, 32, 32)) == card_hash(dict(card), (16, 32, 32))
    assert card_hash(card, (16, 32, 32)) != card_hash(card, (16, 64, 64))
    assert card_hash(card, (16, 32, 32)) != card_hash({**card, "clips_per_side": 256}, (16, 32, 32))


@pytest.mark.parametrize("shape", [(4, 8, 8)])
def test_ceiling_rows_fit_the_store(exp_store, shape):
    store = open_store(exp_store)
    rows, held_out = ceiling_rows(store.num_clips, 8, 0)
    assert held_out and rows.max() < store.num_clips
