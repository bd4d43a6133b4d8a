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

