"""C3D (Tran et al. 2015): the 3D ConvNet behind the thesis' Inception Score and FID (ch. 6, §8.3).

Eight 3x3x3 convolutions (64, 128, 256, 256, 512, 512, 512, 512 channels), five max-pools (the
first one spatial only), fc6 and fc7 of 4096 units and a classifier fc8, on 16 x 112 x 112 RGB clips.
The thesis computes IS from fc8's softmax (UCF-101 fine-tuned head, 101 classes, as TGAN and MoCoGAN
did) and FID from fc6 (4096-d, after its ReLU, the blob Caffe's C3D feature extractor writes).

Weights: the published ones (Sports-1M, 487 classes; UCF-101 fine-tuned, 101) cannot be fetched
here. :func:`load_c3d` reads the public PyTorch conversion's state-dict layout (keys ``conv1.weight``
... ``conv5b``, ``fc6``, ``fc7``, ``fc8``) from a file you provide, checking every key and shape.

Protocol note: ``eval()`` here really turns dropout off, so features are deterministic. TGAN's
published evaluation code ran C3D with dropout still active at test time, so IS numbers quoted from
TGAN / MoCoGAN follow that (noisier) protocol and are not directly comparable with ours.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from provgan.errors import ProvganError
from provgan.metrics.resize import resize_clips

SPORTS1M_CLASSES = 487
UCF101_CLASSES = 101
C3D_INPUT = (16, 112, 112)  # (T, H, W)

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

    def __init__(self, num_classes: int = SPORTS1M_CLASSES, dropout: float = 0.5):
        super().__init__()
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
        for name, _, _ in _CONVS:
            x = F.relu(getattr(self, name)(x))
            if name in _POOL_AFTER:
                kernel, pad = _POOL_AFTER[name]
                x = F.max_pool3d(x, kernel, kernel, padding=pad)
        fc6 = F.relu(self.fc6(x.flatten(1)))  # (N, 8192) -> (N, 4096)
        h = F.relu(self.fc7(self.dropout(fc6)))
        return self.fc8(self.dropout(h)), fc6


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
