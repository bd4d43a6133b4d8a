"""C3D (Tran et al. 2015): the 3D ConvNet behind the thesis' Inception Score and FID (ch. 6, §8.3).

Eight 3x3x3 convolutions (64, 128, 256, 256, 512, 512, 512, 512 channels), five max-pools (the
first one spatial only), fc6 and fc7 of 4096 units and a classifier fc8, on 16 x 112 x 112 RGB clips.
The thesis computes IS from fc8's softmax (UCF-101 fine-tuned head, 101 classes, as TGAN and MoCoGAN
did) and FID from fc6 (4096-d, after its ReLU, the blob Caffe's C3D feature extractor writes).

Weights: the published ones (Sports-1M, 487 classes; UCF-101 fine-tuned, 101) cannot be fetched
here; nothing downloads, the user passes the file. Two layouts are read, every key and shape checked:

* :func:`load_c3d` -- the public PyTorch conversion's state dict (``conv1.weight`` ... ``conv5b``,
  ``fc6``, ``fc7``, ``fc8``), whose pool5 pads by one (Caffe);
* :func:`load_chainer_c3d` -- TGAN's released Chainer file ``conv3d_deepnetA_ucf.npz`` (the UCF-101
  fine-tuned ``c3d_ucf101_finetune_whole_iter_20000``, the network of thesis Table 8.1's baselines):
  keys ``conv1a/W``, ``conv1a/b``, ``conv2a``, ``conv3a``/``b`` ... ``conv5b``, ``fc6``, ``fc7``,
  ``fc8``, kernels (out, in, kT, kH, kW) as in PyTorch, ``fc6/W`` (4096, 8192). Its pools are
  Chainer's ``max_pooling_nd(ksize)`` with ``cover_all=True`` and no padding, so pool5 takes 2x7x7 to
  1x4x4 with ceil-mode windows ([0:2], [2:4], [4:6], [6:7]) -- not the padded windows of the Caffe
  layout -- and the model is built with ``layout="chainer"``.

Protocol note: ``eval()`` here really turns dropout off, so features are deterministic. TGAN's
published evaluation code ran C3D with dropout still active at test time (``using_config('train',
False) and no_backprop_mode()`` enters only the second context), so the ``is-tgan17`` protocol
(:mod:`provgan.metrics.protocols`) reproduces that: :meth:`C3D.test_dropout` turns on train-mode
dropout after fc6 and fc7 drawn from the model's own seeded ``torch.Generator``, so a repeat's
score is reproducible and nothing else's random stream moves.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from provgan.errors import ProvganError
from provgan.metrics.resize import resize_clips

SPORTS1M_CLASSES = 487
UCF101_CLASSES = 101
C3D_INPUT = (16, 112, 112)  # (T, H, W)
LAYOUTS = ("pytorch", "chainer")
# TGAN's Chainer npz names -> ours (conv1a/conv2a are conv1/conv2 in the PyTorch layout)
CHAINER_NAMES = {"conv1a": "conv1", "conv2a": "conv2", "conv3a": "conv3a", "conv3b": "conv3b", "conv4a": "conv4a",
                 "conv4b": "conv4b", "conv5a": "conv5a", "conv5b": "conv5b", "fc6": "fc6", "fc7": "fc7", "fc8": "fc8"}

# (name, in, out) of the eight convolutions, each followed by ReLU; a pool after the named ones
_CONVS = (("conv1", 3, 64), ("conv2", 64, 128), ("conv3a", 128, 256), ("conv3b", 256, 256),
          ("conv4a", 256, 512), ("conv4b", 512, 512), ("conv5a", 512, 512), ("conv5b", 512, 512))
_POOL_AFTER = {"conv1": ((1, 2, 2), (0, 0, 0)), "conv2": ((2, 2, 2), (0, 0, 0)),
               "conv3b": ((2, 2, 2), (0, 0, 0)), "conv4b": ((2, 2, 2), (0, 0, 0)),
               "conv5b": ((2, 2, 2), (0, 1, 1))}


class C3D(nn.Module):
    """C3D on (N, 3, 16, 112, 112) clips; ``forward`` returns ``(logits, fc6)``.

    C3D was trained on RGB values in [0, 255] (Caffe subtracted the Sports-1M mean clip; check what
    the checkpoint you load expects); :func:`c3d_input` brings clips in [-1, 1] to that range.
    """

    def __init__(self, num_classes: int = SPORTS1M_CLASSES, dropout: float = 0.5, layout: str = "pytorch"):
        super().__init__()
        if layout not in LAYOUTS:
            raise ValueError(f"C3D: layout {layout!r} not in {LAYOUTS}")
        self.layout = layout
        self.dropout_generator: torch.Generator | None = None
        for name, cin, cout in _CONVS:
            self.add_module(name, nn.Conv3d(cin, cout, kernel_size=3, padding=1))
        self.fc6 = nn.Linear(8192, 4096)
        self.fc7 = nn.Linear(4096, 4096)
        self.fc8 = nn.Linear(4096, num_classes)
        self.dropout = nn.Dropout(dropout)
        self.num_classes = num_classes

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if x.ndim != 5 or tuple(x.shape[1:]) != (3, *C3D_INPUT):
            raise ValueError(f"C3D: expected (N, 3, 16, 112, 112), got {tuple(x.shape)}")
        chainer = self.layout == "chainer"
        for name, _, _ in _CONVS:
            x = F.relu(getattr(self, name)(x))
            if name in _POOL_AFTER:
                kernel, pad = _POOL_AFTER[name]
                # Chainer cover_all=True == ceil-mode windows without padding
                x = F.max_pool3d(x, kernel, kernel, padding=(0, 0, 0) if chainer else pad, ceil_mode=chainer)
        fc6 = F.relu(self.fc6(x.flatten(1)))  # (N, 8192) -> (N, 4096)
        h = F.relu(self.fc7(self._drop(fc6)))
        return self.fc8(self._drop(h)), fc6

    def test_dropout(self, seed: int | None) -> "C3D":
        """Train-mode dropout at test time from a generator seeded ``seed`` (None: off again).

        What TGAN's ``calc_inception.py`` does by accident (BASELINES.md 4.1): F.dropout with ratio
        0.5 after fc6 and after fc7, kept units scaled by 1 / (1 - 0.5). The generator is the
        model's own, so the masks depend only on ``seed`` and the global torch RNG is not touched.
        """
        self.dropout_generator = None if seed is None else torch.Generator().manual_seed(int(seed))
        return self

    def _drop(self, h: torch.Tensor) -> torch.Tensor:
        if self.dropout_generator is None:
            return self.dropout(h)
        keep = 1.0 - self.dropout.p
        mask = torch.empty(h.shape, dtype=torch.float32).bernoulli_(keep, generator=self.dropout_generator)
        return h * mask.to(h.device, h.dtype) / keep


def c3d_input(clips: torch.Tensor, mean: tuple[float, float, float] | None = None) -> torch.Tensor:
    """Clips (N, 3, T, H, W) in [-1, 1] -> C3D input (N, 3, 16, 112, 112) in [0, 255] minus ``mean``.

    Space: bilinear resize of every frame to 112 x 112 (the published pipeline resized to 128 x 171
    and centre-cropped 112; our clips are square, so a direct resize keeps the whole frame). Time:
    the first 16 frames, or nearest-frame repeats for shorter levels (:mod:`provgan.metrics.resize`).
    ``mean`` is the per-channel RGB mean your checkpoint expects (None: no subtraction).
    """
    x = (clips.float().clamp(-1, 1) + 1.0) * 127.5
    x = resize_clips(x, C3D_INPUT)
    if mean is not None:
        x = x - torch.tensor(mean, dtype=x.dtype).view(1, 3, 1, 1, 1)
    return x


def c3d_state_shapes(num_classes: int) -> "OrderedDict[str, tuple[int, ...]]":
    """The expected key -> shape table of the public PyTorch C3D state dict."""
    with torch.device("meta"):  # shapes only: no 78M-parameter initialisation
        model = C3D(num_classes)
    return OrderedDict((k, tuple(v.shape)) for k, v in model.state_dict().items())


def load_c3d(path: str | Path, num_classes: int | None = None) -> C3D:
    """Load a C3D state dict (public PyTorch layout) from ``path`` into a C3D in eval mode.

    ``num_classes`` None takes the head from the file (487 Sports-1M, 101 UCF-101 or any other);
    otherwise the file's fc8 must match it. Every problem is one :class:`ProvganError` line.
    """
    path = Path(path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise ProvganError(f"{path}: C3D weights file not found") from None
    except Exception as exc:  # noqa: BLE001 - any unreadable file is the user's to fix
        raise ProvganError(f"{path}: not a readable PyTorch state dict ({type(exc).__name__}); "
                           "pass a C3D state dict saved with torch.save") from None
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or "fc8.weight" not in state:
        raise ProvganError(f"{path}: not a C3D state dict (no 'fc8.weight'); expected keys conv1.weight ... fc8.bias")
    classes = int(state["fc8.weight"].shape[0]) if num_classes is None else num_classes
    _check_c3d_state(path, state, classes)
    model = C3D(classes)
    model.load_state_dict(state)
    return model.eval()


def _check_c3d_state(path: Path, state: dict, num_classes: int) -> None:
    expected = c3d_state_shapes(num_classes)
    missing = [k for k in expected if k not in state]
    if missing:
        raise ProvganError(f"{path}: C3D state dict lacks {', '.join(missing[:4])}"
                           f"{' ...' if len(missing) > 4 else ''}; expected the public C3D layout (conv1 ... fc8)")
    extra = [k for k in state if k not in expected]
    if extra:
        raise ProvganError(f"{path}: C3D state dict has unexpected keys {', '.join(extra[:4])}; "
                           "expected exactly conv1 ... fc8 weights and biases")
    for key, shape in expected.items():
        got = tuple(state[key].shape)
        if got != shape:
            raise ProvganError(f"{path}: C3D weight {key} has shape {got}, expected {shape} "
                               f"({num_classes}-class head); is this a C3D checkpoint?")


def chainer_c3d_shapes(num_classes: int = UCF101_CLASSES) -> "OrderedDict[str, tuple[int, ...]]":
    """The key -> shape table of TGAN's ``conv3d_deepnetA_ucf.npz`` (``conv1a/W`` ... ``fc8/b``)."""
    ours = c3d_state_shapes(num_classes)
    table: OrderedDict[str, tuple[int, ...]] = OrderedDict()
    for chainer, name in CHAINER_NAMES.items():
        table[f"{chainer}/W"] = ours[f"{name}.weight"]
        table[f"{chainer}/b"] = ours[f"{name}.bias"]
    return table


def load_chainer_c3d(path: str | Path) -> C3D:
    """TGAN's Chainer C3D npz -> a ``layout="chainer"`` C3D in eval mode; every key and shape checked.

    The file is read with ``np.load(allow_pickle=False)``: an npz of plain arrays, nothing executed.
    """
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: np.asarray(data[k]) for k in data.files}
    except FileNotFoundError:
        raise ProvganError(f"{path}: C3D weights file not found") from None
    except Exception as exc:  # noqa: BLE001 - any unreadable file is the user's to fix
        raise ProvganError(f"{path}: not a readable .npz ({type(exc).__name__}); pass TGAN's "
                           "conv3d_deepnetA_ucf.npz") from None
    arrays = {k.lstrip("/"): v for k, v in arrays.items()}
    if "fc8/W" not in arrays:
        raise ProvganError(f"{path}: not TGAN's Chainer C3D (no 'fc8/W'); expected keys conv1a/W ... fc8/b")
    expected = chainer_c3d_shapes(int(arrays["fc8/W"].shape[0]))
    missing = [k for k in expected if k not in arrays]
    extra = [k for k in arrays if k not in expected]
    if missing or extra:
        raise ProvganError(f"{path}: Chainer C3D npz lacks {missing[:4]} / has unexpected {extra[:4]}; "
                           "expected exactly conv1a/W ... fc8/b")
    state = {}
    for key, shape in expected.items():
        if tuple(arrays[key].shape) != shape:
            raise ProvganError(f"{path}: C3D weight {key} has shape {tuple(arrays[key].shape)}, expected {shape}")
        layer, leaf = key.split("/")
        state[f"{CHAINER_NAMES[layer]}.{'weight' if leaf == 'W' else 'bias'}"] = torch.from_numpy(
            np.ascontiguousarray(arrays[key], dtype=np.float32))
    model = C3D(int(arrays["fc8/W"].shape[0]), layout="chainer")
    model.load_state_dict(state)
    return model.eval()


def load_any_c3d(path: str | Path) -> C3D:
    """A ``.npz`` is TGAN's Chainer file, anything else a PyTorch state dict."""
    return load_chainer_c3d(path) if str(path).endswith(".npz") else load_c3d(path)
