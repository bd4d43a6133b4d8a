"""The offline classifier protocol: a small C3D-style video classifier trained on a labelled store.

The thesis computes IS and FID with C3D trained on real videos (ch. 6, §8.3). C3D's published
weights cannot be fetched here, so this module trains the same kind of network (3x3x3 convolutions,
ReLU, max-pooling; BatchNorm added so it trains in minutes on a CPU) on the labelled clips of a
prepared store (the embedded moving digits: 40 classes, digit x motion) and then serves as the
feature network: softmax outputs for the Inception Score (eq. 6.2), the pooled penultimate features
for the Fréchet distance (eq. 6.4). The IS of held-out real clips is the ceiling a generator can
reach with this classifier (the thesis' "maximum possible" row).

Everything here is a function of arrays (uint8 clips (N, T, H, W, C) and int labels), so it is
tested without a store; the CLI only reads the store and writes the file. No mirror augmentation:
a horizontal flip would change the direction of motion, which is part of the label.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from provgan.errors import ProvganError
from provgan.metrics.scores import inception_score

log = logging.getLogger(__name__)
FORMAT = "provgan-classifier-1"
Shape = tuple[int, int, int]


@dataclass(frozen=True)
class ClassifierOptions:
    """Training settings of the offline classifier."""

    epochs: int = 12
    batch_size: int = 16
    lr: float = 1e-3
    width: int = 16  # channels of the first block; doubled at each of the four blocks
    holdout: float = 0.2  # fraction of clips kept out of training to measure accuracy and real IS
    seed: int = 0
    is_splits: int = 10


def _pool_kernel(shape: Shape) -> Shape:
    """Halve H and W, and T too while it is at least 4 (short clips keep their frames longer)."""
    t, h, w = shape
    return (2 if t >= 4 else 1, 2 if h >= 2 else 1, 2 if w >= 2 else 1)


class VideoClassifier(nn.Module):
    """Four blocks of conv3x3x3 -> BatchNorm -> ReLU -> max-pool, global average pool, linear head.

    ``forward`` takes clips (N, 3, T, H, W) in [-1, 1] at ``clip_shape`` and returns
    ``(logits, features)``: features are the globally pooled last block (8 * width values).
    """

    def __init__(self, clip_shape: Shape, num_classes: int, width: int = 16):
        super().__init__()
        self.clip_shape, self.num_classes, self.width = tuple(clip_shape), num_classes, width
        layers: list[nn.Module] = []
        cin, shape = 3, tuple(clip_shape)
        for k in range(4):
            cout = width * 2 ** k
            kernel = _pool_kernel(shape)
            layers += [nn.Conv3d(cin, cout, 3, padding=1), nn.BatchNorm3d(cout), nn.ReLU(inplace=True),
                       nn.MaxPool3d(kernel)]
            shape = tuple(s // f for s, f in zip(shape, kernel))
            cin = cout
        self.blocks = nn.Sequential(*layers)
        self.dropout = nn.Dropout(0.3)
        self.head = nn.Linear(cin, num_classes)
        self.feature_dim = cin

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if x.ndim != 5 or tuple(x.shape[1:]) != (3, *self.clip_shape):
            want = "x".join(map(str, self.clip_shape))
            raise ValueError(f"classifier: expected (N, 3, {want}) clips, got {tuple(x.shape)}")
        features = self.blocks(x).mean(dim=(2, 3, 4))
        return self.head(self.dropout(features)), features


@dataclass(frozen=True)
class TrainedClassifier:
    """A trained classifier and what was measured on its held-out clips."""

    model: VideoClassifier
    accuracy: float
    real_is: tuple[float, float]
    num_train: int
    num_test: int
    options: ClassifierOptions


def to_tensor(clips: np.ndarray) -> torch.Tensor:
    """uint8 (N, T, H, W, C) -> float32 (N, C, T, H, W) in [-1, 1] (the store's scaling)."""
    x = torch.from_numpy(np.ascontiguousarray(np.asarray(clips).transpose(0, 4, 1, 2, 3)))
    return x.float().div_(127.5).sub_(1.0)


def split_indices(labels: np.ndarray, holdout: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A seeded, class-stratified split: ``holdout`` of every class (at least one clip of every class
    that has two) goes to the test set."""
    rng = np.random.default_rng(seed)
    train, test = [], []
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        k = max(1, int(round(holdout * len(idx)))) if len(idx) >= 2 else 0
        test.append(idx[:k])
        train.append(idx[k:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


@torch.no_grad()
def predict(model: nn.Module, clips: np.ndarray, batch_size: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """Softmax probabilities (N, K) and features (N, D) of uint8 clips, in eval mode."""
    model.eval()
    probs, feats = [], []
    for start in range(0, len(clips), batch_size):
        logits, f = model(to_tensor(clips[start:start + batch_size]))
        probs.append(F.softmax(logits.float(), dim=1).numpy())
        feats.append(f.float().numpy())
    return np.concatenate(probs), np.concatenate(feats)


def _train_epoch(model: VideoClassifier, opt: torch.optim.Optimizer, clips: np.ndarray, labels: np.ndarray,
                 batch_size: int, rng: np.random.Generator) -> float:
    model.train()
    order, total = rng.permutation(len(clips)), 0.0
    for start in range(0, len(order), batch_size):
        idx = np.sort(order[start:start + batch_size])
        if len(idx) < 2:  # BatchNorm needs two samples
            continue
        logits, _ = model(to_tensor(clips[idx]))
        loss = F.cross_entropy(logits, torch.from_numpy(labels[idx]))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        total += float(loss.detach()) * len(idx)
    return total / len(order)


def train_classifier(clips: np.ndarray, labels: np.ndarray, num_classes: int | None = None,
                     opts: ClassifierOptions = ClassifierOptions(),
                     on_epoch: Callable[[int, float], None] | None = None) -> TrainedClassifier:
    """Train on uint8 clips (N, T, H, W, 3) with int labels; report held-out accuracy and real IS.

    Adam with a cosine learning-rate decay over ``opts.epochs``; ``on_epoch(epoch, loss)`` is called
    after each epoch (the CLI's progress line).
    """
    labels = np.asarray(labels, dtype=np.int64)
    if clips.ndim != 5 or clips.shape[-1] != 3 or len(clips) != len(labels):
        raise ValueError(f"train_classifier: expected uint8 (N, T, H, W, 3) clips and N labels, "
                         f"got {clips.shape} and {labels.shape}")
    num_classes = int(labels.max()) + 1 if num_classes is None else num_classes
    torch.manual_seed(opts.seed)
    train, test = split_indices(labels, opts.holdout, opts.seed)
    if len(test) == 0 or len(train) < 2:
        raise ProvganError(f"{len(labels)} labelled clips in {num_classes} classes are too few to hold "
                           "clips out for testing: use a larger store")
    model = VideoClassifier(tuple(clips.shape[1:4]), num_classes, opts.width)
    opt = torch.optim.Adam(model.parameters(), lr=opts.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(opts.epochs, 1))
    rng = np.random.default_rng(opts.seed)
    train_clips, train_labels = np.asarray(clips[train]), labels[train]
    for epoch in range(opts.epochs):
        loss = _train_epoch(model, opt, train_clips, train_labels, opts.batch_size, rng)
        sched.step()
        if on_epoch is not None:
            on_epoch(epoch + 1, loss)
    probs, _ = predict(model, np.asarray(clips[test]))
    accuracy = float((probs.argmax(axis=1) == labels[test]).mean())
    splits = max(1, min(opts.is_splits, len(test) // 2))
    return TrainedClassifier(model.eval(), accuracy, inception_score(probs, splits), len(train), len(test), opts)


def save_classifier(result: TrainedClassifier, path: Path, extra: dict | None = None) -> Path:
    """Write the classifier (state dict + shape + measurements) atomically, loadable with weights_only."""
    m = result.model
    payload = {"format": FORMAT, "state_dict": m.state_dict(), "clip_shape": list(m.clip_shape),
               "num_classes": m.num_classes, "width": m.width, "accuracy": result.accuracy,
               "real_is": list(result.real_is), "num_train": result.num_train, "num_test": result.num_test,
               "options": asdict(result.options), **(extra or {})}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    torch.save(payload, tmp)
    tmp.replace(path)
    return path


def load_classifier(path: str | Path) -> tuple[VideoClassifier, dict]:
    """Load a classifier written by :func:`save_classifier` (eval mode) and its metadata."""
    path = Path(path)
    if not path.is_file():
        raise ProvganError(f"{path}: classifier file not found; train one with `provgan classifier train`")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is the user's to fix
        raise ProvganError(f"{path}: unreadable classifier ({type(exc).__name__}); retrain it") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ProvganError(f"{path}: not a provgan classifier; train one with `provgan classifier train`")
    model = VideoClassifier(tuple(data["clip_shape"]), int(data["num_classes"]), int(data["width"]))
    try:
        model.load_state_dict(data["state_dict"])
    except RuntimeError as exc:
        raise ProvganError(f"{path}: classifier weights have the wrong shape "
                           f"({str(exc).splitlines()[1].strip()[:120] if len(str(exc).splitlines()) > 1 else exc}); "
                           "retrain it") from None
    meta = {k: v for k, v in data.items() if k != "state_dict"}
    return model.eval(), meta
