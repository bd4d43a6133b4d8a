"""C3D: output shapes, eval really without dropout, and the public state-dict loader on a file we write."""

import pytest
import torch

from provgan.errors import ProvganError
from provgan.metrics.c3d import UCF101_CLASSES, c3d_input, c3d_state_shapes, load_c3d


@pytest.fixture(scope="module")
def ucf_state_file(tmp_path_factory):
    """A full-size C3D state dict in the public layout with a 101-class (UCF-101) head."""
    g = torch.Generator().manual_seed(0)
    state = {k: torch.randn(shape, generator=g) * (0.02 if k.endswith("weight") else 0.01)
             for k, shape in c3d_state_shapes(UCF101_CLASSES).items()}
    path = tmp_path_factory.mktemp("c3d") / "c3d-ucf101.pt"
    torch.save(state, path)
    return path, state


def test_public_layout_has_the_published_keys_and_shapes():
    shapes = c3d_state_shapes(487)
    assert list(shapes)[:4] == ["conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias"]
    assert shapes["conv3a.weight"] == (256, 128, 3, 3, 3)
    assert shapes["fc6.weight"] == (4096, 8192) and shapes["fc8.weight"] == (487, 4096)
    convs = [(3, 64), (64, 128), (128, 256), (256, 256), (256, 512), (512, 512), (512, 512), (512, 512)]
    expected = sum(i * o * 27 + o for i, o in convs) + (8192 + 1) * 4096 + (4096 + 1) * 4096 + (4096 + 1) * 487
    assert sum(torch.Size(s).numel() for s in shapes.values()) == expected == 79_991_015


def test_loader_reads_every_weight_and_gives_logits_and_fc6(ucf_state_file):
    path, state = ucf_state_file
    model = load_c3d(path)
    assert not model.training and model.num_classes == UCF101_CLASSES
    for key, value in model.state_dict().items():
        assert torch.equal(value, state[key]), key
    clip = torch.rand(1, 3, 16, 112, 112) * 255
    with torch.no_grad():
        logits, fc6 = model(clip)
        again, _ = model(clip)
        model.train()
        dropped, _ = model(clip)
    assert logits.shape == (1, 101) and fc6.shape == (1, 4096) and (fc6 >= 0).all()
    assert torch.equal(logits, again)  # eval: dropout really off, features deterministic
    assert not torch.allclose(logits, dropped)  # train mode (TGAN's protocol) would be noisy


def test_head_of_the_wrong_size_is_one_clear_error(ucf_state_file):
    path, _ = ucf_state_file
    with pytest.raises(ProvganError) as err:
        load_c3d(path, num_classes=487)
    message = str(err.value)
    assert "\n" not in message and str(path) in message and "fc8.weight" in message and "(101, 4096)" in message


def test_files_that_are_not_c3d_are_refused_in_one_line(tmp_path):
    other = tmp_path / "other.pt"
    torch.save({"fc8.weight": torch.zeros(3, 4096), "conv1.weight": torch.zeros(1)}, other)
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a torch file")
    for path, words in [(other, "lacks"), (garbage, "not a readable"), (tmp_path / "missing.pt", "not found")]:
        with pytest.raises(ProvganError) as err:
            load_c3d(path)
        assert words in str(err.value) and "\n" not in str(err.value)


def test_c3d_input_scales_to_0_255_and_resizes_to_16x112x112():
    clips = torch.linspace(-1, 1, 8).view(1, 1, 8, 1, 1).expand(2, 3, 8, 32, 32)
    x = c3d_input(clips)
    assert x.shape == (2, 3, 16, 112, 112)
    # nearest-frame resampling in time: output frame t shows input frame t // 2
    expected = (torch.linspace(-1, 1, 8)[torch.arange(16) // 2] + 1) * 127.5
    torch.testing.assert_close(x[0, 0, :, 50, 50], expected)
    mean = (10.0, 20.0, 30.0)
    torch.testing.assert_close(c3d_input(clips, mean)[:, 2], x[:, 2] - 30.0)



# --- TGAN's Chainer file (conv3d_deepnetA_ucf.npz) --------------------------------------------------

CHAINER_KEYS = ["conv1a", "conv2a", "conv3a", "conv3b", "conv4a", "conv4b", "conv5a", "conv5b", "fc6", "fc7", "fc8"]


@pytest.fixture(scope="module")
def chainer_file(tmp_path_factory):
    """A synthetic npz with exactly the released keys and shapes; each array a distinct constant."""
    import numpy as np

    shapes = {"conv1a/W": (64, 3, 3, 3, 3), "conv2a/W": (128, 64, 3, 3, 3), "conv3a/W": (256, 128, 3, 3, 3),
              "conv3b/W": (256, 256, 3, 3, 3), "conv4a/W": (512, 256, 3, 3, 3), "conv4b/W": (512, 512, 3, 3, 3),
              "conv5a/W": (512, 512, 3, 3, 3), "conv5b/W": (512, 512, 3, 3, 3), "fc6/W": (4096, 8192),
              "fc7/W": (4096, 4096), "fc8/W": (101, 4096)}
    for key in list(shapes):
        shapes[key.replace("/W", "/b")] = (shapes[key][0],)
    values = {k: (i + 1) * 1e-4 for i, k in enumerate(sorted(shapes))}
    path = tmp_path_factory.mktemp("chainer") / "conv3d_deepnetA_ucf.npz"
    np.savez_compressed(path, **{k: np.full(s, values[k], np.float32) for k, s in shapes.items()})
    return path, shapes, values


def test_chainer_layout_table_is_the_released_one(chainer_file):
    from provgan.metrics.c3d import chainer_c3d_shapes

    _, shapes, _ = chainer_file
    assert dict(chainer_c3d_shapes()) == shapes
    assert [k.split("/")[0] for k in chainer_c3d_shapes()][::2] == CHAINER_KEYS


def test_chainer_loader_maps_every_key(chainer_file):
    from provgan.metrics.c3d import CHAINER_NAMES, load_chainer_c3d

    path, shapes, values = chainer_file
    model = load_chainer_c3d(path)
    assert model.layout == "chainer" and model.num_classes == 101 and not model.training
    state = model.state_dict()
    assert len(state) == len(shapes)
    for key, value in values.items():
        layer, leaf = key.split("/")
        ours = state[f"{CHAINER_NAMES[layer]}.{'weight' if leaf == 'W' else 'bias'}"]
        assert tuple(ours.shape) == shapes[key] and torch.all(ours == torch.tensor(value, dtype=torch.float32)), key


def test_chainer_pool5_is_cover_all_not_padded():
    from provgan.metrics.c3d import C3D

    # pool5 input 2x7x7: Chainer's windows over W are [0:2] [2:4] [4:6] [6:7]; Caffe's padded ones
    # [-1:1] [1:3] [3:5] [5:7]. A peak at column 5 lands in output 2 (Chainer) or 3 (Caffe).
    x = torch.zeros(1, 1, 2, 7, 7)
    x[..., 0, 5] = 1.0
    chainer = torch.nn.functional.max_pool3d(x, 2, 2, ceil_mode=True)
    caffe = torch.nn.functional.max_pool3d(x, 2, 2, padding=(0, 1, 1))
    assert chainer.shape == caffe.shape == (1, 1, 1, 4, 4)
    assert chainer[0, 0, 0, 0].argmax() == 2 and caffe[0, 0, 0, 0].argmax() == 3
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        model = C3D(101, layout="chainer").eval()
        logits, fc6 = model(torch.rand(1, 3, 16, 112, 112, generator=g))
    assert logits.shape == (1, 101) and fc6.shape == (1, 4096)


def test_chainer_loader_refuses_other_files(tmp_path, chainer_file):
    import numpy as np

    from provgan.metrics.c3d import load_any_c3d, load_chainer_c3d

    bad = tmp_path / "bad.npz"
    np.savez(bad, **{"fc8/W": np.zeros((101, 4096), np.float32)})
    with pytest.raises(ProvganError, match="lacks"):
        load_chainer_c3d(bad)
    with pytest.raises(ProvganError, match="not found"):
        load_chainer_c3d(tmp_path / "none.npz")
    assert load_any_c3d(chainer_file[0]).layout == "chainer"


def test_tgan17_dropout_is_seeded_and_leaves_global_rng_alone():
    from provgan.metrics.c3d import C3D

    torch.manual_seed(0)
    model = C3D(101).eval()
    clip = torch.rand(2, 3, 16, 112, 112)
    with torch.no_grad():
        off, _ = model(clip)
        state = torch.get_rng_state()
        a, _ = model.test_dropout(7)(clip)
        b, _ = model.test_dropout(7)(clip)
        c, _ = model.test_dropout(8)(clip)
        assert torch.equal(state, torch.get_rng_state())
        again, _ = model.test_dropout(None)(clip)
    assert torch.equal(a, b) and not torch.allclose(a, c) and not torch.allclose(a, off)
    assert torch.equal(off, again)
